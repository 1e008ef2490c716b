"""minidl.visualize.activations: the maps of chosen layers for one image, equal to the layers' outputs."""

from collections import OrderedDict

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.visualize import activations


def small_model():
    minidl.manual_seed(0)
    return nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 3, 3, padding=1)), ("relu", nn.ReLU()),
                                      ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(48, 4))]))


def test_the_maps_are_the_layers_outputs_for_the_normalised_image(tmp_path):
    model = small_model()
    model.train()
    image = np.random.default_rng(0).uniform(0, 1, (1, 8, 8)).astype(np.float32)
    normalize = {"mean": [0.5], "std": [0.25]}
    result = activations(model, image, ["conv", "pool", "fc"], normalize=normalize, path=tmp_path / "a.png")
    x = minidl.tensor(((image - 0.5) / 0.25)[None])
    model.eval()
    with minidl.no_grad():
        conv = model.conv(x)
        pooled = model.pool(model.relu(conv))
        scores = model.fc(model.flatten(pooled))
    assert np.allclose(result.maps["conv"], conv.numpy()[0], rtol=1e-6, atol=1e-6)
    assert np.allclose(result.maps["pool"], pooled.numpy()[0], rtol=1e-6, atol=1e-6)
    assert np.allclose(result.maps["fc"], scores.numpy()[0], rtol=1e-6, atol=1e-6)
    assert np.array_equal(result.picture, image)
    model.train()
    activations(model, image, "pool")
    assert model.training   # the mode it had is restored
    titles = [axes.get_title() for axes in result.figure.axes if axes.get_title()]
    assert titles == ["input", "conv: 3 maps of 8x8", "pool: 3 maps of 4x4", "fc: 4 maps of 1"]
    assert (tmp_path / "a.png").stat().st_size > 0


def test_a_layer_after_a_relu_is_drawn_from_zero_and_a_signed_one_around_zero():
    model = small_model()
    image = np.random.default_rng(1).uniform(0, 1, (1, 1, 8, 8)).astype(np.float32)
    result = activations(model, image, ["relu", "conv"])
    relu_bar, conv_bar = (axes for axes in result.figure.axes if axes.get_ylabel() == "activation")
    assert relu_bar.get_ylim()[0] == 0 and relu_bar.get_ylim()[1] == pytest.approx(result.maps["relu"].max())
    largest = np.abs(result.maps["conv"]).max()
    assert conv_bar.get_ylim() == pytest.approx((-largest, largest))


@pytest.mark.parametrize("image, layers, message", [
    (np.zeros((2, 1, 8, 8)), ["conv"], r"activations: expected one image, \(C, H, W\) or \(1, C, H, W\), got 2"),
    (np.zeros((1, 8, 8)), ["conv9"], "activations: the model has no layer 'conv9'; did you mean conv"),
    (np.full((1, 8, 8), 2.0), ["conv"], r"activations: expected image in \[0, 1\] \(before normalisation\)"),
    (np.zeros((1, 8, 8)), [], "activations: expected at least one layer name, got none"),
])
def test_mistakes_are_one_line_errors(image, layers, message):
    with pytest.raises(ValueError, match=message) as error:
        activations(small_model(), image, layers)
    assert "\n" not in str(error.value)
