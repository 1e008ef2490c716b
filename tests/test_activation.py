"""Activations: relu, leaky_relu, gelu (exact and tanh-approximated), sigmoid, tanh, softmax, log_softmax.

Each pair and each F.* function is gradient-checked in float64 and compared with PyTorch
(forward and backward); softmax and log_softmax are checked for their defining properties
and for stability on huge inputs.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
from minidl.gradcheck import gradcheck
from minidl.layers import activation as layers

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}

# name -> (pair, F function, keyword options, torch function name)
ELEMENTWISE = {
    "relu": ((layers.relu_forward, layers.relu_backward), F.relu, {}, "relu"),
    "leaky_relu": ((layers.leaky_relu_forward, layers.leaky_relu_backward), F.leaky_relu,
                   {"negative_slope": 0.2}, "leaky_relu"),
    "gelu": ((layers.gelu_forward, layers.gelu_backward), F.gelu, {}, "gelu"),
    "gelu_tanh": ((layers.gelu_forward, layers.gelu_backward), F.gelu, {"approximate": "tanh"}, "gelu"),
    "sigmoid": ((layers.sigmoid_forward, layers.sigmoid_backward), F.sigmoid, {}, "sigmoid"),
    "tanh": ((layers.tanh_forward, layers.tanh_backward), F.tanh, {}, "tanh"),
}
ALONG_DIM = {
    "softmax": ((layers.softmax_forward, layers.softmax_backward), F.softmax),
    "log_softmax": ((layers.log_softmax_forward, layers.log_softmax_backward), F.log_softmax),
}


def away_from_kink(x):
    """Move values within 1e-3 of 0, where relu's derivative jumps, so central differences are exact."""
    x[np.abs(x) < 1e-3] = 0.5
    return x


def assert_matches_torch(ours, theirs, dtype):
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=tol, rtol=tol)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(shape=shapes, seed=seeds)
def test_elementwise_gradients_match_central_differences(name, shape, seed):
    pair, function, options, _ = ELEMENTWISE[name]
    x = away_from_kink(np.random.default_rng(seed).standard_normal(shape))
    assert gradcheck(pair, [x], options=options)
    assert gradcheck(lambda t: function(t, **options), [x])


@pytest.mark.parametrize("name", ALONG_DIM)
@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_gradients_match_central_differences(name, shape, seed, data):
    pair, function = ALONG_DIM[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = np.random.default_rng(seed).standard_normal(shape)
    assert gradcheck(pair, [x], options={"dim": dim % len(shape)})
    assert gradcheck(lambda t: function(t, dim), [x])


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(shape=shapes, seed=seeds, dtype=dtypes)
def test_elementwise_matches_pytorch(name, shape, seed, dtype):
    torch = pytest.importorskip("torch")
    _, function, options, torch_name = ELEMENTWISE[name]
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x.flat[0] = 0.0  # the derivative at 0 follows PyTorch's convention too
    dout = rng.standard_normal(shape).astype(dtype)

    ours = md.tensor(x, requires_grad=True)
    out = function(ours, **options)
    out.backward(dout)
    theirs = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, torch_name)(theirs, **options)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert_matches_torch(out.numpy(), expected, dtype)
    assert_matches_torch(ours.grad, theirs.grad, dtype)


@pytest.mark.parametrize("name", ALONG_DIM)
@given(shape=shapes, seed=seeds, dtype=dtypes, data=st.data())
def test_softmax_matches_pytorch(name, shape, seed, dtype, data):
    torch = pytest.importorskip("torch")
    _, function = ALONG_DIM[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)

    ours = md.tensor(x, requires_grad=True)
    out = function(ours, dim)
    out.backward(dout)
    theirs = torch.tensor(x, requires_grad=True)
    expected = getattr(torch.nn.functional, name)(theirs, dim)
    expected.backward(torch.tensor(dout))

    assert out.dtype == dtype and ours.grad.dtype == dtype
    assert_matches_torch(out.numpy(), expected, dtype)
    assert_matches_torch(ours.grad, theirs.grad, dtype)


def test_relu_gradient_at_zero_is_zero_and_leaky_relu_takes_the_slope():
    x = md.tensor(np.zeros(3), requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    y = md.tensor(np.zeros(3), requires_grad=True)
    F.leaky_relu(y, negative_slope=0.25).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.25, 0.25, 0.25])


@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_is_a_distribution_and_log_softmax_its_log(shape, seed, data):
    dim = data.draw(st.integers(0, len(shape) - 1), label="dim")
    x = md.tensor(np.random.default_rng(seed).standard_normal(shape))
    y = F.softmax(x, dim).numpy()
    assert np.all(y > 0)
    np.testing.assert_allclose(y.sum(axis=dim), 1.0, atol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, dim).numpy(), np.log(y), atol=1e-12)
    # adding a constant along dim changes nothing
    np.testing.assert_allclose(F.softmax(x + 100.0, dim).numpy(), y, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_inputs_stay_finite(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would warn
        probs = F.softmax(md.tensor(x), 1).numpy()
        log_probs = F.log_softmax(md.tensor(x), 1).numpy()
        sig = F.sigmoid(md.tensor(x)).numpy()
    np.testing.assert_allclose(probs, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(log_probs, [[0, -1e4, -2e4], [-np.log(3)] * 3], rtol=1e-6)
    np.testing.assert_array_equal(sig, [[1, 0.5, 0], [0, 0, 0]])
    assert probs.dtype == log_probs.dtype == sig.dtype == dtype


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_module_matches_pytorch_and_takes_an_empty_batch(approximate):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.GELU(approximate), torch.nn.GELU(approximate)
    assert repr(ours) == repr(theirs)
    x = np.array([-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0], dtype=np.float32)
    np.testing.assert_allclose(ours(md.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), atol=1e-6, rtol=1e-6)
    empty = md.tensor(np.zeros((0, 3), dtype=np.float32), requires_grad=True)
    out = ours(empty)
    out.sum().backward()
    assert out.shape == empty.grad.shape == tuple(theirs(torch.zeros(0, 3)).shape) == (0, 3)


def test_gelu_is_about_relu_far_from_zero_and_x_phi_x_near_it():
    x = np.array([-10.0, -1.0, 0.0, 1.0, 10.0])
    out = F.gelu(md.tensor(x)).numpy()
    np.testing.assert_allclose(out[[0, 4]], [0.0, 10.0], atol=1e-20)
    np.testing.assert_allclose(out[[1, 3]], [-0.15865525393145707, 0.8413447460685429], rtol=1e-15)
    assert out[2] == 0.0


def test_gelu_approximation_must_be_none_or_tanh():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'Tanh'"):
        F.gelu(md.tensor([1.0]), approximate="Tanh")
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got None"):
        nn.GELU(approximate=None)
    with pytest.raises(TypeError, match="gelu: input must be a floating point tensor"):
        F.gelu(md.tensor([1, 2]))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="relu: input must be a floating point tensor, got dtype int"):
        F.relu(md.tensor([1, -2, 3]))
    with pytest.raises(TypeError, match="softmax: input must be a floating point"):
        F.softmax(md.tensor([[1, 2]]), 1)


def test_dim_out_of_range_is_refused():
    x = md.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"softmax: dim 2 is out of range .* 2 dimensions .*\[-2, 1\]"):
        F.softmax(x, 2)
    with pytest.raises(IndexError, match="log_softmax: dim -3 is out of range"):
        F.log_softmax(x, -3)
    with pytest.raises(TypeError, match="softmax: dim must be an int, got None"):
        F.softmax(x, None)
