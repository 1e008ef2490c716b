"""Task 3.7: a fully connected layer as a convolution that slides."""

import numpy as np
import pytest

import minidl
from fc_to_conv import fc_to_conv
from minidl import nn


@pytest.mark.task("3.7", points=2)
def test_on_the_size_it_was_trained_for_it_is_the_linear_layer():
    linear = nn.Linear(3 * 4 * 5, 7).double()
    conv = fc_to_conv(linear, 3, 4, 5)
    x = minidl.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 5)))
    assert isinstance(conv, nn.Conv2d) and conv.weight.shape == (7, 3, 4, 5) and conv.weight.dtype == minidl.float64
    np.testing.assert_allclose(conv(x).numpy()[:, :, 0, 0], linear(x.flatten(1)).numpy(), rtol=1e-12)


@pytest.mark.task("3.7", points=2)
def test_on_a_larger_input_it_scores_every_window():
    linear = nn.Linear(2 * 3 * 3, 4).double()
    conv = fc_to_conv(linear, 2, 3, 3)
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 5))
    scores = conv(minidl.tensor(x)).numpy()
    assert scores.shape == (1, 4, 4, 3)
    window = minidl.tensor(x[:, :, 2:5, 1:4].reshape(1, -1))
    np.testing.assert_allclose(scores[:, :, 2, 1], linear(window).numpy(), rtol=1e-12)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("3.7", points=2)
def test_the_hidden_score_map():
    linear = nn.Linear(18, 5).double()
    linear.weight.data.copy_(minidl.tensor(EXPECTED["fc/weight"]))
    linear.bias.data.copy_(minidl.tensor(EXPECTED["fc/bias"]))
    scores = fc_to_conv(linear, 2, 3, 3)(minidl.tensor(EXPECTED["fc/x"])).numpy()
    np.testing.assert_allclose(scores, EXPECTED["fc/map"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
