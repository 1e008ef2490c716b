"""The Tensor and its graph walk: construction, dtypes, no_grad, accumulation, hooks, deep graphs.

Gradients here are checked against derivatives worked out by hand (d(x*x)/dx = 2x, ...) or
against central differences; the per-operation math is tested in test_ops.py.
"""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minidl as md
from minidl.function import Function
from minidl.gradcheck import gradcheck
from minidl.ops import unbroadcast


# ---------------------------------------------------------------- construction and dtypes
@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),  # a Python float
        ([1.0, 2.0], np.float32),  # a list of floats
        ([[1, 2], [3, 4.5]], np.float32),  # mixed ints and floats
        (np.ones(3, dtype=np.float64), np.float64),  # float64 arrays are kept
        (np.float64(2.0), np.float64),
        (np.ones(3, dtype=np.float32), np.float32),
        (np.ones(3, dtype=np.float16), np.float32),  # half precision is not a working dtype here
        (3, np.int64),
        ([1, 2, 3], np.int64),
        (np.arange(3, dtype=np.int32), np.int32),
        ([True, False], np.bool_),
    ],
)
def test_construction_dtype(data, dtype):
    t = md.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.asarray(data).astype(dtype))
    assert t.requires_grad is False and t.grad is None and t.is_leaf


def test_explicit_dtype():
    assert md.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert md.Tensor(1.0, dtype="float64").dtype == np.float64


@pytest.mark.parametrize("data", [[1, 2], 3, [True]])
def test_requires_grad_on_integer_data_raises(data):
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        md.tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="only floating point tensors can require gradients"):
        md.tensor(data).requires_grad_()


def test_numpy_shares_memory_and_basic_properties():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = md.from_numpy(array)
    assert np.shares_memory(t.numpy(), array)
    assert not np.shares_memory(md.tensor(array).numpy(), array)  # torch.tensor copies
    assert t.shape == (2, 3) and t.ndim == 2 and t.size() == (2, 3) and t.numel() == 6 and len(t) == 2
    assert t.size(1) == 3 and t.size(-2) == 2 and t.dim() == 2
    assert t.dtype == np.float32
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert "dtype=float32" in repr(t)


def test_item():
    assert md.tensor([[2.5]]).item() == 2.5
    assert isinstance(md.tensor(3).item(), int)
    with pytest.raises(RuntimeError, match=r"only a one-element tensor.*shape \(2,\)"):
        md.tensor([1.0, 2.0]).item()


def test_bool_follows_the_value():
    assert not md.tensor(0.0)
    assert md.tensor([2.0])
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(md.tensor([1.0, 2.0]))


def test_detach_shares_values_and_cuts_the_graph():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert d.requires_grad is False and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()  # the detached factor is a constant: d(d*x)/dx = d
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])


# ---------------------------------------------------------------- no_grad
def test_no_grad_records_nothing():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    with md.no_grad():
        assert not md.is_grad_enabled()
        y = (x * 2).sum()
    assert md.is_grad_enabled()
    assert y.requires_grad is False and y.is_leaf and y._ctx is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_results_keep_no_reference_to_inputs():
    x = md.tensor(np.ones(4), requires_grad=True)
    with md.no_grad():
        y = x.exp()
    alive = weakref.ref(x)
    del x
    gc.collect()
    assert alive() is None
    assert y.data.shape == (4,)


def test_enable_grad_inside_no_grad():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    with md.no_grad():
        with md.enable_grad():
            y = (x * x).sum()
        z = x * x
    assert y.requires_grad and not z.requires_grad
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with md.no_grad():
            1 / 0
    assert md.is_grad_enabled()


def test_no_grad_as_decorator():
    @md.no_grad()
    def evaluate(t):
        return t * 2

    assert not evaluate(md.tensor([1.0], requires_grad=True)).requires_grad
    assert md.is_grad_enabled()


