"""The command line as a whole: ``minidl --version``, ``python -m minidl``, one module per command,
and options argparse refuses reported in one line."""

import subprocess
import sys

import pytest

import minidl
from minidl import cli


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"minidl {minidl.__version__}\n"


def test_python_dash_m_minidl_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "minidl", "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"minidl {minidl.__version__}\n", "")


def minimal_arguments(subparser):
    """The shortest argument list ``subparser`` accepts: each required argument with an allowed value."""
    argv = []
    for action in subparser._actions:
        if action.required or (not action.option_strings and action.nargs not in ("?", "*")):
            value = str(next(iter(action.choices))) if action.choices else "lenet5"
            argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def test_every_command_is_a_module_with_a_parser_and_a_run_function():
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command").choices
    assert list(subparsers) == list(cli.COMMANDS)
    for name in cli.COMMANDS:
        module = sys.modules[f"minidl.cli.{name}"]
        args = parser.parse_args([name, *minimal_arguments(subparsers[name])])
        assert args.command == name and args.run is module.run


@pytest.mark.parametrize("argv, message", [
    ([], "minidl: the following arguments are required: COMMAND (see minidl --help)"),
    (["fit"], "minidl: argument COMMAND: invalid choice: 'fit' (choose from "),
    (["train", "--epochs", "two"], "minidl train: argument --epochs: invalid int value: 'two' (see minidl train --help)"),
    (["train", "--dataset", "imagenet"], "minidl train: argument --dataset: invalid choice: 'imagenet' (choose from "),
    (["train", "--model", "resnet"], "minidl train: argument --model: unknown model 'resnet'; did you mean resnet18 "
                                     "or resnet20 or resnet32? the models: alexnet, "),
])
def test_refused_options_are_one_line_without_the_usage_block(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(message) and len(error.splitlines()) == 1, error
