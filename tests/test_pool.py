"""Pooling: max pooling and its switches, unpooling, average and adaptive average pooling.

Configurations are drawn by hypothesis: batch and channels 1..2, odd/even non-square images,
kernels 1..3 (non-square), stride 1..3 (so windows overlap when stride < kernel), padding up to
half the kernel, dilation 1..2 and ceil_mode on or off (rounding the output size up adds a last
window that runs past the padding, unless it would start in the right padding). Max-pool
gradient checks use inputs without ties (a shuffled range of distinct values): finite
differences of a maximum are only valid away from ties.
The loop reference and PyTorch parity tests use small integer values on purpose, so that many
windows tie and the first-maximum rule is exercised.
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from minidl import kernels, nn
from minidl.gradcheck import gradcheck
from minidl.layers.pool import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    max_unpool2d_backward,
    max_unpool2d_forward,
)
from minidl.layers.pool_naive import max_pool2d_naive_backward, max_pool2d_naive_forward

# ---------------------------------------------------------------------------- configurations


@dataclass
class PoolConfig:
    x_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool = False

    def max_options(self):
        return dict(kernel_size=self.kernel, stride=self.stride, padding=self.padding, dilation=self.dilation,
                    ceil_mode=self.ceil_mode)

    def avg_options(self):
        return dict(kernel_size=self.kernel, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode)


@st.composite
def pool_configs(draw, dilated=True, ceil=True):
    """A pooling configuration with at least one window, each window holding an input element.

    With ``ceil=False`` ceil_mode stays off (max_unpool2d knows only floor-mode pooling).
    """
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    ceil_mode = draw(st.booleans()) if ceil else False
    sizes = []
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        # A dilated window over an input narrower than its span could hold padding only. In
        # ceil mode one window may overhang the padded input by up to S - 1 positions.
        smallest = span if d > 1 else max(1, span - 2 * p - (s - 1 if ceil_mode else 0))
        sizes.append(draw(st.integers(smallest, smallest + 5)))
    return PoolConfig((n, c, *sizes), kernel, stride, padding, dilation, ceil_mode)


seeds = st.integers(0, 2**16)

# Hypothesis shrinks towards small cases; these are always run as well.
OVERLAPPING_3X3_STRIDE_2 = PoolConfig((2, 2, 7, 8), (3, 3), (2, 2), (1, 1), (1, 1))
NON_SQUARE_DILATED = PoolConfig((1, 2, 8, 7), (3, 2), (1, 2), (1, 1), (2, 2))
# ceil_mode adds a window on both axes: H' = ceil((5 - 2)/2) + 1 = 3 (floor: 2), whose rows 4, 5
# overhang row 5; W' = ceil((8 + 2 - 3)/2) + 1 = 5 (floor: 4), starting in the input at column 7.
CEIL_EXTRA_WINDOW = PoolConfig((1, 2, 5, 8), (2, 3), (2, 2), (0, 1), (1, 1), ceil_mode=True)
# ceil((5 + 2 - 2)/2) + 1 = 4 windows, but the 4th would start at padded row 6 = H + P, in the
# right padding, so H' = 3; likewise W' = ceil((4 + 2 - 2)/3) + 1 = 3 drops to 2.
CEIL_LAST_WINDOW_DROPPED = PoolConfig((1, 2, 5, 4), (2, 2), (2, 3), (1, 1), (1, 1), ceil_mode=True)
# Dilated taps 0 and 2 of the extra bottom window: input row 5 and row 7, past the padding.
CEIL_DILATED = PoolConfig((1, 1, 6, 7), (2, 3), (2, 2), (1, 1), (2, 1), ceil_mode=True)


def distinct_values(shape, seed):
    """Values without ties: a shuffled range, spaced 1/size apart (far above gradcheck's 1e-6 step)."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) / size - 0.5


def tied_values(shape, seed):
    """Small integers: most windows hold their maximum several times."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


TOLERANCES = [pytest.param(np.float64, 1e-10, id="float64"), pytest.param(np.float32, 1e-5, id="float32")]


def assert_close(actual, expected, atol):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


# ---------------------------------------------------------------------------- max_pool2d


@given(config=pool_configs(), seed=seeds)
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0)
@example(config=NON_SQUARE_DILATED, seed=0)
@example(config=CEIL_EXTRA_WINDOW, seed=0)
@example(config=CEIL_LAST_WINDOW_DROPPED, seed=0)
@example(config=CEIL_DILATED, seed=0)
def test_max_pool2d_equals_loop_reference(config, seed):
    x = tied_values(config.x_shape, seed)
    out, cache = max_pool2d_forward(x, **config.max_options())
    naive_out, naive_cache = max_pool2d_naive_forward(x, **config.max_options())
    assert_close(out, naive_out, 1e-10)
    np.testing.assert_array_equal(cache[0], naive_cache[0])

    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    assert_close(max_pool2d_backward(dout, cache), max_pool2d_naive_backward(dout, naive_cache), 1e-10)


@settings(max_examples=15)
@given(config=pool_configs(), seed=seeds)
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0)
@example(config=CEIL_EXTRA_WINDOW, seed=0)
@example(config=CEIL_DILATED, seed=0)
def test_max_pool2d_passes_gradcheck(config, seed):
    x = distinct_values(config.x_shape, seed)
    assert gradcheck((max_pool2d_forward, max_pool2d_backward), [x], options=config.max_options())
    assert gradcheck(
        lambda t: F.max_pool2d(t, config.kernel, config.stride, config.padding, config.dilation, config.ceil_mode),
        [x],
    )


@pytest.mark.parametrize("dtype, atol", TOLERANCES)
@settings(max_examples=20)
@given(config=pool_configs(), seed=seeds)
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0)
@example(config=NON_SQUARE_DILATED, seed=0)
@example(config=CEIL_EXTRA_WINDOW, seed=0)
@example(config=CEIL_LAST_WINDOW_DROPPED, seed=0)
@example(config=CEIL_DILATED, seed=0)
def test_max_pool2d_matches_torch(config, seed, dtype, atol):
    torch = pytest.importorskip("torch")
    x = tied_values(config.x_shape, seed).astype(dtype)

    ours = md.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(ours, **config.max_options(), return_indices=True)
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    theirs = torch.tensor(x, requires_grad=True)
    expected, expected_indices = torch.nn.functional.max_pool2d(theirs, **config.max_options(),
                                                                 return_indices=True)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    assert_close(out.numpy(), expected.detach().numpy(), atol)
    assert_close(ours.grad, theirs.grad.numpy(), atol)


@pytest.mark.parametrize("padding", [0, 1])
def test_all_equal_input_switch_is_first_element_of_each_window(padding):
    torch = pytest.importorskip("torch")
    x = np.full((1, 1, 5, 6), 2.0)
    out, indices = F.max_pool2d(md.tensor(x), (3, 2), (2, 1), padding, return_indices=True)

    # Every window ties; its first real element (row-major) is at row max(y*S - P, 0), likewise columns.
    rows = np.maximum(np.arange(out.shape[2]) * 2 - padding, 0)
    cols = np.maximum(np.arange(out.shape[3]) * 1 - padding, 0)
    np.testing.assert_array_equal(indices.numpy()[0, 0], rows[:, None] * 6 + cols)
    np.testing.assert_array_equal(out.numpy(), 2.0)
    _, expected = torch.nn.functional.max_pool2d(torch.tensor(x), (3, 2), (2, 1), padding, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected.numpy())


def test_backward_accumulates_where_windows_share_the_maximum():
    torch = pytest.importorskip("torch")
    # 3x3 windows with stride 2 over 5x5 overlap at the centre; a single peak there is the
    # maximum of all four windows and must receive the sum of their four gradients.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    xt = md.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 3, 2).backward(dout)

    expected = np.zeros_like(x)
    expected[0, 0, 2, 2] = 1.0 + 2.0 + 3.0 + 4.0
    np.testing.assert_array_equal(xt.grad, expected)
    theirs = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(theirs, 3, 2).backward(torch.tensor(dout))
    np.testing.assert_array_equal(xt.grad, theirs.grad.numpy())


def test_backward_over_constant_input_accumulates_on_first_elements():
    torch = pytest.importorskip("torch")
    # Constant 4x5 input, 3x3 windows, stride 1, padding 1: window (y, x) ties everywhere and
    # picks its first real element, (max(y-1, 0), max(x-1, 0)). Rows 0 and 1 of the output both
    # pick input row 0, so the count of windows choosing input row r is [2, 1, 1, 0], columns
    # [2, 1, 1, 1, 0], and input (0, 0) collects four gradients.
    x = np.ones((1, 1, 4, 5))
    xt = md.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 3, 1, 1).backward(np.ones((1, 1, 4, 5)))

    counts = np.outer([2, 1, 1, 0], [2, 1, 1, 1, 0])
    np.testing.assert_array_equal(xt.grad[0, 0], counts)
    theirs = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(theirs, 3, 1, 1).sum().backward()
    np.testing.assert_array_equal(xt.grad, theirs.grad.numpy())


def test_padding_never_wins_even_against_minus_infinity():
    torch = pytest.importorskip("torch")
    inf = np.inf
    x = np.array([[[[-inf, -inf], [1.0, -inf]]]])
    out, indices = F.max_pool2d(md.tensor(x), 2, 1, 1, return_indices=True)
    # A window of -inf points at its first real element, as in PyTorch.
    np.testing.assert_array_equal(indices.numpy()[0, 0], [[0, 0, 1], [2, 2, 1], [2, 2, 3]])
    np.testing.assert_array_equal(out.numpy()[0, 0], [[-inf, -inf, -inf], [1, 1, -inf], [1, 1, -inf]])
    expected, expected_indices = torch.nn.functional.max_pool2d(torch.tensor(x), 2, 1, 1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_nan_propagates_and_the_switch_points_at_it():
    torch = pytest.importorskip("torch")
    x = np.array([[[[0.0, np.nan], [3.0, 1.0]]]])
    out, indices = F.max_pool2d(md.tensor(x), 2, return_indices=True)
    assert np.isnan(out.numpy()).all() and indices.numpy().item() == 1
    _, expected_indices = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert expected_indices.item() == 1


def test_stride_defaults_to_kernel_size():
    x = md.tensor(distinct_values((1, 2, 6, 4), 0))
    np.testing.assert_array_equal(F.max_pool2d(x, (3, 2)).numpy(), F.max_pool2d(x, (3, 2), (3, 2)).numpy())
    assert F.max_pool2d(x, (3, 2)).shape == (1, 2, 2, 2)


# ---------------------------------------------------------------------------- max_unpool2d


def unpool_case(config, seed, size_form):
    """Pool distinct values, returning (x, pooled, indices, output_size argument, unpooled (H, W)).

    For the default output size, the input is first cropped to the size the default formula
    (H'-1)*S - 2P + K gives back (pooling floors away up to S-1 rows, which it cannot recover).
    """
    x = distinct_values(config.x_shape, seed)
    if size_form == "default":
        kept = [size - (size + 2 * p - k) % s
                for size, k, s, p in zip(config.x_shape[2:], config.kernel, config.stride, config.padding)]
        assume(min(kept) >= 1)
        x = x[:, :, :kept[0], :kept[1]].copy()
    pooled, indices = F.max_pool2d(md.tensor(x), **config.avg_options(), return_indices=True)
    output_size = {"default": None, "hw": x.shape[-2:], "full": x.shape}[size_form]
    return x, pooled.numpy(), indices, output_size, x.shape[-2:]


@pytest.mark.parametrize("dtype, atol", TOLERANCES)
@settings(max_examples=15)
@given(config=pool_configs(dilated=False, ceil=False), seed=seeds, size_form=st.sampled_from(["default", "hw", "full"]))
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0, size_form="hw")
def test_max_unpool2d_matches_torch(config, seed, size_form, dtype, atol):
    torch = pytest.importorskip("torch")
    _, pooled, indices, output_size, hw = unpool_case(config, seed, size_form)
    values = pooled.astype(dtype)   # overlapping windows share switches only where values agree
    dout = np.random.default_rng(seed + 1).standard_normal((*pooled.shape[:2], *hw)).astype(dtype)

    ours = md.tensor(values, requires_grad=True)
    out = F.max_unpool2d(ours, indices, config.kernel, config.stride, config.padding, output_size)
    out.backward(dout)
    theirs = torch.tensor(values, requires_grad=True)
    expected = torch.nn.functional.max_unpool2d(theirs, torch.tensor(indices.numpy()), config.kernel,
                                                config.stride, config.padding, output_size)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert_close(out.numpy(), expected.detach().numpy(), atol)
    assert_close(ours.grad, theirs.grad.numpy(), atol)
    assert indices.grad is None


@settings(max_examples=10)
@given(config=pool_configs(dilated=False, ceil=False), seed=seeds)
def test_max_unpool2d_passes_gradcheck(config, seed):
    # Distinct positions per plane: with repeated indices forward keeps one value, which no
    # gradient can describe, so the check uses a random injective placement.
    rng = np.random.default_rng(seed)
    x = distinct_values(config.x_shape, seed)
    n, c, h, w = config.x_shape
    pooled_hw = F.max_pool2d(md.tensor(x), **config.avg_options()).shape[2:]
    indices = np.stack([rng.permutation(h * w)[:pooled_hw[0] * pooled_hw[1]] for _ in range(n * c)])
    indices = indices.reshape(n, c, *pooled_hw)
    values = rng.standard_normal((n, c, *pooled_hw))

    assert gradcheck((max_unpool2d_forward, max_unpool2d_backward), [values, indices],
                     options={"output_size": (h, w)})
    assert gradcheck(
        lambda v: F.max_unpool2d(v, indices, config.kernel, config.stride, config.padding, (h, w)), [values]
    )


@given(config=pool_configs(dilated=False, ceil=False), seed=seeds)
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0)
def test_unpooling_the_pooled_maxima_puts_them_back(config, seed):
    x = distinct_values(config.x_shape, seed) + 1.0           # positive, so the zeros never win
    pooled, indices = F.max_pool2d(md.tensor(x), **config.avg_options(), return_indices=True)
    unpooled = F.max_unpool2d(pooled, indices, config.kernel, config.stride, config.padding,
                              output_size=x.shape[-2:]).numpy()

    n, c = x.shape[:2]
    at_switches = np.zeros(x.shape, dtype=bool)
    at_switches.reshape(n * c, -1)[np.arange(n * c)[:, None], indices.numpy().reshape(n * c, -1)] = True
    np.testing.assert_array_equal(unpooled != 0, at_switches)
    np.testing.assert_array_equal(unpooled[at_switches], x[at_switches])
    # Each window of the unpooled image still holds its maximum at the same place.
    again, again_indices = F.max_pool2d(md.tensor(unpooled), **config.avg_options(), return_indices=True)
    np.testing.assert_array_equal(again.numpy(), pooled.numpy())
    np.testing.assert_array_equal(again_indices.numpy(), indices.numpy())


def test_max_unpool2d_default_size_and_stride():
    out = F.max_unpool2d(md.tensor(np.ones((1, 1, 2, 3))), np.array([[[[0, 3, 5], [12, 14, 23]]]]), 2)
    assert out.shape == (1, 1, 4, 6)
    expected = np.zeros(24)
    expected[[0, 3, 5, 12, 14, 23]] = 1.0
    np.testing.assert_array_equal(out.numpy().reshape(-1), expected)


# ---------------------------------------------------------------------------- avg_pool2d


@settings(max_examples=12)
@given(config=pool_configs(dilated=False), seed=seeds, count_include_pad=st.booleans())
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0, count_include_pad=False)
@example(config=CEIL_EXTRA_WINDOW, seed=0, count_include_pad=True)
def test_avg_pool2d_passes_gradcheck(config, seed, count_include_pad):
    x = np.random.default_rng(seed).standard_normal(config.x_shape)
    options = dict(config.avg_options(), count_include_pad=count_include_pad)
    assert gradcheck((avg_pool2d_forward, avg_pool2d_backward), [x], options=options)
    assert gradcheck(lambda t: F.avg_pool2d(t, **options), [x])


@pytest.mark.parametrize("dtype, atol", TOLERANCES)
@settings(max_examples=20)
@given(config=pool_configs(dilated=False), seed=seeds, count_include_pad=st.booleans())
@example(config=OVERLAPPING_3X3_STRIDE_2, seed=0, count_include_pad=False)
@example(config=CEIL_EXTRA_WINDOW, seed=0, count_include_pad=True)
@example(config=CEIL_EXTRA_WINDOW, seed=0, count_include_pad=False)
@example(config=CEIL_LAST_WINDOW_DROPPED, seed=0, count_include_pad=True)
def test_avg_pool2d_matches_torch(config, seed, count_include_pad, dtype, atol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(config.x_shape).astype(dtype)
    options = dict(config.avg_options(), count_include_pad=count_include_pad)

    ours = md.tensor(x, requires_grad=True)
    out = F.avg_pool2d(ours, **options)
    dout = rng.standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.avg_pool2d(theirs, **options)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert_close(out.numpy(), expected.detach().numpy(), atol)
    assert_close(ours.grad, theirs.grad.numpy(), atol)


def test_count_include_pad_chooses_the_divisor():
    ones = md.tensor(np.ones((1, 1, 3, 3)))
    # With padding counted, a corner window holds 4 ones out of 9 taps, an edge 6, the centre 9.
    counted = np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9
    assert_close(F.avg_pool2d(ones, 3, 1, 1).numpy()[0, 0], counted, 1e-7)
    np.testing.assert_array_equal(F.avg_pool2d(ones, 3, 1, 1, count_include_pad=False).numpy(), 1.0)


def test_ceil_mode_divisor_counts_the_padding_but_not_the_overhang():
    torch = pytest.importorskip("torch")
    ones = md.tensor(np.ones((1, 1, 6, 6)))
    # 3x3 windows, stride 2, padding 1 over 6 rows: H' = ceil((6 + 2 - 3)/2) + 1 = 4. Window rows
    # start at -1, 1, 3, 5. The first holds padding row -1 and rows 0, 1: 2 ones over 3 rows.
    # The last holds row 5, padding row 6 and row 7 past the padded input, which is not
    # counted: 1 one over 2 rows. Columns alike.
    share = np.array([2 / 3, 1, 1, 1 / 2])
    out = F.avg_pool2d(ones, 3, 2, 1, ceil_mode=True)
    assert_close(out.numpy()[0, 0], np.outer(share, share), 1e-12)
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(ones.numpy()), 3, 2, 1, ceil_mode=True)
    assert_close(out.numpy(), expected.numpy(), 1e-12)
    np.testing.assert_array_equal(F.avg_pool2d(ones, 3, 2, 1, ceil_mode=True, count_include_pad=False).numpy(), 1.0)


# ---------------------------------------------------------------------------- output size and ceil_mode


def test_output_size_matches_torch_in_floor_and_ceil_mode():
    torch = pytest.importorskip("torch")
    extra_windows = dropped_windows = 0
    for size, k, s, d in itertools.product(range(1, 10), range(1, 5), range(1, 5), range(1, 4)):
        for p in range(k // 2 + 1):
            sizes = {}
            for ceil_mode in (False, True):
                args = ("max_pool2d", (size, 1), (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode)
                try:
                    x = torch.zeros(1, 1, size, 1)
                    expected = torch.nn.functional.max_pool2d(x, *args[2:]).shape[2]
                except RuntimeError:                          # PyTorch: "Output size is too small"
                    with pytest.raises(ValueError, match="the kernel does not fit the input height"):
                        kernels.output_size(*args)
                    continue
                assert kernels.output_size(*args) == (expected, 1), args
                sizes[ceil_mode] = expected
            rounded_up = math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1
            extra_windows += sizes.get(True, 0) > sizes.get(False, 0)
            dropped_windows += sizes.get(True, rounded_up) < rounded_up
    # Both ceil_mode rules were exercised: rounding up added a window, and a window that would
    # start in the right padding was dropped.
    assert extra_windows > 0 and dropped_windows > 0


# An (8, 6) input: 3x3 windows with stride 2 give floor((8 - 3)/2) + 1 = 3 rows and 2 columns,
# ceil_mode 4 rows and 3 columns; with padding 1, 4 x 3 (floor) and 5 x 4 (ceil).
CEIL_MODULES = [
    pytest.param(lambda: nn.MaxPool2d(3, 2, ceil_mode=True), lambda tnn: tnn.MaxPool2d(3, 2, ceil_mode=True),
                 (4, 3), id="max"),
    pytest.param(lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), lambda tnn: tnn.AvgPool2d(3, 2, 1, ceil_mode=True),
                 (5, 4), id="avg"),
    pytest.param(lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                 lambda tnn: tnn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (5, 4),
                 id="avg-pad-excluded"),
]


@pytest.mark.parametrize("dtype, atol", TOLERANCES)
@pytest.mark.parametrize("make, make_torch, out_hw", CEIL_MODULES)
def test_pool_modules_pass_ceil_mode_on(make, make_torch, out_hw, dtype, atol):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 6)).astype(dtype)
    out, expected = make()(md.tensor(x)), make_torch(torch.nn)(torch.tensor(x))
    assert out.shape == (2, 3, *out_hw) == tuple(expected.shape)
    assert_close(out.numpy(), expected.numpy(), atol)


# ---------------------------------------------------------------------------- adaptive pooling


@st.composite
def adaptive_cases(draw):
    """(x shape, output_size argument): sizes that do and do not divide, larger outputs, None entries."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    entries = [draw(st.one_of(st.none(), st.integers(1, 9))) for _ in range(2)]
    output_size = entries[0] if draw(st.booleans()) and entries[0] is not None else tuple(entries)
    return shape, output_size


def expected_size(shape, output_size):
    size = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    return tuple(shape[2 + axis] if v is None else v for axis, v in enumerate(size))


@pytest.mark.parametrize("dtype, atol", TOLERANCES)
@given(case=adaptive_cases(), seed=seeds)
@example(case=((2, 2, 7, 5), (3, 2)), seed=0)
@example(case=((1, 2, 3, 4), (5, None)), seed=0)
def test_adaptive_avg_pool2d_matches_torch(case, seed, dtype, atol):
    torch = pytest.importorskip("torch")
    shape, output_size = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)

    ours = md.tensor(x, requires_grad=True)
    out = F.adaptive_avg_pool2d(ours, output_size)
    assert out.shape == (*shape[:2], *expected_size(shape, output_size))
    dout = rng.standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.adaptive_avg_pool2d(theirs, output_size)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert_close(out.numpy(), expected.detach().numpy(), atol)
    assert_close(ours.grad, theirs.grad.numpy(), atol)


@settings(max_examples=10)
@given(case=adaptive_cases(), seed=seeds)
def test_adaptive_avg_pool2d_passes_gradcheck(case, seed):
    shape, output_size = case
    x = np.random.default_rng(seed).standard_normal(shape)
    options = {"output_size": expected_size(shape, output_size)}
    assert gradcheck((adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward), [x], options=options)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, output_size), [x])