def test_functions_see_no_input_needing_grad_under_no_grad():
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, a):
            seen.append(ctx.needs_input_grad)
            return a

        @staticmethod
        def backward(ctx, dout):
            return dout

    x = md.tensor([1.0], requires_grad=True)
    Spy.apply(x)
    with md.no_grad():
        Spy.apply(x)
    assert seen == [(True,), (False,)]


# ---------------------------------------------------------------- accumulation
def test_two_backward_calls_add_with_retain_graph():
    x = md.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.numpy()))
    x.zero_grad()
    assert x.grad is None


def test_a_second_backward_through_a_freed_graph_is_an_error():
    x = md.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())  # the refused call added nothing


class Handing(Function):
    """y = 2x, whose backward returns ``Handing.grad`` (an array that someone else also holds),
    or a new view of it when ``Handing.as_view``, instead of a fresh array."""

    grad, as_view = None, False

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, dy):
        if Handing.grad is None:
            return 2 * dy
        return Handing.grad[::-1] if Handing.as_view else Handing.grad


def address(tensor):
    return tensor.numpy().ctypes.data


def test_a_leaf_keeps_a_fresh_gradient_without_copying_it():
    """The array a backward made for a leaf, and nothing else holds, becomes its .grad as it is
    (PyTorch's AccumulateGrad does the same): a copy would be one more pass over it, which for
    a convolution's input costs as much as a small layer. The hook sees the array on its way,
    and keeps only its address."""
    x = md.Tensor(np.ones((2, 3, 6, 6), np.float32), requires_grad=True)
    w = md.Tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
    made = []
    x.register_hook(lambda g: made.append(address(g)))
    out = md.functional.conv2d(x, w, padding=1)
    out.backward(np.ones(out.shape, np.float32))
    assert address(x.grad) == made[0]


@pytest.mark.parametrize("how", ["same array to both inputs", "array held elsewhere", "gradient= of a leaf",
                                 "a view"])
def test_a_leaf_gradient_never_shares_memory_with_another_holder(how):
    """A leaf's .grad is changed in place by optimisers: it must be its own array whenever the
    array backward produced is also reachable elsewhere."""
    a, b = md.tensor([1.0, 2.0], requires_grad=True), md.tensor([3.0, 4.0], requires_grad=True)
    held = np.array([5.0, 6.0], np.float32)
    if how == "same array to both inputs":          # Add's backward returns dout for both
        (a + b).backward(np.ones(2, np.float32))
        others = [b.grad.numpy()]
    elif how == "array held elsewhere":
        Handing.grad = held
        try:
            Handing.apply(a).sum().backward()
        finally:
            Handing.grad = None
        others = [held]
    elif how == "gradient= of a leaf":
        a.backward(held)
        others = [held]
    else:                                           # a view made for the leaf alone, of an array held elsewhere
        Handing.grad, Handing.as_view = held, True
        try:
            Handing.apply(a).sum().backward()
        finally:
            Handing.grad, Handing.as_view = None, False
        others = [held]
    assert not any(np.shares_memory(a.grad.numpy(), other) for other in others)
    before = [other.copy() for other in others]
    a.grad.numpy()[:] = -1                           # what an in-place optimiser step does
    for other, value in zip(others, before):
        np.testing.assert_array_equal(other, value)


def test_tensor_used_twice_gets_both_contributions():
    x = md.tensor([3.0], requires_grad=True)
    (x * x + x).sum().backward()  # d(x^2 + x)/dx = 2x + 1
    np.testing.assert_array_equal(x.grad, [7.0])


def test_diamond_graph():
    # x -> a = 2x, b = x^2 -> y = a * b = 2x^3;  dy/dx = 6x^2
    x = md.tensor([1.0, 2.0, -1.5], dtype=np.float64, requires_grad=True)
    a = x * 2
    b = x**2
    (a * b).sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x.data**2, rtol=1e-14)


