"""Convolution and transposed convolution: gradients, the loop reference, PyTorch, and bad input.

Configurations are drawn by hypothesis: batch 1..2, up to 4 input channels, groups 1, 2 or
depthwise (groups = channels), odd/even and non-square kernels and images, stride 1..3,
padding 0..2 (or 'same'/'valid' for F.conv2d), dilation 1..2. Images stay small (<= 7x7)
because the numerical gradient evaluates the layer twice per input element.
"""

import re
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.functional as F
from minidl import kernels
from minidl.gradcheck import gradcheck
from minidl.layers.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from minidl.layers.conv_naive import conv2d_naive_backward, conv2d_naive_forward

# ---------------------------------------------------------------------------- configurations


@dataclass
class ConvConfig:
    x_shape: tuple
    w_shape: tuple
    has_bias: bool
    stride: tuple
    padding: object  # a pair, or 'same' / 'valid' for F.conv2d
    dilation: tuple
    groups: int

    def options(self):
        """Keyword options of F.conv2d, and of the raw layer pair when padding is a pair."""
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    def arrays(self, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.x_shape).astype(dtype)
        w = rng.standard_normal(self.w_shape).astype(dtype)
        b = rng.standard_normal(self.w_shape[0]).astype(dtype) if self.has_bias else None
        return x, w, b


LAYOUTS = ("plain", "grouped", "depthwise")


