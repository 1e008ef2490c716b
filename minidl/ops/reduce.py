"""Reductions over axes: sum, mean, max and min (with their indices), amax and amin, argmax, norm.

The backward of a reduction spreads dout back over the axes that were reduced. With
``keepdim=False`` those axes were removed, so they are first re-inserted as size-1 axes
(``_expand``) and then broadcast to the input's shape.
"""

import builtins

import numpy as np

from minidl.function import Function
from minidl.ops.arith import where
from minidl.tensor import MaxResult, MinResult, Tensor


def _axes(dim, ndim):
    """Normalise ``dim`` (None, an int or a tuple, negatives allowed) to a sorted tuple of axes.

    A 0-d tensor accepts dim 0 or -1 (as PyTorch) and has no axis to reduce.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, tuple | list) else (dim,)
    limit = builtins.max(ndim, 1)
    for d in dims:
        if not -limit <= d < limit:
            raise IndexError(f"reduction: dim {d} is out of range for a tensor with {ndim} dimensions")
    axes = sorted(int(d) % limit for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"reduction: dim {dim} names the same dimension twice")
    return tuple(axes) if ndim else ()


def _expand(dout, axes, keepdim):
    """Re-insert the reduced axes as size 1 so dout broadcasts against the input."""
    return dout if keepdim else np.expand_dims(dout, axes)


class Sum(Function):
    """out = sum of a over ``axes``;  da = dout broadcast back over those axes."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        return np.asarray(a.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, dout):
        return np.broadcast_to(_expand(dout, ctx.axes, ctx.keepdim), ctx.shape).copy()


class Mean(Function):
    """out = mean of a over ``axes``;  da = dout / n broadcast back (n = elements averaged)."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.count = int(np.prod([a.shape[i] for i in axes]))
        return np.asarray(a.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, dout):
        grad = _expand(dout, ctx.axes, ctx.keepdim) / ctx.count  # an int count keeps dout's dtype
        return np.broadcast_to(grad, ctx.shape).copy()


class Max(Function):
    """out = max of a over ``axes``.

    da = dout at the positions that hold the maximum, 0 elsewhere; when several positions tie
    the gradient is shared equally among them (as ``torch.amax``), which keeps the result a
    valid subgradient and the numerical gradient check exact.
    """

    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, a, axes=(), keepdim=False):
        out = np.asarray(cls.reduce(a, axis=axes, keepdims=True))
        if ctx.needs_input_grad[0]:
            winners = a == out
            ctx.save_for_backward(winners / winners.sum(axis=axes, keepdims=True, dtype=a.dtype))
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, dout):
        (share,) = ctx.saved_tensors
        return _expand(dout, ctx.axes, ctx.keepdim) * share


class Min(Max):
    """out = min of a over ``axes``; the gradient goes to the minima (shared on ties)."""

    reduce = staticmethod(np.min)


class MaxAlong(Function):
    """(values, indices) = the max of a along one axis and where it is (``torch.max(a, dim)``).

    da = dout placed at the returned index of each slice, 0 elsewhere: on ties the whole
    gradient goes to the index that was returned (the first), as in PyTorch, unlike ``amax``.
    """

    pick = staticmethod(np.argmax)

    @classmethod
    def forward(cls, ctx, a, axis=0, keepdim=False):
        indices = np.expand_dims(cls.pick(a, axis=axis), axis)
        values = np.take_along_axis(a, indices, axis=axis)
        ctx.shape, ctx.axis, ctx.keepdim, ctx.indices = a.shape, axis, keepdim, indices
        if not keepdim:
            values, indices = np.squeeze(values, axis), np.squeeze(indices, axis)
        return values, indices.astype(np.int64)

    @staticmethod
    def backward(ctx, dout):
        da = np.zeros(ctx.shape, dtype=dout.dtype)
        np.put_along_axis(da, ctx.indices, _expand(dout, (ctx.axis,), ctx.keepdim), axis=ctx.axis)
        return da


class MinAlong(MaxAlong):
    """(values, indices) = the min of a along one axis; the gradient goes to the returned index."""

    pick = staticmethod(np.argmin)


class Norm2(Function):
    """out = sqrt(sum of a**2 over ``axes``);  da = dout * a / out, and 0 where out is 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, axes=(), keepdim=False):
        out = np.sqrt(np.sum(a * a, axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, dout):
        a, out = ctx.saved_tensors
        safe = np.where(out == 0, 1, out)
        return np.where(out == 0, 0, _expand(dout, ctx.axes, ctx.keepdim) * a / safe)


def sum(a, dim=None, keepdim=False):
    return Sum.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)


def mean(a, dim=None, keepdim=False):
    return Mean.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)


def _along(name, a, dim, keepdim, function, result):
    """``max``/``min`` with ``dim``: one axis, the named tuple ``(values, indices)``."""
    if isinstance(dim, tuple | list):
        raise TypeError(
            f"{name}: dim must be one int, got {dim}; for several dims use a.a{name}(dim={tuple(dim)}) "
            f"(values only, ties share the gradient)"
        )
    (axis,) = _axes(dim, a.ndim) or (0,)
    if a.ndim and a.shape[axis] == 0:
        raise IndexError(f"{name}: cannot take the {name} along dimension {dim} of size 0 (shape {a.shape})")
    if a.ndim == 0:
        return result(a.clone(), Tensor(np.zeros((), dtype=np.int64)))
    values, indices = function.apply(a, axis=axis, keepdim=keepdim)
    return result(values, indices)