def test_diamond_with_shared_intermediate():
    # h = x + 1 feeds three consumers: y = h*h + exp(h) + h  ->  dy/dx = 2h + exp(h) + 1
    x = md.tensor(np.array([0.5, -0.25]), requires_grad=True)
    h = x + 1
    (h * h + h.exp() + h).sum().backward()
    expected = 2 * (x.data + 1) + np.exp(x.data + 1) + 1
    np.testing.assert_allclose(x.grad, expected, rtol=1e-14)


def test_unused_branch_gets_no_gradient():
    x = md.tensor([1.0], requires_grad=True)
    w = md.tensor([2.0], requires_grad=True)
    _unused = w * 5
    (x * 3).sum().backward()
    assert w.grad is None
    np.testing.assert_array_equal(x.grad, [3.0])


def test_non_leaf_grad_is_not_kept():
    x = md.tensor([1.0], requires_grad=True)
    h = x * 2
    (h * 3).sum().backward()
    assert h.grad is None and not h.is_leaf


# ---------------------------------------------------------------- backward errors
def test_backward_on_non_scalar_needs_grad():
    y = md.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(2,\)"):
        y.backward()


def test_backward_with_explicit_grad():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -3.0])
    assert x.grad.dtype == np.float32  # a float64 upstream gradient takes the tensor's dtype


def test_backward_with_wrong_grad_shape_raises():
    y = md.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.tensor([1.0]).sum().backward()


def test_function_returning_wrong_number_of_grads_raises():
    class Broken(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, dout):
            return (dout,)

    x = md.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Broken.backward returned 1 gradients for 2 inputs"):
        Broken.apply(x, x).sum().backward()


def test_function_returning_wrong_grad_shape_raises():
    class Broken(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dout):
            return dout.sum(keepdims=True)

    x = md.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient of shape \(1,\) for an input of shape \(2,\)"):
        Broken.apply(x).sum().backward()


def test_gradient_takes_the_dtype_of_its_tensor():
    class Upcasting(Function):
        """out = 2a, with a backward that (wrongly) computes in float64."""

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, dout):
            return dout * np.float64(2.0) * np.ones(dout.shape)

    x = md.tensor([1.0, 2.0], requires_grad=True)
    Upcasting.apply(x).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_extras_of_a_function_carry_no_gradient():
    class MaxWithIndex(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.index, ctx.shape = int(np.argmax(a)), a.shape
            return a.max(), np.argmax(a)

        @staticmethod
        def backward(ctx, dout):
            da = np.zeros(ctx.shape, dtype=dout.dtype)
            da[ctx.index] = dout
            return da

    x = md.tensor([1.0, 5.0, 2.0], requires_grad=True)
    out, index = MaxWithIndex.apply(x)
    assert index.item() == 1 and not index.requires_grad
    out.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


def test_cast_to_integer_cuts_the_graph():
    x = md.tensor([1.5, 2.5], requires_grad=True)
    assert not x.astype(np.int64).requires_grad
    assert x.astype(np.float64).requires_grad


# ---------------------------------------------------------------- broadcasting
def test_unbroadcast_by_hand():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (2, 3, 4)), g)
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    np.testing.assert_array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (2, 1, 4)), g.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(unbroadcast(g, (1, 1, 1)), g.sum().reshape(1, 1, 1))


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [
        ((2, 3), ()),  # scalar
        ((), (2, 3)),
        ((4, 2, 3), (3,)),  # leading axes
        ((2, 3), (2, 1)),  # size-1 axis
        ((2, 1, 3), (1, 4, 1)),  # both operands broadcast
        ((5, 1), (1, 1, 4)),  # both, with a leading axis
        ((1,), (3, 1)),
    ],
)
def test_broadcasting_gradients_by_hand(shape_a, shape_b):
    # For out = a * b broadcast to S, each element of a meets every b it was paired with:
    # da[i] = sum over the positions j of S that a[i] was copied to of dout[j] * b[j].
    rng = np.random.default_rng(0)
    a_val, b_val = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = md.tensor(a_val, requires_grad=True), md.tensor(b_val, requires_grad=True)
    out = a * b
    shape = np.broadcast_shapes(shape_a, shape_b)
    assert out.shape == shape
    dout = rng.standard_normal(shape)
    out.backward(dout)

    expected_a, expected_b = np.zeros(shape_a), np.zeros(shape_b)
    a_full, b_full = np.broadcast_to(a_val, shape), np.broadcast_to(b_val, shape)
    for j in np.ndindex(*shape):
        i_a = tuple(k if n > 1 else 0 for k, n in zip(j[len(j) - len(shape_a):], shape_a))
        i_b = tuple(k if n > 1 else 0 for k, n in zip(j[len(j) - len(shape_b):], shape_b))
        expected_a[i_a] += dout[j] * b_full[j]
        expected_b[i_b] += dout[j] * a_full[j]
    np.testing.assert_allclose(a.grad, expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, expected_b, rtol=1e-12, atol=1e-12)


