"""Task 5.2: guided backpropagation: the positive signal, through the forward mask."""

import numpy as np
import pytest

import minidl
from guided_backprop import guided_backprop
from minidl import nn
from minidl.explain import GuidedBackprop
from tiny_models import tiny_cnn


@pytest.mark.task("5.2", points=2)
def test_on_x_relu_linear_it_is_the_positive_weights_where_x_was_positive():
    # S = w . relu(x): dS/dx = w [x > 0]; guided: max(w, 0) [x > 0]. A rule without the forward
    # mask gives max(w, 0) everywhere, a rule without the clip w [x > 0].
    model = nn.Sequential(nn.ReLU(), nn.Linear(6, 1, bias=False)).double()
    w = np.array([1.0, -2.0, 3.0, -4.0, 5.0, -6.0])
    model[1].weight.data.copy_(minidl.tensor(w[None]))
    x = np.array([[1.0, 1.0, -1.0, -1.0, 2.0, 0.5]])
    np.testing.assert_array_equal(guided_backprop(model, x, np.array([0])), [[1.0, 0.0, 0.0, 0.0, 5.0, 0.0]])


@pytest.mark.task("5.2", points=2)
def test_it_matches_the_answer_key_and_leaves_no_hook_behind():
    model = tiny_cnn()
    x, y = np.random.default_rng(0).uniform(0, 1, (3, 3, 8, 8)), np.array([0, 3, 1])
    np.testing.assert_allclose(guided_backprop(model, x, y), GuidedBackprop(model).attribute(x, target=y).numpy(),
                               rtol=1e-12, atol=1e-15)
    images = minidl.tensor(x, requires_grad=True)
    model(images)[:, 0].sum().backward()       # afterwards, the model's gradient is the plain one again
    assert np.any(images.grad.numpy() < 0)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.2", points=2)
def test_the_hidden_batch():
    np.testing.assert_allclose(guided_backprop(tiny_cnn(5), EXPECTED["x"], EXPECTED["y"]), EXPECTED["guided"],
                               rtol=1e-12, atol=1e-15)
### END HIDDEN TESTS
