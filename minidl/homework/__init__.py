"""Homework with an autograder: release an assignment to students, grade what they hand in.

    minidl assignment release hw1 --out release/       # the student version: stubs, public tests, notebook
    minidl grade hw1 --submission release/              # its score table (0 points: nothing is implemented)
    minidl grade hw1 --json results.json                # the reference solutions: full points, Gradescope's file

The assignments themselves live outside the package, in the project's ``assignments/`` folder
(solutions, hidden tests and their expected values: the instructor's side). This package is the
machinery, one idea per file:

- ``assignment.py``: an assignment's task table (``assignment.json``): modules, functions, rules, time limits
- ``markers.py``: nbgrader's ``### BEGIN SOLUTION`` / ``### BEGIN HIDDEN TESTS`` regions
- ``ast_rules.py``: the rules read from the code's syntax tree (forbidden imports, no loops over
  the batch in vectorised code, required calls)
- ``release.py``: the student version, and the check that no solution survives it
- ``notebooks.py``: jupytext sources to ``.ipynb``, and running a notebook (nbclient)
- ``expected.py``: the hidden tests' expected values, computed from fixed seeds by the answer keys
- ``pytest_plugin.py``: what runs inside the grading process (markers, points, seeds, time budgets)
- ``grade.py``: grading a submission and the score table
- ``gradescope.py``: Gradescope's ``results.json``
"""

from minidl.homework.assignment import Assignment, AssignmentError, Task, load_assignment
from minidl.homework.ast_rules import Violation, check_task
from minidl.homework.expected import stale_cases, write_expected
from minidl.homework.grade import GradeReport, GradingError, format_report, grade
from minidl.homework.gradescope import results_json, write_results
from minidl.homework.release import Release, ReleaseError, check_release, release

__all__ = ["Assignment", "AssignmentError", "Task", "load_assignment", "Violation", "check_task", "stale_cases",
           "write_expected", "GradeReport", "GradingError", "format_report", "grade", "results_json",
           "write_results", "Release", "ReleaseError", "check_release", "release"]
