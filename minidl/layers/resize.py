"""Resizing images as forward/backward pairs: nearest-neighbour and bilinear upsampling (or
downsampling) of (N, C, H, W) inputs, with PyTorch's index and weight rules.

Both are separable: output row i reads one input row (nearest) or mixes two (bilinear), and
output column j likewise, so each is computed as a 1-D resampling along W, then along H, from
per-axis tables of source indices and weights. For one axis of input size n and output size m:

- nearest: out[j] = x[src(j)] with src(j) = min(floor(j * s), n - 1), where s = n / m, or
  s = 1 / scale_factor when the caller gave a scale factor (PyTorch computes both in float32).
  m = n copies and m = 2n takes j // 2, as in PyTorch, whatever the scale factor says.
- bilinear: out[j] = (1 - l) * x[i] + l * x[i + 1] at the source coordinate r(j), i = floor(r),
  l = r - i. With align_corners=True the corner pixels' centres are aligned:
  r(j) = j * (n - 1) / (m - 1). With align_corners=False the pixel areas are aligned (a pixel
  is a unit square with its centre at index + 0.5): r(j) = s * (j + 0.5) - 0.5, clamped at 0,
  with s = n / m or 1 / scale_factor as above. At the last row, i + 1 is i itself.

The backward pass of a resampling is its adjoint: each output gradient is sent back to the
source positions it was read from, times the same weights, and summed where several outputs
read the same input. Because the source indices never decrease along an axis, those sums are
sums of consecutive slices (``np.add.reduceat``).
Arguments are assumed valid: ``minidl.functional.interpolate`` checks them.
"""

import numpy as np


def nearest_source_indices(in_size, out_size, scale=None):
    """For each of the ``out_size`` output positions along one axis, the input index it copies.

    ``scale`` is the caller's scale factor (output / input) or None. As in PyTorch, the step
    1 / scale (or in_size / out_size) and the products j * step are float32 numbers, so the
    indices match PyTorch's exactly, rounding included.
    """
    positions = np.arange(out_size)
    if out_size == in_size:
        return positions
    if out_size == 2 * in_size:
        return positions // 2
    step = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    return np.minimum(np.floor(positions.astype(np.float32) * step).astype(np.intp), in_size - 1)


def linear_source_weights(in_size, out_size, align_corners, scale, dtype):
    """For each output position along one axis: (index0, index1, lambda0, lambda1), so that
    out[j] = lambda0[j] * x[index0[j]] + lambda1[j] * x[index1[j]].

    The coordinates and weights are computed in ``dtype`` (float32 or float64), as PyTorch
    does for inputs of that dtype. ``scale`` is the caller's scale factor or None.
    """
    positions = np.arange(out_size)
    if out_size == in_size:  # copy, as in PyTorch (even if a scale factor rounded to this size)
        return positions, positions, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    grid = positions.astype(dtype)
    if align_corners:
        step = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        source = step * grid
    else:
        step = dtype(1.0 / scale) if scale else dtype(in_size) / dtype(out_size)
        source = np.maximum(step * (grid + dtype(0.5)) - dtype(0.5), dtype(0))
    index0 = np.minimum(np.floor(source).astype(np.intp), in_size - 1)
    lambda1 = np.clip(source - index0.astype(dtype), dtype(0), dtype(1))
    index1 = index0 + (index0 < in_size - 1)
    return index0, index1, dtype(1) - lambda1, lambda1


def _sum_into(values, index, size, axis):
    """The adjoint of ``np.take(x, index, axis)`` for a non-decreasing ``index``: an array with
    ``size`` entries along ``axis``, entry k holding the sum of the slices of ``values`` whose
    index is k (0 where there are none)."""
    sources, starts = np.unique(index, return_index=True)
    shape = list(values.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=values.dtype)
    where = [slice(None)] * values.ndim
    where[axis] = sources
    out[tuple(where)] = np.add.reduceat(values, starts, axis=axis)
    return out


