"""``minidl train`` writes a complete run folder; ``minidl evaluate`` reproduces its test accuracy;
``--resume`` finishes an interrupted run with the weights of an uninterrupted one."""

import json
import math
import re

import numpy as np
import pytest

from minidl import cli, train
from minidl.cli import train as train_command
from minidl.cli.train import TRAIN_DEFAULTS
from minidl.checkpoint import load_checkpoint

RUN_FILES = ("metrics.json", "checkpoint.npz", "curves.png", "confusion.png", "filters.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A quick version of the default job: LeNet-5 on the built-in MNIST subset, 2 epochs on the
# first 128 training images (96 to train on, 32 to validate), tested on all 2,000 test images.
QUICK = ["--epochs", "2", "--limit", "128", "--batch-size", "32", "--val-fraction", "0.25", "--no-progress"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "quick"
    assert cli.main(["train", *QUICK, "--out", str(out)]) == 0
    return out


def test_train_writes_every_file_of_the_run_folder(run_folder):
    for name in RUN_FILES:
        assert (run_folder / name).stat().st_size > 0, name
    for name in RUN_FILES[2:]:
        assert (run_folder / name).read_bytes()[:8] == PNG_MAGIC, name
    assert sorted(p.name for p in run_folder.iterdir()) == sorted(RUN_FILES)   # no temporary files left

    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert metrics["config"] == {**TRAIN_DEFAULTS, "epochs": 2, "batch_size": 32, "limit": 128,
                                 "val_fraction": 0.25, "lr": 3e-3, "weight_decay": 0.0, "image_size": 28}
    assert (metrics["data"]["train_images"], metrics["data"]["val_images"], metrics["data"]["test_images"]) \
        == (96, 32, 2000)
    assert set(metrics["history"]) == set(train.HISTORY_KEYS)
    assert all(len(values) == 2 for values in metrics["history"].values())
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 2000
    assert metrics["test_accuracy"] == matrix.trace() / 2000
    assert metrics["model"] == {"name": "lenet5", "kwargs": {"num_classes": 10, "in_channels": 1, "image_size": 28},
                                "parameters": 61706}
    checkpoint = load_checkpoint(run_folder / "checkpoint.npz")
    assert checkpoint["epoch"] == 2 and checkpoint["run"]["config"] == metrics["config"]


def test_evaluate_reproduces_the_test_accuracy_and_prints_the_confusion_matrix(run_folder, capsys):
    metrics = json.loads((run_folder / "metrics.json").read_text())
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_folder / "checkpoint.npz")]) == 0
    out = capsys.readouterr().out
    correct = round(metrics["test_accuracy"] * 2000)
    assert f"accuracy {metrics['test_accuracy']:.4f} ({correct} of 2000 images)" in out
    rows = [line for line in out.splitlines() if line.startswith(" 0: 0 - zero")]
    assert len(rows) == 1 and [int(n) for n in rows[0].split()[4:]] == metrics["confusion_matrix"][0]


def test_resume_finishes_an_interrupted_run_exactly(run_folder, tmp_path, monkeypatch):
    class Crash(Exception):
        pass

    real_save = train.save_checkpoint

    def save_then_crash(path, *objects, **metadata):
        real_save(path, *objects, **metadata)
        if metadata["epoch"] == 1:
            raise Crash   # the process dies right after epoch 1's checkpoint

    with monkeypatch.context() as patch:
        patch.setattr(train, "save_checkpoint", save_then_crash)
        with pytest.raises(Crash):
            cli.main(["train", *QUICK, "--out", str(tmp_path / "interrupted")])
    assert load_checkpoint(tmp_path / "interrupted" / "checkpoint.npz")["epoch"] == 1
    assert cli.main(["train", "--resume", str(tmp_path / "interrupted"), "--no-progress"]) == 0

    straight = load_checkpoint(run_folder / "checkpoint.npz")
    resumed = load_checkpoint(tmp_path / "interrupted" / "checkpoint.npz")
    assert resumed["epoch"] == 2
    for key, value in straight["model"].items():
        assert np.array_equal(resumed["model"][key], value), key
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (run_folder, tmp_path / "interrupted")]
    assert metrics[0]["test_accuracy"] == metrics[1]["test_accuracy"]


@pytest.mark.parametrize("argv, message", [
    (["train", "--momentum", "0.9"], "--momentum does not apply to the adam optimizer"),
    (["train", "--val-fraction", "1.5"], r"--val-fraction must be in \[0, 1\), got 1.5"),
    (["train", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["train", "--patience", "2", "--val-fraction", "0"], "--patience stops on the validation loss"),
    (["train", "--image-size", "0"], "--image-size must be at least 1, got 0"),
    (["train", "--lr", "inf"], "--lr must be a positive number, got inf"),
    (["train", "--lr", "nan"], "--lr must be a positive number, got nan"),
    (["train", "--lr", "-0.1"], "--lr must be a positive number, got -0.1"),
    (["train", "--optimizer", "sgd", "--momentum", "1"], r"--momentum must be in \[0, 1\), got 1.0"),
    (["train", "--weight-decay", "-1"], "--weight-decay must be a number >= 0, got -1.0"),
    (["train", "--limit", "5"], "--limit 5 with --val-fraction 0.1 leaves 5 training and 0 validation images; "
                                "use --limit 10 or more"),
    (["train", "--limit", "1", "--val-fraction", "0"], "--limit 1 leaves 1 training image; training needs at least 2"),
    (["train", "--model", "alexnet", "--image-size", "32"],
     r"alexnet does not take 32x32 images \(it takes sides of at least 63\); choose another --image-size, or "
     r"leave it out for 63"),
    (["train", "--image-size", "29"], r"lenet5 does not take 29x29 images \(it takes sides of 28, 30 or 32\)"),
    (["train", "--lr", "1e6", "--limit", "128", "--no-progress"],
     r"training diverged: the loss is inf at epoch 1, step \d+ .*\(lr=1e\+06: try 10x smaller\)"),
    (["train", "--dataset", "mnist", "--data-root", "{tmp}"],
     "train-images-idx3-ubyte.gz not found.* On the command line: add --download, or --data-root FOLDER"),
    (["evaluate", "{tmp}/missing.npz"], "No such file"),
])
def test_user_errors_are_reported_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)   # where the default run folder, runs/..., would go
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minidl {argv[0]}: ") and len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()   # a failed start leaves no empty run folder


