"""Task 5.3: unpooling through the switches, and the deconvnet projection of a first block."""

import numpy as np
import pytest

from deconvnet import deconv_reconstruct, unpool
from minidl.explain import deconv_reconstruct as answer_key
from tiny_models import first_block


@pytest.mark.task("5.3", points=2)
def test_values_go_back_to_their_switches_and_shared_switches_add_up():
    pooled = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    switches = np.array([[[[0, 6], [6, 8]]]])      # positions (0, 0), (2, 0), (2, 0), (2, 2) of a 3x3 plane
    out = unpool(pooled, switches, (1, 1, 3, 3))
    np.testing.assert_array_equal(out, [[[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [5.0, 0.0, 4.0]]]])


@pytest.mark.task("5.3", points=3)
@pytest.mark.parametrize("channel", [0, 3])
def test_the_projection_matches_the_answer_key(channel):
    block = first_block()
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 12, 12))
    out = deconv_reconstruct(block, x, channel)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, answer_key(block, x, "2", channel).numpy(), rtol=1e-12, atol=1e-15)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.3", points=2)
def test_the_hidden_projection():
    np.testing.assert_allclose(deconv_reconstruct(first_block(5), EXPECTED["block/x"], 3), EXPECTED["block/deconv"],
                               rtol=1e-12, atol=1e-15)
### END HIDDEN TESTS
