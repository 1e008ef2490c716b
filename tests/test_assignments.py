"""The five assignments of assignments/ end to end, as CI checks them.

- the reference solutions score every point (public and hidden tests, every rule kept);
- the released stubs score 0 on every task, each task failing with its own NotImplementedError;
- the release check: no line of a solution or hidden test survives, the graded modules import;
- the hidden tests' stored expected values are what their cases compute today;
- every notebook runs under nbclient within its time budget (MINIDL_HOMEWORK_QUICK=1: the hw3
  training run on a few hundred images), and a released notebook runs up to its first task;
- the student walkthrough of assignments/README.md, run as written in a fresh virtual environment
  made by its own commands (minidl installed from pip's cache: about a minute).

One release of all five (a module fixture) serves the tests that need it. About two and a half
minutes on two cores: the ten grading runs, the ten notebooks, and the walkthrough's fresh
environment (40-50 s, installed from pip's cache).
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minidl.homework import check_release, grade, load_assignment, release, stale_cases
from minidl.homework.markers import solution_regions
from minidl.homework.notebooks import QUICK_ENV, run_notebook

pytest.importorskip("jupytext", reason="the assignments' notebooks need the extra: pip install -e \".[assignments]\"")
pytest.importorskip("nbclient", reason="the assignments' notebooks need the extra: pip install -e \".[assignments]\"")

SOURCE = Path(__file__).resolve().parents[1] / "assignments"
NAMES = ["hw1", "hw2", "hw3", "hw4", "hw5"]
# The most a notebook may take under nbclient with the quick settings (they take 5 to 30 s).
NOTEBOOK_BUDGET_S = 150


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    for name in NAMES:
        release(name, SOURCE, out)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solutions_score_every_point(name):
    report = grade(name, SOURCE)
    for result in report.tasks:
        earned, possible = result.points()
        assert not result.violations and earned == possible > 0, f"task {result.task.id}: {result.note}"
        assert result.points(hidden=False)[1] > 0, f"task {result.task.id} has no public test"


@pytest.mark.parametrize("name", NAMES)
def test_the_released_stubs_score_zero_on_every_task(name, released):
    report = grade(name, SOURCE, released)
    for result in report.tasks:
        assert result.points()[0] == 0, f"task {result.task.id} scores {result.points()} on the stubs"
        assert not result.violations, f"the stubs of task {result.task.id} break a rule: {result.note}"
        messages = [test.message for test in result.tests]
        assert any(f"NotImplementedError: Task {result.task.id}: " in message for message in messages), messages


@pytest.mark.parametrize("name", NAMES)
def test_the_release_keeps_no_solution_and_imports(name, released):
    assignment = load_assignment(SOURCE, name)
    check_release(assignment, str(released / name))
    regions = sum(len(solution_regions((SOURCE / name / module).read_text())) for module in assignment.modules)
    stubs = sum((released / name / module).read_text().count("raise NotImplementedError(\"Task ")
                for module in assignment.modules)
    assert stubs == regions > 0
    assert not (released / name / "hidden").exists() and (released / name / f"{name}.ipynb").exists()


@pytest.mark.parametrize("name", NAMES)
def test_the_stored_expected_values_are_current(name):
    assert stale_cases(name, SOURCE) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_notebook_runs_to_the_end(name):
    folder = SOURCE / name
    run = run_notebook(str(folder / "notebook.py"), str(folder), env={QUICK_ENV: "1"})
    assert run.completed, f"{name}'s notebook stopped at code cell {run.cells_run + 1}: {run.error_name}: " \
                          f"{run.error_value}"
    assert run.cells_run == run.code_cells and run.seconds < NOTEBOOK_BUDGET_S


@pytest.mark.parametrize("name", NAMES)
def test_the_released_notebook_runs_up_to_the_first_task(name, released):
    first = load_assignment(SOURCE, name).tasks[0]
    run = run_notebook(str(released / name / f"{name}.ipynb"), str(released / name), env={QUICK_ENV: "1"})
    assert (run.error_name, run.error_value.split(":")[0]) == ("NotImplementedError", f"Task {first.id}")
    assert 1 <= run.cells_run < run.code_cells and run.seconds < NOTEBOOK_BUDGET_S


def _walkthrough_steps():
    """The walkthrough block of assignments/README.md: its command lines (comments cut off) in order,
    with "open NOTEBOOK" where the block tells the student to open the notebook."""
    text = (SOURCE / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\n```bash\n(?P<block>.*?)```", text, re.S)["block"]
    steps = []
    for line in block.splitlines():
        opened = re.match(r"# open (?P<notebook>\S+)", line)
        if opened:
            steps.append(f"open {opened['notebook']}")
        elif line.split("#")[0].strip():
            steps.append(line.split("#")[0].strip())
    return steps


def _implement_task_1_1(folder):
    """What the student writes for Task 1.1: the reference solution's code in place of each stub."""
    source = (SOURCE / "hw1" / "conv_sizes.py").read_text().splitlines(keepends=True)
    bodies = ["".join(source[region.begin:region.end - 1]) for region in solution_regions("".join(source))]
    stubbed = (folder / "conv_sizes.py").read_text()
    stub = re.compile(r"    # YOUR CODE HERE\n    raise NotImplementedError\(\"Task 1\.1: [^\n]*\n")
    assert len(stub.findall(stubbed)) == len(bodies)
    for body in bodies:
        stubbed = stub.sub(lambda _: body, stubbed, count=1)
    (folder / "conv_sizes.py").write_text(stubbed)


