"""Every benchmark, one after the other, into one Markdown file: the tables of RESULTS.md.

    python -m benchmarks.suite --output results.md [--threads 1 2] [--repeats 3] [--impls numba torch]

Runs conv, pool, inference, train_step, epoch, memory and startup with the same options
(``--impls`` defaults to minidl's Numba kernels and PyTorch: the NumPy twins have no targets
and would take most of the time), each appending its tables to ``--output``. About half an
hour at both thread counts on a 2-core machine, most of it ResNet-20's epochs; run it on a
quiet machine.
"""

import sys

from benchmarks import common, conv, epoch, inference, memory, pool, startup, train_step
from minidl.machine import describe_cpu, machine_kind

BENCHMARKS = {"conv": conv, "pool": pool, "inference": inference, "train_step": train_step, "epoch": epoch,
              "memory": memory, "startup": startup}


def main(argv=None):
    p = common.parser("Run every benchmark into one Markdown file.", repeats=3)
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS),
                   help="benchmarks to run (default: all)")
    p.set_defaults(impls=["numba", "torch"])
    args = common.parse(p, argv)
    options = ["--threads", *map(str, args.threads), "--repeats", str(args.repeats), "--impls", *args.impls]
    if args.quick:
        options.append("--quick")
    if args.output:
        options += ["--output", str(args.output)]
    # RESULTS.md keeps one section per kind of machine: the heading names the kind this run was on.
    heading = common.emit(f"# {machine_kind()}\n\n{describe_cpu()}\n", args)
    return "\n".join([heading] + [BENCHMARKS[name].main(options) for name in args.only])


if __name__ == "__main__":
    main(sys.argv[1:])
