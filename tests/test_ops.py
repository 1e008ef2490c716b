"""Every Tensor operation: central-difference gradient checks in float64 and forward/backward
parity with PyTorch in float64 and float32, on hypothesis-drawn shapes.

``check(fn, torch_fn, arrays)`` is the core: fn maps minidl Tensors to a Tensor, torch_fn does
the same thing in PyTorch (often it is the same lambda, since the operators agree).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minidl as md
from minidl.gradcheck import gradcheck

TOLERANCE = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-5, rtol=1e-5)}

seeds = st.integers(0, 2**16)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def normal(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(seed, shape, low=0.5, high=2.0):
    """Values of either sign with |v| in [low, high]: safe for 1/x, log|x|, |x| and friends."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def positive(seed, shape):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def assert_matches_torch(torch, fn, torch_fn, arrays, dtype, seed=0):
    """Same forward values and same input gradients (for dout drawn at random) as PyTorch."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    ours = [md.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), torch_fn(*theirs)
    assert out.dtype == dtype, f"forward changed dtype {dtype} into {out.dtype}"
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TOLERANCE[dtype])

    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    for i, (t, ref) in enumerate(zip(ours, theirs)):
        ref_grad = np.zeros(arrays[i].shape) if ref.grad is None else ref.grad.numpy()
        grad = np.zeros(arrays[i].shape) if t.grad is None else t.grad
        assert t.grad is None or t.grad.dtype == dtype, f"gradient of input {i} has dtype {t.grad.dtype}"
        np.testing.assert_allclose(grad, ref_grad, err_msg=f"gradient of input {i}", **TOLERANCE[dtype])


def check_against_torch(torch, fn, torch_fn, arrays):
    for dtype in (np.float64, np.float32):
        assert_matches_torch(torch, fn, torch_fn, arrays, dtype)


def check(fn, torch_fn, arrays):
    """gradcheck ``fn`` in float64, then compare it with ``torch_fn`` in float64 and float32."""
    assert gradcheck(fn, [np.asarray(a, dtype=np.float64) for a in arrays])
    torch = pytest.importorskip("torch")
    check_against_torch(torch, fn, torch_fn, arrays)


# ---------------------------------------------------------------- elementwise arithmetic
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    name=st.sampled_from(sorted(BINARY)),
    seed=seeds,
)
def test_binary_ops_with_broadcasting(shapes, name, seed):
    shape_a, shape_b = shapes.input_shapes
    a = positive(seed, shape_a) if name == "pow" else normal(seed, shape_a)
    b = away_from_zero(seed + 1, shape_b)
    check(BINARY[name], BINARY[name], [a, b])


SCALAR_CASES = {
    "x + 2.5": (lambda x: x + 2.5, normal),
    "2.5 + x": (lambda x: 2.5 + x, normal),
    "x - 1": (lambda x: x - 1, normal),
    "1 - x": (lambda x: 1 - x, normal),
    "3 * x": (lambda x: 3 * x, normal),
    "x * 0.5": (lambda x: x * 0.5, normal),
    "x / 4": (lambda x: x / 4, normal),
    "4 / x": (lambda x: 4 / x, away_from_zero),
    "-x": (lambda x: -x, normal),
    "x ** 2 (negative bases too)": (lambda x: x**2, normal),
    "x ** 3 (negative bases too)": (lambda x: x**3, normal),
    "x ** -1": (lambda x: x**-1, away_from_zero),
    "x ** -2.0": (lambda x: x**-2.0, away_from_zero),
    "x ** 0.5": (lambda x: x**0.5, positive),
    "x ** 1.5": (lambda x: x**1.5, positive),
    "2 ** x": (lambda x: 2**x, normal),
    "exp": (lambda x: x.exp(), normal),
    "log": (lambda x: x.log(), positive),
    "sqrt": (lambda x: x.sqrt(), positive),
    "abs": (lambda x: x.abs(), away_from_zero),
}


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
@settings(max_examples=10)
@given(shape=shapes, seed=seeds)
def test_unary_and_scalar_ops(name, shape, seed):
    fn, values = SCALAR_CASES[name]
    check(fn, fn, [values(seed, shape)])


def test_pow_at_zero_base_and_exponent_matches_torch():
    # a**0 is the constant 1 even at a = 0 (da = 0), a**b at a = 0 with b >= 0 does not depend
    # on b (db = 0), and for a < 0 d(a**b)/db = a**b log(a) is NaN.
    torch = pytest.importorskip("torch")
    a = np.array([0.0, 0.0, 0.0, 2.0, -2.0])
    b = np.array([0.0, 2.0, 1.0, 0.0, 2.0])
    assert_matches_torch(torch, BINARY["pow"], BINARY["pow"], [a, b], np.float64)
    x = md.tensor(a, requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(5))


@given(shape=shapes, seed=seeds, low=st.sampled_from([None, -0.5, 0.0]), high=st.sampled_from([None, 0.7]))
def test_clip(shape, seed, low, high):
    if low is None and high is None:
        high = 0.3
    x = normal(seed, shape)
    # Keep values off the corners, where the derivative jumps and central differences straddle it.
    x = np.where(np.abs(x - (low or 0.0)) < 1e-3, x + 0.01, x)
    x = np.where(np.abs(x - (high or 0.0)) < 1e-3, x + 0.01, x)
    check(lambda t: t.clip(low, high), lambda t: t.clamp(low, high), [x])


def test_clip_and_abs_gradients_at_the_corners_match_torch():
    # PyTorch's clamp passes the gradient where low <= x <= high, and d|x|/dx = 0 at x = 0.
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert_matches_torch(torch, lambda t: t.clip(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), [x], np.float64)
    assert_matches_torch(torch, lambda t: t.abs(), lambda t: t.abs(), [x], np.float64)
    assert_matches_torch(torch, lambda t: t.relu(), lambda t: t.relu(), [x], np.float64)


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip: at least one of min and max"):
        md.tensor([1.0]).clip()


# ---------------------------------------------------------------- matrix product
MATMUL_SHAPES = [
    ((3,), (3,)),  # vector . vector -> scalar
    ((2, 3), (3,)),  # matrix @ vector
    ((3,), (3, 4)),  # vector @ matrix
    ((2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)),  # batched
    ((5, 2, 3), (3, 4)),  # batch against one matrix
    ((3,), (2, 3, 4)),  # vector against a batch
    ((2, 2, 3), (3,)),
    ((2, 1, 2, 3), (4, 3, 2)),  # batch dims broadcast both ways
    ((1, 2, 3), (4, 1, 3, 2)),
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul(shape_a, shape_b):
    matmul = lambda a, b: a @ b  # noqa: E731
    check(matmul, matmul, [normal(0, shape_a), normal(1, shape_b)])


@given(
    n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4),
    batch=st.sampled_from([(), (2,), (1, 3)]), seed=seeds,
)
@settings(max_examples=15)
def test_matmul_drawn_sizes(n, k, m, batch, seed):
    matmul = lambda a, b: a @ b  # noqa: E731
    check(matmul, matmul, [normal(seed, batch + (n, k)), normal(seed + 1, (k, m))])


@pytest.mark.parametrize(
    "shape_a, shape_b, message",
    [
        ((2, 3), (4, 5), r"matmul: inner dimensions differ: \(2, 3\) @ \(4, 5\) \(3 != 4\)"),
        ((3,), (4,), r"inner dimensions differ.*\(3 != 4\)"),
        ((2, 2, 3), (3, 3, 1), r"matmul: batch dimensions \(2,\) and \(3,\).*do not broadcast"),
        ((), (3,), "matmul: both operands need at least 1 dimension"),
    ],
)
def test_matmul_shape_errors(shape_a, shape_b, message):
    with pytest.raises(ValueError, match=message):
        md.tensor(np.ones(shape_a)) @ md.tensor(np.ones(shape_b))


# ---------------------------------------------------------------- reductions
@st.composite
def shapes_and_dims(draw):
    """A shape and a dim argument: None, an int (maybe negative) or a tuple of distinct axes."""
    shape = draw(shapes)
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return shape, tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def torch_dims(dim, ndim):
    return tuple(range(ndim)) if dim is None else dim


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(shape_dim=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_sum_and_mean(name, shape_dim, keepdim, seed):
    shape, dim = shape_dim
    check(
        lambda x: getattr(x, name)(dim, keepdim),
        lambda x: getattr(x, name)(dim=torch_dims(dim, len(shape)), keepdim=keepdim),
        [normal(seed, shape)],
    )


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape_dim=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_amax_and_amin_without_ties(name, shape_dim, keepdim, seed):
    shape, dim = shape_dim
    check(
        lambda x: getattr(x, "a" + name)(dim, keepdim),
        lambda x: getattr(x, "a" + name)(dim=torch_dims(dim, len(shape)), keepdim=keepdim),
        [normal(seed, shape)],
    )


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape_dim=shapes_and_dims(), keepdim=st.booleans(), seed=seeds)
def test_amax_and_amin_share_the_gradient_between_ties(name, shape_dim, keepdim, seed):
    # With ties the function has no derivative; like torch.amax, each tied extreme gets an
    # equal share of dout, so the shares sum to dout.
    torch = pytest.importorskip("torch")
    shape, dim = shape_dim
    x = np.random.default_rng(seed).integers(-1, 2, shape).astype(np.float64)  # many ties
    check_against_torch(
        torch,
        lambda t: getattr(t, "a" + name)(dim, keepdim),
        lambda t: getattr(t, "a" + name)(dim=torch_dims(dim, len(shape)), keepdim=keepdim),
        [x],
    )


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes, keepdim=st.booleans(), seed=seeds, data=st.data())
def test_max_and_min_along_a_dim_return_values_and_indices(name, shape, keepdim, seed, data):
    # torch.max(x, dim): a named tuple; on ties the whole gradient goes to the returned index.
    torch = pytest.importorskip("torch")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).integers(-1, 2, shape).astype(np.float64)  # many ties
    ours, theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    result, expected = getattr(ours, name)(dim, keepdim), getattr(theirs, name)(dim, keepdim)
    values, indices = result  # unpacks as a pair, as torch.return_types.max does
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    assert indices.dtype == np.int64
    dout = np.random.default_rng(seed + 1).standard_normal(values.shape)
    values.backward(dout)
    expected.values.backward(torch.tensor(dout))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    top = getattr(md, name)(md.tensor(x), dim, keepdim)  # minidl.max(x, dim) likewise
    np.testing.assert_array_equal(top.indices.numpy(), expected.indices.numpy())


def test_max_along_a_dim_of_a_batch_of_two_is_not_its_rows():
    # The trap: with values only, ``values, idx = x.max(dim=1)`` silently unpacked the two rows.
    x = md.tensor([[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]])
    values, idx = x.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), [7.0, 9.0])
    np.testing.assert_array_equal(idx.numpy(), [1, 0])
    values, idx = x.max(axis=0)
    np.testing.assert_array_equal(idx.numpy(), [1, 0, 1])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_with_a_tuple_of_dims_points_to_amax(name):
    with pytest.raises(TypeError, match=f"a{name}"):
        getattr(md.tensor(np.ones((2, 3))), name)((0, 1))


def test_max_over_everything_matches_torch_max():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 5.0, 5.0], [5.0, 2.0, -7.0]])
    assert_matches_torch(torch, lambda t: t.max(), lambda t: t.max(), [x], np.float64)
    assert_matches_torch(torch, lambda t: t.min(), lambda t: t.min(), [x], np.float64)
    t = md.tensor(x, requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [[0, 1 / 3, 1 / 3], [1 / 3, 0, 0]])


def test_reductions_of_a_scalar():
    x = md.tensor(np.float64(3.0), requires_grad=True)
    for reduce in (lambda t: t.sum(), lambda t: t.mean(0), lambda t: t.amax(-1), lambda t: t.max(dim=0).values):
        x.zero_grad()
        out = reduce(x)
        assert out.shape == ()
        out.backward()
        np.testing.assert_array_equal(x.grad, 1.0)


def test_reduction_keyword_aliases():
    x = md.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(axis=1, keepdims=True).numpy(), [[3.0], [12.0]])
    np.testing.assert_array_equal(x.mean(dim=(0, 1)).numpy(), 2.5)
    np.testing.assert_array_equal(x.max(np.int64(0)).values.numpy(), [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [2, 2])
    np.testing.assert_array_equal(x.argmin(dim=0).numpy(), [0, 0, 0])


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_reduction_dim_errors(name):
    x = md.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="reduction: dim 2 is out of range for a tensor with 2 dimensions"):
        getattr(x, name)(2)
    with pytest.raises(IndexError, match="dim -3 is out of range"):
        getattr(x, name)((0, -3))
    with pytest.raises(ValueError, match="names the same dimension twice"):
        getattr(x, name)((1, -1))


# ---------------------------------------------------------------- shape operations
@given(shape=shapes, seed=seeds, data=st.data())
def test_reshape_and_view(shape, seed, data):
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(size,), (-1,), (1, -1), (-1, shape[-1]), (size, 1), shape[::-1]]))
    x = normal(seed, shape)
    check(lambda t: t.reshape(target), lambda t: t.reshape(target), [x])
    check(lambda t: t.view(*target), lambda t: t.reshape(*target), [x])


@pytest.mark.parametrize(
    "shape, target, message",
    [
        ((2, 3), (4, 2), r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
        ((2, 3), (4, -1), r"cannot reshape a tensor of shape \(2, 3\)"),
        ((2, 3), (-1, -1), "at most one -1"),
        ((2, 3), (-2, -3), "sizes must be >= 0"),
    ],
)
def test_reshape_errors(shape, target, message):
    with pytest.raises(ValueError, match=message):
        md.tensor(np.ones(shape)).reshape(target)


@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose_and_permute(shape, seed, data):
    ndim = len(shape)
    dim0, dim1 = data.draw(st.integers(-ndim, ndim - 1)), data.draw(st.integers(-ndim, ndim - 1))
    order = data.draw(st.permutations(range(ndim)))
    x = normal(seed, shape)
    check(lambda t: t.transpose(dim0, dim1), lambda t: t.transpose(dim0, dim1), [x])
    check(lambda t: t.permute(*order), lambda t: t.permute(*order), [x])
    check(lambda t: t.permute(order), lambda t: t.permute(order), [x])
    reversed_axes = tuple(reversed(range(ndim)))
    check(lambda t: t.T, lambda t: t.permute(reversed_axes), [x])


def test_permute_errors():
    x = md.tensor(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"permute: \(0, 0, 1\) is not a permutation of the 3 dimensions"):
        x.permute(0, 0, 1)
    with pytest.raises(ValueError, match=r"permute: \(0, 1\) does not list the 3 dimensions"):
        x.permute(0, 1)
    with pytest.raises(IndexError, match="permute: dim 3 is out of range for 3 dimensions"):
        x.permute(0, 1, 3)
    with pytest.raises(IndexError, match="transpose: dim 3 is out of range"):
        x.transpose(0, 3)


@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3), seed=seeds, data=st.data())
def test_flatten(shape, seed, data):
    ndim = len(shape)
    start = data.draw(st.integers(0, ndim - 1))
    end = data.draw(st.integers(start, ndim - 1)) - (ndim if data.draw(st.booleans()) else 0)
    check(lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), [normal(seed, shape)])


def test_flatten_errors():
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        md.tensor(np.ones((2, 3, 4))).flatten(2, 1)


@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=2), seed=seeds, data=st.data())
def test_squeeze_and_unsqueeze(shape, seed, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    new_dim = data.draw(st.integers(-ndim - 1, ndim))
    x = normal(seed, shape)
    check(lambda t: t.squeeze(), lambda t: t.squeeze(), [x])
    check(lambda t: t.squeeze(dim), lambda t: t.squeeze(dim), [x])
    check(lambda t: t.unsqueeze(new_dim), lambda t: t.unsqueeze(new_dim), [x])


def test_squeeze_of_a_size_above_one_is_a_new_tensor():
    x = md.tensor(np.ones((2, 3)), requires_grad=True)
    y = x.squeeze(0)
    assert y is not x and y.shape == (2, 3)


def test_squeeze_unsqueeze_dim_errors():
    x = md.tensor(np.ones((2, 1)))
    with pytest.raises(IndexError, match="squeeze: dim 2 is out of range for 2 dimensions"):
        x.squeeze(2)
    with pytest.raises(IndexError, match=r"unsqueeze: dim -4 is out of range for 3 dim.* \(expected -3 to 2\)"):
        x.unsqueeze(-4)


# ---------------------------------------------------------------- indexing
INDEXES = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "slice with step": slice(None, None, 2),
    "negative start": slice(-3, None),
    "int and slices": (2, slice(None), slice(0, 2)),
    "Ellipsis": (Ellipsis, 1),
    "None": (None, slice(1, 3)),
    "Ellipsis and None": (0, Ellipsis, None),
    "integer array": np.array([3, 0, 2]),
    "integer array with repeats": np.array([1, 1, 3, 1]),
    "list with repeats": [2, 0, 2],
    "two integer arrays with repeats": (np.array([0, 0, 2]), np.array([4, 4, 1])),
    "2-D integer array": np.array([[0, 1], [1, 0]]),
    "array and slice": (slice(None), np.array([2, 2, 0])),
    "boolean mask (first axis)": np.array([True, False, True, True]),
    "boolean mask (all axes)": "mask",
}


def _torch_index(torch, index):
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, tuple):
        return tuple(_torch_index(torch, i) for i in index)
    return index


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_indexing(name):
    x = normal(0, (4, 5, 3))
    index = x > 0.3 if name == "boolean mask (all axes)" else INDEXES[name]
    assert gradcheck(lambda t: t[index], [x])
    torch = pytest.importorskip("torch")
    check_against_torch(torch, lambda t: t[index], lambda t: t[_torch_index(torch, index)], [x])


def test_indexing_with_negative_steps():
    # PyTorch has no negative steps; the gradient is checked numerically and by hand.
    x = normal(0, (4, 5))
    assert gradcheck(lambda t: t[::-1, 4:0:-2], [x])
    t = md.tensor(x, requires_grad=True)
    t[::-1, 4:0:-2].sum().backward()
    expected = np.zeros((4, 5))
    expected[:, [4, 2]] = 1.0
    np.testing.assert_array_equal(t.grad, expected)


def test_repeated_indices_accumulate():
    x = md.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@pytest.mark.parametrize("as_tuple", [False, True])
def test_indexing_with_tensors(as_tuple):
    x = md.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    rows, cols = md.tensor([0, 3, 3]), md.tensor([2, 1, 1])
    out = x[rows, cols] if as_tuple else x[rows]
    expected = x.data[rows.data, cols.data] if as_tuple else x.data[rows.data]
    np.testing.assert_array_equal(out.data, expected)
    out.sum().backward()
    grad = np.zeros((4, 3))
    np.add.at(grad, (rows.data, cols.data) if as_tuple else rows.data, 1.0)
    np.testing.assert_array_equal(x.grad, grad)
    mask = x > 5.0
    np.testing.assert_array_equal(x[mask].data, x.data[x.data > 5.0])


# ---------------------------------------------------------------- cat and stack
@given(shape=shapes, seed=seeds, data=st.data())
def test_cat(shape, seed, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = []
    for i, size in enumerate(sizes):
        piece = list(shape)
        piece[dim] = size
        arrays.append(normal(seed + i, tuple(piece)))
    assert gradcheck(lambda *ts: md.cat(ts, dim), arrays)
    torch = pytest.importorskip("torch")
    check_against_torch(torch, lambda *ts: md.cat(ts, dim), lambda *ts: torch.cat(ts, dim), arrays)


@given(shape=shapes, seed=seeds, data=st.data())
def test_stack(shape, seed, data):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim - 1, ndim))
    count = data.draw(st.integers(1, 3))
    arrays = [normal(seed + i, shape) for i in range(count)]
    assert gradcheck(lambda *ts: md.stack(ts, dim), arrays)
    torch = pytest.importorskip("torch")
    check_against_torch(torch, lambda *ts: md.stack(ts, dim), lambda *ts: torch.stack(ts, dim), arrays)


@pytest.mark.parametrize(
    "join, shapes_, dim, error, message",
    [
        ("cat", [(2, 3), (2, 4)], 0, ValueError,
         r"cat: sizes must match except in dimension 0; tensor 0 has shape \(2, 3\) but tensor 1 .* \(2, 4\)"),
        ("cat", [(2, 3), (2, 3, 1)], 0, ValueError, "cat: tensor 0 has 2 dimensions but tensor 1 has 3"),
        ("cat", [(2, 3), (2, 3)], 2, IndexError, "cat: dim 2 is out of range for 2 dimensions"),
        ("cat", [(), ()], 0, ValueError, "cat: zero-dimensional tensors cannot be concatenated"),
        ("cat", [], 0, ValueError, "cat: expected a non-empty sequence of tensors"),
        ("stack", [(2, 3), (2, 4)], 0, ValueError,
         r"stack: all sizes must match; tensor 0 has shape \(2, 3\) but tensor 1 has shape \(2, 4\)"),
        ("stack", [(2, 3), (2, 3)], -4, IndexError, "stack: dim -4 is out of range for 3 dimensions"),
    ],
)
def test_join_errors(join, shapes_, dim, error, message):
    join = {"cat": md.cat, "stack": md.stack}[join]
    with pytest.raises(error, match=message):
        join([md.tensor(np.ones(s)) for s in shapes_], dim)


def test_cat_accepts_arrays_and_gives_each_tensor_its_slice():
    a = md.tensor(np.ones((2, 2)), requires_grad=True)
    out = md.cat([a, np.zeros((1, 2))], dim=0)
    assert out.shape == (3, 2)
    out.backward(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(a.grad, [[0.0, 1.0], [2.0, 3.0]])


# ---------------------------------------------------------------- casts
@pytest.mark.parametrize(
    "name, source, target",
    [
        ("double", np.float32, np.float64),
        ("float", np.float64, np.float32),
        ("astype float64", np.float32, np.float64),
        ("astype float32", np.float64, np.float32),
    ],
)
def test_casts(name, source, target):
    torch = pytest.importorskip("torch")
    convert = {
        "double": (lambda t: t.double(), lambda t: t.double()),
        "float": (lambda t: t.float(), lambda t: t.float()),
        "astype float64": (lambda t: t.astype(np.float64), lambda t: t.to(torch.float64)),
        "astype float32": (lambda t: t.astype("float32"), lambda t: t.to(torch.float32)),
    }[name]
    x = normal(0, (3, 2)).astype(source)
    ours, theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = convert[0](ours), convert[1](theirs)
    assert out.dtype == target
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    dout = normal(1, (3, 2)).astype(target)
    (out * md.tensor(dout)).sum().backward()
    (expected * torch.tensor(dout)).sum().backward()
    assert ours.grad.dtype == source  # the gradient comes back in the input's dtype
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


# ---------------------------------------------------------------- dtype preservation
FLOAT32_OPS = {
    "add": lambda x, y: x + y,
    "add scalar": lambda x, y: x + 1.5,
    "radd scalar": lambda x, y: 1.5 + x,
    "sub": lambda x, y: x - y,
    "rsub scalar": lambda x, y: 2.0 - x,
    "mul": lambda x, y: x * y,
    "mul scalar": lambda x, y: x * 0.1,
    "mul float64 array": lambda x, y: x * np.full((3,), 0.1),
    "div": lambda x, y: x / y,
    "div scalar": lambda x, y: x / 3,
    "rdiv scalar": lambda x, y: 1 / y,
    "pow scalar": lambda x, y: x**2,
    "pow float scalar": lambda x, y: y**0.5,
    "rpow": lambda x, y: 2.0**x,
    "pow tensor": lambda x, y: y**x,
    "neg": lambda x, y: -x,
    "matmul": lambda x, y: x @ y.T,
    "matvec": lambda x, y: x @ y[0],
    "exp": lambda x, y: x.exp(),
    "log": lambda x, y: y.log(),
    "sqrt": lambda x, y: y.sqrt(),
    "abs": lambda x, y: x.abs(),
    "clip": lambda x, y: x.clip(-0.5, 0.5),
    "relu": lambda x, y: x.relu(),
    "sum": lambda x, y: x.sum(1),
    "mean": lambda x, y: x.mean(),
    "mean dim": lambda x, y: x.mean(0, keepdim=True),
    "max": lambda x, y: x.max(1).values,
    "min": lambda x, y: x.min(),
    "reshape": lambda x, y: x.reshape(-1),
    "permute": lambda x, y: x.permute(1, 0),
    "getitem": lambda x, y: x[np.array([0, 0])],
    "getitem slice": lambda x, y: x[:, 1:],
    "cat": lambda x, y: md.cat([x, y], 1),
    "stack": lambda x, y: md.stack([x, y]),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_stays_float32_in_forward_and_backward(name):
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    y = md.tensor(rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32), requires_grad=True)
    out = FLOAT32_OPS[name](x, y)
    assert out.dtype == np.float32
    # Call the Function's backward directly: the engine would cast an upcast gradient back.
    ctx = out._ctx
    grads = ctx.function.backward(ctx, np.ones(out.shape, dtype=np.float32))
    grads = grads if isinstance(grads, tuple) else (grads,)
    for needed, grad in zip(ctx.needs_input_grad, grads):
        if needed:
            assert grad.dtype == np.float32, f"{ctx.function.__name__}.backward: {grad.dtype}"
