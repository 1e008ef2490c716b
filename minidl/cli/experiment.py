"""``minidl experiment``: rerun one of the lectures' experiments and write down what came out.

    minidl experiment --list
    minidl experiment four-cases                       # writes runs/<time>-four-cases/report.md
    minidl experiment learning-curves --out results/transfer/learning-curves --record results/transfer.md

The experiments are the modules of ``minidl.experiments``; each writes a report (tables, figures,
what agrees with the lecture and what does not) headed by the command, the date, the machine and
the time it took. ``--record FILE`` also puts the report into a results file, replacing the
previous run of the same experiment. ``--quick`` is a smoke test with tiny settings.
"""

import os
import shlex
import time

from minidl.cli.common import UsageError
from minidl.experiments import EXPERIMENTS, get_experiment, run_experiment


def add_parser(commands):
    parser = commands.add_parser(
        "experiment",
        help="rerun one of the lectures' experiments (transfer learning, ...) and record it",
        description="Run experiment NAME, write its report and figures to --out, and optionally record the "
                    "report in a results file.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help=f"the experiment: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument("--out", help="folder for the report and figures (default runs/<time>-<NAME>)")
    parser.add_argument("--record", metavar="FILE", help="also put the report into this Markdown results file")
    parser.add_argument("--data-root", help="folder with dataset files, for experiments that can use them")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test, not a measurement")
    return parser


def run(args):
    if args.list:
        for name in EXPERIMENTS:
            print(f"{name:22s} {get_experiment(name).TITLE}")
        return 0
    if args.name is None:
        raise UsageError(f"name an experiment ({', '.join(EXPERIMENTS)}), or --list them")
    if args.name not in EXPERIMENTS:
        raise UsageError(f"no experiment named {args.name!r}; the experiments: {', '.join(EXPERIMENTS)}")
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-{args.name}")
    options = [("--out", args.out), ("--data-root", args.data_root), ("--record", args.record)]
    command = " ".join(["minidl experiment", args.name] + [f"{flag} {shlex.quote(value)}" for flag, value in options
                                                          if value] + (["--quick"] if args.quick else []))
    report = run_experiment(args.name, out, quick=args.quick, data_root=args.data_root, record=args.record,
                            command=command)
    print(report)
    print(f"wrote {os.path.join(out, 'report.md')}" + (f" and {args.record}" if args.record else ""))
    return 0