@st.composite
def channel_layouts(draw, kinds=LAYOUTS):
    """(in_channels, out_channels, groups): plain, grouped, or depthwise (groups = in_channels)."""
    kind = draw(st.sampled_from(kinds))
    if kind == "depthwise":
        channels = draw(st.integers(1, 4))
        return channels, channels * draw(st.integers(1, 2)), channels
    groups = 1 if kind == "plain" else 2
    return groups * draw(st.integers(1, 4 // groups)), groups * draw(st.integers(1, 4 // groups)), groups


@st.composite
def conv_configs(draw, string_padding=False, kinds=LAYOUTS):
    """A conv2d configuration whose kernel fits the padded input."""
    n = draw(st.integers(1, 2))
    c, f, groups = draw(channel_layouts(kinds))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    choices = ["pair", "same", "valid", "int"] if string_padding else ["pair"]
    padding_kind = draw(st.sampled_from(choices))
    stride = (1, 1) if padding_kind == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if padding_kind == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = padding
    elif padding_kind == "int":
        padding = draw(st.integers(0, 2))
        pads = (padding, padding)
    else:
        padding = padding_kind
        pads = (0, 0) if padding_kind == "valid" else tuple(s // 2 for s in spans)
    h, w = (draw(st.integers(max(1, span - 2 * p), 7)) for span, p in zip(spans, pads))
    return ConvConfig((n, c, h, w), (f, c // groups, *kernel), draw(st.booleans()), stride, padding,
                      dilation, groups)


@dataclass
class TransposeConfig:
    x_shape: tuple
    w_shape: tuple
    has_bias: bool
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    groups: int

    def options(self):
        return dict(stride=self.stride, padding=self.padding, output_padding=self.output_padding,
                    dilation=self.dilation, groups=self.groups)

    def arrays(self, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(self.x_shape).astype(dtype)
        w = rng.standard_normal(self.w_shape).astype(dtype)
        b = rng.standard_normal(self.w_shape[1] * self.groups).astype(dtype) if self.has_bias else None
        return x, w, b

    def positional(self):
        """stride, padding, output_padding, groups, dilation: F.conv_transpose2d's argument order."""
        return self.stride, self.padding, self.output_padding, self.groups, self.dilation

    def output_hw(self):
        return tuple(
            (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            for size, k, s, p, op, d in zip(self.x_shape[2:], self.w_shape[2:], self.stride, self.padding,
                                            self.output_padding, self.dilation)
        )


@st.composite
def transpose_axes(draw):
    """(size, kernel, stride, padding, output_padding, dilation) of one axis of a transposed conv.

    output_padding must be below the stride or the dilation, and the padding small enough that
    H_out = (H-1)*S - 2P + D*(K-1) + output_padding + 1 stays >= 1.
    """
    size, k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    op = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, min(2, ((size - 1) * s + d * (k - 1) + op) // 2)))
    return size, k, s, p, op, d


@st.composite
def transpose_configs(draw):
    """A conv_transpose2d configuration with a positive output size and a legal output_padding."""
    n = draw(st.integers(1, 2))
    c_in, c_out, groups = draw(channel_layouts())
    hw, kernel, stride, padding, output_padding, dilation = zip(draw(transpose_axes()), draw(transpose_axes()))
    return TransposeConfig((n, c_in, *hw), (c_in, c_out // groups, *kernel), draw(st.booleans()),
                           stride, padding, output_padding, dilation, groups)


# Hypothesis shrinks towards small cases; these larger ones are always run as well.
GROUPED_STRIDED_DILATED = ConvConfig((2, 4, 7, 7), (4, 2, 3, 3), True, (2, 3), (2, 1), (2, 2), 2)
DEPTHWISE_SAME_EVEN_KERNEL = ConvConfig((2, 4, 7, 6), (8, 1, 3, 2), True, (1, 1), "same", (2, 1), 4)
TRANSPOSE_GROUPED_STRIDED = TransposeConfig((2, 4, 5, 4), (4, 2, 3, 2), True, (3, 2), (2, 1), (2, 1), (2, 1), 2)
# output_padding 1 >= stride 1 is allowed because it is below the dilation 2.
TRANSPOSE_OUTPUT_PADDING_BELOW_DILATION = TransposeConfig((1, 2, 3, 4), (2, 3, 2, 3), True, (1, 2), (0, 1),
                                                          (1, 0), (2, 1), 1)


def conv_examples(test):
    return example(config=GROUPED_STRIDED_DILATED)(test)


def conv_examples_with_same_padding(test):
    return example(config=DEPTHWISE_SAME_EVEN_KERNEL)(conv_examples(test))


def transpose_examples(test):
    return example(config=TRANSPOSE_OUTPUT_PADDING_BELOW_DILATION)(example(config=TRANSPOSE_GROUPED_STRIDED)(test))


def tensors(*arrays):
    return [None if a is None else md.tensor(a, requires_grad=True) for a in arrays]


def torch_tensors(torch, *arrays):
    return [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]


def assert_grads_close(ours, theirs, atol, rtol):
    for mine, reference in zip(ours, theirs):
        if mine is None:
            continue
        assert mine.grad.dtype == mine.dtype
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), atol=atol, rtol=rtol)


TOLERANCES = [pytest.param(np.float64, 1e-10, 0.0, id="float64"),
              pytest.param(np.float32, 1e-5, 1e-5, id="float32")]
CONV_PAIR = (conv2d_forward, conv2d_backward)
TRANSPOSE_PAIR = (conv_transpose2d_forward, conv_transpose2d_backward)
NAIVE_PAIR = (conv2d_naive_forward, conv2d_naive_backward)

# ---------------------------------------------------------------------------- conv2d


@settings(max_examples=20)
@given(config=conv_configs())
@conv_examples
def test_conv2d_pair_passes_gradcheck(config):
    assert gradcheck(CONV_PAIR, list(config.arrays()), options=config.options())


@settings(max_examples=20)
@given(config=conv_configs(string_padding=True))
@conv_examples_with_same_padding
def test_conv2d_passes_gradcheck(config):
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **config.options()), list(config.arrays()))


@given(config=conv_configs())
@conv_examples
def test_conv2d_matches_naive_loops(config):
    x, w, b = config.arrays()
    out, cache = conv2d_forward(x, w, b, **config.options())
    naive_out, naive_cache = conv2d_naive_forward(x, w, b, **config.options())
    np.testing.assert_allclose(out, naive_out, atol=1e-10, rtol=0)

    dout = np.random.default_rng(1).standard_normal(out.shape)
    grads, naive_grads = conv2d_backward(dout, cache), conv2d_naive_backward(dout, naive_cache)
    assert (grads[2] is None) == (naive_grads[2] is None) == (b is None)
    for grad, naive_grad in zip(grads, naive_grads):
        if grad is not None:
            np.testing.assert_allclose(grad, naive_grad, atol=1e-10, rtol=0)


# PyTorch warns that an even kernel with padding='same' makes it copy the input; harmless here.
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype, atol, rtol", TOLERANCES)
@given(config=conv_configs(string_padding=True))
@conv_examples_with_same_padding
def test_conv2d_matches_torch(config, dtype, atol, rtol):
    torch = pytest.importorskip("torch")
    arrays = config.arrays(dtype)
    x, w, b = tensors(*arrays)
    tx, tw, tb = torch_tensors(torch, *arrays)
    out = F.conv2d(x, w, b, **config.options())
    expected = torch.nn.functional.conv2d(tx, tw, tb, **config.options())
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=atol, rtol=rtol)

    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    assert_grads_close([x, w, b], [tx, tw, tb], atol, rtol)


@given(config=conv_configs(kinds=("grouped", "depthwise")))
@conv_examples
def test_grouped_conv2d_is_separate_convs_on_channel_blocks(config):
    x, w, b = config.arrays()
    out, _ = conv2d_forward(x, w, b, **config.options())
    options = dict(config.options(), groups=1)
    groups = config.groups
    c, f = x.shape[1] // groups, w.shape[0] // groups
    blocks = [
        conv2d_forward(x[:, g * c:(g + 1) * c], w[g * f:(g + 1) * f],
                       None if b is None else b[g * f:(g + 1) * f], **options)[0]
        for g in range(groups)
    ]
    np.testing.assert_allclose(out, np.concatenate(blocks, axis=1), atol=1e-12, rtol=0)


@given(config=conv_configs(kinds=("depthwise",)))
@example(config=ConvConfig((2, 3, 6, 7), (6, 1, 3, 2), True, (2, 1), (1, 2), (1, 2), 3))
def test_depthwise_conv2d_filters_each_channel_on_its_own(config):
    # out[n, f, y, x] = sum_{i, j} w[f, 0, i, j] * xp[n, f // m, y*S + i*D, x*S + j*D], m = F / C
    x, w, _ = config.arrays()
    out, _ = conv2d_forward(x, w, None, **config.options())
    multiplier = w.shape[0] // x.shape[1]
    windows = kernels.sliding_windows(kernels.pad2d(x, config.padding), w.shape[2:], config.stride,
                                      config.dilation, out.shape[2:])
    expected = np.einsum("fij,nfijyx->nfyx", w[:, 0], np.repeat(windows, multiplier, axis=1))
    np.testing.assert_allclose(out, expected, atol=1e-12, rtol=0)


@given(n=st.integers(1, 2), c=st.integers(1, 4), f=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5))
def test_1x1_conv2d_is_a_matmul_over_channels(n, c, f, h, w):
    config = ConvConfig((n, c, h, w), (f, c, 1, 1), True, (1, 1), (0, 0), (1, 1), 1)
    x, weight, b = config.arrays()
    out, _ = conv2d_forward(x, weight, b, **config.options())
    # At every pixel: out[n, :, y, x] = W @ x[n, :, y, x] + b
    expected = np.einsum("fc,nchw->nfhw", weight[:, :, 0, 0], x) + b[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-12, rtol=0)


@given(kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       hw=st.tuples(st.integers(1, 6), st.integers(1, 6)))
def test_same_padding_keeps_the_image_size(kernel, dilation, hw):
    x = md.tensor(np.ones((1, 2, *hw)))
    w = md.tensor(np.ones((3, 2, *kernel)))
    assert F.conv2d(x, w, padding="same", dilation=dilation).shape == (1, 3, *hw)


def test_same_padding_with_even_kernel_pads_the_extra_pixel_bottom_right():
    # Kernel 2 needs one pixel of padding: PyTorch adds it after the last row/column, so each
    # output pixel sums itself and its right/lower neighbours, and the last row/column sees zeros.
    x = md.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    out = F.conv2d(x, md.tensor(np.ones((1, 1, 2, 2))), padding="same")
    expected = [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5, 2 + 5],
                [3 + 4 + 6 + 7, 4 + 5 + 7 + 8, 5 + 8],
                [6 + 7, 7 + 8, 8]]
    np.testing.assert_array_equal(out.numpy()[0, 0], expected)


@pytest.mark.parametrize("pair", [CONV_PAIR, TRANSPOSE_PAIR, NAIVE_PAIR], ids=["conv2d", "conv_transpose2d", "naive"])
def test_layers_without_bias_return_no_bias_gradient(pair):
    forward, backward = pair
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2))
    out, cache = forward(x, w, None, groups=2)
    dx, dw, db = backward(np.ones_like(out), cache)
    assert db is None and dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("pair", [CONV_PAIR, TRANSPOSE_PAIR, NAIVE_PAIR], ids=["conv2d", "conv_transpose2d", "naive"])