def test_adaptive_bins_overlap_when_the_size_does_not_divide():
    # H = 5 into 3 bins: [floor(5i/3), ceil(5(i+1)/3)) = [0, 2), [1, 4), [3, 5).
    x = md.tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    assert_close(F.adaptive_avg_pool2d(x, (1, 3)).numpy()[0, 0, 0], [0.5, 2.0, 3.5], 1e-12)


def test_global_avg_pool2d_is_the_mean_of_each_plane():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    xt = md.tensor(x, requires_grad=True)
    out = F.global_avg_pool2d(xt)
    assert out.shape == (2, 3, 1, 1)
    assert_close(out.numpy(), x.mean(axis=(2, 3), keepdims=True), 1e-12)
    dout = np.random.default_rng(1).standard_normal((2, 3, 1, 1))
    out.backward(dout)
    assert_close(xt.grad, np.broadcast_to(dout / 20, x.shape), 1e-12)
    assert gradcheck(F.global_avg_pool2d, [x])


# ---------------------------------------------------------------------------- bad input


def image(shape=(1, 1, 4, 4), dtype=np.float64):
    return md.tensor(np.zeros(shape, dtype=dtype))


def pooled_pair(shape=(1, 1, 2, 2)):
    return image(shape), np.zeros(shape, dtype=np.int64)


