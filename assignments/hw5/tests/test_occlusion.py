"""Task 5.4: the occlusion map of score drops."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.explain import Occlusion
from occlusion import occlusion_map
from tiny_models import tiny_cnn


@pytest.mark.task("5.4", points=2)
def test_a_model_that_looks_at_one_corner_drops_only_there():
    # The score is the sum of the top-left 2x2 pixels of channel 0: only windows over them matter.
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 1, bias=False)).double()
    weight = np.zeros((2, 6, 6))
    weight[0, :2, :2] = 1.0
    model[1].weight.data.copy_(minidl.tensor(weight.reshape(1, -1)))
    x = np.ones((1, 2, 6, 6))
    drops = occlusion_map(model, x, np.array([0]), window=2, stride=2)
    np.testing.assert_array_equal(drops, [[[4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    assert occlusion_map(model, x, np.array([0]), window=3, stride=1).shape == (1, 4, 4)


@pytest.mark.task("5.4", points=2)
def test_with_stride_equal_to_the_window_it_is_captums_occlusion():
    model = tiny_cnn()
    x, y = np.random.default_rng(0).uniform(0, 1, (2, 3, 8, 8)), np.array([1, 4])
    drops = occlusion_map(model, x, y, window=2, stride=2, baseline=0.5)
    captum = Occlusion(model).attribute(x, sliding_window_shapes=(3, 2, 2), strides=(3, 2, 2), baselines=0.5,
                                        target=y).numpy()
    np.testing.assert_allclose(drops, captum[:, 0, ::2, ::2], rtol=1e-12, atol=1e-15)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.4", points=2)
def test_the_hidden_overlapping_windows():
    np.testing.assert_allclose(occlusion_map(tiny_cnn(5), EXPECTED["x"], EXPECTED["y"], window=3, stride=1),
                               EXPECTED["occlusion"], rtol=1e-12, atol=1e-14)
### END HIDDEN TESTS
