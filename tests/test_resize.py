"""Resizing: F.interpolate (nearest and bilinear, align_corners either way, by size or by scale
factor) and nn.Upsample.

The pairs and F.interpolate are gradient-checked in float64 and compared with PyTorch forward
and backward, in float32 and float64, on sizes and scale factors drawn by hypothesis, including
ones where PyTorch's float32 index arithmetic rounds differently from exact arithmetic.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
from minidl.gradcheck import gradcheck
from minidl.layers.resize import (
    nearest_source_indices,
    upsample_bilinear2d_backward,
    upsample_bilinear2d_forward,
    upsample_nearest2d_backward,
    upsample_nearest2d_forward,
)

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
modes = st.sampled_from([("nearest", None), ("bilinear", None), ("bilinear", False), ("bilinear", True)])
scales = st.sampled_from([0.5, 0.75, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0, 3.7])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


@st.composite
def resize_configs(draw):
    """(input shape, keyword arguments of interpolate): a size, or a scale factor (one number
    or a pair) that leaves at least one output pixel."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    kind = draw(st.sampled_from(["size", "square size", "scale", "scale pair"]))
    if kind == "size":
        return shape, {"size": (draw(st.integers(1, 9)), draw(st.integers(1, 9)))}
    if kind == "square size":
        return shape, {"size": draw(st.integers(1, 9))}
    factors = (draw(scales), draw(scales)) if kind == "scale pair" else (draw(scales),) * 2
    assume(math.floor(shape[2] * factors[0]) >= 1 and math.floor(shape[3] * factors[1]) >= 1)
    return shape, {"scale_factor": factors if kind == "scale pair" else factors[0]}


def options_of(shape, resize, mode, align_corners):
    """The options of the layers/ pair that F.interpolate(x, **resize, mode, align_corners) passes."""
    if "size" in resize:
        size = resize["size"] if isinstance(resize["size"], tuple) else (resize["size"],) * 2
        factors = (None, None)
    else:
        factor = resize["scale_factor"]
        factors = factor if isinstance(factor, tuple) else (factor, factor)
        size = (math.floor(shape[2] * factors[0]), math.floor(shape[3] * factors[1]))
    options = {"size": size, "scales": factors}
    if mode == "bilinear":
        options["align_corners"] = bool(align_corners)
    return options


def run_both(torch, x, dout_seed, **kwargs):
    """interpolate on minidl and on PyTorch, forward and backward with the same random dout."""
    ours, theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.interpolate(ours, **kwargs)
    expected = torch.nn.functional.interpolate(theirs, **kwargs)
    dout = np.random.default_rng(dout_seed).standard_normal(tuple(expected.shape)).astype(x.dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    return (out, ours.grad), (expected.detach().numpy(), theirs.grad.numpy())


@settings(max_examples=25)
@given(config=resize_configs(), mode=modes, seed=seeds)
def test_interpolate_gradients_match_central_differences(config, mode, seed):
    shape, resize = config
    mode, align_corners = mode
    x = np.random.default_rng(seed).standard_normal(shape)
    pair = ((upsample_nearest2d_forward, upsample_nearest2d_backward) if mode == "nearest"
            else (upsample_bilinear2d_forward, upsample_bilinear2d_backward))
    assert gradcheck(pair, [x], options=options_of(shape, resize, mode, align_corners))
    assert gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=align_corners, **resize), [x])


@given(config=resize_configs(), mode=modes, seed=seeds, dtype=dtypes)
def test_interpolate_matches_pytorch(config, mode, seed, dtype):
    torch = pytest.importorskip("torch")
    shape, resize = config
    mode, align_corners = mode
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    (out, grad), (expected, expected_grad) = run_both(torch, x, seed + 1, mode=mode, align_corners=align_corners,
                                                      **resize)
    assert out.dtype == grad.dtype == dtype
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out.numpy(), expected, atol=tol, rtol=tol)
    np.testing.assert_allclose(grad.numpy(), expected_grad, atol=tol, rtol=tol)
    if mode == "nearest":  # copies: the same numbers exactly
        np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width, resize", [
    (2, {"size": (1, 82)}),               # float32(2 / 82) * j rounds below an integer at some j
    (2, {"size": (1, 98)}),
    (11, {"scale_factor": (1.0, 3.7)}),   # float32(1 / 3.7) * j likewise
    (3, {"scale_factor": (1.0, 2.1)}),    # W_out = 2 W: PyTorch's nearest takes j // 2, not floor(j / 2.1)
    (5, {"scale_factor": (1.0, 1.1)}),    # W_out = W: copied, not resampled at 1 / 1.1
    (5, {"scale_factor": (1.0, 2.5), "recompute_scale_factor": True}),
])
def test_interpolate_matches_pytorch_where_rounding_and_special_cases_matter(mode, align_corners, dtype, width,
                                                                             resize):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 1, width)).astype(dtype)
    (out, grad), (expected, expected_grad) = run_both(torch, x, 1, mode=mode, align_corners=align_corners, **resize)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(out.numpy(), expected, atol=tol, rtol=tol)
    np.testing.assert_allclose(grad.numpy(), expected_grad, atol=tol, rtol=tol)


