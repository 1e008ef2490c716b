"""``minidl assignment``: hand an assignment out to students, and keep its hidden data current.

    minidl assignment release hw1 --out release/            # writes release/hw1/: stubs, public tests, hw1.ipynb
    minidl assignment release hw1 --source ../course/assignments --out release/ --force
    minidl assignment expected hw1                          # recompute hw1/hidden/expected.npz

``release`` writes the student version (``minidl.homework.release``: solutions replaced by
stubs that raise ``NotImplementedError("Task 1.2: ...")``, hidden tests removed, the notebook
generated) and refuses to leave one behind in which a line of a solution or of a hidden test
survives, or whose graded modules do not import. ``expected`` reruns ``hidden/cases.py`` (the
hidden tests' inputs and the answer keys' outputs, from fixed seeds) after a change to them.
"""

from minidl.cli.common import UsageError

DEFAULT_SOURCE = "assignments"


ACTIONS = ("release", "expected")


def add_parser(commands):
    parser = commands.add_parser(
        "assignment",
        help="release an assignment to students, or recompute its hidden tests' expected values",
        description="release NAME --out DIR: write DIR/NAME, the student version (stubs instead of solutions, the "
                    "tests without the hidden ones, the notebook as NAME.ipynb), checked to hold no solution text "
                    "and to import. expected NAME: recompute NAME/hidden/expected.npz from NAME/hidden/cases.py.",
    )
    parser.add_argument("action", nargs="?", choices=ACTIONS, metavar="ACTION", help="release or expected")
    parser.add_argument("name", nargs="?", metavar="NAME", help="the assignment (a folder of --source, e.g. hw1)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                        help=f"the instructor's assignments (default ./{DEFAULT_SOURCE})")
    parser.add_argument("--out", metavar="DIR", help="release: where the release folder NAME goes")
    parser.add_argument("--force", action="store_true", help="release: replace OUT/NAME if it exists")
    return parser


def run(args):
    if args.action is None or args.name is None:
        raise UsageError("say what to do and to which assignment: minidl assignment release NAME --out DIR, or "
                         "minidl assignment expected NAME")
    if args.action == "release" and args.out is None:
        raise UsageError("release needs --out DIR, the folder the student version goes to")
    # Imported here: the notebook tools are an optional extra, needed by these actions only.
    from minidl.homework import AssignmentError, ReleaseError, release, write_expected
    from minidl.homework.markers import MarkerError
    try:
        if args.action == "release":
            done = release(args.name, args.source, args.out, force=args.force)
            modules = sum(1 for f in done.files if f.endswith(".py") and not f.startswith("tests"))
            print(f"released {args.name} to {done.folder}: {len(done.files)} files, {done.stubs} solutions replaced by "
                  f"stubs in {modules} modules, {done.hidden_removed} hidden test regions removed; no solution line "
                  "survives and the modules import")
        else:
            print(f"wrote {write_expected(args.name, args.source)}")
    except (ImportError, AssignmentError, ReleaseError, MarkerError, FileNotFoundError) as error:
        raise UsageError(error) from error
    return 0