@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(["add", "sub", "mul", "div"]),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_gradcheck(shapes, op, seed):
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape_a)
    b = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)  # keep divisors away from 0
    fns = {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
    }
    assert gradcheck(fns[op], [a, b])


# ---------------------------------------------------------------- hooks and retain_grad
def test_hook_observes_the_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.clone()))
    (h * h).sum().backward()  # d(h^2)/dh = 2h
    assert isinstance(seen[0], md.Tensor)  # hooks receive Tensors, as in PyTorch
    np.testing.assert_array_equal(seen[0], 2 * h.numpy())
    np.testing.assert_array_equal(x.grad, 3 * 2 * h.numpy())


def test_hook_replaces_the_gradient_flowing_on():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.register_hook(lambda g: g * 10)
    h.sum().backward()
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])


def test_hook_on_leaf_replaces_the_stored_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: np.zeros_like(g))
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_hook_handle_removes_the_hook():
    x = md.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_hook_returning_wrong_shape_raises():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook returned a gradient of shape \(\) for a tensor of shape \(2,\)"):
        h.sum().backward()


def test_hook_is_called_once_with_the_complete_gradient():
    x = md.tensor([1.0], requires_grad=True)
    h = x * 1
    calls = []
    h.register_hook(lambda g: calls.append(g.clone()))
    (h * 2 + h * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [5.0])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.numpy())
    np.testing.assert_array_equal(x.grad, 3 * 2 * h.numpy())


# ---------------------------------------------------------------- deep graphs and memory
def test_deep_graph_has_no_recursion_limit():
    x = md.tensor([1.0], dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**5000], rtol=1e-10)


def test_graph_is_freed_with_its_output():
    x = md.tensor(np.ones(3), requires_grad=True)
    h = x.exp()
    y = (h * 2).sum()
    intermediate = weakref.ref(h)
    del h
    gc.collect()
    assert intermediate() is not None  # y's graph still needs exp's input and output
    y.backward()
    del y
    gc.collect()
    assert intermediate() is None  # no cycles: dropping the output frees the graph


# ---------------------------------------------------------------- comparisons and NumPy interplay
def test_comparisons_return_boolean_tensors_without_grad():
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = md.tensor([3.0, 2.0, 1.0])
    cases = {
        "lt": (x < y, [True, False, False]),
        "le": (x <= 2.0, [True, True, False]),
        "gt": (x > y, [False, False, True]),
        "ge": (x >= 2, [False, True, True]),
        "eq": (x.eq(y), [False, True, False]),
    }
    for result, expected in cases.values():
        assert isinstance(result, md.Tensor) and result.dtype == np.bool_
        assert not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_ndarray_op_tensor_uses_the_reflected_op():
    a = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    x = md.tensor([2.0, 2.0, 2.0], requires_grad=True)
    cases = [
        (a + x, a + 2, np.ones(3)),
        (a - x, a - 2, -np.ones(3)),
        (a * x, a * 2, a),
        (a / x, a / 2, -a / 4),
        (a @ x, a @ x.data, a),
    ]
    for out, value, grad in cases:
        assert isinstance(out, md.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.data, value, rtol=1e-7)
        x.zero_grad()
        out.sum().backward()
        np.testing.assert_allclose(x.grad, grad, rtol=1e-7)
    compared = a < x
    assert isinstance(compared, md.Tensor)
    np.testing.assert_array_equal(compared.data, [True, False, False])


