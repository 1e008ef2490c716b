"""minidl.homework.release and minidl assignment release, on the tiny assignment of test_homework_grade."""

import json
import shutil
import textwrap

import pytest

from minidl.cli import main
from minidl.homework import ReleaseError, check_release, grade, load_assignment, release
from test_homework_grade import SOLUTION, make_assignment

pytest.importorskip("jupytext", reason="releases write notebooks: pip install -e \".[assignments]\"")


def test_the_release_has_stubs_public_tests_and_a_notebook_and_nothing_hidden(tmp_path):
    make_assignment(tmp_path / "source")
    done = release("hwx", source=tmp_path / "source", out=tmp_path / "out")
    folder = tmp_path / "out" / "hwx"
    assert done.folder == str(folder) and (done.stubs, done.hidden_removed) == (2, 1)
    assert sorted(done.files) == ["assignment.json", "hwx.ipynb", "ops.py", "tests/test_ops.py"]
    code = (folder / "ops.py").read_text()
    assert '    # YOUR CODE HERE\n    raise NotImplementedError("Task 9.1: relu (ReLU)")\n' in code
    assert 'raise NotImplementedError("Task 9.2: row_sums (Row sums)")' in code and "np.maximum" not in code
    tests = (folder / "tests" / "test_ops.py").read_text()
    assert "def test_relu():" in tests and "hidden" not in tests.lower()
    assert not (folder / "hidden").exists() and not (folder / "notebook.py").exists()
    cells = json.loads((folder / "hwx.ipynb").read_text())["cells"]
    assert [cell["cell_type"] for cell in cells] == ["markdown", "code"]
    report = grade("hwx", source=tmp_path / "source", submission=tmp_path / "out")
    assert (report.score, report.max_score) == (0, 6)


def test_a_line_of_a_solution_in_the_release_is_refused(tmp_path):
    source = make_assignment(tmp_path / "source")
    release("hwx", source=tmp_path / "source", out=tmp_path / "out")
    leaked = tmp_path / "out" / "hwx" / "tests" / "helper.py"
    leaked.write_text("def helper(x):\n    return x.sum(axis=1)\n")
    with pytest.raises(ReleaseError, match=r"helper.py:2 is a line of a solution or a hidden test: "
                                           r"'return x.sum\(axis=1\)'"):
        check_release(load_assignment(str(source.parent), "hwx"), str(tmp_path / "out" / "hwx"))
    leaked.unlink()
    shutil.copytree(source / "hidden", tmp_path / "out" / "hwx" / "hidden")
    with pytest.raises(ReleaseError, match="holds hidden/, the instructor-only cases"):
        check_release(load_assignment(str(source.parent), "hwx"), str(tmp_path / "out" / "hwx"))


@pytest.mark.parametrize("change, message", [
    (lambda folder: (folder / "ops.py").write_text(textwrap.dedent(SOLUTION).replace(
        "import numpy as np", "import numpy as np\n### BEGIN SOLUTION\nLIMIT = 3\n### END SOLUTION")),
     r"ops.py:3: a solution region outside the functions of the tasks \(9.1, 9.2\) of ops.py"),
    (lambda folder: (folder / "tests" / "test_ops.py").write_text("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"),
     r"test_ops.py:1: a solution region outside the graded modules"),
    (lambda folder: (folder / "ops.py").write_text("import no_such_module\n" + textwrap.dedent(SOLUTION)),
     r"the released modules of hwx do not import: ModuleNotFoundError: No module named 'no_such_module'"),
    (lambda folder: (folder / "ops.py").write_text("def relu(x):\n    return x +\n"),
     r"ops.py:2: does not parse: invalid syntax"),
])
def test_a_release_that_would_be_wrong_is_refused_and_leaves_nothing(tmp_path, change, message):
    change(make_assignment(tmp_path / "source"))
    with pytest.raises(ReleaseError, match=message):
        release("hwx", source=tmp_path / "source", out=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_the_command_releases_and_refuses_to_overwrite(tmp_path, capsys):
    make_assignment(tmp_path / "source")
    argv = ["assignment", "release", "hwx", "--source", str(tmp_path / "source"), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(f"released hwx to {tmp_path / 'out' / 'hwx'}: 4 files, 2 solutions "
                                              "replaced by stubs in 1 modules, 1 hidden test regions removed")
    assert main(argv) == 2
    assert capsys.readouterr().err == f"minidl assignment: {tmp_path / 'out' / 'hwx'} exists; remove it or choose " \
                                      "another --out\n"
    assert main(argv + ["--force"]) == 0
