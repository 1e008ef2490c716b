"""Task 1.6: im2col, and a convolution that is one matrix product.

Every output value of a convolution is a dot product of one filter with one window of the
padded input. Write each window out as a row (im2col: "image to columns", here laid out as
rows) and the filters as columns, and all of them come out of one product:

    cols[(n, i, j), (c, k, l)] = xp[n, c, i*S + k, j*S + l]           (N*H'*W', C*HH*WW)
    out[(n, i, j), f]          = cols @ w.reshape(F, C*HH*WW).T + b    then back to (N, F, H', W')

The rows are ordered by image, then output row, then output column; the columns by channel,
then kernel row, then kernel column (C order, as ``reshape`` lays them out).

Backward, the product's gradients are products again: dw = dout_rows.T @ cols and dcols =
dout_rows @ w_rows, and col2im sends each element of dcols back to the input pixel it was
copied from, adding where windows overlap: col2im is the transpose (adjoint) of im2col.

These functions are graded as vectorised code: they may loop in Python over the kernel taps
(HH * WW iterations, a handful) but not over the images or the output positions (thousands),
which is what makes the naive version slow.
"""

import numpy as np


def im2col(x, kernel_h, kernel_w, stride, pad):
    """The windows of the padded input as rows.

    Args:
        x: (N, C, H, W); kernel_h, kernel_w: the window; stride, pad: ints.
    Returns:
        cols: (N * H' * W', C * kernel_h * kernel_w), rows and columns ordered as in the module docstring.
    """
    ### BEGIN SOLUTION
    n_images, channels, height, width = x.shape
    out_h = (height + 2 * pad - kernel_h) // stride + 1
    out_w = (width + 2 * pad - kernel_w) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.empty((n_images, channels, kernel_h, kernel_w, out_h, out_w), dtype=x.dtype)
    for k in range(kernel_h):
        for l in range(kernel_w):
            windows[:, :, k, l] = xp[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride]
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(n_images * out_h * out_w, -1)
    ### END SOLUTION


def col2im(cols, x_shape, kernel_h, kernel_w, stride, pad):
    """The transpose of ``im2col``: each element of cols added back to the input pixel it came from.

    Args:
        cols: (N * H' * W', C * kernel_h * kernel_w); x_shape: (N, C, H, W); the rest as for im2col.
    Returns:
        (N, C, H, W): padding positions dropped, overlapping windows summed.
    """
    ### BEGIN SOLUTION
    n_images, channels, height, width = x_shape
    out_h = (height + 2 * pad - kernel_h) // stride + 1
    out_w = (width + 2 * pad - kernel_w) // stride + 1
    windows = cols.reshape(n_images, out_h, out_w, channels, kernel_h, kernel_w).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((n_images, channels, height + 2 * pad, width + 2 * pad), dtype=cols.dtype)
    for k in range(kernel_h):
        for l in range(kernel_w):
            xp[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride] += windows[:, :, k, l]
    return xp[:, :, pad:pad + height, pad:pad + width]
    ### END SOLUTION


def conv_forward_im2col(x, w, b, conv_param):
    """``conv_forward_naive`` as one matrix product.

    Args:
        x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: {"stride": S, "pad": P}.
    Returns:
        out: (N, F, H', W'); cache: (x, w, b, conv_param, cols), cols = im2col of x.
    """
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    n_images, _, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = w.shape
    out_h = (height + 2 * pad - kernel_h) // stride + 1
    out_w = (width + 2 * pad - kernel_w) // stride + 1
    cols = im2col(x, kernel_h, kernel_w, stride, pad)
    rows = cols @ w.reshape(n_filters, -1).T + b
    out = rows.reshape(n_images, out_h, out_w, n_filters).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), (x, w, b, conv_param, cols)
    ### END SOLUTION


def conv_backward_im2col(dout, cache):
    """The backward pass of ``conv_forward_im2col``: two matrix products and col2im.

    Args:
        dout: (N, F, H', W'); cache: (x, w, b, conv_param, cols).
    Returns:
        dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,).
    """
    ### BEGIN SOLUTION
    x, w, _, conv_param, cols = cache
    n_filters, _, kernel_h, kernel_w = w.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, n_filters)
    db = dout_rows.sum(axis=0)
    dw = (dout_rows.T @ cols).reshape(w.shape)
    dcols = dout_rows @ w.reshape(n_filters, -1)
    dx = col2im(dcols, x.shape, kernel_h, kernel_w, conv_param["stride"], conv_param["pad"])
    return dx, dw, db
    ### END SOLUTION