def test_layers_keep_float32(pair):
    forward, backward = pair
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(shape).astype(np.float32) for shape in [(1, 2, 4, 4), (2, 2, 3, 3), (2,)])
    out, cache = forward(x, w, b, stride=(2, 2), padding=(1, 1))
    grads = backward(np.ones_like(out), cache)
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3


# ---------------------------------------------------------------------------- conv_transpose2d


@settings(max_examples=20)
@given(config=transpose_configs())
@transpose_examples
def test_conv_transpose2d_pair_passes_gradcheck(config):
    assert gradcheck(TRANSPOSE_PAIR, list(config.arrays()), options=config.options())


@settings(max_examples=20)
@given(config=transpose_configs())
@transpose_examples
def test_conv_transpose2d_passes_gradcheck(config):
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, *config.positional()), list(config.arrays()))


@pytest.mark.parametrize("dtype, atol, rtol", TOLERANCES)
@given(config=transpose_configs())
@transpose_examples
def test_conv_transpose2d_matches_torch(config, dtype, atol, rtol):
    torch = pytest.importorskip("torch")
    arrays = config.arrays(dtype)
    x, w, b = tensors(*arrays)
    tx, tw, tb = torch_tensors(torch, *arrays)
    out = F.conv_transpose2d(x, w, b, *config.positional())
    expected = torch.nn.functional.conv_transpose2d(tx, tw, tb, *config.positional())
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=atol, rtol=rtol)

    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    assert_grads_close([x, w, b], [tx, tw, tb], atol, rtol)


