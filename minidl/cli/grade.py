"""``minidl grade``: run an assignment's public and hidden tests on a submission and score it.

    minidl grade hw1                                  # the reference solutions in ./assignments: full points
    minidl grade hw1 --submission release/            # a student's folder (or a release: 0 points)
    minidl grade hw1 --submission work/ --json results.json --tasks 1.2,1.3

Prints a table with one row per task (public, hidden and total points, and under a task that
lost points the rule it broke or its first failing test) and, with ``--json``, writes
Gradescope's ``results.json``. Grading is ``minidl.homework.grade``: the instructor's tests on
a copy of the submission's graded files, each task within its time budget, the same seed before
every test. The exit status is 0 whenever grading ran, whatever the score.
"""

from minidl.cli.common import UsageError

DEFAULT_SOURCE = "assignments"


def add_parser(commands):
    parser = commands.add_parser(
        "grade",
        help="grade a submission of an assignment: score table and Gradescope's results.json",
        description="Run the public and hidden tests of assignment NAME on --submission (default: the reference "
                    "solutions) and print the score of each task.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the assignment (a folder of --source, e.g. hw1)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                        help=f"the instructor's assignments, with the hidden tests (default ./{DEFAULT_SOURCE})")
    parser.add_argument("--submission", metavar="DIR",
                        help="the folder with the graded files, directly or in DIR/NAME (default: the solutions)")
    parser.add_argument("--json", metavar="FILE", help="also write Gradescope's results.json to FILE")
    parser.add_argument("--tasks", metavar="A,B", help="grade only these tasks (e.g. 1.2,1.3)")
    return parser


def run(args):
    if args.name is None:
        raise UsageError(f"name the assignment to grade (a folder of {args.source}, e.g. hw1)")
    from minidl.homework import AssignmentError, GradingError, format_report, grade, write_results
    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()] if args.tasks else None
    try:
        report = grade(args.name, args.source, args.submission, tasks=tasks)
    except (AssignmentError, GradingError) as error:
        raise UsageError(error) from error
    print(format_report(report))
    if args.json:
        try:
            write_results(report, args.json)
        except OSError as error:
            raise UsageError(error) from error
        print(f"wrote {args.json}")
    return 0
