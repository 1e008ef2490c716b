"""Padding: F.pad in constant, reflect and replicate mode, with PyTorch's last-axis-first pad
tuple and negative amounts that crop.

The pairs and F.pad are gradient-checked in float64 on pads drawn by hypothesis and compared
with PyTorch forward and backward; every input PyTorch refuses is refused here too.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl.gradcheck import gradcheck
from minidl.layers.pad import (
    border_pad_backward,
    border_pad_forward,
    border_source_indices,
    constant_pad_backward,
    constant_pad_forward,
)

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def constant_configs(draw):
    """(shape, pad): 1 to 4 axes, the last 1 to all of them padded by -2 to 3, the crops of each
    axis together no longer than the axis."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    pad = []
    for size in shape[::-1][:draw(st.integers(1, len(shape)))]:
        before = draw(st.integers(-min(size, 2), 3))
        pad += [before, draw(st.integers(-min(size - max(-before, 0), 2), 3))]
    return shape, tuple(pad)


@st.composite
def border_configs(draw):
    """(shape, pad, mode): PyTorch's supported layouts, (N, C, *spatial) or (C, *spatial) with 1
    to 3 padded spatial axes; reflect's amounts below the axis size, crops leaving >= 1 entry."""
    mode = draw(st.sampled_from(["reflect", "replicate"]))
    padded = draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(2, 4), min_size=padded, max_size=padded)))
    batch = (draw(st.integers(1, 2)),) if draw(st.booleans()) else ()
    pad = []
    for size in spatial[::-1]:
        most = size - 1 if mode == "reflect" else 3
        before = draw(st.integers(-1, most))
        pad += [before, draw(st.integers(-1, most))]
    return batch + (draw(st.integers(1, 2)),) + spatial, tuple(pad), mode


def per_axis(shape, pad):
    """The layers/ pairs' form of a PyTorch pad tuple: one (before, after) per axis, in axis order."""
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]
    return [(0, 0)] * (len(shape) - len(pairs)) + pairs


@settings(max_examples=20)
@given(config=constant_configs(), seed=seeds, value=st.sampled_from([0.0, -1.5]))
def test_constant_pad_gradients_match_central_differences(config, seed, value):
    shape, pad = config
    x = np.random.default_rng(seed).standard_normal(shape)
    assert gradcheck((constant_pad_forward, constant_pad_backward), [x],
                     options={"pad": per_axis(shape, pad), "value": value})
    assert gradcheck(lambda t: F.pad(t, pad, value=value), [x])


@settings(max_examples=20)
@given(config=border_configs(), seed=seeds)
def test_border_pad_gradients_match_central_differences(config, seed):
    shape, pad, mode = config
    x = np.random.default_rng(seed).standard_normal(shape)
    options = {"pad": per_axis(shape, pad), "mode": mode}
    assert gradcheck((border_pad_forward, border_pad_backward), [x], options=options)
    assert gradcheck(lambda t: F.pad(t, pad, mode=mode), [x])


def assert_pad_matches_pytorch(torch, x, pad, seed, **kwargs):
    ours, theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.pad(ours, pad, **kwargs)
    expected = torch.nn.functional.pad(theirs, pad, **kwargs)
    dout = np.random.default_rng(seed).standard_normal(tuple(expected.shape)).astype(x.dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    assert out.dtype == ours.grad.dtype == x.dtype
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())  # copies: the same numbers
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-6)


@given(config=constant_configs(), seed=seeds, dtype=dtypes, value=st.sampled_from([None, 0.0, 2.5]))
def test_constant_pad_matches_pytorch(config, seed, dtype, value):
    torch = pytest.importorskip("torch")
    shape, pad = config
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    assert_pad_matches_pytorch(torch, x, pad, seed + 1, value=value)


@given(config=border_configs(), seed=seeds, dtype=dtypes)
def test_border_pad_matches_pytorch(config, seed, dtype):
    torch = pytest.importorskip("torch")
    shape, pad, mode = config
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    assert_pad_matches_pytorch(torch, x, pad, seed + 1, mode=mode)


