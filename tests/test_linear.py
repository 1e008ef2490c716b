"""The fully connected layer out = x @ W^T + b, and flatten.

linear is gradient-checked in float64 (pair and F.linear) and compared with PyTorch for inputs
with any number of leading batch dimensions; flatten is compared with torch.flatten.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl.gradcheck import gradcheck
from minidl.layers.linear import linear_backward, linear_forward

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


@st.composite
def linear_configs(draw):
    """(x shape (..., in), weight shape (out, in), has bias) with 0 to 2 leading dimensions."""
    leading = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    in_features, out_features = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return leading + (in_features,), (out_features, in_features), draw(st.booleans())


def draw_arrays(config, seed, dtype=np.float64):
    x_shape, w_shape, has_bias = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if has_bias else None
    return x, w, b


@given(config=linear_configs(), seed=seeds)
def test_linear_gradients_match_central_differences(config, seed):
    x, w, b = draw_arrays(config, seed)
    assert gradcheck((linear_forward, linear_backward), [x, w, b])
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])


@given(config=linear_configs(), seed=seeds, dtype=dtypes)
def test_linear_matches_pytorch(config, seed, dtype):
    torch = pytest.importorskip("torch")
    x, w, b = draw_arrays(config, seed, dtype)
    tensors = [None if a is None else md.tensor(a, requires_grad=True) for a in (x, w, b)]
    references = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, w, b)]

    out = F.linear(*tensors)
    expected = torch.nn.functional.linear(*references)
    dout = np.random.default_rng(seed + 1).standard_normal(expected.shape).astype(dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))

    tol = TOLERANCE[dtype]
    assert out.shape == tuple(expected.shape) and out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=tol, rtol=tol)
    for ours, theirs in zip(tensors, references):
        if ours is not None:
            assert ours.grad.dtype == dtype
            np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), atol=tol, rtol=tol)


def test_linear_backward_is_the_textbook_formula():
    rng = np.random.default_rng(0)
    x, w, b, dout = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2), \
        rng.standard_normal((5, 2))
    out, cache = linear_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w.T + b, atol=1e-12)
    dx, dw, db = linear_backward(dout, cache)
    np.testing.assert_allclose(dx, dout @ w, atol=1e-12)
    np.testing.assert_allclose(dw, dout.T @ x, atol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), atol=1e-12)


def test_linear_without_bias_returns_no_bias_gradient():
    _, cache = linear_forward(np.ones((2, 3)), np.ones((4, 3)), None)
    assert linear_backward(np.ones((2, 4)), cache)[2] is None


def test_linear_bad_input_is_refused():
    x, w = md.tensor(np.zeros((2, 5))), md.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) has 5 features .* "
                                         r"weight of shape \(3, 4\) expects in_features=4"):
        F.linear(x, w)
    with pytest.raises(ValueError, match=r"linear: weight must have shape \(out_features, in_features\)"):
        F.linear(x, md.tensor(np.zeros(5)))
    with pytest.raises(ValueError, match=r"linear: bias must have shape .* \(3,\) .* got shape \(4,\)"):
        F.linear(md.tensor(np.zeros((2, 4))), w, md.tensor(np.zeros(4)))
    with pytest.raises(TypeError, match="linear: weight has dtype float32 but the input has dtype float64"):
        F.linear(md.tensor(np.zeros((2, 4))), md.tensor(np.zeros((3, 4), dtype=np.float32)))
    with pytest.raises(TypeError, match="linear: input must be a floating point tensor, got dtype int"):
        F.linear(md.tensor(np.zeros((2, 4), dtype=np.int64)), w)


@st.composite
def flatten_configs(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=4)))
    ndim = len(shape)
    start = draw(st.integers(-ndim, ndim - 1))
    end = draw(st.integers(start % ndim, ndim - 1))
    return shape, start, end - ndim * draw(st.booleans())  # end given as a negative dim half the time


@given(config=flatten_configs(), seed=seeds)
def test_flatten_matches_torch_flatten(config, seed):
    torch = pytest.importorskip("torch")
    shape, start, end = config
    x = np.random.default_rng(seed).standard_normal(shape)
    t = md.tensor(x, requires_grad=True)
    out = F.flatten(t, start, end)
    expected = torch.flatten(torch.tensor(x), start, end)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(dout)
    np.testing.assert_array_equal(t.grad, dout.reshape(shape))


def test_flatten_defaults_follow_torch_flatten():
    x = md.tensor(np.zeros((2, 3, 4, 5)))
    assert F.flatten(x).shape == (120,)
    assert F.flatten(x, 1).shape == (2, 60)
    assert F.flatten(md.tensor(np.float64(7.0))).shape == (1,)


def test_flatten_bad_dims_are_refused():
    x = md.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="flatten: dim 2 is out of range for 2 dimensions"):
        F.flatten(x, 2)
    with pytest.raises(IndexError, match="flatten: dim -3 is out of range"):
        F.flatten(x, 0, -3)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        F.flatten(x, 1, 0)
