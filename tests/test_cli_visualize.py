"""minidl visualize: every view from the command line, on a pretrained model and on a minidl train run,
and its mistakes as one line with exit status 2."""

import json

import pytest

from minidl.cli import main


def run_view(tmp_path, source, what, *options):
    out = tmp_path / what
    assert main(["visualize", source, "--what", what, "--out", str(out), "--no-progress", *options]) == 0
    return out


def test_filters_activations_and_class_models_of_a_pretrained_model(tmp_path):
    assert (run_view(tmp_path, "lenet5-mnist", "filters") / "filters.png").stat().st_size > 0
    assert (run_view(tmp_path, "lenet5-mnist", "activations", "--index", "3") / "activations.png").stat().st_size > 0
    out = run_view(tmp_path, "lenet5-mnist", "classmodel")
    record = json.loads((out / "classmodel.json").read_text())
    assert record["top_class"] == list(range(10)) and record["settings"]["jitter"] == 2
    assert all(end > start + 10 for start, end in zip(record["start_logits"], record["logits"]))


def test_top9_finds_nine_different_images_per_channel(tmp_path):
    out = run_view(tmp_path, "lenet5-mnist", "top9", "--limit", "300", "--channels", "0,5")
    record = json.loads((out / "top9.json").read_text())
    assert record["layer"] == "features.act2" and record["images"] == 300 and record["k"] == 9
    assert [c["channel"] for c in record["channels"]] == [0, 5]
    assert all(len(set(c["images"])) == 9 for c in record["channels"])
    for c in record["channels"]:
        assert c["same_class"] == max(c["classes"].count(k) for k in c["classes"]) / 9
    assert record["mean_same_class"] == sum(c["same_class"] for c in record["channels"]) / 2
    assert record["receptive_field"] == "14x14, jump 2, start 5"   # conv 5 pad 2, pool 2, conv 5
    assert (out / "top9.png").stat().st_size > 0


def test_embedding_and_neighbours(tmp_path):
    out = run_view(tmp_path, "lenet5-mnist", "embedding", "--limit", "200")
    record = json.loads((out / "embedding.json").read_text())
    assert record["layer"] == "classifier.fc3" and record["capture"] == "input" and record["dimensions"] == 84
    assert len(record["queries"]) == 10 and record["neighbours_of_the_same_class"] > 0.8
    assert (out / "embedding-pca.png").exists() and (out / "neighbours.png").exists()


def test_robustness_against_a_baseline(tmp_path, capsys):
    # The model against itself: the same corrupted images, so every CE is 100% (or undefined).
    out = run_view(tmp_path, "lenet5-mnist", "robustness", "--limit", "12", "--baseline", "lenet5-mnist")
    record = json.loads((out / "robustness.json").read_text())
    assert record["images"] == 12 and record["baseline"]["name"] == "lenet5-mnist"
    assert record["errors"] == record["baseline"]["errors"] and set(record["ce"]) == set(record["errors"])
    assert all(ce in (1.0, None) for ce in record["ce"].values())
    assert "mCE over the 9" in (out / "robustness.md").read_text()
    assert (out / "corruptions.png").exists() and "| gaussian noise |" in capsys.readouterr().out


def test_a_checkpoint_of_minidl_train_works_too(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--limit", "60", "--epochs", "1", "--test-limit", "20", "--val-fraction", "0",
                 "--no-progress", "--out", str(run)]) == 0
    assert (run_view(tmp_path, str(run), "filters", "--layer", "features.conv2") / "filters.png").exists()
    out = run_view(tmp_path, str(run), "top9", "--limit", "30", "--k", "3", "--layer", "features.conv1")
    assert json.loads((out / "top9.json").read_text())["receptive_field"] == "5x5, jump 1, start 0.5"


@pytest.mark.parametrize("options, message", [
    (["--what", "filters", "--layer", "classifier.fc1"],
     "--layer classifier.fc1 is a Linear, not a convolution: filters draws the weights of a Conv2d layer"),
    (["--what", "top9", "--channels", "0,16", "--limit", "20"],
     "top_patches: channel 16 is out of range for layer 'features.act2' with 16 channels (0 to 15)"),
    (["--what", "top9", "--limit", "5"], "top_patches: k=9 is larger than the dataset (5 images); choose k <= 5"),
    (["--what", "activations", "--layer", "features.conv7"], "--layer: activations: the model has no layer"),
    (["--what", "activations", "--index", "5000"], "--index 5000 is out of range: the builtin test split has 2000"),
    (["--what", "top9", "--dataset", "synthetic-shapes"], "lenet5-mnist takes 1-channel images but synthetic-shapes"),
    (["--what", "top9", "--k", "0"], "--k must be at least 1, got 0"),
])
def test_mistakes_are_one_line_and_exit_status_2(options, message, capsys, tmp_path):
    assert main(["visualize", "lenet5-mnist", *options, "--out", str(tmp_path / "never"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("minidl visualize: ")
    assert not (tmp_path / "never").exists()
