"""Elementwise arithmetic and matrix product, each a Function with its derivative.

Binary operations follow NumPy broadcasting. In the backward pass a gradient must be summed
over every axis along which its input was broadcast (``unbroadcast``): if ``b`` of shape (3,)
was added to every row of ``a`` of shape (4, 3), each element of ``b`` influenced 4 outputs,
so db is the sum of the 4 rows of dout.
"""

import numpy as np

from minidl.function import Function
from minidl import kernels
from minidl.relu_rules import current_relu_rule, relu_backward_with_rule
from minidl.tensor import Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting (leading and size-1 axes)."""
    if grad.shape == shape:
        return grad
    leading = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(leading))) if leading > 0 else grad
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _operand(value, like):
    """A Tensor, or a plain number/array taking the float dtype of the other operand.

    ``x * 0.5`` must stay float32 when x is float32: as an array, 0.5 is float64 and would
    promote every result (and gradient) after it.
    """
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind in "biuf" and like.dtype.kind == "f":
        array = array.astype(like.dtype)
    return Tensor(array)


def _pair(a, b):
    if isinstance(a, Tensor):
        return a, _operand(b, a)
    return _operand(a, b), b


class Add(Function):
    """out = a + b;  da = dout, db = dout (each summed over its broadcast axes)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        if a.shape == b.shape and a.dtype == b.dtype:
            return kernels.add(a, b)        # a residual connection's sum, on all threads
        return a + b

    @staticmethod
    def backward(ctx, dout):
        sa, sb = ctx.shapes
        return unbroadcast(dout, sa), unbroadcast(dout, sb)


class Sub(Function):
    """out = a - b;  da = dout, db = -dout."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, dout):
        sa, sb = ctx.shapes
        return unbroadcast(dout, sa), unbroadcast(-dout, sb)


class Mul(Function):
    """out = a * b;  da = dout * b, db = dout * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, dout):
        a, b = ctx.saved_tensors
        da = unbroadcast(dout * b, a.shape) if ctx.needs_input_grad[0] else None
        db = unbroadcast(dout * a, b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """out = a / b;  da = dout / b, db = -dout * a / b**2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, dout):
        a, b = ctx.saved_tensors
        da = unbroadcast(dout / b, a.shape) if ctx.needs_input_grad[0] else None
        db = unbroadcast(-dout * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """out = a ** b;  da = dout * b * a**(b-1), db = dout * out * log(a).

    As in PyTorch, da is 0 where b = 0 (a**0 is the constant 1, even at a = 0) and db is 0
    where a = 0 and b >= 0 (out is the constant 0 or 1 there); for a < 0, log(a) makes db NaN.
    """

    @staticmethod
    def forward(ctx, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, dout):
        a, b, out = ctx.saved_tensors
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** negative, log of a <= 0
            if ctx.needs_input_grad[0]:
                da = unbroadcast(dout * np.where(b == 0, 0, b * a ** (b - 1)), a.shape)
            if ctx.needs_input_grad[1]:
                db = unbroadcast(dout * np.where((a == 0) & (b >= 0), 0, out * np.log(a)), b.shape)
        return da, db


class Neg(Function):
    """out = -a;  da = -dout."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, dout):
        return -dout


class MatMul(Function):
    """out = a @ b for 2-D (or batched) matrices;  da = dout @ b^T, db = a^T @ dout.

    1-D operands are treated as NumPy does (a row or column vector that is then dropped). The
    products of matrices are ``kernels.matmul``: NumPy's, with a large one shared among minidl's
    threads.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return kernels.matmul(a, b) if a.ndim >= 2 and b.ndim >= 2 else a @ b

    @staticmethod
    def backward(ctx, dout):
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # Put back the axes that 1-D operands dropped from out (the column axis first, so that
        # for vector @ vector the 0-d dout becomes the 1x1 matrix a2 @ b2).
        d2 = dout[..., None] if b.ndim == 1 else dout
        d2 = d2[..., None, :] if a.ndim == 1 else d2
        da = db = None
        if ctx.needs_input_grad[0]:
            da = unbroadcast(kernels.matmul(d2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            db = unbroadcast(kernels.matmul(np.swapaxes(a2, -1, -2), d2), b2.shape).reshape(b.shape)
        return da, db


class Exp(Function):
    """out = exp(a);  da = dout * out."""

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, dout):
        (out,) = ctx.saved_tensors
        return dout * out


class Log(Function):
    """out = log(a);  da = dout / a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, dout):
        (a,) = ctx.saved_tensors
        return dout / a