@given(config=transpose_configs())
@transpose_examples
def test_conv_transpose2d_is_the_adjoint_of_conv2d(config):
    # <conv_transpose2d(x), y> = <x, conv2d(y)> for the same weight, stride, padding, dilation.
    # When output_padding >= stride, conv2d(y) has extra trailing rows/columns that no
    # position of x meets, so only its first H x W block takes part.
    x, w, _ = config.arrays()
    n, c_out = x.shape[0], w.shape[1] * config.groups
    y = np.random.default_rng(1).standard_normal((n, c_out, *config.output_hw()))
    transposed, _ = conv_transpose2d_forward(x, w, None, **config.options())
    options = dict(stride=config.stride, padding=config.padding, dilation=config.dilation, groups=config.groups)
    convolved, _ = conv2d_forward(y, w, None, **options)
    h, width = x.shape[2:]
    assert transposed.shape == y.shape
    np.testing.assert_allclose(np.sum(transposed * y), np.sum(x * convolved[:, :, :h, :width]), atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------- bad input


def t(*shape, dtype=np.float64):
    return md.tensor(np.zeros(shape, dtype=dtype))


X, W = t(1, 4, 5, 5), t(6, 4, 3, 3)
TX, TW = t(1, 4, 3, 3), t(4, 3, 3, 3)

BAD_CALLS = [
    # conv2d
    (lambda: F.conv2d(np.zeros((1, 4, 5, 5)), W), TypeError, "conv2d: input must be a Tensor, got ndarray"),
    (lambda: F.conv2d(X, np.zeros((6, 4, 3, 3))), TypeError, "conv2d: weight must be a Tensor, got ndarray"),
    (lambda: F.conv2d(X, W, np.zeros(6)), TypeError, "conv2d: bias must be a Tensor, got ndarray"),
    (lambda: F.conv2d(t(1, 4, 5, 5, dtype=np.int64), W), TypeError,
     "conv2d: input must have a floating point dtype, got int64"),
    (lambda: F.conv2d(X, t(6, 4, 3, 3, dtype=np.int32)), TypeError,
     "conv2d: weight must have a floating point dtype, got int32"),
    (lambda: F.conv2d(t(4, 5, 5), W), ValueError, "conv2d: input must be 4-D (N, C, H, W), got shape (4, 5, 5)"),
    (lambda: F.conv2d(X, t(6, 4, 3)), ValueError, "conv2d: weight must be 4-D, got shape (6, 4, 3)"),
    (lambda: F.conv2d(t(1, 4, 5, 5, dtype=np.float32), W), TypeError,
     "conv2d: input has dtype float32 but weight has dtype float64"),
    (lambda: F.conv2d(X, W, t(6, dtype=np.float32)), TypeError,
     "conv2d: input has dtype float64 but bias has dtype float32"),
    (lambda: F.conv2d(X, t(6, 3, 3, 3)), ValueError,
     "conv2d: input has 4 channels but weight of shape (6, 3, 3, 3) with groups=1 expects "
     "weight.shape[1]*groups = 3*1 = 3"),
    (lambda: F.conv2d(X, t(6, 1, 3, 3), groups=2), ValueError,
     "expects weight.shape[1]*groups = 1*2 = 2"),
    (lambda: F.conv2d(X, t(6, 1, 3, 3), groups=3), ValueError,
     "conv2d: groups=3 must divide the number of input channels, 4"),
    (lambda: F.conv2d(X, t(5, 2, 3, 3), groups=2), ValueError,
     "conv2d: groups=2 must divide the number of output channels (weight.shape[0]), 5"),
    (lambda: F.conv2d(X, W, groups=0), ValueError, "conv2d: groups must be a positive int, got 0"),
    (lambda: F.conv2d(X, W, groups=1.0), ValueError, "conv2d: groups must be a positive int, got 1.0"),
    (lambda: F.conv2d(X, W, t(4)), ValueError,
     "conv2d: bias must have shape (6,), one value per output channel, got shape (4,)"),
    (lambda: F.conv2d(X, W, stride=0), ValueError, "conv2d: stride must be positive, got (0, 0)"),
    (lambda: F.conv2d(X, W, stride=(1, -1)), ValueError, "conv2d: stride must be positive, got (1, -1)"),
    (lambda: F.conv2d(X, W, stride=1.5), TypeError, "conv2d: stride must be an int or a pair of ints, got 1.5"),
    (lambda: F.conv2d(X, W, dilation=0), ValueError, "conv2d: dilation must be positive, got (0, 0)"),
    (lambda: F.conv2d(X, W, padding=-1), ValueError, "conv2d: padding must be non-negative, got (-1, -1)"),
    (lambda: F.conv2d(X, W, padding=(1, 2, 3)), TypeError,
     "conv2d: padding must be an int or a pair of ints, got (1, 2, 3)"),
    (lambda: F.conv2d(X, W, padding="full"), ValueError,
     "conv2d: padding must be an int, a pair of ints, 'same' or 'valid', got 'full'"),
    (lambda: F.conv2d(X, W, stride=2, padding="same"), ValueError,
     "conv2d: padding='same' needs stride 1, got stride=(2, 2)"),
    (lambda: F.conv2d(t(1, 3, 4, 4), t(2, 3, 5, 5)), ValueError,
     "H' = (H - F + 2P)/S + 1 = (4 - 5 + 2*0)/1 + 1 = 0, which is less than 1"),
    (lambda: F.conv2d(t(1, 3, 7, 4), t(2, 3, 3, 3), dilation=2), ValueError,
     "W' = (W + 2P - D*(F-1) - 1)/S + 1 = (4 + 2*0 - 2*(3-1) - 1)/1 + 1 = 0"),
    # conv_transpose2d
    (lambda: F.conv_transpose2d(np.zeros((1, 4, 3, 3)), TW), TypeError,
     "conv_transpose2d: input must be a Tensor, got ndarray"),
    (lambda: F.conv_transpose2d(t(1, 4, 3, 3, dtype=np.int64), TW), TypeError,
     "conv_transpose2d: input must have a floating point dtype, got int64"),
    (lambda: F.conv_transpose2d(t(4, 3, 3), TW), ValueError,
     "conv_transpose2d: input must be 4-D (N, C, H, W), got shape (4, 3, 3)"),
    (lambda: F.conv_transpose2d(TX, t(4, 3, 3)), ValueError,
     "conv_transpose2d: weight must be 4-D, got shape (4, 3, 3)"),
    (lambda: F.conv_transpose2d(TX, t(4, 3, 3, 3, dtype=np.float32)), TypeError,
     "conv_transpose2d: input has dtype float64 but weight has dtype float32"),
    (lambda: F.conv_transpose2d(TX, t(2, 3, 3, 3)), ValueError,
     "conv_transpose2d: input has 4 channels but weight of shape (2, 3, 3, 3) expects weight.shape[0] = 2"),
    (lambda: F.conv_transpose2d(TX, TW, groups=3), ValueError,
     "conv_transpose2d: groups=3 must divide the number of input channels (weight.shape[0]), 4"),
    (lambda: F.conv_transpose2d(TX, TW, groups=-1), ValueError,
     "conv_transpose2d: groups must be a positive int, got -1"),
    (lambda: F.conv_transpose2d(TX, TW, t(3), groups=2), ValueError,
     "conv_transpose2d: bias must have shape (6,), one value per output channel, got shape (3,)"),
    (lambda: F.conv_transpose2d(TX, TW, stride=0), ValueError, "conv_transpose2d: stride must be positive, got (0, 0)"),
    (lambda: F.conv_transpose2d(TX, TW, dilation=(0, 1)), ValueError,
     "conv_transpose2d: dilation must be positive, got (0, 1)"),
    (lambda: F.conv_transpose2d(TX, TW, padding=-2), ValueError,
     "conv_transpose2d: padding must be non-negative, got (-2, -2)"),
    (lambda: F.conv_transpose2d(TX, TW, padding="same"), TypeError,
     "conv_transpose2d: padding must be an int or a pair of ints, got 'same'"),
    (lambda: F.conv_transpose2d(TX, TW, output_padding=-1), ValueError,
     "conv_transpose2d: output_padding must be non-negative, got (-1, -1)"),
    (lambda: F.conv_transpose2d(TX, TW, stride=2, output_padding=(1, 2), dilation=2), ValueError,
     "conv_transpose2d: output_padding must be smaller than either stride or dilation, got "
     "output_padding=(1, 2), stride=(2, 2), dilation=(2, 2)"),
    (lambda: F.conv_transpose2d(t(1, 4, 2, 2), TW, padding=3), ValueError,
     "H_out = (H - 1)*S - 2P + D*(K - 1) + output_padding + 1 = (2 - 1)*1 - 2*3 + 1*(3 - 1) + 0 + 1 = -2, "
     "which is less than 1"),
]


@pytest.mark.parametrize("call, error, message", BAD_CALLS, ids=[m[:60] for _, _, m in BAD_CALLS])
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


@pytest.mark.parametrize("algorithm, x_shape, w_shape, stride, groups", [
    ("direct", (3, 2, 9, 9), (4, 2, 3, 3), (1, 1), 1),
    ("direct", (3, 2, 9, 9), (4, 2, 3, 3), (2, 2), 1),      # dx by columns, skipped too
    ("im2col", (3, 2, 9, 9), (4, 1, 3, 3), (1, 1), 2),
    ("winograd", (3, 2, 9, 9), (4, 2, 3, 3), (1, 1), 1),
    ("depthwise", (3, 2, 9, 9), (4, 1, 3, 3), (1, 1), 2),
])
def test_backward_without_the_input_gradient_skips_it_and_keeps_the_others(algorithm, x_shape, w_shape, stride,
                                                                          groups):
    # Autograd asks for no dx when the input needs none (a network's first layer): the layer must
    # not compute it, and dw and db must be those of the full backward pass.
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[:1]))
    out, cache = conv2d_forward(x, w, b, stride, (1, 1), groups=groups, algorithm=algorithm)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    skipped, dw_alone, db_alone = conv2d_backward(dout, cache, input_grad=False)
    assert dx is not None and skipped is None
    np.testing.assert_array_equal(dw_alone, dw)
    np.testing.assert_array_equal(db_alone, db)


def test_autograd_asks_the_first_layer_for_no_input_gradient(monkeypatch):
    asked = []
    backward = F.conv.Conv2d.layer_backward

    def spy(dout, cache, **options):
        asked.append(options)
        return backward(dout, cache, **options)

    monkeypatch.setattr(F.conv.Conv2d, "layer_backward", staticmethod(spy))
    images = md.tensor(np.ones((2, 1, 6, 6)))
    w1 = md.tensor(np.ones((3, 1, 3, 3)), requires_grad=True)
    w2 = md.tensor(np.ones((2, 3, 3, 3)), requires_grad=True)
    F.conv2d(F.conv2d(images, w1), w2).sum().backward()
    assert asked == [{}, {"input_grad": False}]      # the second layer's input needs a gradient
    assert images.grad is None and w1.grad is not None
