"""Max pooling written with loops: the version a student writes first, kept as a reference.

Same inputs, outputs and cache as ``minidl.layers.pool.max_pool2d_forward/backward``, which
the tests hold equal to these. Every output position scans its window explicitly.
"""

import numpy as np

from minidl import kernels


def max_pool2d_naive_forward(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Loop version of ``max_pool2d_forward``: (N, C, H, W) -> (N, C, H', W'), cache (switches, x_shape).

    For every output (n, c, y, x) the window's taps are visited in row-major order; a tap
    outside the input is padding and is skipped (so is a tap of a ceil_mode window that runs
    past the padding). A tap replaces the best so far only when it is
    strictly larger, so on ties the first maximum wins (as in PyTorch).
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = kernels.output_size("max_pool2d", (h, w), kernel_size, stride, padding, dilation, ceil_mode)
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    switches = np.zeros((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for y in range(oh):
                for x_out in range(ow):
                    best, best_index = None, None
                    for i in range(kh):
                        for j in range(kw):
                            row, col = y * sh + i * dh - ph, x_out * sw + j * dw - pw
                            if not (0 <= row < h and 0 <= col < w):
                                continue
                            value = x[b, ch, row, col]
                            if best is None or value > best:
                                best, best_index = value, row * w + col
                    if best is None:
                        raise ValueError("max_pool2d: a window holds padding only")
                    out[b, ch, y, x_out] = best
                    switches[b, ch, y, x_out] = best_index
    return out, (switches, x.shape)


def max_pool2d_naive_backward(dout, cache):
    """Loop version of ``max_pool2d_backward``: each dout goes to its switch, with +=.

    The += matters: when windows overlap, one input element can be the maximum of several
    windows and receives the sum of their gradients.
    """
    switches, x_shape = cache
    n, c, h, w = x_shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for b in range(n):
        for ch in range(c):
            for y in range(dout.shape[2]):
                for x_out in range(dout.shape[3]):
                    row, col = divmod(int(switches[b, ch, y, x_out]), w)
                    dx[b, ch, row, col] += dout[b, ch, y, x_out]
    return dx