# Run by the student's Python: the released notebook in a kernel of that environment, and where it stopped.
RUN_NOTEBOOK = """
import json, os, sys
from minidl.homework.notebooks import run_notebook
run = run_notebook(sys.argv[1], os.path.dirname(sys.argv[1]), env={"MINIDL_HOMEWORK_QUICK": "1"})
print(json.dumps({"prefix": sys.prefix, "error": run.error_name, "value": run.error_value, "cells": run.cells_run}))
"""


def test_the_student_walkthrough_of_the_readme_in_a_fresh_environment(tmp_path):
    # The README's block run as written, one line at a time in bash; once the block has made and
    # activated the student's environment, every later line runs in it. Only the install path
    # is this project's, and the notebook is executed where the student would open it.
    (tmp_path / "assignments").symlink_to(SOURCE)
    root = SOURCE.parent
    # The instructor's minidl (this test suite's) is on the PATH before the student's exists.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    cwd, activate, tables, stops = tmp_path, "", [], []

    def bash(command):
        done = subprocess.run(["bash", "-c", activate + command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{command}: exit status {done.returncode}\n{done.stdout[-2000:]}" \
                                     f"\n{done.stderr[-2000:]}"
        return done.stdout

    for step in _walkthrough_steps():
        if step.startswith("cd "):
            cwd = cwd / step[3:]
        elif step.startswith("open "):
            notebook = cwd / step[5:]
            for _ in range(2):      # before and after the student implements Task 1.1
                run = json.loads(bash(f"python -c {shlex.quote(RUN_NOTEBOOK)} {shlex.quote(str(notebook))}"))
                assert os.path.samefile(run["prefix"], tmp_path / ".venv")   # the student's environment
                stops.append((run["error"], run["value"].split(":")[0], run["cells"]))
                if len(stops) == 1:
                    _implement_task_1_1(notebook.parent)
        else:
            printed = bash(step.replace('"path/to/minidl[', f'"{root}['))
            if step.startswith("python -m venv") and ". .venv/bin/activate" in step:
                activate = f". {shlex.quote(str(tmp_path / '.venv' / 'bin' / 'activate'))} && "
            if step.startswith("minidl grade"):
                tables.append(printed)
    assert activate, "the walkthrough makes no fresh environment"
    assert [stop[:2] for stop in stops] == [("NotImplementedError", "Task 1.1"), ("NotImplementedError", "Task 1.2")]
    assert stops[0][2] < stops[1][2]       # Task 1.1's cells now run
    assert len(tables) == 2                # the grade before and after Task 1.1
    assert re.search(r"^1\.1 +Output sizes and parameter counts +0/5 +- +0/5$", tables[0], re.M)
    assert re.search(r"^1\.1 +Output sizes and parameter counts +5/5 +- +5/5$", tables[1], re.M)
    assert "total 0/" in tables[0] and "total 5/" in tables[1]
    # The instructor's grade of the same folder adds the hidden tests of Task 1.1.
    report = grade("hw1", SOURCE, tmp_path / "release", tasks=["1.1"])
    assert report.tasks[0].points() == (9, 9)
    shutil.rmtree(tmp_path / ".venv")       # half a gigabyte
