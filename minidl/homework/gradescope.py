"""Gradescope's ``results.json``: the format most courses' autograders hand their scores in.

    {"score": 37.0, "execution_time": 41.2, "output": "<the score table>",
     "tests": [{"name": "1.2 Naive convolution: forward pass -- test_matches_the_reference",
                "score": 2, "max_score": 2, "status": "passed", "output": "",
                "visibility": "visible"}, ...]}

One entry per test. Hidden tests are ``"after_published"``: the student sees them once the
instructor publishes the grades, as Gradescope's own hidden test cases. A failed test's output
is its message and traceback; a task that broke a rule scores 0 on every test, whose output
starts with the rule that was broken. On Gradescope, ``run_autograder`` is one line:

    minidl grade hw1 --source /autograder/source/assignments --submission /autograder/submission \\
        --json /autograder/results/results.json
"""

import json

from minidl.files import atomic_write
from minidl.homework.grade import format_report

__all__ = ["results_json", "write_results"]


def results_json(report):
    """The results.json dictionary of a ``GradeReport``."""
    tests = []
    for result in report.tasks:
        broken = "\n".join(violation.message for violation in result.violations)
        for test in result.tests:
            passed = test.passed and not result.violations
            output = "\n".join(part for part in (broken, test.message, test.details) if part)
            tests.append({
                "name": f"{result.task.id} {result.task.title} -- {test.name}",
                "score": test.points if passed else 0,
                "max_score": test.points,
                "status": "passed" if passed else "failed",
                "output": output,
                "visibility": "after_published" if test.hidden else "visible",
            })
    return {"score": report.score, "execution_time": round(report.execution_time_s, 3),
            "output": format_report(report), "tests": tests}


def write_results(report, path):
    """Write ``results_json(report)`` to ``path`` (atomically)."""
    with atomic_write(path, "w") as file:
        json.dump(results_json(report), file, indent=2)
