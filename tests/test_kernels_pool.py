"""The compiled pooling kernels equal their NumPy twins (``minidl.kernels.pool``).

Every fast kernel must give what its reference gives: max pooling the same maxima and exactly
the same switches (first maximum in row-major window order, padding never a switch, the first
NaN wins), its backward the same scatter-add; average pooling the same means with PyTorch's
divisors, and the same gradient. Configurations are drawn by hypothesis: batch and channels
1..3, odd and even non-square planes down to 1 row, kernels 1..4, strides 1..3 (overlapping
windows when stride < kernel), padding up to half the kernel, dilation 1..3 and ceil_mode.
Values are small integers (many ties), normal draws, or a mix with -inf, inf and NaN.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.gradcheck import gradcheck
from minidl.kernels import pool as pool_kernels


@dataclass
class Config:
    x_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple = (1, 1)
    ceil_mode: bool = False

    def out_hw(self):
        return kernels.output_size("test", self.x_shape[2:], self.kernel, self.stride, self.padding, self.dilation,
                                   self.ceil_mode)

    def max_args(self):
        return self.kernel, self.stride, self.padding, self.dilation, self.out_hw()

    def avg_args(self, count_include_pad):
        return self.kernel, self.stride, self.padding, count_include_pad, self.out_hw()


@st.composite
def configs(draw, dilated=True):
    """A window configuration in which every window holds at least one input element."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilated else (1, 1)
    ceil_mode = draw(st.booleans())
    sizes = []
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        # Undilated windows may be wider than the input (the padding makes up the rest, and in
        # ceil_mode the last window may overhang the padding by up to S - 1); a dilated window
        # narrower than its span could hold padding only.
        smallest = span if d > 1 else max(1, span - 2 * p - (s - 1 if ceil_mode else 0))
        sizes.append(draw(st.integers(smallest, smallest + 8)))
    return Config((n, c, *sizes), kernel, stride, padding, dilation, ceil_mode)


def values(shape, kind, seed, dtype):
    rng = np.random.default_rng(seed)
    if kind == "ties":
        return rng.integers(0, 3, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "special":
        x[rng.random(shape) < 0.3] = -np.inf           # whole windows of -inf occur on small planes
        x[rng.random(shape) < 0.1] = np.inf
        x[rng.random(shape) < 0.1] = np.nan
    return x


kinds = st.sampled_from(["ties", "normal", "special"])
seeds = st.integers(0, 2**16)
DTYPES = [pytest.param(np.float64, 1e-10, id="float64"), pytest.param(np.float32, 1e-5, id="float32")]

# Overlapping 3x3 windows with stride 2 (AlexNet), and a ceil_mode window overhanging the
# padded input at the bottom and right.
OVERLAPPING = Config((2, 3, 9, 8), (3, 3), (2, 2), (1, 1))
CEIL_OVERHANG = Config((1, 2, 5, 8), (2, 3), (2, 2), (0, 1), (1, 1), ceil_mode=True)
DILATED_PADDED = Config((1, 2, 7, 6), (3, 2), (1, 2), (1, 1), (2, 3), ceil_mode=True)


# ---------------------------------------------------------------------------- max pooling


@pytest.mark.parametrize("dtype, atol", DTYPES)
@given(config=configs(), kind=kinds, seed=seeds)
@example(config=OVERLAPPING, kind="ties", seed=0)
@example(config=CEIL_OVERHANG, kind="special", seed=0)
@example(config=DILATED_PADDED, kind="special", seed=1)
def test_max_pool2d_fast_equals_reference(config, kind, seed, dtype, atol):
    x = values(config.x_shape, kind, seed, dtype)
    out, switches = pool_kernels.max_pool2d.fast(x, *config.max_args())
    expected, expected_switches = pool_kernels.max_pool2d.reference(x, *config.max_args())

    assert out.dtype == dtype and switches.dtype == np.int64
    # A maximum is one of the inputs, so the values agree exactly (NaN where NaN).
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(switches, expected_switches)

    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    dx = pool_kernels.max_pool2d_backward.fast(dout, switches, x.shape)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, pool_kernels.max_pool2d_backward.reference(dout, switches, x.shape),
                               rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(config=configs(), kind=kinds, seed=seeds)
@example(config=OVERLAPPING, kind="ties", seed=0)
@example(config=CEIL_OVERHANG, kind="special", seed=0)
@example(config=DILATED_PADDED, kind="special", seed=1)
def test_max_pool2d_values_twins_equal_the_pooling_with_switches(config, kind, seed, dtype):
    # Inference pools without switches: both twins give max_pool2d's values exactly (NaN where NaN).
    x = values(config.x_shape, kind, seed, dtype)
    expected, _ = pool_kernels.max_pool2d.reference(x, *config.max_args())
    for version in (pool_kernels.max_pool2d_values.fast, pool_kernels.max_pool2d_values.reference):
        out = version(x, *config.max_args())
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, expected)


