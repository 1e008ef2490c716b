"""Reductions over axes: sum, mean, max, min.

The backward of a reduction spreads dout back over the axes that were reduced. With
``keepdim=False`` those axes were removed, so they are first re-inserted as size-1 axes
(``_expand``) and then broadcast to the input's shape.
"""

import builtins

import numpy as np

from minidl.function import Function


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


def sum(a, dim=None, keepdim=False):
    return Sum.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)


def mean(a, dim=None, keepdim=False):
    return Mean.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)


def max(a, dim=None, keepdim=False):
    return Max.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)


def min(a, dim=None, keepdim=False):
    return Min.apply(a, axes=_axes(dim, a.ndim), keepdim=keepdim)
