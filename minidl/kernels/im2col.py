"""im2col and col2im in plain NumPy: the trick that turns a convolution into one matrix product.

A convolution multiplies every K = C*KH*KW input patch by the same filters. ``im2col`` copies
each patch into a column, giving a matrix of shape (N, C*KH*KW, H'*W'), so that

    out[n] = weight.reshape(F, C*KH*KW) @ cols[n]          # (F, H'*W')

``col2im`` is its adjoint: it adds every column back onto the input positions it was copied
from. Where windows overlap (stride < kernel) a position receives the sum of all columns that
read it, which is exactly the gradient of the copy.

Both work on a padded input. Row order of the columns is (c, kh, kw), matching an OIHW weight
reshaped to (F, C*KH*KW). Because the channel comes first, the rows of channel block g (a group
of a grouped convolution) are one contiguous block of rows.

These are the readable reference versions; ``im2col_numba`` holds the fast twins that run by
default. Both accept ``out=``, a preallocated result array that a layer reuses from call to
call instead of allocating a new large matrix each time.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad2d(x, padding, value=0.0):
    """Pad the last two axes of ``x`` (N, C, H, W) by ``padding = (ph, pw)`` on each side."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def sliding_windows(xp, kernel, stride, dilation, out_hw):
    """A read-only view of shape (N, C, KH, KW, H', W') of every window of the padded ``xp``.

    ``view[n, c, i, j, y, x] = xp[n, c, y*SH + i*DH, x*SW + j*DW]``; no data is copied.
    """
    n, c, _, _ = xp.shape
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    s_n, s_c, s_h, s_w = xp.strides
    return as_strided(
        xp,
        shape=(n, c, kh, kw, oh, ow),
        strides=(s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw),
        writeable=False,
    )


def im2col(x, kernel, stride, padding, dilation, out_hw, out=None):
    """Columns of every receptive field of ``x``.

    Args:
        x: (N, C, H, W) input, unpadded.
        kernel, stride, padding, dilation: pairs; out_hw: (H', W') from ``shapes.output_size``.
        out: optional (N, C*KH*KW, H'*W') array to write the columns into.
    Returns:
        cols: (N, C*KH*KW, H'*W'), a contiguous copy (``out`` when given).
    """
    n, c = x.shape[:2]
    windows = sliding_windows(pad2d(x, padding), kernel, stride, dilation, out_hw)
    cols = windows.reshape(n, c * kernel[0] * kernel[1], out_hw[0] * out_hw[1])
    if out is None:
        return cols
    out[...] = cols
    return out


def col2im(cols, x_shape, kernel, stride, padding, dilation, out_hw, out=None):
    """Adjoint of ``im2col``: add every column back onto the input positions it came from.

    Args:
        cols: (N, C*KH*KW, H'*W').
        x_shape: (N, C, H, W) of the unpadded input.
        out: optional (N, C, H, W) array to write dx into.
    Returns:
        dx: (N, C, H, W); position (h, w) holds the sum over all windows and taps that read it.
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    taps = cols.reshape(n, c, kh, kw, oh, ow)
    # One strided slice per kernel tap (i, j): the tap touches rows i*DH, i*DH+SH, ... of the
    # padded input. Within one tap no two windows touch the same position, so += is safe.
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            dxp[:, :, rows, columns] += taps[:, :, i, j]
    dx = dxp[:, :, ph:ph + h, pw:pw + w]
    if out is None:
        return dx
    out[...] = dx
    return out
