"""minidl.visualize.class_model: the ascent makes the target the top class, raises its logit well above
the start's and keeps the image in range; CS231n's settings rescaled by the stated rule."""

import numpy as np
import pytest

from minidl import nn
from minidl.data import load_dataset
from minidl.visualize import class_model, scaled_settings
from minidl.zoo import load_pretrained


@pytest.fixture(scope="module")
def lenet():
    return load_pretrained("lenet5-mnist")


@pytest.fixture(scope="module")
def mean_image():
    return load_dataset("builtin", train=True).images.mean(axis=0)


def test_every_class_becomes_the_top_class_from_the_mean_image(lenet, mean_image, tmp_path):
    normalize = lenet.weights_metadata["normalize"]
    flags = [p.requires_grad for p in lenet.parameters()]
    result = class_model(lenet, None, (1, 28, 28), normalize=normalize, start=mean_image, path=tmp_path / "c.png")
    rows = np.arange(10)
    assert np.array_equal(result.targets, rows)
    assert np.array_equal(result.logits.argmax(axis=1), rows)                     # the target is the top class
    assert np.all(result.logits[rows, rows] > result.start_logits[rows, rows] + 10)   # and far above its start
    assert result.history.shape == (101, 10) and np.array_equal(result.history[0], result.start_logits[rows, rows])
    low = (0 - normalize["mean"][0]) / normalize["std"][0]
    high = (1 - normalize["mean"][0]) / normalize["std"][0]
    assert result.inputs.min() >= np.float32(low) and result.inputs.max() <= np.float32(high)   # the pixel range
    assert result.pictures.min() >= 0 and result.pictures.max() <= 1 and result.pictures.max() > 0.9
    assert [p.requires_grad for p in lenet.parameters()] == flags and not lenet.training
    assert all(p.grad is None for p in lenet.parameters())
    assert (tmp_path / "c.png").stat().st_size > 0 and len(result.figure.axes) == 10


def test_cs231n_settings_are_rescaled_to_the_image_size():
    at_224 = scaled_settings((3, 224, 224))
    assert at_224 == {"l2": 1e-3, "step": 25.0, "iterations": 100, "blur_every": 10, "blur_sigma": 0.5, "jitter": 16}
    grey = scaled_settings((1, 28, 28))
    assert grey["step"] == pytest.approx(25 * np.sqrt(784 / 150528)) and grey["jitter"] == 2   # 16 * 28 / 224
    colour = scaled_settings((3, 32, 32))
    assert colour["step"] == pytest.approx(25 / 7) and colour["jitter"] == 2                  # 16 * 32 / 224 = 2.3
    assert scaled_settings((3, 112, 112))["jitter"] == 8


def test_one_step_is_the_normalised_gradient_of_the_regularised_score():
    """A linear model S = w . x: with no jitter, blur or clipping, one step moves x by
    step * g / ||g||, g = w - 2 lambda x."""
    layer = nn.Linear(4, 2, bias=False).double()
    weight = np.array([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 1.0, 1.0]])
    layer.weight.data.copy_(weight)
    model = nn.Sequential(nn.Flatten(), layer)
    start = np.full((1, 1, 2, 2), 0.5)
    result = class_model(model, 0, (1, 2, 2), start=start, iterations=1, step=0.1, l2=0.25, jitter=0, blur_sigma=0)
    x0 = start.reshape(-1)
    g = weight[0] - 2 * 0.25 * x0
    expected = np.clip(x0 + 0.1 * g / np.linalg.norm(g), 0, 1)
    assert np.allclose(result.pictures.reshape(-1), expected, rtol=1e-6)


def test_a_flat_start_that_leaves_every_relu_off_is_reported_stuck(lenet):
    result = class_model(lenet, [3], (1, 28, 28), normalize=lenet.weights_metadata["normalize"], start="mean",
                         iterations=3)
    assert "stuck: zero gradient" in result.figure.axes[0].get_title()


@pytest.mark.parametrize("kwargs, message", [
    (dict(target=10), r"class_model: target must be a class from 0 to 9 \(or a list of them\), got 10"),
    (dict(target=1, image_shape=(28, 28)), r"class_model: image_shape must be \(C, H, W\), got \(28, 28\)"),
    (dict(target=1, start="zeros"), "class_model: start must be 'mean', 'noise' or pictures in"),
    (dict(target=1, start=np.ones((1, 32, 32))), r"class_model: start pictures of shape \(1, 1, 32, 32\) do not fit"),
    (dict(target=1, iterations=0), "class_model: iterations must be a positive int, got 0"),
])
def test_mistakes_are_one_line_errors(lenet, kwargs, message):
    arguments = {"image_shape": (1, 28, 28), **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        class_model(lenet, **arguments)
    assert "\n" not in str(error.value)