BAD_INPUT = [
    pytest.param(lambda: F.max_pool2d(image((3, 4, 4)), 2), ValueError,
                 r"max_pool2d: input must be 4-D \(N, C, H, W\), got a 3-D input of shape \(3, 4, 4\)", id="ndim"),
    pytest.param(lambda: F.max_pool2d(image(dtype=np.int64), 2), TypeError,
                 "max_pool2d: input must have a floating point dtype, got int64", id="int-input"),
    pytest.param(lambda: F.max_pool2d(np.zeros((1, 1, 4, 4)), 2), TypeError,
                 "max_pool2d: input must be a Tensor, got ndarray", id="ndarray-input"),
    pytest.param(lambda: F.max_pool2d(image(), 0), ValueError,
                 r"max_pool2d: kernel_size must be positive, got \(0, 0\)", id="kernel-zero"),
    pytest.param(lambda: F.max_pool2d(image(), 2.5), TypeError,
                 "max_pool2d: kernel_size must be an int or a pair of ints", id="kernel-float"),
    pytest.param(lambda: F.max_pool2d(image(), 2, stride=(1, 0)), ValueError,
                 r"max_pool2d: stride must be positive, got \(1, 0\)", id="stride-zero"),
    pytest.param(lambda: F.max_pool2d(image(), 2, dilation=0), ValueError,
                 "max_pool2d: dilation must be positive", id="dilation-zero"),
    pytest.param(lambda: F.max_pool2d(image(), 2, padding=-1), ValueError,
                 "max_pool2d: padding must be non-negative", id="padding-negative"),
    pytest.param(lambda: F.max_pool2d(image(), 3, padding=2), ValueError,
                 r"max_pool2d: padding must be at most half of the kernel size .*got padding \(2, 2\) "
                 r"for kernel_size \(3, 3\)", id="padding-over-half-kernel"),
    pytest.param(lambda: F.max_pool2d(image((1, 1, 4, 3)), (2, 4)), ValueError,
                 r"max_pool2d: the kernel does not fit the input width.*W' = \(W - F \+ 2P\)/S \+ 1 = "
                 r"\(3 - 4 \+ 2\*0\)/4 \+ 1", id="kernel-too-large"),
    pytest.param(lambda: F.max_pool2d(image((1, 1, 2, 2)), 2, 1, 1, 3), ValueError,
                 "max_pool2d: .* some windows over the 2x2 input hold padding only", id="window-in-padding"),
    pytest.param(lambda: F.max_pool2d(image((1, 1, 1, 4)), 3, 1, ceil_mode=True), ValueError,
                 r"max_pool2d: the kernel does not fit the input height.*H' = \(H - F \+ 2P\)/S \+ 1 = "
                 r"\(1 - 3 \+ 2\*0\)/1 \+ 1 = -1", id="ceil-mode-kernel-too-large"),
    pytest.param(lambda: F.max_unpool2d(image((1, 1, 2)), np.zeros((1, 1, 2), dtype=np.int64), 2), ValueError,
                 "max_unpool2d: input must be 4-D", id="unpool-ndim"),
    pytest.param(lambda: F.max_unpool2d(image((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), dtype=np.int64), 2),
                 ValueError, r"max_unpool2d: indices must have the input's shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)",
                 id="unpool-indices-shape"),
    pytest.param(lambda: F.max_unpool2d(image((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 2), TypeError,
                 "max_unpool2d: indices must be integers .*got dtype float64", id="unpool-float-indices"),
    pytest.param(lambda: F.max_unpool2d(image((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16), 2), ValueError,
                 r"max_unpool2d: indices must lie in \[0, 16\) for an output of size 4x4, found 16",
                 id="unpool-index-too-large"),
    pytest.param(lambda: F.max_unpool2d(image((1, 1, 2, 2)), np.full((1, 1, 2, 2), -1), 2), ValueError,
                 r"max_unpool2d: indices must lie in \[0, 16\) .*found -1", id="unpool-index-negative"),
    pytest.param(lambda: F.max_unpool2d(*pooled_pair(), 2, output_size=(6, 4)), ValueError,
                 "max_unpool2d: output height 6 cannot have been pooled .*strictly between 2 and 6",
                 id="unpool-output-size-range"),
    pytest.param(lambda: F.max_unpool2d(*pooled_pair(), 2, output_size=(1, 4, 4)), ValueError,
                 r"max_unpool2d: output_size must be \(H, W\) or \(N, C, H, W\), got \(1, 4, 4\)",
                 id="unpool-output-size-length"),
    pytest.param(lambda: F.max_unpool2d(*pooled_pair(), 2, output_size=(2, 1, 4, 4)), ValueError,
                 r"max_unpool2d: output_size \(2, 1, 4, 4\) does not match the input's batch size and "
                 r"channels \(1, 1\)", id="unpool-output-size-batch"),
    pytest.param(lambda: F.max_unpool2d(*pooled_pair((1, 1, 1, 1)), 2, padding=1), ValueError,
                 r"max_unpool2d: the output size \(0, 0\) must be positive", id="unpool-empty-default"),
    pytest.param(lambda: F.avg_pool2d(image(dtype=np.int32), 2), TypeError,
                 "avg_pool2d: input must have a floating point dtype, got int32", id="avg-int-input"),
    pytest.param(lambda: F.avg_pool2d(image(), (2, 3), padding=(1, 2)), ValueError,
                 "avg_pool2d: padding must be at most half of the kernel size", id="avg-padding"),
    pytest.param(lambda: F.avg_pool2d(image((1, 1, 2, 5)), 3, stride=2), ValueError,
                 r"avg_pool2d: the kernel does not fit the input height.*H' = \(H - F \+ 2P\)/S \+ 1",
                 id="avg-kernel-too-large"),
    pytest.param(lambda: F.avg_pool2d(image((1, 1, 4, 1)), (1, 3), 1, ceil_mode=True), ValueError,
                 r"avg_pool2d: the kernel does not fit the input width.*\(1 - 3 \+ 2\*0\)/1 \+ 1 = -1",
                 id="avg-ceil-mode-kernel-too-large"),
    pytest.param(lambda: F.adaptive_avg_pool2d(image((4, 4)), 2), ValueError,
                 "adaptive_avg_pool2d: input must be 4-D", id="adaptive-ndim"),
    pytest.param(lambda: F.adaptive_avg_pool2d(image(), (2, 0)), ValueError,
                 r"adaptive_avg_pool2d: output_size must be positive, got \(2, 0\)", id="adaptive-zero"),
    pytest.param(lambda: F.adaptive_avg_pool2d(image(), (2, 2, 2)), TypeError,
                 "adaptive_avg_pool2d: output_size must be an int or a pair of ints", id="adaptive-three"),
    pytest.param(lambda: F.adaptive_avg_pool2d(image(), 1.5), TypeError,
                 "adaptive_avg_pool2d: output_size must be an int or a pair of ints", id="adaptive-float"),
    pytest.param(lambda: F.global_avg_pool2d(image((2, 3))), ValueError,
                 r"global_avg_pool2d: input must be 4-D \(N, C, H, W\), got a 2-D input", id="global-ndim"),
]


@pytest.mark.parametrize("call, error, message", BAD_INPUT)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
