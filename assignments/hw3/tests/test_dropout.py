"""Task 3.2: inverted dropout."""

import numpy as np
import pytest

from dropout import dropout_backward, dropout_forward


@pytest.mark.task("3.2", points=2)
@pytest.mark.parametrize("p", [0.25, 0.6])
def test_a_fraction_p_is_zeroed_and_the_rest_scaled_so_the_mean_stays(p):
    x = np.full((500, 400), 2.0)
    out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
    zeroed = np.mean(out == 0)
    # 200,000 independent draws: the fraction is within 5 standard deviations (about 0.005) of p
    assert abs(zeroed - p) < 5 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(out[out != 0], 2.0 / (1 - p), rtol=1e-12)
    assert abs(out.mean() - 2.0) < 5 * 2.0 * np.sqrt(p / (1 - p) / x.size)


@pytest.mark.task("3.2")
def test_test_mode_is_the_identity_and_a_seed_repeats_the_mask():
    x = np.random.default_rng(1).standard_normal((10, 10))
    out, _ = dropout_forward(x, {"p": 0.5, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    first, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    again, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    other, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 8})
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.task("3.2", points=2)
def test_backward_uses_the_forward_mask():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((20, 30)) + 5, rng.standard_normal((20, 30))
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 3})
    dx = dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, dout * out / x, rtol=1e-12)   # out / x is the mask (x is never 0 here)
    _, cache = dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)