def test_nearest_indices_follow_floor_of_j_times_in_over_out():
    np.testing.assert_array_equal(nearest_source_indices(3, 7), [0, 0, 0, 1, 1, 2, 2])   # floor(j * 3/7)
    np.testing.assert_array_equal(nearest_source_indices(5, 2), [0, 2])                  # floor(j * 5/2)
    np.testing.assert_array_equal(nearest_source_indices(3, 7, scale=2.5), [0, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(nearest_source_indices(3, 6, scale=2.1), [0, 0, 1, 1, 2, 2])


def test_integer_nearest_upsampling_repeats_pixels_and_sums_their_gradients():
    x = md.tensor(np.arange(6.0).reshape(1, 1, 2, 3), requires_grad=True)
    out = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(out.numpy(), np.arange(6.0).reshape(2, 3).repeat(2, 0).repeat(2, 1)[None, None])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 1, 2, 3), 4.0))


def test_bilinear_with_aligned_corners_keeps_corners_and_a_linear_ramp_linear():
    ramp = np.add.outer(np.arange(3.0), 10 * np.arange(4.0))[None, None]  # value = h + 10 w
    out = F.interpolate(md.tensor(ramp), size=(5, 7), mode="bilinear", align_corners=True).numpy()
    expected = np.add.outer(np.linspace(0, 2, 5), 10 * np.linspace(0, 3, 7))[None, None]
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_array_equal(out[..., [0, 0, -1, -1], [0, -1, 0, -1]], ramp[..., [0, 0, -1, -1], [0, -1, 0, -1]])


def test_bilinear_gradient_of_a_sum_is_the_number_of_outputs_each_input_feeds():
    """The weights of each output sum to 1, so d(sum(out))/dx sums to the number of outputs."""
    x = md.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 5)), requires_grad=True)
    F.interpolate(x, size=(9, 7), mode="bilinear").sum().backward()
    np.testing.assert_allclose(x.grad.numpy().sum(axis=(2, 3)), 9 * 7)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_takes_an_empty_batch(mode):
    torch = pytest.importorskip("torch")
    x = md.tensor(np.zeros((0, 3, 4, 5), dtype=np.float32), requires_grad=True)
    out = F.interpolate(x, scale_factor=2, mode=mode)
    out.sum().backward()
    assert out.shape == tuple(torch.nn.functional.interpolate(torch.zeros(0, 3, 4, 5), scale_factor=2, mode=mode).shape)
    assert x.grad.shape == (0, 3, 4, 5)


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2}, {"scale_factor": (2, 3), "mode": "bilinear", "align_corners": True},
    {"size": 5, "mode": "bilinear"}, {"size": (3, 4)}, {"scale_factor": 0.5, "mode": "bilinear"},
])
def test_upsample_module_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.scale_factor == theirs.scale_factor and ours.size == theirs.size
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(md.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), atol=1e-6, rtol=1e-6)
    assert list(ours.state_dict()) == []


def test_interpolate_bad_input_is_refused():
    x = md.tensor(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor, got size=2 and "
                                         "scale_factor=2"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor, got size=None"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: the output size must be positive, got 0 x 0 from input 3 x 3 "
                                         r"and scale_factor=0.2: floor\(3 \* 0.2\)"):
        F.interpolate(x, scale_factor=0.2)
    with pytest.raises(ValueError, match="interpolate: the output size must be positive, got 0 x 2"):
        F.interpolate(x, size=(0, 2))
    with pytest.raises(ValueError, match="interpolate: align_corners can only be set with mode='bilinear'"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(ValueError, match="interpolate: mode must be 'nearest' or 'bilinear', got 'bicubic'"):
        F.interpolate(x, size=2, mode="bicubic")
    with pytest.raises(TypeError, match=r"interpolate: size must be an int or a pair of ints, got \(2, 2, 2\)"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(TypeError, match="interpolate: size must be an int or a pair of ints, got 2.5"):
        F.interpolate(x, size=2.5)
    with pytest.raises(TypeError, match="interpolate: scale_factor must be a number or a pair of numbers"):
        F.interpolate(x, scale_factor="2")
    with pytest.raises(ValueError, match="interpolate: scale_factor must be finite, got inf"):
        F.interpolate(x, scale_factor=float("inf"))
    with pytest.raises(ValueError, match="interpolate: recompute_scale_factor=True needs scale_factor, not size"):
        F.interpolate(x, size=2, recompute_scale_factor=True)
    with pytest.raises(NotImplementedError, match=r"interpolate: got 3-D input of shape \(2, 3, 3\), but minidl "
                                                  r"resizes 4-D \(N, C, H, W\) images only"):
        F.interpolate(md.tensor(np.zeros((2, 3, 3))), size=2)
    with pytest.raises(ValueError, match=r"interpolate: expected input \(N, C, H, W\) with C, H and W positive, "
                                         r"got shape \(1, 2, 0, 3\)"):
        F.interpolate(md.tensor(np.zeros((1, 2, 0, 3))), size=2)
    with pytest.raises(TypeError, match="interpolate: input must be a floating point tensor"):
        F.interpolate(md.tensor(np.zeros((1, 1, 2, 2), dtype=np.int64)), size=3)
