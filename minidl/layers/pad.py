"""Padding as forward/backward pairs: a constant border, or a border copied from the input
(reflect, replicate), as PyTorch's ``F.pad``.

Here ``pad`` holds one (before, after) pair per axis of x, in axis order (``F.pad`` converts
PyTorch's flat, last-axis-first tuple). A negative amount removes that many entries instead of
adding them, so ``pad`` both grows and crops:

    out_size = in_size + before + after        along every axis

Arguments are assumed valid: ``minidl.functional.pad`` checks them.
"""

import numpy as np


def _kept(size, before, after):
    """The slice of an axis of ``size`` entries that survives negative ``before`` / ``after``."""
    return slice(max(-before, 0), size - max(-after, 0))


def constant_pad_forward(x, pad, value=0.0):
    """Surround x with ``value``: out = [value] * before ++ x ++ [value] * after along each axis
    (after cropping the negative amounts).

    Shapes: x any shape; out[d] = x[d] + before_d + after_d.
    Cache: (pad, x's shape).
    """
    cropped = x[tuple(_kept(n, b, a) for n, (b, a) in zip(x.shape, pad))]
    widths = [(max(b, 0), max(a, 0)) for b, a in pad]
    return np.pad(cropped, widths, constant_values=value), (pad, x.shape)


def constant_pad_backward(dout, cache):
    """The padding is a constant and the input is copied, so dx is the part of dout where the
    input landed, and 0 where the input was cropped.

    Returns:
        dx of x's shape.
    """
    pad, shape = cache
    dx = np.zeros(shape, dtype=dout.dtype)
    inside = tuple(slice(max(b, 0), dout.shape[d] - max(a, 0)) for d, (b, a) in enumerate(pad))
    dx[tuple(_kept(n, b, a) for n, (b, a) in zip(shape, pad))] = dout[inside]
    return dx


def border_source_indices(size, before, after, mode):
    """For each output position along one axis, the input index whose value it takes.

    reflect mirrors at the edge without repeating it (3 2 1 | 0 1 2 3 | 2 1 0); replicate
    repeats the edge (0 0 0 | 0 1 2 3 | 3 3 3). Negative amounts crop after padding, as in
    PyTorch: reflect with (before, after) = (-1, 2) on 0 1 2 3 gives 1 2 3 2 1.
    """
    numpy_mode = {"reflect": "reflect", "replicate": "edge"}[mode]
    indices = np.pad(np.arange(size), (max(before, 0), max(after, 0)), mode=numpy_mode)
    return indices[_kept(len(indices), before, after)]


def border_pad_forward(x, pad, mode):
    """Pad with values taken from the input itself: out = x[..., src(j), ...] along each padded
    axis, with src from ``border_source_indices``.

    Args:
        x: any shape.
        pad: (before, after) per axis; axes with (0, 0) are left alone.
        mode: "reflect" or "replicate".
    Returns:
        out: out[d] = x[d] + before_d + after_d.
        cache: ([(axis, source indices)] for the padded axes, x's shape).
    """
    gathers = [(d, border_source_indices(x.shape[d], b, a, mode)) for d, (b, a) in enumerate(pad) if (b, a) != (0, 0)]
    out = x
    for axis, indices in gathers:
        out = np.take(out, indices, axis=axis)
    return out, (gathers, x.shape)


def border_pad_backward(dout, cache):
    """Each input entry receives the gradients of every output that copied it: along each padded
    axis, in reverse order, dx[i] = sum of dout[j] over the j with src(j) = i (an edge entry that
    reflect copies twice gets two contributions besides its own).

    Returns:
        dx of x's shape.
    """
    gathers, shape = cache
    grad = dout
    for axis, indices in reversed(gathers):
        summed = np.zeros(grad.shape[:axis] + (shape[axis],) + grad.shape[axis + 1:], dtype=grad.dtype)
        np.add.at(np.moveaxis(summed, axis, 0), indices, np.moveaxis(grad, axis, 0))
        grad = summed
    return grad