def test_pad_tuple_starts_at_the_last_axis():
    x = md.tensor(np.ones((1, 1, 2, 3)))
    assert F.pad(x, (1, 2)).shape == (1, 1, 2, 6)           # left, right of W
    assert F.pad(x, (1, 2, 3, 0)).shape == (1, 1, 5, 6)     # then top, bottom of H
    assert F.pad(x, (0, 0, 0, 0, 1, 1)).shape == (1, 3, 2, 3)
    np.testing.assert_array_equal(F.pad(md.tensor([[1.0, 2.0]]), (1, -1), value=9).numpy(), [[9.0, 1.0]])


def test_reflect_and_replicate_copy_the_border_as_documented():
    np.testing.assert_array_equal(border_source_indices(4, 3, 3, "reflect"), [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    np.testing.assert_array_equal(border_source_indices(4, 2, 2, "replicate"), [0, 0, 0, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(border_source_indices(4, -1, 2, "reflect"), [1, 2, 3, 2, 1])
    x = md.tensor(np.arange(4.0).reshape(1, 1, 4), requires_grad=True)
    F.pad(x, (2, 1), mode="reflect").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[1.0, 2.0, 3.0, 1.0]]])  # x1 and x2 copied once more each, x3 too


def test_pad_keeps_integer_dtypes_in_constant_mode():
    out = F.pad(md.tensor(np.arange(4).reshape(2, 2)), (1, 1), value=2.7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [[2, 0, 1, 2], [2, 2, 3, 2]])  # the fill is cast, as in PyTorch


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_takes_an_empty_batch(mode):
    torch = pytest.importorskip("torch")
    x = md.tensor(np.zeros((0, 3, 4, 4)), requires_grad=True)
    out = F.pad(x, (1, 2, 1, 0), mode=mode)
    out.sum().backward()
    assert out.shape == tuple(torch.nn.functional.pad(torch.zeros(0, 3, 4, 4), (1, 2, 1, 0), mode=mode).shape)
    assert x.grad.shape == (0, 3, 4, 4)


def test_pad_bad_input_is_refused():
    x = md.tensor(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"pad: pad must hold a \(before, after\) pair per axis, so an even number "
                                         r"of ints, got \(1,\)"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match=r"pad: pad \(1, 1, 1, 1, 1, 1, 1, 1, 1, 1\) pads 5 axes but the input has "
                                         r"only 4"):
        F.pad(x, (1, 1) * 5)
    with pytest.raises(TypeError, match=r"pad: pad must be a tuple of ints \(left, right, top, bottom, ...\), got "
                                        r"\(1.0, 1\)"):
        F.pad(x, (1.0, 1))
    with pytest.raises(ValueError, match=r"pad: cropping more than the input holds: axis 3 of size 3 padded by "
                                         r"\(-2, -2\) in constant mode"):
        F.pad(x, (-2, -2))
    with pytest.raises(ValueError, match=r"pad: cropping more than the input holds: axis 3 of size 1 padded by "
                                         r"\(1, -2\) in constant mode"):
        F.pad(md.tensor(np.zeros((1, 1, 3, 1))), (1, -2))  # crops first, as PyTorch: 2 of 1 entries
    with pytest.raises(ValueError, match=r"pad: cropping more than the input holds: axis 2 of size 3 padded by "
                                         r"\(-2, -2\) in replicate mode"):
        F.pad(x, (0, 0, -2, -2), mode="replicate")
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect' or 'replicate', got 'zeros'"):
        F.pad(x, (1, 1), mode="zeros")
    with pytest.raises(ValueError, match="pad: mode 'reflect' copies values from the input and takes no value"):
        F.pad(x, (1, 1, 1, 1), mode="reflect", value=1)
    with pytest.raises(ValueError, match=r"pad: reflect padding must be smaller than the axis it pads, got \(3, 0\) "
                                         r"for axis 3 of size 3"):
        F.pad(x, (3, 0, 0, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match=r"pad: mode 'replicate' pads 1, 2 or 3 trailing axes .* got pad "
                                                  r"of length 2 for 4-D input"):
        F.pad(x, (1, 1), mode="replicate")
    with pytest.raises(ValueError, match=r"pad: mode 'reflect' needs non-empty axes besides the batch axis, got "
                                         r"input of shape \(2, 0, 4, 4\)"):
        F.pad(md.tensor(np.zeros((2, 0, 4, 4))), (1, 1, 1, 1), mode="reflect")
