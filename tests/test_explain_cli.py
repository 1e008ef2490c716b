"""``minidl explain``: the files it writes for one image, and its one-line errors."""

import json

import numpy as np
import pytest
from matplotlib import image as matplotlib_image

from minidl import cli
from minidl.data import load_dataset
from minidl.explain import METHODS


def run(capsys, *argv):
    status = cli.main(["explain", *argv])
    return status, capsys.readouterr()


def test_every_method_on_a_shipped_model(tmp_path, capsys):
    out = tmp_path / "run"
    status, printed = run(capsys, "lenet5-synthetic-shapes", "--index", "3", "--out", str(out))
    assert status == 0, printed.err
    summary = json.loads((out / "explain.json").read_text())
    assert list(summary["methods"]) == list(METHODS)
    label = int(load_dataset("synthetic-shapes", train=False).targets[3])
    assert (summary["target"], summary["true_class"]) == (summary["predicted"], label)
    assert summary["image"] == f"synthetic-shapes test image 3 (class {label})"
    assert summary["layer"] == "features.conv2"
    maps = np.load(out / "attributions.npz")
    assert sorted(maps.files) == sorted(METHODS)
    assert maps["gradcam"].shape == (1, 32, 32) and maps["saliency"].shape == (3, 32, 32)
    for name in (*METHODS, "methods"):
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG"), name
    table = (out / "explain.md").read_text()
    assert "| saliency | \\|d logit / d x\\| (Simonyan et al. 2014) |" in table


def test_one_method_for_a_chosen_class_and_layer_from_a_png(tmp_path, capsys):
    digit = np.zeros((28, 28))
    digit[6:22, 12:16] = 1.0
    picture = tmp_path / "one.png"
    matplotlib_image.imsave(picture, digit, cmap="gray", vmin=0, vmax=1)   # RGBA, three equal channels
    out = tmp_path / "run"
    status, printed = run(capsys, "lenet5-mnist", "--image", str(picture), "--method", "gradcam", "--target", "7",
                          "--layer", "features.conv1", "--out", str(out))
    assert status == 0, printed.err
    summary = json.loads((out / "explain.json").read_text())
    assert (summary["target"], summary["layer"], summary["true_class"]) == (7, "features.conv1", None)
    assert list(summary["methods"]) == ["gradcam"]
    assert sorted(path.name for path in out.iterdir()) == ["attributions.npz", "explain.json", "explain.md",
                                                          "gradcam.png"]


@pytest.mark.parametrize("argv, message", [
    (["--target", "5"], "minidl explain: --target 5 is out of range: lenet5-synthetic-shapes has 5 classes (0 to 4)"),
    (["--method", "gradcam", "--layer", "features.conv3"],
     "minidl explain: --layer: LayerGradCam: the model has no layer 'features.conv3'; did you mean features.conv2 or "),
    (["--index", "2000"],
     "minidl explain: --index 2000 is out of range: the synthetic-shapes test split has 2000 images"),
    (["--dataset", "builtin"], "minidl explain: lenet5-synthetic-shapes takes 3-channel images but builtin's have 1"),
    (["--image", "wide.png"], "minidl explain: {tmp}/wide.png is a 3x32x40 image (channels x height x width); "
                              "lenet5-synthetic-shapes takes 3x32x32"),
    (["--image", "missing.png"], "minidl explain: cannot read {tmp}/missing.png as an image"),
])
def test_mistakes_are_one_line(tmp_path, capsys, argv, message):
    matplotlib_image.imsave(tmp_path / "wide.png", np.random.default_rng(0).uniform(0, 1, (32, 40, 3)))
    argv = [str(tmp_path / arg) if arg.endswith(".png") else arg for arg in argv]
    status, printed = run(capsys, "lenet5-synthetic-shapes", *argv, "--out", str(tmp_path / "run"))
    assert status == 2
    assert printed.err.startswith(message.format(tmp=tmp_path)) and len(printed.err.splitlines()) == 1, printed.err
    assert not (tmp_path / "run").exists()