def test_the_smallest_limit_that_an_error_suggests_trains(tmp_path):
    assert cli.main(["train", "--limit", "10", "--epochs", "1", "--test-limit", "10", "--no-progress",
                     "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["data"]["train_images"], metrics["data"]["val_images"], metrics["data"]["test_images"]) == (9, 1, 10)


def test_a_test_loss_that_is_not_finite_fails_naming_the_epoch(tmp_path, monkeypatch, capsys):
    def overflowing_evaluate(model, loader):
        return math.inf, 0.1, np.zeros(len(loader.dataset), np.int64)

    monkeypatch.setattr(train_command, "evaluate", overflowing_evaluate)
    assert cli.main(["train", *QUICK, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minidl train: training diverged: the test loss is inf after epoch 2. ")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_evaluate_refuses_a_dataset_with_other_channels_or_classes(run_folder, tmp_path, capsys):
    assert cli.main(["evaluate", str(run_folder), "--dataset", "synthetic-shapes"]) == 2
    err = capsys.readouterr().err
    assert err == (f"minidl evaluate: {run_folder / 'checkpoint.npz'} holds a model for images of 1 channel(s), but "
                   f"synthetic-shapes's have 3; evaluate it on a dataset with 1-channel images, such as builtin\n")
    shapes = tmp_path / "shapes"
    assert cli.main(["train", "--dataset", "synthetic-shapes", "--epochs", "1", "--limit", "64", "--test-limit", "16",
                     "--no-progress", "--out", str(shapes)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(shapes), "--dataset", "synthetic-shapes-new"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minidl evaluate: {shapes / 'checkpoint.npz'} holds a model for the classes of "
                          f"synthetic-shapes (circle, square, triangle, ...), but synthetic-shapes-new has other classes (")
    assert err.endswith("; evaluate it on a dataset with the same classes\n") and len(err.splitlines()) == 1


def test_a_model_for_larger_images_trains_and_evaluates_on_resized_ones(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--model", "small_vgg", "--image-size", "32", *QUICK, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""   # no warning: a quick run
    assert "training small_vgg on builtin at 32x32 (resized from 28x28): 96 training" in captured.out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["kwargs"] == {"num_classes": 10, "in_channels": 1, "image_size": 32}
    assert metrics["config"]["image_size"] == 32 and metrics["data"]["image_shape"] == [1, 28, 28]
    assert cli.main(["evaluate", str(out)]) == 0
    correct = round(metrics["test_accuracy"] * 2000)
    assert f"accuracy {metrics['test_accuracy']:.4f} ({correct} of 2000 images)" in capsys.readouterr().out


def test_a_lone_last_image_is_left_out_for_batch_norm(tmp_path):
    # 9 images in batches of 8 would end with a batch of one; ResNet-18 at 28x28 ends in 1x1 maps,
    # where batch norm would see a single value per channel.
    assert cli.main(["train", "--model", "resnet18", "--limit", "9", "--val-fraction", "0", "--batch-size", "8",
                     "--epochs", "1", "--test-limit", "8", "--no-progress", "--out", str(tmp_path / "run")]) == 0


def test_an_epoch_estimated_to_be_long_is_announced_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train_command, "CPU_MACS_PER_SECOND", 10.0)
    assert cli.main(["train", *QUICK, "--out", str(tmp_path / "run")]) == 0
    # LeNet-5: 416,520 MACs per image; (3 x 96 training + 32 validation images) x 416,520 / 10 per second
    assert capsys.readouterr().err == (
        "minidl train: warning: lenet5 at 28x28 costs 0.00 G multiply-adds per image; an epoch of 96 training "
        f"images will take about {(3 * 96 + 32) * 416_520 / 10 / 3600:.1f} h on a laptop CPU (shorten it with --limit N)\n")


def test_resume_keeps_the_saved_settings_and_runs_are_not_overwritten(run_folder, tmp_path, capsys):
    assert cli.main(["train", "--resume", str(run_folder), "--lr", "0.1", "--out", str(tmp_path)]) == 2
    assert "--resume continues the saved run with its own settings and folder; drop --lr, --out" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(run_folder)]) == 2
    assert f"{run_folder} already holds a run; continue it with --resume" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    assert cli.main(["evaluate", str(tmp_path / "notes.txt")]) == 2
    assert "notes.txt is not a minidl checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv, lr", [
    (["--model", "alexnet"], 1e-4), (["--model", "vgg16_bn", "--optimizer", "sgd"], 0.01),
    (["--model", "resnet18"], 3e-3), (["--model", "vgg11", "--lr", "0.02"], 0.02),
])
def test_models_with_huge_fully_connected_layers_start_at_a_lower_rate(argv, lr):
    args = cli.build_parser().parse_args(["train", *argv])
    assert train_command.resolve_config(args)["lr"] == lr