def test_max_pool2d_fast_switches_follow_the_tie_and_padding_rules():
    inf, nan = np.inf, np.nan
    x = np.array([[[[-inf, -inf, 2.0],
                    [-inf, 2.0, nan],
                    [1.0, nan, 2.0]]]])
    out, switches = pool_kernels.max_pool2d.fast(x, (2, 2), (1, 1), (1, 1), (1, 1), (4, 4))
    # Window (0, 0) holds padding and -inf only: the switch is its one real element, index 0.
    # Window (1, 1) holds -inf, -inf, -inf, 2: index 4. Window (1, 2) ties 2 and 2 and holds a
    # NaN: the NaN wins (index 5). Window (2, 0) holds padding, -inf and 1: index 6.
    np.testing.assert_array_equal(switches[0, 0], [[0, 0, 2, 2],
                                                   [0, 4, 5, 5],
                                                   [6, 7, 5, 5],
                                                   [6, 7, 7, 8]])
    np.testing.assert_array_equal(out[0, 0], [[-inf, -inf, 2, 2],
                                              [-inf, 2, nan, nan],
                                              [1, nan, nan, nan],
                                              [1, nan, nan, 2]])
    expected, expected_switches = pool_kernels.max_pool2d.reference(x, (2, 2), (1, 1), (1, 1), (1, 1), (4, 4))
    np.testing.assert_array_equal(switches, expected_switches)
    np.testing.assert_array_equal(out, expected)


def test_max_pool2d_backward_fast_adds_up_shared_switches():
    # Constant plane, 3x3 windows with stride 1 and padding 1: every window ties and picks its
    # first real element, so input (0, 0) is the switch of the four windows at the top left.
    x = np.ones((1, 1, 3, 3))
    _, switches = pool_kernels.max_pool2d.fast(x, (3, 3), (1, 1), (1, 1), (1, 1), (3, 3))
    dx = pool_kernels.max_pool2d_backward.fast(np.ones((1, 1, 3, 3)), switches, x.shape)
    np.testing.assert_array_equal(dx[0, 0], [[4, 2, 0], [2, 1, 0], [0, 0, 0]])


# ---------------------------------------------------------------------------- average pooling


@pytest.mark.parametrize("dtype, atol", DTYPES)
@given(config=configs(dilated=False), count_include_pad=st.booleans(), seed=seeds)
@example(config=OVERLAPPING, count_include_pad=False, seed=0)
@example(config=CEIL_OVERHANG, count_include_pad=True, seed=0)
def test_avg_pool2d_fast_equals_reference(config, count_include_pad, seed, dtype, atol):
    x = values(config.x_shape, "normal", seed, dtype)
    args = config.avg_args(count_include_pad)
    out = pool_kernels.avg_pool2d.fast(x, *args)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, pool_kernels.avg_pool2d.reference(x, *args), rtol=0, atol=atol)

    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    backward_args = (x.shape, config.kernel, config.stride, config.padding, count_include_pad)
    dx = pool_kernels.avg_pool2d_backward.fast(dout, *backward_args)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, pool_kernels.avg_pool2d_backward.reference(dout, *backward_args),
                               rtol=0, atol=atol)


def test_avg_pool2d_divisor_follows_pytorch():
    # 6 rows, kernel 3, stride 2, padding 1, ceil_mode: H' = ceil((6 + 2 - 3)/2) + 1 = 4 windows
    # starting at rows -1, 1, 3, 5; the padded input is rows -1..6. Counting the padding: 3, 3,
    # 3 and 2 rows (the last window's row 7 lies past the padded input); real rows only: 2, 3,
    # 3 and 1. Columns: one column, kernel 1, so the divisor is the row count.
    with_pad = pool_kernels.avg_pool2d_divisor((6, 1), (3, 1), (2, 1), (1, 0), True, (4, 1), np.float32)
    without = pool_kernels.avg_pool2d_divisor((6, 1), (3, 1), (2, 1), (1, 0), False, (4, 1), np.float32)
    np.testing.assert_array_equal(with_pad[:, 0], [3, 3, 3, 2])
    np.testing.assert_array_equal(without[:, 0], [2, 3, 3, 1])
    assert with_pad.dtype == np.float32


