"""The ``minidl`` command line.

    minidl gradcheck              # gradient-check every built-in layer, print a table
    minidl gradcheck conv2d       # one layer (several may be named)
"""

import argparse
import sys


def _gradcheck(args):
    from minidl.layer_checks import LAYER_CHECKS, format_table, run_checks

    if args.list:
        print("\n".join(LAYER_CHECKS))
        return 0
    unknown = [name for name in args.layers if name not in LAYER_CHECKS]
    if unknown:
        print(f"minidl gradcheck: unknown layer(s): {', '.join(unknown)}\n"
              f"known layers: {', '.join(LAYER_CHECKS)}", file=sys.stderr)
        return 2
    rows = run_checks(args.layers or None, configs=args.configs, seed=args.seed)
    print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: learn how CNNs work, in NumPy.")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "gradcheck",
        help="compare every layer's backward pass with numerical gradients",
        description="Gradient-check built-in layers in float64 at random configurations and print "
                    "a table of layer, configuration, max relative error and pass/fail.",
    )
    check.add_argument("layers", nargs="*", metavar="LAYER", help="layers to check (default: all)")
    check.add_argument("--configs", type=int, default=3, help="random configurations per layer (default 3)")
    check.add_argument("--seed", type=int, default=0, help="seed of the configurations (default 0)")
    check.add_argument("--list", action="store_true", help="list the layers that can be checked")
    check.set_defaults(run=_gradcheck)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
