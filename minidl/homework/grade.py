"""Grading a submission: the public and hidden tests of each task, the task's rules, a score table.

    report = grade("hw1", source="assignments", submission="/tmp/x")
    print(format_report(report))

1. A scratch folder gets the instructor's tests (hidden ones included), the ``hidden/`` data and
   every other file of the source, and, from the submission, only the graded files the tasks name
   (``assignment.json``). Nothing else of the submission is read, so its tests cannot replace ours.
2. Each task's code is read against its rules (``ast_rules.check_task``): a task that breaks one
   scores 0, and its tests say which rule.
3. pytest runs the tests in a fresh Python process with ``pytest_plugin``: per-task markers and
   points, the same seed before every test, a time budget per task, and an overall limit (the
   sum of the budgets and a start-up allowance).
4. The points of a task are the points of its passing tests, public and hidden.

The submission is a folder holding the graded files, directly or in a sub-folder named after
the assignment (a release folder, ``minidl assignment release --out DIR``, is such a folder).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from minidl.homework.assignment import TESTS_FOLDER, load_assignment
from minidl.homework.ast_rules import check_task
from minidl.homework.markers import hidden_regions

__all__ = ["grade", "format_report", "GradeReport", "TaskResult", "TestResult", "GradingError",
           "submission_folder", "STARTUP_ALLOWANCE_S"]

# Time for the grading process to start (Python, pytest, NumPy, Numba's cached kernels) on top of
# the tasks' own budgets.
STARTUP_ALLOWANCE_S = 120
# A failure's message in the table is cut to this many characters (the JSON keeps all of it).
NOTE_CHARS = 110


class GradingError(RuntimeError):
    """The grading itself failed (a test file that does not import, a task without tests): the
    instructor's side to fix, not the student's. The message says where."""


@dataclass
class TestResult:
    """One test: its name, task and points, whether it is hidden, and how it went."""

    name: str
    task: str
    points: float
    hidden: bool
    passed: bool
    message: str = ""
    details: str = ""
    duration_s: float = 0.0

    @property
    def score(self):
        return self.points if self.passed else 0


@dataclass
class TaskResult:
    """One task's tests and the rules its code broke (any broken rule makes the score 0)."""

    task: object
    tests: list
    violations: list = field(default_factory=list)

    def points(self, hidden=None):
        """(earned, possible) over the task's tests, or over its public (hidden=False) or hidden ones."""
        tests = [t for t in self.tests if hidden is None or t.hidden == hidden]
        earned = 0 if self.violations else sum(t.score for t in tests)
        return earned, sum(t.points for t in tests)

    @property
    def note(self):
        """Why points were lost: the first broken rule, else the first failing test; "" at full points."""
        if self.violations:
            return self.violations[0].message
        failing = [t for t in self.tests if not t.passed]
        if not failing:
            return ""
        more = f" (and {len(failing) - 1} more failing)" if len(failing) > 1 else ""
        return f"{failing[0].name}: {failing[0].message}{more}"


@dataclass
class GradeReport:
    """The grade of one submission of one assignment."""

    assignment: object
    submission: str
    tasks: list
    execution_time_s: float

    @property
    def score(self):
        return sum(task.points()[0] for task in self.tasks)

    @property
    def max_score(self):
        return sum(task.points()[1] for task in self.tasks)


def submission_folder(submission, name):
    """The folder with the graded files: ``submission/name`` when that exists, else ``submission``."""
    inner = os.path.join(submission, name)
    return inner if os.path.isdir(inner) else submission


def _stage(assignment, submitted, work):
    """Copy the source (tests, hidden data, helpers) and the submission's graded files into ``work``."""
    skipped = {assignment.notebook, *assignment.modules}
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.ipynb")
    for entry in os.listdir(assignment.folder):
        source = os.path.join(assignment.folder, entry)
        if entry in skipped or entry in ("__pycache__", ".ipynb_checkpoints"):
            continue
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(work, entry), ignore=ignore)
        else:
            shutil.copy2(source, os.path.join(work, entry))
    for module in assignment.modules:
        path = os.path.join(submitted, module)
        if os.path.isfile(path):
            shutil.copy2(path, os.path.join(work, module))
    with open(os.path.join(work, "pytest.ini"), "w") as file:
        # The scratch folder is the root: no configuration of an enclosing project applies.
        file.write(f"[pytest]\ntestpaths = {TESTS_FOLDER}\npython_files = test_*.py\n")


def _hidden_lines(work):
    """{test file relative to work: [[begin, end], ...]} of the hidden regions of every test file."""
    regions = {}
    tests = os.path.join(work, TESTS_FOLDER)
    for folder, _, files in os.walk(tests):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as file:
                    found = hidden_regions(file.read(), path)
                if found:
                    regions[os.path.relpath(path, work).replace(os.sep, "/")] = [[r.begin, r.end] for r in found]
    return regions


def _violations(assignment, submitted, tasks):
    """{task id: [Violation]} for the graded files as submitted (a missing file breaks no rule: its tests fail)."""
    sources = {}
    for module in assignment.modules:
        path = os.path.join(submitted, module)
        if os.path.isfile(path):
            with open(path) as file:
                sources[module[:-3]] = (module, file.read())
    return {task.id: check_task(task, sources) if task.module_name in sources else [] for task in tasks}


