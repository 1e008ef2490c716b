"""Tasks 2.1 and 2.2: max pooling with its switches, average and global average pooling.

Pooling slides a window of PH x PW with stride S over each channel separately (no padding here).
With H' = (H - PH) // S + 1 and W' = (W - PW) // S + 1:

    max:     out[n, c, i, j] = max_{k < PH, l < PW} x[n, c, iS + k, jS + l]
    average: out[n, c, i, j] = (1 / (PH PW)) sum_{k, l} x[n, c, iS + k, jS + l]
    global:  out[n, c]       = (1 / (H W)) sum_{y, x} x[n, c, y, x]

Max pooling remembers *where* each maximum was: its switch, the flat index y * W + x of the
winning pixel in its (H, W) plane (PyTorch's ``return_indices``). On a tie the first maximum in
row-major order wins. The backward pass sends each dout to its switch, and when windows overlap
(S < PH) one pixel can win several windows: it receives the *sum* of their gradients. Zeiler and
Fergus's deconvnet unpools through the same switches (homework 5).

Average pooling spreads each dout evenly, dout / (PH PW), over its window; global average
pooling over the whole plane, dout / (H W).
"""

import numpy as np


def max_pool_forward(x, pool_param):
    """Max pooling, one window at a time.

    Args:
        x: (N, C, H, W).
        pool_param: {"pool_height": PH, "pool_width": PW, "stride": S}.
    Returns:
        out: (N, C, H', W').
        cache: (switches, x.shape), switches an int64 (N, C, H', W') array of flat indices y * W + x
            into each (H, W) plane, the first maximum in row-major order on a tie.
    """
    ### BEGIN SOLUTION
    pool_h, pool_w, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n_images, channels, height, width = x.shape
    out_h, out_w = (height - pool_h) // stride + 1, (width - pool_w) // stride + 1
    out = np.zeros((n_images, channels, out_h, out_w), dtype=x.dtype)
    switches = np.zeros((n_images, channels, out_h, out_w), dtype=np.int64)
    for n in range(n_images):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * stride:i * stride + pool_h, j * stride:j * stride + pool_w]
                    k, l = np.unravel_index(np.argmax(window), window.shape)   # argmax: the first maximum
                    out[n, c, i, j] = window[k, l]
                    switches[n, c, i, j] = (i * stride + k) * width + j * stride + l
    return out, (switches, x.shape)
    ### END SOLUTION


def max_pool_backward(dout, cache):
    """Each dout[n, c, i, j] added to the input pixel its switch names.

    Args:
        dout: (N, C, H', W'); cache: (switches, x_shape) from ``max_pool_forward``.
    Returns:
        dx: x_shape, zero except at the switches; a pixel that won several windows gets the sum.
    """
    ### BEGIN SOLUTION
    switches, x_shape = cache
    width = x_shape[3]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    row, col = divmod(int(switches[n, c, i, j]), width)
                    dx[n, c, row, col] += dout[n, c, i, j]
    return dx
    ### END SOLUTION


def avg_pool_forward(x, pool_param):
    """Average pooling, vectorised: loop over the window's taps (PH * PW of them) only.

    Args:
        x: (N, C, H, W); pool_param as for max pooling.
    Returns:
        out: (N, C, H', W'); cache: (x.shape, pool_param).
    """
    ### BEGIN SOLUTION
    pool_h, pool_w, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out_h, out_w = (x.shape[2] - pool_h) // stride + 1, (x.shape[3] - pool_w) // stride + 1
    out = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
    for k in range(pool_h):
        for l in range(pool_w):
            out += x[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride]
    return out / (pool_h * pool_w), (x.shape, pool_param)
    ### END SOLUTION


def avg_pool_backward(dout, cache):
    """dout / (PH PW) added to every pixel of its window (overlapping windows add up); vectorised.

    Returns:
        dx: (N, C, H, W).
    """
    ### BEGIN SOLUTION
    x_shape, pool_param = cache
    pool_h, pool_w, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out_h, out_w = dout.shape[2:]
    share = dout / (pool_h * pool_w)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k in range(pool_h):
        for l in range(pool_w):
            dx[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride] += share
    return dx
    ### END SOLUTION


def global_avg_pool_forward(x):
    """(N, C, H, W) -> (N, C), the mean of each plane; cache: x.shape."""
    ### BEGIN SOLUTION
    return x.mean(axis=(2, 3)), x.shape
    ### END SOLUTION


def global_avg_pool_backward(dout, cache):
    """(N, C) -> (N, C, H, W): dout / (H W) everywhere in each plane."""
    ### BEGIN SOLUTION
    n_images, channels, height, width = cache
    return np.broadcast_to(dout[:, :, None, None] / (height * width), cache).copy()
    ### END SOLUTION
