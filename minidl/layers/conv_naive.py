"""Convolution written with explicit loops: the version to write first, and to read.

One output value is one window of the padded input multiplied elementwise by one filter and
summed. These loops compute exactly that, one (n, f, y, x) at a time, so they are slow but
each line matches a term of the formula

    out[n, f, y, x] = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[n, g*C/G + c, y*SH + i*DH, x*SW + j*DW]

``minidl.layers.conv`` computes the same thing with im2col and matrix products; the tests
hold the two equal.
"""

import numpy as np

from minidl import kernels


def conv2d_naive_forward(x, weight, bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Forward pass of a 2-D convolution, one output value at a time.

    Args:
        x: (N, C, H, W) input.
        weight: (F, C/groups, KH, KW) filters.
        bias: (F,) or None.
        stride, padding, dilation: pairs of ints (vertical, horizontal).
        groups: number of channel blocks.
    Returns:
        out: (N, F, H', W').
        cache: (x, weight, bias, stride, padding, dilation, groups).
    """
    n_batch, _, h, w = x.shape
    n_filters, channels_per_group, kh, kw = weight.shape
    filters_per_group = n_filters // groups
    (sh, sw), (dil_h, dil_w) = stride, dilation
    out_h, out_w = kernels.output_size("conv2d", (h, w), (kh, kw), stride, padding, dilation)
    xp = kernels.pad2d(x, padding)

    out = np.zeros((n_batch, n_filters, out_h, out_w), dtype=x.dtype)
    for n in range(n_batch):
        for f in range(n_filters):
            group = f // filters_per_group
            channels = slice(group * channels_per_group, (group + 1) * channels_per_group)
            for oy in range(out_h):
                for ox in range(out_w):
                    # The window starts at (oy*SH, ox*SW) and takes every DH-th row, DW-th column.
                    rows = slice(oy * sh, oy * sh + dil_h * (kh - 1) + 1, dil_h)
                    cols = slice(ox * sw, ox * sw + dil_w * (kw - 1) + 1, dil_w)
                    window = xp[n, channels, rows, cols]
                    out[n, f, oy, ox] = np.sum(window * weight[f])
            if bias is not None:
                out[n, f] += bias[f]

    cache = (x, weight, bias, stride, padding, dilation, groups)
    return out, cache


def conv2d_naive_backward(dout, cache):
    """Backward pass of ``conv2d_naive_forward``, looping over the same windows.

    Every output value out[n, f, y, x] = sum(window * w[f]) + b[f] sends its gradient back:
        d(window) += dout[n, f, y, x] * w[f]      (onto the input pixels the window read)
        dw[f]     += dout[n, f, y, x] * window
        db[f]     += dout[n, f, y, x]
    Returns:
        dx: (N, C, H, W); dw: (F, C/groups, KH, KW); db: (F,), or None when there was no bias.
    """
    x, weight, bias, stride, padding, dilation, groups = cache
    n_batch, n_filters, out_h, out_w = dout.shape
    _, channels_per_group, kh, kw = weight.shape
    filters_per_group = n_filters // groups
    (sh, sw), (ph, pw), (dil_h, dil_w) = stride, padding, dilation
    xp = kernels.pad2d(x, padding)

    dxp = np.zeros_like(xp)
    dw = np.zeros_like(weight)
    for n in range(n_batch):
        for f in range(n_filters):
            group = f // filters_per_group
            channels = slice(group * channels_per_group, (group + 1) * channels_per_group)
            for oy in range(out_h):
                for ox in range(out_w):
                    rows = slice(oy * sh, oy * sh + dil_h * (kh - 1) + 1, dil_h)
                    cols = slice(ox * sw, ox * sw + dil_w * (kw - 1) + 1, dil_w)
                    dxp[n, channels, rows, cols] += dout[n, f, oy, ox] * weight[f]
                    dw[f] += dout[n, f, oy, ox] * xp[n, channels, rows, cols]

    db = dout.sum(axis=(0, 2, 3)) if bias is not None else None
    # The padding is not part of the input: drop its gradient.
    dx = dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return dx, dw, db