def max(a, dim=None, keepdim=False, *, axis=None):
    """The largest element (ties share the gradient), or with ``dim`` the named tuple (values, indices).

    ``max(a, b)`` with a Tensor ``b`` is the elementwise ``maximum``, as ``torch.max(input, other)``.
    """
    if isinstance(dim, Tensor):
        return maximum(a, dim)
    dim = _dim_or_axis(dim, axis)
    if dim is None:
        return amax(a)
    return _along("max", a, dim, keepdim, MaxAlong, MaxResult)


def min(a, dim=None, keepdim=False, *, axis=None):
    """The smallest element (ties share the gradient), or with ``dim`` the named tuple (values, indices).

    ``min(a, b)`` with a Tensor ``b`` is the elementwise ``minimum``.
    """
    if isinstance(dim, Tensor):
        return minimum(a, dim)
    dim = _dim_or_axis(dim, axis)
    if dim is None:
        return amin(a)
    return _along("min", a, dim, keepdim, MinAlong, MinResult)


def _dim_or_axis(dim, axis):
    """PyTorch takes ``axis`` as NumPy's name for ``dim``."""
    return axis if dim is None else dim


def maximum(a, b):
    """The elementwise larger of ``a`` and ``b``; where they are equal each gets half the gradient."""
    return _extreme(a, b, True)


def minimum(a, b):
    """The elementwise smaller of ``a`` and ``b``; where they are equal each gets half the gradient."""
    return _extreme(a, b, False)


def _extreme(a, b, larger):
    a_wins = (a > b) if larger else (a < b)
    tie = (a == b).numpy()
    # torch.maximum's gradient on ties: half to each side, so the two halves add up to dout.
    return where(a_wins.numpy() & ~tie, a, where(tie, (a + b) * 0.5, b))


def _nonempty(name, a, axes):
    if any(a.shape[i] == 0 for i in axes):
        raise IndexError(f"{name}: cannot reduce an empty dimension (shape {a.shape}, dims {axes})")


def amax(a, dim=None, keepdim=False, *, axis=None):
    """The maximum over ``dim`` (None: all, or a tuple of dims); ties share the gradient equally."""
    axes = _axes(_dim_or_axis(dim, axis), a.ndim)
    _nonempty("amax", a, axes)
    return Max.apply(a, axes=axes, keepdim=keepdim)


def amin(a, dim=None, keepdim=False, *, axis=None):
    """The minimum over ``dim`` (None: all, or a tuple of dims); ties share the gradient equally."""
    axes = _axes(_dim_or_axis(dim, axis), a.ndim)
    _nonempty("amin", a, axes)
    return Min.apply(a, axes=axes, keepdim=keepdim)


def argmax(a, dim=None, keepdim=False, *, axis=None):
    """Index of the largest element (flattened when ``dim`` is None), as an int64 Tensor."""
    return _arg("argmax", np.argmax, a, _dim_or_axis(dim, axis), keepdim)


def argmin(a, dim=None, keepdim=False, *, axis=None):
    """Index of the smallest element (flattened when ``dim`` is None), as an int64 Tensor."""
    return _arg("argmin", np.argmin, a, _dim_or_axis(dim, axis), keepdim)


def _arg(name, pick, a, dim, keepdim):
    if isinstance(dim, tuple | list):
        raise TypeError(f"{name}: dim must be one int or None, got {dim}")
    array = a.numpy()
    # Along a dim of size > 0 an empty batch has an (empty) answer, as in PyTorch.
    reduced_empty = a.numel() == 0 if dim is None else (a.ndim > 0 and a.shape[_axes(dim, a.ndim)[0]] == 0)
    if reduced_empty:
        raise IndexError(f"{name}: cannot take the {name} of an empty tensor (shape {tuple(a.shape)}, dim {dim})")
    if dim is None:
        index = pick(array)
        return Tensor(np.full((1,) * a.ndim if keepdim else (), index, dtype=np.int64))
    (axis,) = _axes(dim, a.ndim) or (None,)
    return Tensor(np.asarray(pick(array, axis=axis, keepdims=keepdim), dtype=np.int64))


def norm(a, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements by default): 2 ("fro"), 1, inf, -inf or any other p > 0."""
    if isinstance(dim, int):
        dim = (dim,)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)
    if p == np.inf:
        return amax(a.abs(), dim, keepdim)
    if p == -np.inf:
        return amin(a.abs(), dim, keepdim)
    if isinstance(p, bool) or not isinstance(p, int | float) or not p > 0:
        raise ValueError(f"norm: p must be 'fro', inf, -inf or a number > 0, got {p!r}")
    if p == 1:
        return sum(a.abs(), dim, keepdim)
    return sum(a.abs() ** p, dim, keepdim) ** (1.0 / p)