# ---------------------------------------------------------------------------- layouts and sizes


@pytest.mark.parametrize("kernel", ["max", "avg"])
def test_fast_kernels_take_non_contiguous_arrays(kernel):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6)).transpose(0, 1, 3, 2)        # (2, 3, 6, 7), a strided view
    if kernel == "max":
        out, switches = pool_kernels.max_pool2d.fast(x, (3, 3), (2, 2), (1, 1), (1, 1), (3, 4))
        expected, expected_switches = pool_kernels.max_pool2d.reference(x, (3, 3), (2, 2), (1, 1), (1, 1), (3, 4))
        np.testing.assert_array_equal(switches, expected_switches)
        # A gradient broadcast from a sum (zero strides), as autograd may hand it over.
        dout = np.broadcast_to(rng.standard_normal((1, 3, 1, 4)), out.shape)
        dx = pool_kernels.max_pool2d_backward.fast(dout, switches, x.shape)
        expected_dx = pool_kernels.max_pool2d_backward.reference(dout, switches, x.shape)
    else:
        args = ((3, 3), (2, 2), (1, 1), False, (3, 4))
        out, expected = pool_kernels.avg_pool2d.fast(x, *args), pool_kernels.avg_pool2d.reference(x, *args)
        dout = np.broadcast_to(rng.standard_normal((1, 3, 1, 4)), out.shape)
        backward_args = (x.shape, (3, 3), (2, 2), (1, 1), False)
        dx = pool_kernels.avg_pool2d_backward.fast(dout, *backward_args)
        expected_dx = pool_kernels.avg_pool2d_backward.reference(dout, *backward_args)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, expected_dx, rtol=0, atol=1e-12)


def test_many_planes_are_shared_out_unevenly():
    # 5*7 = 35 planes: more than the runs of planes the threads take, and not a multiple of them.
    x = values((5, 7, 9, 11), "ties", 0, np.float32)
    out, switches = pool_kernels.max_pool2d.fast(x, (2, 2), (2, 2), (0, 0), (1, 1), (4, 5))
    expected, expected_switches = pool_kernels.max_pool2d.reference(x, (2, 2), (2, 2), (0, 0), (1, 1), (4, 5))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(switches, expected_switches)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_empty_batch_pools_to_an_empty_batch(backend):
    with md.use_backend(backend):
        x = md.tensor(np.zeros((0, 3, 5, 5), dtype=np.float32), requires_grad=True)
        out, indices = F.max_pool2d(x, 2, return_indices=True)
        out.backward(np.zeros(out.shape, dtype=np.float32))
        assert out.shape == indices.shape == (0, 3, 2, 2) and x.grad.shape == (0, 3, 5, 5)
        average = F.avg_pool2d(x, 3, 2, 1)
        average.backward(np.zeros(average.shape, dtype=np.float32))
        assert average.shape == (0, 3, 3, 3)


# ---------------------------------------------------------------------------- gradients on both backends


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@settings(max_examples=8)
@given(config=configs(), seed=seeds)
@example(config=OVERLAPPING, seed=0)
@example(config=CEIL_OVERHANG, seed=0)
def test_max_pool2d_passes_gradcheck_on_both_backends(backend, config, seed):
    # Distinct values, spaced far above gradcheck's step: finite differences need no ties.
    size = int(np.prod(config.x_shape))
    x = np.random.default_rng(seed).permutation(size).reshape(config.x_shape) / size
    with md.use_backend(backend):
        assert gradcheck(lambda t: F.max_pool2d(t, config.kernel, config.stride, config.padding, config.dilation,
                                                config.ceil_mode), [x])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@settings(max_examples=8)
@given(config=configs(dilated=False), count_include_pad=st.booleans(), seed=seeds)
@example(config=OVERLAPPING, count_include_pad=False, seed=0)
@example(config=CEIL_OVERHANG, count_include_pad=True, seed=0)
def test_avg_pool2d_passes_gradcheck_on_both_backends(backend, config, count_include_pad, seed):
    x = np.random.default_rng(seed).standard_normal(config.x_shape)
    with md.use_backend(backend):
        assert gradcheck(lambda t: F.avg_pool2d(t, config.kernel, config.stride, config.padding, config.ceil_mode,
                                                count_include_pad), [x])
