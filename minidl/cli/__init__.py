"""The ``minidl`` command line (also ``python -m minidl``).

    minidl gradcheck              # gradient-check every built-in layer, print a table
    minidl train                  # train LeNet-5 on the built-in MNIST subset (offline, < 1 min)
    minidl train --model resnet18 --dataset synthetic-shapes --epochs 5
    minidl evaluate runs/20250101-120000-lenet5-builtin/checkpoint.npz
    minidl summary vgg16          # layers, output shapes, parameters, MACs, receptive fields
    minidl --version

Each command is one module of this package, ``minidl/cli/<command>.py``, with two functions:
``add_parser(commands)`` adds its sub-parser (options and help) to argparse's sub-parsers and
returns it, and ``run(args)`` does the work and returns the exit status. A new command is that
file and its name in COMMANDS. ``common.py`` holds what commands share: ``UsageError``,
datasets and checkpoints by name; ``images.py`` fits a dataset's images to a zoo model.

A mistake the user can fix (``UsageError``, or an option argparse refuses) is printed as one
line on stderr, ``minidl COMMAND: what was wrong; what to do``, with exit status 2 and no
traceback.
"""

import argparse
import importlib
import sys

import minidl
from minidl.cli.common import UsageError

__all__ = ["main", "build_parser", "COMMANDS", "UsageError"]

# The commands, in the order ``minidl --help`` lists them: each the name of a module here.
COMMANDS = ("gradcheck", "train", "evaluate", "summary", "finetune", "probe", "experiment", "explain", "attack",
            "assignment", "grade", "visualize")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that a refused option is one line on stderr (no usage block):
    the error and where the options are listed."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(prog="minidl", description="minidl: learn how CNNs work, in NumPy.")
    parser.add_argument("--version", action="version", version=f"minidl {minidl.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"minidl.cli.{name}")
        module.add_parser(commands).set_defaults(run=module.run)
    return parser


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"minidl {args.command}: {error}", file=sys.stderr)
        return 2
