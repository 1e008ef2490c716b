"""minidl attack, end to end on the shipped models and the offline data, with small settings."""

import json

import numpy as np
import pytest

from minidl.cli import main


def written(out):
    """attack.json's summary and adversarial.npz's arrays of a run folder, after checking every file is there."""
    for name in ("attack.json", "attack.md", "adversarial.npz", "examples.png"):
        assert (out / name).exists(), name
    assert (out / "examples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "adversarial.npz") as arrays:
        return json.loads((out / "attack.json").read_text()), dict(arrays)


def test_fgsm_writes_the_images_the_statistics_and_the_tables(tmp_path, capsys):
    out = tmp_path / "fgsm"
    assert main(["attack", "lenet5-mnist", "--method", "fgsm", "--eps", "0.2", "--count", "4", "--out", str(out)]) == 0
    summary, arrays = written(out)
    report = summary["report"]
    assert summary["dataset"] == "builtin" and summary["indices"] == [0, 1, 2, 3] and report["images"] == 4
    assert arrays["original"].shape == arrays["adversarial"].shape == (4, 1, 28, 28)
    assert np.abs(arrays["adversarial"] - arrays["original"]).max() <= 0.2 + np.finfo(np.float32).eps
    assert report["per_image"]["label"] == arrays["labels"].tolist()
    assert report["successes"] == sum(report["per_image"]["success"])
    assert report["confidence_before"] > report["confidence_after"]
    markdown = (out / "attack.md").read_text()
    assert "| fgsm eps=0.2 | 4 |" in markdown and markdown.count("| 7 - seven |") == 1
    assert "fgsm eps=0.2" in capsys.readouterr().out


def test_targeted_pgd_with_random_targets_is_seeded(tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["attack", "lenet5-mnist", "--method", "pgd", "--eps", "0.3", "--alpha", "0.01", "--steps", "10",
                     "--target", "random", "--count", "8", "--seed", "3", "--out", str(out)]) == 0
        runs.append(written(out))
    (summary, arrays), (_, again) = runs
    np.testing.assert_array_equal(arrays["adversarial"], again["adversarial"])
    assert (arrays["targets"] != arrays["labels"]).all()
    assert summary["options"] == {"eps": 0.3, "alpha": 0.01, "steps": 10, "norm": "linf", "seed": 3}


def test_pgd_l2_on_the_colour_shapes_stays_in_its_ball(tmp_path):
    out = tmp_path / "l2"
    assert main(["attack", "lenet5-synthetic-shapes", "--method", "pgd", "--norm", "l2", "--eps", "0.5", "--steps", "5",
                 "--count", "3", "--out", str(out)]) == 0
    summary, arrays = written(out)
    r = (arrays["adversarial"].astype(np.float64) - arrays["original"]).reshape(3, -1)
    assert np.sqrt((r ** 2).sum(axis=1)).max() <= 0.5 + 1e-6   # float32 pixels, 3072 of them
    assert summary["options"]["alpha"] == pytest.approx(2.5 * 0.5 / 5) and arrays["adversarial"].shape[1] == 3


def test_noise_makes_one_confident_image_per_class(tmp_path):
    out = tmp_path / "noise"
    assert main(["attack", "lenet5-synthetic-shapes", "--method", "noise", "--out", str(out)]) == 0
    summary, arrays = written(out)
    assert arrays["targets"].tolist() == [0, 1, 2, 3, 4] and "original" not in arrays
    assert summary["report"]["success_rate"] == 1.0 and min(summary["report"]["per_image"]["confidence_after"]) >= 0.99


@pytest.mark.parametrize("method, options", [("fooling", ["--steps", "300"]),
                                             ("minimal", ["--steps", "30", "--search-steps", "3"])])
def test_fooling_and_minimal_aim_at_a_random_wrong_class_by_default(method, options, tmp_path):
    out = tmp_path / method
    assert main(["attack", "lenet5-mnist", "--method", method, "--index", "5", *options, "--out", str(out)]) == 0
    summary, arrays = written(out)
    assert summary["indices"] == [5] and arrays["targets"][0] != arrays["labels"][0]
    assert summary["report"]["success_rate"] == 1.0


def test_a_train_run_is_attacked_with_its_own_normalisation(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--limit", "200", "--test-limit", "50", "--no-progress",
                 "--out", str(run)]) == 0
    out = tmp_path / "attack"
    assert main(["attack", str(run), "--method", "fgsm", "--eps", "0.1", "--count", "2", "--out", str(out)]) == 0
    summary, _ = written(out)
    assert summary["dataset"] == "builtin" and summary["report"]["images"] == 2


@pytest.mark.parametrize("argv, message", [
    (["--method", "fgsm", "--eps", "-0.1"], "--eps must be a finite number >= 0, got -0.1"),
    (["--method", "pgd", "--eps", "inf"], "--eps must be a finite number >= 0, got inf"),
    (["--method", "fgsm"], "fgsm needs --eps"),
    (["--method", "noise", "--eps", "0.1"], "--eps is not an option of noise"),
    (["--method", "fgsm", "--eps", "0.1", "--norm", "l2"], "--norm is not an option of fgsm"),
    (["--method", "fgsm", "--eps", "0.1", "--target", "10"], "--target 10 is out of range: the model has 10 classes"),
    (["--method", "fooling", "--target", "seven"], "--target must be a class number or 'random', got 'seven'"),
    (["--method", "fgsm", "--eps", "0.1", "--index", "5000"], "--index 5000 is out of range"),
    (["--method", "fgsm", "--eps", "0.1", "--count", "0"], "--count must be between 1 and 2000"),
    (["--method", "pgd", "--eps", "0.1", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["--method", "pgd", "--eps", "0.1", "--alpha", "0"], "--alpha must be a positive number, got 0.0"),
    (["--method", "noise", "--index", "3"], "give --count (how many), not --index"),
    (["--method", "noise", "--target", "random"], "noise takes --target CLASS"),
    (["--method", "fgsm", "--eps", "0.1", "--dataset", "synthetic-shapes"],
     "lenet5-mnist takes 1-channel images but synthetic-shapes's have 3"),
    (["--method", "fgsm", "--eps", "0.1", "--rows", "0"], "--rows must be >= 1, got 0"),
])
def test_mistakes_are_one_line_and_exit_status_2(argv, message, tmp_path, capsys):
    assert main(["attack", "lenet5-mnist", *argv, "--out", str(tmp_path / "never")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("argv, message", [
    (["--method", "fgsm", "--eps", "0.1", "--index", "1", "--count", "2"], "not allowed with argument --index"),
    (["--method", "deepfool"], "invalid choice: 'deepfool'"),
])
def test_options_argparse_refuses_are_one_line_too(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["attack", "lenet5-mnist", *argv, "--out", str(tmp_path / "never")])
    error = capsys.readouterr().err
    assert exit.value.code == 2 and message in error and error.count("\n") == 1


def test_an_unknown_source_is_one_line(tmp_path, capsys):
    assert main(["attack", "nonsense", "--method", "fgsm", "--eps", "0.1", "--out", str(tmp_path / "never")]) == 2
    error = capsys.readouterr().err
    assert "neither a pretrained model" in error and error.count("\n") == 1
