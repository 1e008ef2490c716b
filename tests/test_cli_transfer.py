"""minidl finetune and minidl probe, end to end on the offline data with tiny settings."""

import json

import numpy as np
import pytest

from minidl.checkpoint import load_checkpoint
from minidl.cli import main
from minidl.zoo import load_pretrained


def test_finetune_writes_a_run_folder_that_evaluate_reads(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["finetune", "lenet5-mnist", "--dataset", "builtin", "--strategy", "fine-tune-all",
                   "--labels-per-class", "10", "--epochs", "2", "--test-limit", "300", "--no-progress",
                   "--out", str(out), "--layer-lr-factor", "10"])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_images"] == 100 and metrics["test_images"] == 300
    assert metrics["strategy"] == "fine-tune-all" and metrics["test_accuracy"] > 0.9
    assert len(metrics["history"]["train_loss"]) == 2 and (out / "curves.png").exists()
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_gradual_unfreezing_from_the_command_line_keeps_the_body_until_its_epoch(tmp_path):
    out = tmp_path / "gradual"
    assert main(["finetune", "lenet5-mnist", "--dataset", "builtin", "--labels-per-class", "5", "--epochs", "2",
                 "--unfreeze-every", "2", "--test-limit", "50", "--no-progress", "--out", str(out)]) == 0
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["unfreeze_every"] == 2 and settings["strategy"] == "fine-tune-all"
    # Two epochs, one group more every two: only the head trained; the body is the source's, bit for bit.
    trained, source = load_checkpoint(out / "checkpoint.npz")["model"], load_pretrained("lenet5-mnist").state_dict()
    assert all(np.array_equal(trained[k], source[k]) for k in source if k.startswith("features"))
    assert not np.array_equal(trained["classifier.fc1.weight"], source["classifier.fc1.weight"])


@pytest.mark.parametrize("strategy", ["linear-probe", "feature-extractor", "fine-tune-last-k", "from-scratch"])
def test_every_strategy_runs_from_the_command_line(strategy, tmp_path):
    out = tmp_path / strategy
    assert main(["finetune", "lenet5-synthetic-shapes", "--dataset", "synthetic-shapes-new", "--strategy", strategy,
                 "--labels-per-class", "4", "--epochs", "1", "--test-limit", "50", "--no-progress",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_images"] == 20 and 0 <= metrics["test_accuracy"] <= 1
    assert (out / "checkpoint.npz").exists() == (strategy != "linear-probe")


def test_probe_writes_the_table_and_the_plot(tmp_path, capsys):
    out = tmp_path / "probe"
    assert main(["probe", "lenet5-mnist", "--dataset", "builtin", "--labels-per-class", "20", "--test-limit", "200",
                 "--epochs", "5", "--no-progress", "--out", str(out)]) == 0
    rows = json.loads((out / "probe.json").read_text())["rows"]
    assert [r["layer"] for r in rows] == ["features.conv1", "features.conv2", "classifier.fc1", "classifier.fc2",
                                          "classifier.fc3"]
    assert rows[-1]["softmax"] > rows[0]["softmax"]  # the trained head separates digits better than conv1's means
    assert (out / "probe.png").exists() and "classifier.fc3" in (out / "probe.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["finetune", "nonsense", "--dataset", "builtin"], "neither a pretrained model"),
    (["finetune", "lenet5-synthetic-shapes", "--dataset", "builtin"], "add --adapt-channels"),
    (["probe", "lenet5-mnist", "--dataset", "builtin", "--layers", "conv9"], "has no layer 'conv9'"),
    (["finetune", "lenet5-mnist", "--dataset", "builtin", "--labels-per-class", "0"], "must be >= 1"),
    (["finetune", "lenet5-mnist", "--dataset", "builtin", "--lr", "inf"], "must be a positive number"),
    (["finetune", "lenet5-mnist", "--dataset", "builtin", "--unfreeze-every", "0"], "--unfreeze-every must be >= 1"),
    (["finetune", "lenet5-mnist", "--dataset", "builtin", "--strategy", "feature-extractor", "--unfreeze-every", "2"],
     "unfreeze_every applies to the fine-tune-all strategy"),
])
def test_mistakes_are_one_line_and_exit_status_2(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "never")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "never").exists()


def test_adapt_channels_lets_a_colour_source_take_grey_digits(tmp_path):
    assert main(["finetune", "lenet5-synthetic-shapes", "--dataset", "builtin", "--adapt-channels",
                 "--strategy", "feature-extractor", "--labels-per-class", "5", "--epochs", "1", "--test-limit", "50",
                 "--no-progress", "--out", str(tmp_path / "grey")]) == 0
