"""``minidl gradcheck``: compare every built-in layer's backward pass with numerical gradients.

    minidl gradcheck              # every layer, a table of configuration, error and pass/fail
    minidl gradcheck conv2d       # one layer (several may be named); --list names them
"""

from minidl.cli.common import UsageError


def add_parser(commands):
    parser = commands.add_parser(
        "gradcheck",
        help="compare every layer's backward pass with numerical gradients",
        description="Gradient-check built-in layers in float64 at random configurations and print "
                    "a table of layer, configuration, max relative error and pass/fail.",
    )
    parser.add_argument("layers", nargs="*", metavar="LAYER", help="layers to check (default: all)")
    parser.add_argument("--configs", type=int, default=3, help="random configurations per layer (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the configurations (default 0)")
    parser.add_argument("--list", action="store_true", help="list the layers that can be checked")
    return parser


def run(args):
    """Print the table; exit status 0 when every check passed, 1 when one failed."""
    from minidl.layer_checks import LAYER_CHECKS, format_table, run_checks

    if args.list:
        print("\n".join(LAYER_CHECKS))
        return 0
    unknown = [name for name in args.layers if name not in LAYER_CHECKS]
    if unknown:
        raise UsageError(f"unknown layer(s): {', '.join(unknown)}; known layers: {', '.join(LAYER_CHECKS)}")
    if args.configs < 1:
        raise UsageError(f"--configs must be at least 1, got {args.configs}")
    rows = run_checks(args.layers or None, configs=args.configs, seed=args.seed)
    print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1
