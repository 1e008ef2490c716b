"""minidl.homework.grade and gradescope, and minidl grade, on a tiny assignment written here.

Each grade runs pytest in a fresh process (about 2 s); the tiny assignment keeps that all it costs.
"""

import importlib.util
import json
import textwrap

import pytest

from minidl.cli import main
from minidl.homework import GradingError, format_report, grade, results_json

TASKS = [
    {"id": "9.1", "title": "ReLU", "module": "ops.py", "functions": ["relu"],
     "forbidden_imports": ["minidl.functional"], "time_limit_s": 20},
    {"id": "9.2", "title": "Row sums", "module": "ops.py", "functions": ["row_sums"],
     "vectorised": {"row_sums": ["x"]}, "time_limit_s": 3},
]
SOLUTION = '''
    import numpy as np


    def relu(x):
        """max(x, 0)."""
        ### BEGIN SOLUTION
        return np.maximum(x, 0)
        ### END SOLUTION


    def row_sums(x):
        """(N, D) -> (N,)."""
        ### BEGIN SOLUTION
        return x.sum(axis=1)
        ### END SOLUTION
    '''
TESTS = '''
    import numpy as np
    import pytest

    from ops import relu, row_sums


    @pytest.mark.task("9.1")
    def test_relu():
        np.testing.assert_array_equal(relu(np.array([-1.0, 2.0])), [0.0, 2.0])


    @pytest.mark.task("9.2", points=2)
    def test_row_sums():
        np.testing.assert_array_equal(row_sums(np.ones((2, 3))), [3.0, 3.0])
    ### BEGIN HIDDEN TESTS


    @pytest.mark.task("9.1", points=3)
    def test_relu_on_the_hidden_case():
        expected = np.load("hidden/expected.npz")
        np.testing.assert_array_equal(relu(expected["x"]), expected["relu"])
    ### END HIDDEN TESTS
    '''


def make_assignment(root, solution=SOLUTION, tests=TESTS, tasks=TASKS):
    """root/hwx: an assignment with two tasks in one module, a hidden test and its expected values."""
    import numpy as np

    folder = root / "hwx"
    (folder / "tests").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "assignment.json").write_text(json.dumps({"title": "Tiny", "notebook": "notebook.py", "tasks": tasks}))
    (folder / "ops.py").write_text(textwrap.dedent(solution))
    (folder / "tests" / "test_ops.py").write_text(textwrap.dedent(tests))
    (folder / "notebook.py").write_text("# %% [markdown]\n# # Tiny\n# %%\nfrom ops import relu\nprint(relu(-1.0))\n")
    x = np.array([-2.0, 0.5, 3.0])
    np.savez(folder / "hidden" / "expected.npz", x=x, relu=np.maximum(x, 0))
    return folder


def submission(root, code):
    folder = root / "submission"
    folder.mkdir()
    (folder / "ops.py").write_text(textwrap.dedent(code))
    return folder


def scores(report):
    return {result.task.id: result.points() for result in report.tasks}


def test_the_solutions_get_every_point_public_and_hidden(tmp_path):
    make_assignment(tmp_path)
    report = grade("hwx", source=tmp_path)
    assert scores(report) == {"9.1": (4, 4), "9.2": (2, 2)}
    assert [(t.name, t.hidden) for t in report.tasks[0].tests] == [("test_relu", False),
                                                                   ("test_relu_on_the_hidden_case", True)]
    table = format_report(report)
    assert "9.1   ReLU         1/1     3/3    4/4" in table and "total 6/6 points (100%)" in table


def test_a_broken_rule_zeroes_its_task_only_and_gradescope_says_why(tmp_path):
    make_assignment(tmp_path)
    looping = SOLUTION.replace("return x.sum(axis=1)", "return np.array([row.sum() for row in x])")
    report = grade("hwx", source=tmp_path, submission=submission(tmp_path, looping))
    assert scores(report) == {"9.1": (4, 4), "9.2": (0, 2)}
    assert "Task 9.2: row_sums loops (in a comprehension) over x" in format_report(report)
    results = results_json(report)
    assert results["score"] == 4 and set(results) == {"score", "execution_time", "output", "tests"}
    assert results["tests"][1] == {"name": "9.1 ReLU -- test_relu_on_the_hidden_case", "score": 3, "max_score": 3,
                                   "status": "passed", "output": "", "visibility": "after_published"}
    row_sums = results["tests"][2]
    assert (row_sums["score"], row_sums["max_score"], row_sums["status"], row_sums["visibility"]) == \
        (0, 2, "failed", "visible")
    assert row_sums["output"].startswith("Task 9.2: row_sums loops (in a comprehension) over x (line 15)")


