"""The pytest plugin that grades: per-task markers and points, seeds, time limits, one line per test.

``minidl grade`` runs pytest in a fresh process on a copy of the tests with this plugin
(``-p minidl.homework.pytest_plugin --homework-config FILE``). The tests say what they grade:

    @pytest.mark.task("1.2", points=2)
    def test_forward_matches_the_reference(): ...

and the plugin, given the assignment's task table in the config file:

- imports each graded module of the submission first; one that fails to import (a syntax
  error, an exception at import) is replaced by a stand-in whose every attribute raises that
  error, and a missing function raises "has no ...", so the tests of the other tasks still run
  and each failing test says why;
- seeds NumPy, Python's ``random`` and minidl with the same seed before every test, so a grade
  never depends on the order tests ran in;
- gives each task a time budget (its ``time_limit_s``) shared by its tests: a test is stopped
  when the budget runs out, and the task's later tests fail at once;
- writes one JSON line per test (the task, the points, whether the test is hidden, the
  outcome and the message) to the report file, as soon as the test finishes, so a run that
  is killed still tells what it did.

A test is hidden when it lies in a ``### BEGIN HIDDEN TESTS`` region of its file (the config
lists each file's regions); the released tests do not have them.
"""

import importlib
import json
import random
import signal
import sys
import time
import types

import numpy as np
import pytest

__all__ = ["TaskTimeLimit"]

# How long a graded module's import may take (a loop at module level would otherwise hang the grade).
IMPORT_LIMIT_S = 30
# The longest text kept of a failure's traceback.
DETAILS_CHARS = 3000


class TaskTimeLimit(BaseException):
    """A task's tests ran past its time budget. A BaseException, so that graded code catching
    ``Exception`` cannot swallow it."""


class _Lenient(types.ModuleType):
    """A graded module whose missing names raise when used, instead of failing the test file's import."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _raiser(AttributeError(f"{self.__name__}.py has no {name}; the task asks for it"))


class _Unimportable(types.ModuleType):
    """Stands in for a graded module that does not import: every name raises its import error."""

    def __init__(self, name, error):
        super().__init__(name)
        self._error = error

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _raiser(ImportError(f"{self.__name__}.py does not import: {self._error}"))


def _raiser(error):
    def unusable(*args, **kwargs):
        raise error
    return unusable


# POSIX interval timers stop a test in its tracks; without them (Windows) only the overall
# limit of the grading process applies.
_HAS_TIMER = hasattr(signal, "setitimer")


def _alarm(seconds, message):
    def stop(signum, frame):
        raise TaskTimeLimit(message)
    if _HAS_TIMER:
        signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))


def _cancel_alarm():
    if _HAS_TIMER:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _import_graded(name):
    """Import the graded module ``name``, or put a stand-in for it in sys.modules."""
    _alarm(IMPORT_LIMIT_S, f"importing {name}.py took more than {IMPORT_LIMIT_S} s")
    try:
        module = importlib.import_module(name)
        module.__class__ = _Lenient
    except (Exception, TaskTimeLimit) as error:   # whatever the student's import raised is the message
        sys.modules[name] = _Unimportable(name, f"{type(error).__name__}: {error}")
    finally:
        _cancel_alarm()


class _Grader:
    def __init__(self, config):
        self.tasks = config["tasks"]                 # id -> {"time_limit_s": ...}
        self.hidden = config["hidden"]               # test file (relative) -> [[begin, end], ...]
        self.selected = config.get("selected")       # task ids to run, or None for all
        self.seed = config.get("seed", 0)
        self.report_path = config["report"]
        self.budget = {task_id: float(task["time_limit_s"]) for task_id, task in self.tasks.items()}
        self.items = {}                              # nodeid -> what the report says about it
        self.outcomes = {}                           # nodeid -> (outcome, message, details)
        for name in config["modules"]:
            _import_graded(name)

    def write(self, record):
        with open(self.report_path, "a") as file:
            file.write(json.dumps(record) + "\n")

    def is_hidden(self, path, line):
        return any(begin <= line <= end for begin, end in self.hidden.get(path, ()))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        kept, dropped = [], []
        for item in items:
            marker = item.get_closest_marker("task")
            if marker is None or not marker.args:
                raise pytest.UsageError(f"{item.nodeid} has no @pytest.mark.task(ID, points=...) marker")
            task_id = str(marker.args[0])
            if task_id not in self.tasks:
                raise pytest.UsageError(f"{item.nodeid} is marked with task {task_id}, which assignment.json "
                                        "does not list")
            if self.selected is not None and task_id not in self.selected:
                dropped.append(item)
                continue
            path, line, _ = item.location
            self.items[item.nodeid] = {"nodeid": item.nodeid, "name": item.name, "task": task_id,
                                       "points": marker.kwargs.get("points", 1),
                                       "hidden": self.is_hidden(path.replace("\\", "/"), line + 1)}
            kept.append(item)
        items[:] = kept
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        self.write({"collected": list(self.items.values())})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        task_id = self.items[item.nodeid]["task"]
        if self.budget[task_id] <= 0:
            pytest.fail(f"not run: task {task_id}'s tests used up its {self.tasks[task_id]['time_limit_s']:g} s",
                        pytrace=False)
        random.seed(self.seed)
        np.random.seed(self.seed)
        minidl = sys.modules.get("minidl")
        if minidl is not None:
            minidl.manual_seed(self.seed)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        task_id = self.items[item.nodeid]["task"]
        limit = self.tasks[task_id]["time_limit_s"]
        _alarm(self.budget[task_id], f"task {task_id}'s tests ran past its time limit of {limit:g} s")
        started = time.perf_counter()
        try:
            yield
        finally:
            _cancel_alarm()
            self.budget[task_id] -= time.perf_counter() - started

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self.items:
            return
        if report.failed or report.skipped or (report.when == "call" and report.passed):
            previous = self.outcomes.get(report.nodeid)
            if previous is None or previous[0] == "passed":
                self.outcomes[report.nodeid] = self.outcome(report)
        if report.when == "teardown":
            outcome, message, details = self.outcomes.pop(report.nodeid, ("failed", "did not run", ""))
            self.write({"test": report.nodeid, "outcome": outcome, "message": message, "details": details,
                        "duration_s": round(report.duration, 3)})

    @staticmethod
    def outcome(report):
        if report.passed:
            return "passed", "", ""
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            return "skipped", f"skipped: {reason}", ""
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
        details = report.longreprtext
        if len(details) > DETAILS_CHARS:
            details = "...\n" + details[-DETAILS_CHARS:]
        where = "" if report.when == "call" else f" (in {report.when})"
        return "failed", message.strip().splitlines()[0] + where if message.strip() else "failed", details

    def pytest_collectreport(self, report):
        if report.failed:
            self.write({"collection_error": report.nodeid, "details": report.longreprtext[-DETAILS_CHARS:]})


def pytest_addoption(parser):
    parser.addoption("--homework-config", help="the grading configuration written by minidl grade")


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id, points=1): the task a test grades and the points it is worth")
    path = config.getoption("--homework-config")
    if path:
        with open(path) as file:
            config.pluginmanager.register(_Grader(json.load(file)), "homework-grader")
