"""Tasks 1.3-1.5: a convolution written with loops, its backward pass twice over.

The layer (CS231n's API): N images of C channels, F filters of C x HH x WW, a bias per filter,
zero padding P on each side and stride S. With xp the padded input,

    out[n, f, i, j] = b[f] + sum_{c, k, l} w[f, c, k, l] * xp[n, c, i*S + k, j*S + l]

for i < H' = (H + 2P - HH) // S + 1 and j < W' = (W + 2P - WW) // S + 1. (What deep learning calls
a convolution is this cross-correlation: the kernel is not flipped.)

Backward, each output sent its gradient dout[n, f, i, j] to what it read:

    db[f]              = sum_{n, i, j} dout[n, f, i, j]
    dw[f, c, k, l]     = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*S + k, j*S + l]
    dxp[n, c, y, x]    = sum_{f, i, j, k, l : i*S + k = y, j*S + l = x} dout[n, f, i, j] * w[f, c, k, l]

Task 1.5 reads the last sum another way: dx is a *full* convolution of dout (its outputs spread
out S apart) with the kernel flipped in both spatial axes and its channel axes swapped. That is
why the backward pass of a convolution is a convolution, and why a kernel that is not flipped
there gives a wrong gradient that still has the right shape.
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """The forward pass of a convolution, one output value at a time.

    Args:
        x: (N, C, H, W) input.
        w: (F, C, HH, WW) filters.
        b: (F,) biases.
        conv_param: {"stride": S, "pad": P}.
    Returns:
        out: (N, F, H', W') with H' = (H + 2P - HH) // S + 1, W' = (W + 2P - WW) // S + 1.
        cache: (x, w, b, conv_param).
    """
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    n_images, _, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = w.shape
    out_h = (height + 2 * pad - kernel_h) // stride + 1
    out_w = (width + 2 * pad - kernel_w) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n_images, n_filters, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kernel_h, j * stride:j * stride + kernel_w]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)
    ### END SOLUTION


def conv_backward_naive(dout, cache):
    """The backward pass of ``conv_forward_naive``, looping over the same windows.

    Args:
        dout: (N, F, H', W') upstream gradient.
        cache: (x, w, b, conv_param) from the forward pass.
    Returns:
        dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,), by the three sums of the module docstring.
    """
    ### BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n_images, n_filters, out_h, out_w = dout.shape
    _, _, kernel_h, kernel_w = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    rows = slice(i * stride, i * stride + kernel_h)
                    cols = slice(j * stride, j * stride + kernel_w)
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, db
    ### END SOLUTION


def conv_backward_flipped(dout, cache):
    """dx of the convolution as a full convolution with the flipped kernel, computed by
    ``conv_forward_naive`` (your Task 1.3).

    1. Spread dout out on the stride's grid: zeros between its values, (H' - 1) * S + 1 rows.
    2. Pad it by HH - 1 rows and WW - 1 columns on each side (a "full" convolution: every
       overlap of the kernel with it), and at the bottom and right by the rows and columns of
       the padded input that no window reached (when (H + 2P - HH) is not a multiple of S).
    3. Convolve with the kernel flipped in both spatial axes, its channel axes swapped:
       w_flipped[c, f, k, l] = w[f, c, HH - 1 - k, WW - 1 - l], no bias, stride 1, no padding.
       This gives the gradient of the padded input, (N, C, H + 2P, W + 2P).
    4. Cut the padding off.

    Args:
        dout: (N, F, H', W'); cache: (x, w, b, conv_param) from ``conv_forward_naive``.
    Returns:
        dx: (N, C, H, W), equal to ``conv_backward_naive``'s dx.
    """
    ### BEGIN SOLUTION
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n_images, channels, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = w.shape
    spread_h, spread_w = (dout.shape[2] - 1) * stride + 1, (dout.shape[3] - 1) * stride + 1
    spread = np.zeros((n_images, n_filters, spread_h, spread_w), dtype=dout.dtype)
    spread[:, :, ::stride, ::stride] = dout
    missed_h = height + 2 * pad - (spread_h + kernel_h - 1)
    missed_w = width + 2 * pad - (spread_w + kernel_w - 1)
    full = np.pad(spread, ((0, 0), (0, 0), (kernel_h - 1, kernel_h - 1 + missed_h),
                           (kernel_w - 1, kernel_w - 1 + missed_w)))
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    dxp, _ = conv_forward_naive(full, w_flipped, np.zeros(channels, dtype=w.dtype), {"stride": 1, "pad": 0})
    return dxp[:, :, pad:pad + height, pad:pad + width]
    ### END SOLUTION