def upsample_nearest2d_forward(x, size, scales=(None, None)):
    """Nearest-neighbour resize: out[n, c, i, j] = x[n, c, src_h(i), src_w(j)].

    Args:
        x: (N, C, H, W).
        size: (H_out, W_out).
        scales: the caller's (scale_h, scale_w) scale factors, each a float or None; they set
            the source indices (see ``nearest_source_indices``).
    Returns:
        out: (N, C, H_out, W_out).
        cache: (rows, cols, (H, W)): the source index of every output row and column.
    """
    rows = nearest_source_indices(x.shape[2], size[0], scales[0])
    cols = nearest_source_indices(x.shape[3], size[1], scales[1])
    return x[:, :, rows[:, None], cols[None, :]], (rows, cols, x.shape[2:])


def upsample_nearest2d_backward(dout, cache):
    """dx[n, c, h, w] = sum of dout[n, c, i, j] over the outputs with src_h(i) = h and
    src_w(j) = w (an input pixel copied k times receives the sum of k gradients; one that was
    skipped when downsampling receives 0).

    Returns:
        dx of shape (N, C, H, W).
    """
    rows, cols, (height, width) = cache
    return _sum_into(_sum_into(dout, cols, width, axis=3), rows, height, axis=2)


def upsample_bilinear2d_forward(x, size, align_corners=False, scales=(None, None)):
    """Bilinear resize: linear interpolation along W, then along H.

    With (w0, w1, a0, a1) the column tables and (h0, h1, b0, b1) the row tables of
    ``linear_source_weights``:

        t[n, c, h, j]   = a0[j] * x[n, c, h, w0[j]] + a1[j] * x[n, c, h, w1[j]]
        out[n, c, i, j] = b0[i] * t[n, c, h0[i], j] + b1[i] * t[n, c, h1[i], j]

    which is PyTorch's b0 * (a0 * x00 + a1 * x01) + b1 * (a0 * x10 + a1 * x11).

    Args:
        x: (N, C, H, W).
        size: (H_out, W_out).
        align_corners: see the module docstring.
        scales: the caller's (scale_h, scale_w) scale factors, each a float or None; with
            align_corners=False they set the source coordinates.
    Returns:
        out: (N, C, H_out, W_out).
        cache: (row tables, column tables, (H, W)).
    """
    row_table = linear_source_weights(x.shape[2], size[0], align_corners, scales[0], x.dtype.type)
    col_table = linear_source_weights(x.shape[3], size[1], align_corners, scales[1], x.dtype.type)
    w0, w1, a0, a1 = col_table
    h0, h1, b0, b1 = row_table
    t = x[:, :, :, w0] * a0 + x[:, :, :, w1] * a1
    out = t[:, :, h0] * b0[:, None] + t[:, :, h1] * b1[:, None]
    return out, (row_table, col_table, x.shape[2:])


def upsample_bilinear2d_backward(dout, cache):
    """The adjoint of the two interpolations, in reverse order. Each output gradient goes to
    the two rows it mixed, times their weights, then each of those to the two columns:

        dt[n, c, h, j] = sum over i with h0[i] = h of b0[i] * dout[n, c, i, j]
                       + sum over i with h1[i] = h of b1[i] * dout[n, c, i, j]
        dx[n, c, h, w] = sum over j with w0[j] = w of a0[j] * dt[n, c, h, j]
                       + sum over j with w1[j] = w of a1[j] * dt[n, c, h, j]

    Returns:
        dx of shape (N, C, H, W).
    """
    (h0, h1, b0, b1), (w0, w1, a0, a1), (height, width) = cache
    dt = _sum_into(dout * b0[:, None], h0, height, axis=2) + _sum_into(dout * b1[:, None], h1, height, axis=2)
    return _sum_into(dt * a0, w0, width, axis=3) + _sum_into(dt * a1, w1, width, axis=3)