def test_a_module_that_does_not_import_fails_each_test_with_its_error(tmp_path):
    make_assignment(tmp_path)
    report = grade("hwx", source=tmp_path, submission=submission(tmp_path, "raise RuntimeError('at import')\n"))
    assert scores(report) == {"9.1": (0, 4), "9.2": (0, 2)}
    messages = {t.message for result in report.tasks for t in result.tests}
    assert messages == {"ImportError: ops.py does not import: RuntimeError: at import"}


def test_a_missing_function_fails_its_own_tests_only(tmp_path):
    make_assignment(tmp_path)
    only_relu = SOLUTION[:SOLUTION.index("    def row_sums")]
    report = grade("hwx", source=tmp_path, submission=submission(tmp_path, only_relu))
    assert scores(report) == {"9.1": (4, 4), "9.2": (0, 2)}
    assert report.tasks[1].violations[0].message == "Task 9.2: ops.py defines no function or class row_sums with def " \
                                                    "or class"


def test_a_task_that_runs_past_its_time_budget_is_stopped(tmp_path):
    make_assignment(tmp_path)
    endless = SOLUTION.replace("return x.sum(axis=1)", "import time\n        time.sleep(60)")
    report = grade("hwx", source=tmp_path, submission=submission(tmp_path, endless))
    (test,) = report.tasks[1].tests
    assert not test.passed and test.message == "minidl.homework.pytest_plugin.TaskTimeLimit: task 9.2's tests ran " \
                                               "past its time limit of 3 s"
    assert report.execution_time_s < 30 and scores(report)["9.1"] == (4, 4)


def test_grading_is_the_same_whatever_the_order_the_tests_run_in(tmp_path):
    make_assignment(tmp_path, tests=TESTS.replace(
        "np.testing.assert_array_equal(row_sums(np.ones((2, 3))), [3.0, 3.0])",
        "assert np.random.rand() == np.random.RandomState(0).rand()   # seeded before every test"))
    assert scores(grade("hwx", source=tmp_path, tasks=["9.2"])) == {"9.2": (2, 2)}


def test_tests_that_cannot_be_collected_are_the_instructors_error(tmp_path):
    make_assignment(tmp_path, tests="import no_such_module\n")
    with pytest.raises(GradingError, match=r"the tests of hwx could not be collected: tests/test_ops.py: "
                                           r"ModuleNotFoundError: No module named 'no_such_module'"):
        grade("hwx", source=tmp_path)


def test_the_command_prints_the_table_and_writes_results_json(tmp_path, capsys):
    make_assignment(tmp_path)
    out = tmp_path / "results.json"
    assert main(["grade", "hwx", "--source", str(tmp_path), "--json", str(out), "--tasks", "9.1"]) == 0
    printed = capsys.readouterr().out
    assert "total 4/4 points (100%)" in printed and f"wrote {out}" in printed
    assert json.loads(out.read_text())["score"] == 4


@pytest.mark.parametrize("argv, message", [
    (["grade"], "minidl grade: name the assignment to grade"),
    (["grade", "hw9"], "minidl grade: no assignment 'hw9' in {root} (the assignments there: hwx)"),
    (["grade", "hwx", "--tasks", "3.1"], "minidl grade: hwx has no task '3.1'; its tasks are 9.1, 9.2"),
    (["grade", "hwx", "--submission", "{root}/nowhere"], "minidl grade: the submission folder {root}/nowhere does "
                                                           "not exist"),
])
def test_mistakes_are_one_line_and_exit_status_2(tmp_path, capsys, argv, message):
    make_assignment(tmp_path)
    argv = [a.format(root=tmp_path) for a in argv] + ["--source", str(tmp_path)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(message.format(root=tmp_path)) and error.count("\n") == 1


def test_grading_without_pytest_says_how_to_install_it(tmp_path, monkeypatch):
    make_assignment(tmp_path)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "pytest" else
                        find_spec(name, *rest))
    with pytest.raises(GradingError, match=r"^grading runs the tests with pytest, which this Python does not have: "
                                           r'pip install -e "\.\[assignments,test\]" installs it$'):
        grade("hwx", source=tmp_path)
