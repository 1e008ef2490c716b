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


def test_every_command_is_a_module_with_a_parser_and_a_run_function():
    parser = cli.build_parser()
    for name in cli.COMMANDS:
        module = sys.modules[f"minidl.cli.{name}"]
        required = {"summary": ["lenet5"], "evaluate": ["run/checkpoint.npz"],
                    "finetune": ["lenet5-mnist", "--dataset", "builtin"], "probe": ["lenet5-mnist", "--dataset", "builtin"]}
        args = parser.parse_args([name, *required.get(name, [])])
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