def test_numpy_float64_scalars_do_not_upcast():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    for out in (np.float64(2.0) * x, x * np.float64(2.0), np.float64(1.0) - x, x / np.float64(3.0)):
        assert isinstance(out, md.Tensor) and out.dtype == np.float32


# ---------------------------------------------------------------- in-place changes and versions
def test_in_place_change_of_a_read_only_array_names_the_operation():
    array = np.zeros(3, dtype=np.float32)
    array.flags.writeable = False
    t = md.from_numpy(array)
    with pytest.raises(ValueError, match="zero_: this tensor's array is read-only.*clone"):
        t.zero_()
    assert t.clone().zero_().numpy().flags.writeable


@pytest.mark.parametrize("change", [
    lambda x: x.zero_(), lambda x: x.fill_(2.0), lambda x: x.copy_(np.ones(3)), lambda x: x.add_(1.0),
    lambda x: x.mul_(2.0), lambda x: x.clamp_(0.0, 0.5), lambda x: x.__setitem__(0, 4.0),
    lambda x: x.data.add_(1.0), lambda x: x.detach().zero_(),
])
def test_every_in_place_change_of_a_saved_input_is_refused_at_backward(change):
    w = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = md.tensor([0.5, -1.0, 2.0])
    loss = (w * x).sum()
    with md.no_grad():
        change(x)
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(3,\)\) of Mul was modified by an in-place operation"):
        loss.backward()
    assert w.grad is None


def test_an_in_place_change_of_a_saved_output_is_refused():
    x = md.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()  # exp saves its output for the backward
    z = y.sum()
    with md.no_grad():
        y.mul_(0.0)
    with pytest.raises(RuntimeError, match="was modified by an in-place operation"):
        z.backward()


def test_changes_before_the_forward_pass_are_fine():
    w = md.tensor([1.0, 2.0], requires_grad=True)
    with md.no_grad():
        w.mul_(2.0)
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 8.0])


def test_grad_is_a_tensor_and_assignment_checks_the_shape():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    assert isinstance(x.grad, md.Tensor) and x.grad.dtype == np.float32
    x.grad = np.zeros(2)  # an ndarray stays a convenience, cast to the tensor's dtype
    assert isinstance(x.grad, md.Tensor) and x.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) to a tensor of shape \(2,\)"):
        x.grad = np.zeros(3)


def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    x = md.tensor([[1.0, 5.0], [7.0, 2.0]], requires_grad=True)
    d = x.data
    assert isinstance(d, md.Tensor) and not d.requires_grad and np.shares_memory(d.numpy(), x.numpy())
    values, indices = x.data.max(1)  # NumPy's max(1) gave values only: the trap of ``_, pred = max(out.data, 1)``
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    x.data = np.zeros((2, 2), dtype=np.float32)  # assigning replaces the values
    np.testing.assert_array_equal(x.numpy(), 0.0)


@pytest.mark.parametrize("change", [
    lambda w: w[0].zero_(), lambda w: w.view(-1).mul_(0.0), lambda w: w.detach()[1:].fill_(7.0),
    lambda w: next(iter(w)).fill_(3.0), lambda w: w.reshape(3, 1).T.add_(1.0),
])
def test_an_in_place_change_through_a_view_is_a_change_of_its_base(change):
    w = md.ones(3, requires_grad=True)
    z = (w * w).sum()
    with md.no_grad():
        change(w)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_a_new_array_has_its_own_version():
    w = md.ones(3, requires_grad=True)
    z = (w * w).sum()
    with md.no_grad():
        (w * 2).zero_()        # a new tensor: w is untouched
        w[[0, 1]].zero_()      # advanced indexing copies
    z.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])
