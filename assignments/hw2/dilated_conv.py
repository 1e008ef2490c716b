"""Task 2.4: dilated (atrous) convolution.

A dilation d spreads the kernel's taps d pixels apart: a 3x3 kernel with d = 2 covers 5x5 with
9 weights. With padding P and stride S,

    out[n, f, i, j] = b[f] + sum_{c, k, l} w[f, c, k, l] xp[n, c, iS + k d, jS + l d]

H' = (H + 2P - d (HH - 1) - 1) // S + 1. The same numbers come from a plain convolution with the
*dilated kernel*: the kernel with d - 1 zeros inserted between its taps, of size d (HH - 1) + 1.
"""

import numpy as np


def dilate_kernel(w, dilation):
    """(F, C, HH, WW) -> (F, C, d (HH - 1) + 1, d (WW - 1) + 1): the taps d apart, zeros between."""
    ### BEGIN SOLUTION
    n_filters, channels, kernel_h, kernel_w = w.shape
    dilated = np.zeros((n_filters, channels, dilation * (kernel_h - 1) + 1, dilation * (kernel_w - 1) + 1),
                       dtype=w.dtype)
    dilated[:, :, ::dilation, ::dilation] = w
    return dilated
    ### END SOLUTION


def dilated_conv_forward(x, w, b, conv_param):
    """A dilated convolution (loops are fine here).

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,).
        conv_param: {"stride": S, "pad": P, "dilation": d}.
    Returns:
        out: (N, F, H', W') with H' = (H + 2P - d (HH - 1) - 1) // S + 1, likewise W'.
    """
    ### BEGIN SOLUTION
    stride, pad, dilation = conv_param["stride"], conv_param["pad"], conv_param["dilation"]
    n_images, _, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = w.shape
    span_h, span_w = dilation * (kernel_h - 1) + 1, dilation * (kernel_w - 1) + 1
    out_h, out_w = (height + 2 * pad - span_h) // stride + 1, (width + 2 * pad - span_w) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n_images, n_filters, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, :, i * stride:i * stride + span_h:dilation, j * stride:j * stride + span_w:dilation]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
    ### END SOLUTION
