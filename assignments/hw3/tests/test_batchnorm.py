"""Task 3.1: batch normalization, checked against minidl's layer and numerical gradients."""

import numpy as np
import pytest

from batchnorm import batchnorm_backward, batchnorm_forward, spatial_batchnorm_backward, spatial_batchnorm_forward
from minidl.gradcheck import eval_numerical_gradient_array, rel_error
from minidl.layers.norm import batch_norm_forward


def _reference(x, gamma, beta):
    """minidl's batch norm in training (running statistics thrown away)."""
    channels = x.shape[1]
    return batch_norm_forward(x, gamma, beta, np.zeros(channels), np.ones(channels), True)[0]


@pytest.mark.task("3.1", points=2)
def test_training_forward_normalises_each_feature_and_updates_the_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.1] + [0.0, -4.0, 10.0]
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, _reference(x, gamma, beta), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)


@pytest.mark.task("3.1")
def test_test_mode_uses_the_running_statistics():
    x = np.random.default_rng(1).standard_normal((4, 2))
    mean, var, gamma, beta = np.array([1.0, -1.0]), np.array([4.0, 0.25]), np.array([2.0, 1.0]), np.array([0.5, 0.0])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "test", "running_mean": mean, "running_var": var})
    np.testing.assert_allclose(out, gamma * (x - mean) / np.sqrt(var + 1e-5) + beta, rtol=1e-12)


@pytest.mark.task("3.1", points=3)
def test_backward_passes_the_gradient_check():
    # dx has three paths (through xhat, the mean and the variance); the numerical gradient is
    # taken through minidl's layer, so only a right backward pass agrees with it.
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((6, 4)) * 2 + 1, rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: _reference(v, gamma, beta), x, dout)) < 1e-7
    assert rel_error(dgamma, eval_numerical_gradient_array(lambda v: _reference(x, v, beta), gamma, dout)) < 1e-7
    assert rel_error(dbeta, eval_numerical_gradient_array(lambda v: _reference(x, gamma, v), beta, dout)) < 1e-7


@pytest.mark.task("3.1", points=2)
def test_spatial_batch_norm_normalises_each_channel_over_batch_and_space():
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.standard_normal((2, 3, 4, 5)) + 2, rng.standard_normal(3), rng.standard_normal(3)
    out, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out, _reference(x, gamma, beta), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(x.shape)
    dx, _, _ = spatial_batchnorm_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: _reference(v, gamma, beta), x, dout)) < 1e-7
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("3.1", points=2)
def test_the_hidden_batch():
    bn_param = {"mode": "train"}
    out, cache = batchnorm_forward(EXPECTED["bn/x"], EXPECTED["bn/gamma"], EXPECTED["bn/beta"], bn_param)
    np.testing.assert_allclose(out, EXPECTED["bn/out"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn_param["running_mean"], EXPECTED["bn/running_mean"], rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], EXPECTED["bn/running_var"], rtol=1e-12)
    for got, name in zip(batchnorm_backward(EXPECTED["bn/dout"], cache), ("dx", "dgamma", "dbeta")):
        np.testing.assert_allclose(got, EXPECTED[f"bn/{name}"], rtol=1e-9, atol=1e-12, err_msg=name)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(EXPECTED["bn/x"], EXPECTED["bn/gamma"], EXPECTED["bn/beta"], bn_param)
    np.testing.assert_allclose(out, EXPECTED["bn/test_out"], rtol=1e-10, atol=1e-12)


@pytest.mark.task("3.1")
def test_the_hidden_images():
    out, cache = spatial_batchnorm_forward(EXPECTED["sbn/x"], EXPECTED["sbn/gamma"], EXPECTED["sbn/beta"],
                                           {"mode": "train"})
    np.testing.assert_allclose(out, EXPECTED["sbn/out"], rtol=1e-10, atol=1e-12)
    for got, name in zip(spatial_batchnorm_backward(EXPECTED["sbn/dout"], cache), ("dx", "dgamma", "dbeta")):
        np.testing.assert_allclose(got, EXPECTED[f"sbn/{name}"], rtol=1e-9, atol=1e-12, err_msg=name)
### END HIDDEN TESTS