def _run_pytest(assignment, work, tasks, seed):
    """Run the tests in ``work``; returns the report file's records."""
    report = os.path.join(work, "report.jsonl")
    config = {
        "tasks": {task.id: {"time_limit_s": task.time_limit_s} for task in assignment.tasks},
        "selected": [task.id for task in tasks],
        "hidden": _hidden_lines(work),
        "modules": [module[:-3] for module in assignment.modules],
        "report": report,
        "seed": seed,
    }
    config_path = os.path.join(work, "grading.json")
    with open(config_path, "w") as file:
        json.dump(config, file)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([work, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PYTHONHASHSEED=str(seed), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
               "-p", "minidl.homework.pytest_plugin", "--homework-config", config_path, TESTS_FOLDER]
    limit = sum(task.time_limit_s for task in tasks) + STARTUP_ALLOWANCE_S
    try:
        finished = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=limit)
        output = finished.stdout + finished.stderr
    except subprocess.TimeoutExpired as expired:
        finished = None
        printed = (expired.stdout or b"").decode(errors="replace")
        output = f"the tests were stopped after {limit:g} s\n{printed[-2000:]}"
    records = []
    if os.path.exists(report):
        with open(report) as file:
            records = [json.loads(line) for line in file if line.strip()]
    errors = [record for record in records if "collection_error" in record]
    if errors:
        # The last line of pytest's report is the error, after pytest's "E   " margin.
        error = errors[0]["details"].strip().splitlines()[-1].removeprefix("E").strip()
        raise GradingError(f"the tests of {assignment.name} could not be collected: {errors[0]['collection_error']}: "
                           f"{error}")
    if not any("collected" in record for record in records):
        last = output.strip().splitlines()[-1] if output.strip() else "no output"
        raise GradingError(f"pytest did not run the tests of {assignment.name}: {last}")
    return records, finished is None, limit


def grade(name, source="assignments", submission=None, tasks=None, seed=0):
    """Grade ``submission`` (default: the reference solutions in ``source``) on assignment ``name``.

    Args:
        name: the assignment's folder name in ``source`` ("hw1").
        source: the folder of the instructor's assignments (solutions, hidden tests, ``hidden/`` data).
        submission: a folder with the graded files (directly or in ``submission/name``); None grades
            the reference solutions.
        tasks: task ids to grade (default: all).
        seed: the seed set before every test.
    Returns:
        a GradeReport. Raises AssignmentError for a missing or malformed assignment and
        GradingError when the tests themselves cannot run.
    """
    started = time.perf_counter()
    if importlib.util.find_spec("pytest") is None:
        raise GradingError("grading runs the tests with pytest, which this Python does not have: "
                           'pip install -e ".[assignments,test]" installs it')
    assignment = load_assignment(source, name)
    selected = list(assignment.tasks) if tasks is None else [assignment.task(task_id) for task_id in tasks]
    submitted = assignment.folder if submission is None else submission_folder(submission, name)
    if not os.path.isdir(submitted):
        raise GradingError(f"the submission folder {submitted} does not exist")
    violations = _violations(assignment, submitted, selected)
    with tempfile.TemporaryDirectory(prefix=f"minidl-grade-{name}-") as work:
        _stage(assignment, submitted, work)
        records, stopped, limit = _run_pytest(assignment, work, selected, seed)
    collected = next(record["collected"] for record in records if "collected" in record)
    outcomes = {record["test"]: record for record in records if "test" in record}
    results = {task.id: TaskResult(task, [], violations[task.id]) for task in selected}
    for item in collected:
        outcome = outcomes.get(item["nodeid"])
        if outcome is None:
            message = f"not run: grading stopped after {limit:g} s" if stopped else "not run"
            outcome = {"outcome": "failed", "message": message, "details": "", "duration_s": 0.0}
        results[item["task"]].tests.append(TestResult(
            item["name"], item["task"], item["points"], item["hidden"], outcome["outcome"] == "passed",
            outcome["message"], outcome["details"], outcome["duration_s"]))
    empty = [task_id for task_id, result in results.items() if not result.tests]
    if empty:
        raise GradingError(f"task {empty[0]} of {name} has no tests: mark them @pytest.mark.task({empty[0]!r})")
    return GradeReport(assignment, os.path.abspath(submitted), list(results.values()), time.perf_counter() - started)


def _fraction(earned, possible):
    return f"{earned:g}/{possible:g}" if possible else "-"


def format_report(report):
    """The score table: one row per task (public, hidden and total points) and, under a task that
    lost points, why (the broken rule or the first failing test)."""
    rows = [("task", "title", "public", "hidden", "score")]
    notes = {}
    for result in report.tasks:
        rows.append((result.task.id, result.task.title, _fraction(*result.points(hidden=False)),
                     _fraction(*result.points(hidden=True)), _fraction(*result.points())))
        if result.note:
            note = " ".join(result.note.split())
            notes[result.task.id] = note if len(note) <= NOTE_CHARS else note[:NOTE_CHARS - 3] + "..."
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"{report.assignment.name}: {report.assignment.title} -- {report.submission}"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) if j < 2 else cell.rjust(width)
                               for j, (cell, width) in enumerate(zip(row, widths))).rstrip())
        if i and row[0] in notes:
            lines.append(f"{'':{widths[0]}}  -> {notes[row[0]]}")
    percent = 100 * report.score / report.max_score if report.max_score else 0
    lines.append(f"total {report.score:g}/{report.max_score:g} points ({percent:.0f}%) in "
                 f"{report.execution_time_s:.1f} s")
    return "\n".join(lines)
