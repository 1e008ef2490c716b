"""The compiled per-channel kernels (batch norm's passes) equal their NumPy twins.

Shapes are drawn by hypothesis: (N, C), (N, C, L) and (N, C, H, W) with batch 1, one channel,
odd sizes; values normal with a per-channel offset (so a mean is there to subtract).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.gradcheck import gradcheck
from minidl.kernels import channels, threads

shapes = st.one_of(
    st.tuples(st.integers(1, 5), st.integers(1, 4)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 7)),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
)
seeds = st.integers(0, 2**16)


def draw(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    offset = rng.uniform(-3, 3, size=shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2))
    return (rng.standard_normal(shape) + offset).astype(dtype), rng


@given(shape=shapes, seed=seeds)
def test_moments_equal_the_twin(shape, seed):
    x, _ = draw(shape, seed)
    for fast, reference in zip(channels.channel_moments_fast(x), channels.channel_moments_reference(x)):
        np.testing.assert_allclose(fast, reference, rtol=1e-10, atol=1e-10)


@given(shape=shapes, seed=seeds)
def test_sums_equal_the_twin(shape, seed):
    a, rng = draw(shape, seed)
    b = rng.standard_normal(shape)
    for fast, reference in zip(channels.channel_sums_fast(a, b), channels.channel_sums_reference(a, b)):
        np.testing.assert_allclose(fast, reference, rtol=1e-10, atol=1e-10)


@given(shape=shapes, seed=seeds)
def test_sum_equals_the_twin(shape, seed):
    x, _ = draw(shape, seed)
    np.testing.assert_allclose(channels.channel_sum_fast(x), channels.channel_sum_reference(x), rtol=1e-10, atol=1e-10)


@given(shape=shapes, seed=seeds)
def test_affine_into_its_own_input_adds_a_bias_exactly(shape, seed):
    """channel_affine(x, 0, 1, b, out=x) is x += b[c], bit for bit, in both twins (how a
    convolution adds its bias)."""
    x, rng = draw(shape, seed, np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32)
    expected = x + bias.reshape((1, -1) + (1,) * (len(shape) - 2))
    for kernel in (channels.channel_affine_fast, channels.channel_affine_reference):
        y = x.copy()
        assert kernel(y, 0, 1, bias, out=y) is y
        np.testing.assert_array_equal(y, expected)


def test_affine_refuses_a_vector_of_the_wrong_length():
    x, _ = draw((2, 3, 4), 0)
    with pytest.raises(ValueError, match="expected a vector of 3 values"):
        channels.channel_affine_fast(x, np.zeros(2), np.ones(3), np.zeros(3))


@given(shape=shapes, seed=seeds)
def test_affine_and_input_grad_equal_the_twins(shape, seed):
    x, rng = draw(shape, seed)
    xhat = rng.standard_normal(shape)
    center, scale, shift, dbeta, dgamma = rng.standard_normal((5, shape[1]))
    np.testing.assert_allclose(channels.channel_affine_fast(x, center, scale, shift),
                               channels.channel_affine_reference(x, center, scale, shift), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(channels.batch_norm_input_grad_fast(x, xhat, dbeta, dgamma, scale),
                               channels.batch_norm_input_grad_reference(x, xhat, dbeta, dgamma, scale),
                               rtol=1e-10, atol=1e-10)


@given(shape=shapes, seed=seeds)
def test_affine_pair_equals_the_twin_and_two_affine_maps(shape, seed):
    x, rng = draw(shape, seed)
    center, scale, shift, scale2 = (rng.standard_normal(shape[1]) for _ in range(4))
    fast = channels.channel_affine_pair_fast(x, center, scale, shift, scale2)
    for result, reference in zip(fast, channels.channel_affine_pair_reference(x, center, scale, shift, scale2)):
        np.testing.assert_allclose(result, reference, rtol=1e-12, atol=1e-12)
    # Each output is exactly what channel_affine computes alone (inference's output, bit for bit).
    np.testing.assert_array_equal(fast[0], channels.channel_affine_fast(x, center, scale, shift))
    np.testing.assert_array_equal(fast[1], channels.channel_affine_fast(x, center, scale2, np.zeros(shape[1])))


def test_float32_stays_float32_in_every_kernel():
    x, rng = draw((4, 3, 5, 5), 0, np.float32)
    vector = np.ones(3)  # float64 per-channel vectors must not upcast the result
    for impl in ("reference", "fast"):
        moments = getattr(kernels.channel_moments, impl)(x)
        sums = getattr(kernels.channel_sums, impl)(x, x)
        affine = getattr(kernels.channel_affine, impl)(x, vector, vector, vector)
        grad = getattr(kernels.batch_norm_input_grad, impl)(x, x, vector, vector, vector)
        assert all(a.dtype == np.float32 for a in (*moments, *sums, affine, grad)), impl


def test_moments_of_a_large_offset_channel_keep_their_digits():
    """Two-pass moments: a channel at 1e4 with spread 1 still gets its variance right."""
    x, _ = draw((8, 2, 16, 16), 1)
    x = (x + 1e4).astype(np.float32)
    mean, var = channels.channel_moments_fast(x)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=(0, 2, 3)), rtol=1e-4)


@given(shape=st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)), seed=seeds)
def test_batch_norm_gradients_hold_on_both_backends(shape, seed):
    x, rng = draw(shape, seed)
    gamma, beta = rng.standard_normal((2, shape[1]))
    for backend in ("numpy", "numba"):
        with md.use_backend(backend):
            assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, gamma, beta])


def test_large_arrays_split_over_threads_equal_the_twins(monkeypatch):
    """Above PARALLEL_MIN_ELEMENTS the planes (or channels) are shared among threads."""
    monkeypatch.setattr(threads, "PARALLEL_MIN_ELEMENTS", 1 << 12)
    x, rng = draw((8, 16, 32, 32), 3)
    y = rng.standard_normal(x.shape)
    center, scale, shift = rng.standard_normal((3, 16))
    pairs = [
        (channels.channel_moments_fast(x), channels.channel_moments_reference(x)),
        (channels.channel_sums_fast(x, y), channels.channel_sums_reference(x, y)),
        ((channels.channel_sum_fast(x),), (channels.channel_sum_reference(x),)),
        ((channels.channel_affine_fast(x, center, scale, shift),),
         (channels.channel_affine_reference(x, center, scale, shift),)),
        ((channels.batch_norm_input_grad_fast(x, y, center, shift, scale),),
         (channels.batch_norm_input_grad_reference(x, y, center, shift, scale),)),
    ]
    for fast, reference in pairs:
        for a, b in zip(fast, reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.fixture(autouse=True)
def two_threads():
    """Two threads where the machine has them, so that large calls really are split."""
    from minidl.kernels.threads import max_threads

    previous = md.get_num_threads()
    md.set_num_threads(min(2, max_threads()))
    yield
    md.set_num_threads(previous)


def test_a_nan_in_a_channel_stays_visible():
    """The compiled sums may be reordered, but a NaN must still poison its channel's statistics
    (training relies on it to stop on a diverging loss), and only that channel's."""
    x, _ = draw((4, 3, 5, 5), 4, np.float32)
    x[2, 1, 3, 3] = np.nan
    for kernel in (channels.channel_moments_fast, channels.channel_moments_reference):
        mean, var = kernel(x)
        assert np.isnan(mean[1]) and np.isnan(var[1])
        assert np.isfinite(mean[[0, 2]]).all() and np.isfinite(var[[0, 2]]).all()
    total, dot = channels.channel_sums_fast(x, x)
    assert np.isnan(total[1]) and np.isnan(dot[1]) and np.isfinite(total[[0, 2]]).all()
