"""Batch normalization: per-channel statistics over N (and L, or H and W).

The pair and F.batch_norm are gradient-checked in float64 in training and evaluation mode,
with and without the affine gamma/beta, and compared with PyTorch, running statistics included.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl.gradcheck import gradcheck
from minidl.layers.norm import batch_norm_backward, batch_norm_forward

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


@st.composite
def input_shapes(draw):
    """(N, C), (N, C, L) or (N, C, H, W), with at least 2 values per channel."""
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    n = draw(st.integers(2, 4))
    return (n, draw(st.integers(1, 3))) + spatial


def draw_inputs(shape, seed, affine, dtype=np.float64):
    """x with a per-channel offset and scale, gamma/beta (or None), running statistics."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma = rng.uniform(0.5, 2, channels).astype(dtype) if affine else None
    beta = rng.standard_normal(channels).astype(dtype) if affine else None
    running_mean = rng.standard_normal(channels).astype(dtype)
    running_var = rng.uniform(0.5, 2, channels).astype(dtype)
    return x, gamma, beta, running_mean, running_var


@settings(max_examples=20)
@given(shape=input_shapes(), seed=seeds, affine=st.booleans(), training=st.booleans())
def test_batch_norm_gradients_match_central_differences(shape, seed, affine, training):
    x, gamma, beta, running_mean, running_var = draw_inputs(shape, seed, affine)
    options = {"running_mean": running_mean, "running_var": running_var, "training": training}
    assert gradcheck((batch_norm_forward, batch_norm_backward), [x, gamma, beta], options=options)
    assert gradcheck(
        lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b, training=training),
        [x, gamma, beta],
    )


@settings(max_examples=20)
@given(shape=input_shapes(), seed=seeds, affine=st.booleans(), dtype=dtypes,
       momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_matches_pytorch_over_training_steps_then_eval(shape, seed, affine, dtype, momentum):
    torch = pytest.importorskip("torch")
    _, gamma, beta, running_mean, running_var = draw_inputs(shape, seed, affine, dtype)
    torch_mean, torch_var = torch.tensor(running_mean), torch.tensor(running_var)
    tol = TOLERANCE[dtype]

    for step, training in enumerate([True, True, True, False]):
        x = draw_inputs(shape, seed + 1 + step, affine, dtype)[0]
        dout = np.random.default_rng(seed + 10 + step).standard_normal(shape).astype(dtype)
        ours = [None if a is None else md.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]

        out = F.batch_norm(ours[0], running_mean, running_var, ours[1], ours[2], training=training,
                           momentum=momentum)
        expected = torch.nn.functional.batch_norm(theirs[0], torch_mean, torch_var, theirs[1], theirs[2],
                                                  training=training, momentum=momentum)
        out.backward(dout)
        expected.backward(torch.tensor(dout))

        assert out.dtype == dtype and running_mean.dtype == running_var.dtype == dtype
        np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=tol, rtol=tol)
        np.testing.assert_allclose(running_mean, torch_mean.numpy(), atol=tol, rtol=tol)
        np.testing.assert_allclose(running_var, torch_var.numpy(), atol=tol, rtol=tol)
        for mine, reference in zip(ours, theirs):
            if mine is not None:
                assert mine.grad.dtype == dtype
                np.testing.assert_allclose(mine.grad, reference.grad.numpy(), atol=tol, rtol=tol)


@given(shape=input_shapes(), seed=seeds)
def test_training_output_has_zero_mean_and_unit_variance_per_channel(shape, seed):
    x = draw_inputs(shape, seed, affine=False)[0]
    axes = (0,) + tuple(range(2, len(shape)))
    out = F.batch_norm(md.tensor(x), None, None, training=True, eps=0.0).data
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=axes), 1.0, atol=1e-10)


def test_running_statistics_use_the_unbiased_variance():
    x = np.array([[1.0], [2.0], [6.0]])  # one channel: mean 3, biased var 14/3, unbiased var 7
    running_mean, running_var = np.zeros(1), np.ones(1)
    batch_norm_forward(x, None, None, running_mean, running_var, training=True, momentum=0.5)
    np.testing.assert_allclose(running_mean, [0.5 * 0 + 0.5 * 3])
    np.testing.assert_allclose(running_var, [0.5 * 1 + 0.5 * 7])


def test_running_statistics_given_as_tensors_are_updated_in_place():
    running_mean, running_var = md.tensor(np.zeros(2)), md.tensor(np.ones(2))
    x = md.tensor(np.array([[1.0, 10.0], [3.0, 30.0]]))
    F.batch_norm(x, running_mean, running_var, training=True, momentum=1.0)
    np.testing.assert_allclose(running_mean.data, [2.0, 20.0])
    np.testing.assert_allclose(running_var.data, [2.0, 200.0])


def test_eval_mode_is_a_per_channel_affine_map():
    x = np.arange(12.0).reshape(2, 3, 2)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
    running_mean, running_var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 9.0, 16.0])
    out, cache = batch_norm_forward(x, gamma, beta, running_mean, running_var, training=False, eps=0.0)
    scale = (gamma / np.sqrt(running_var))[None, :, None]
    np.testing.assert_allclose(out, scale * (x - running_mean[None, :, None]) + beta[None, :, None])
    dx, _, _ = batch_norm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, np.broadcast_to(scale, x.shape))
    np.testing.assert_array_equal(running_mean, [1.0, 2.0, 3.0])  # evaluation leaves them alone


def test_without_affine_there_are_no_parameter_gradients():
    x, _, _, running_mean, running_var = draw_inputs((3, 2), 0, affine=False)
    out, cache = batch_norm_forward(x, None, None, running_mean, running_var, training=True)
    _, dgamma, dbeta = batch_norm_backward(np.ones_like(out), cache)
    assert dgamma is None and dbeta is None


def test_batch_norm_bad_input_is_refused():
    x = md.tensor(np.zeros((4, 3, 2, 2)))
    stats = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(4,\) but the input has C=3"):
        F.batch_norm(x, np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(2,\) but the input has C=3"):
        F.batch_norm(x, *stats, weight=md.tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C\).* got shape \(3,\)"):
        F.batch_norm(md.tensor(np.zeros(3)), *stats)
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel when training"):
        F.batch_norm(md.tensor(np.zeros((1, 3, 1, 1))), *stats, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are required when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="batch_norm: momentum must be a number between 0 and 1, got None"):
        F.batch_norm(x, *stats, training=True, momentum=None)
    with pytest.raises(TypeError, match="batch_norm: running_mean must be an ndarray or a Tensor"):
        F.batch_norm(x, [0.0, 0.0, 0.0], np.ones(3))
    with pytest.raises(TypeError, match="batch_norm: input must be a floating point tensor"):
        F.batch_norm(md.tensor(np.zeros((4, 3), dtype=np.int64)), *stats)
    with pytest.raises(TypeError, match="batch_norm: bias has dtype float32 but the input has dtype float64"):
        F.batch_norm(x, *stats, bias=md.tensor(np.zeros(3, dtype=np.float32)))