class Sqrt(Function):
    """out = sqrt(a);  da = dout / (2 * out)."""

    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, dout):
        (out,) = ctx.saved_tensors
        return dout / (2 * out)


class Abs(Function):
    """out = |a|;  da = dout * sign(a) (0 at a = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, dout):
        (a,) = ctx.saved_tensors
        return dout * np.sign(a)


class Clip(Function):
    """out = min(max(a, low), high);  da = dout where low <= a <= high, else 0 (as PyTorch's clamp).

    At a = low the gradient passes, so ``clip(a, 0)`` differs from ``relu`` (whose gradient at 0 is 0).
    """

    @staticmethod
    def forward(ctx, a, low=None, high=None):
        inside = np.ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a >= low
        if high is not None:
            inside &= a <= high
        ctx.save_for_backward(inside)
        return np.clip(a, low, high)

    @staticmethod
    def backward(ctx, dout):
        (inside,) = ctx.saved_tensors
        return dout * inside


class Relu(Function):
    """out = max(a, 0);  da = dout where a > 0, else 0 (0 at a = 0, as PyTorch's relu).

    Inside ``minidl.relu_rules.relu_rule("guided" | "deconvnet")`` the backward pass uses that rule
    instead (read at forward time, so it holds for the graph recorded in the block).
    """

    @staticmethod
    def forward(ctx, a):
        positive = a > 0
        ctx.save_for_backward(positive)
        ctx.relu_rule = current_relu_rule()
        return np.where(positive, a, 0)

    @staticmethod
    def backward(ctx, dout):
        (positive,) = ctx.saved_tensors
        return relu_backward_with_rule(ctx.relu_rule, dout, lambda g: g * positive)


class Cast(Function):
    """out = a converted to ``dtype``;  da = dout converted back to a's dtype."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, dout):
        return dout.astype(ctx.dtype)


class Where(Function):
    """out = a where condition, else b (broadcast together);  da = dout where condition, db = dout elsewhere."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition, ctx.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, dout):
        sa, sb = ctx.shapes
        zero = np.zeros((), dtype=dout.dtype)
        return (None, unbroadcast(np.where(ctx.condition, dout, zero), sa),
                unbroadcast(np.where(ctx.condition, zero, dout), sb))


def where(condition, a, b):
    """Elementwise choice: ``a`` where ``condition`` is true, else ``b`` (``torch.where``)."""
    condition = np.asarray(condition.numpy() if isinstance(condition, Tensor) else condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)  # two numbers: the float one decides the dtype (float32), as in PyTorch
    a, b = _pair(a, b)
    return Where.apply(condition, a, b)


def add(a, b):
    return Add.apply(*_pair(a, b))


def sub(a, b):
    return Sub.apply(*_pair(a, b))


def mul(a, b):
    return Mul.apply(*_pair(a, b))


def div(a, b):
    return Div.apply(*_pair(a, b))


def pow(a, b):
    return Pow.apply(*_pair(a, b))


def neg(a):
    return Neg.apply(a)


def matmul(a, b):
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
            f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} of {a.shape} @ {b.shape} "
            f"do not broadcast"
        ) from None
    return MatMul.apply(a, b)


def exp(a):
    return Exp.apply(a)


def log(a):
    return Log.apply(a)


def sqrt(a):
    return Sqrt.apply(a)


def abs(a):
    return Abs.apply(a)


def clip(a, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(a, low=min, high=max)


def relu(a):
    return Relu.apply(a)


def cast(a, dtype):
    return Cast.apply(a, dtype=np.dtype(dtype))
