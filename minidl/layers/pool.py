"""Pooling: max pooling with switches, max unpooling, average and adaptive average pooling.

Pooling slides a window over every channel plane on its own and summarises it by one number:

    out[n, c, y, x] = pool over i, j of xp[n, c, y*SH + i*DH, x*SW + j*DW]

where xp is the padded input. The pairs here check the window settings, work out the output
size (``kernels.output_size``) and call the pooling kernels of ``minidl.kernels.pool``, which
exist as readable vectorised NumPy and as fast compiled loops (``minidl.set_backend`` picks).

With ``ceil_mode=True`` the output size rounds up, so the last window may run past the padded
input at the bottom or right; its taps there are padding like any other.

Max pooling remembers where each maximum came from: the "switches", one flat index h*W + w
into the (unpadded) input plane per output, exactly PyTorch's ``return_indices`` layout. The
gradient of a maximum flows only to the element that won, so the backward pass routes every
dout to its switch; max unpooling (Zeiler & Fergus's deconvnet) uses the same switches to put
pooled values back where they were.

Average pooling is linear: every input element in a window receives dout / (window size).
Adaptive average pooling chooses the windows from the output size instead of a kernel; its
windows are products of one interval per axis, so it is two small matrix products.
"""

import numpy as np

from minidl import kernels
from minidl.kernels import pool as pool_kernels


def _check_every_window_holds_input(input_hw, kernel_size, stride, padding, dilation, out_hw):
    """Raise unless every max-pool window holds at least one input element.

    A window's taps are all pairs of its rows and its columns, so it holds an input element
    exactly when one of its rows and one of its columns lie inside the input. Tap i of output y
    reads position y*S + i*D - P along an axis; only a dilated window can miss the input.
    """
    for size, k, s, p, d, o in zip(input_hw, kernel_size, stride, padding, dilation, out_hw):
        positions = np.arange(o)[:, None] * s + np.arange(k) * d - p           # (out, K)
        if not ((positions >= 0) & (positions < size)).any(axis=1).all():
            h, w = input_hw
            raise ValueError(
                f"max_pool2d: with kernel_size {kernel_size}, dilation {dilation} and padding {padding}, "
                f"some windows over the {h}x{w} input hold padding only; use less padding or dilation"
            )


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Forward pass of 2-D max pooling; records the switches.

    out[n, c, y, x] = max over i, j of xp[n, c, y*SH + i*DH, x*SW + j*DW], where xp is x
    padded with -inf (padding never wins against a real element), computed by
    ``pool_kernels.max_pool2d``.

    Args:
        x: (N, C, H, W) input.
        kernel_size, stride, padding, dilation: pairs of ints (vertical, horizontal).
        ceil_mode: round H' and W' up; the taps of the extra windows beyond the padded input
            are padding.
    Returns:
        out: (N, C, H', W') with H' = floor((H + 2*PH - DH*(KH-1) - 1)/SH) + 1, likewise W'
            (``kernels.output_size`` gives the ceil_mode sizes).
        cache: (switches, x_shape). switches is an int64 array of out's shape holding, for
            every output, the flat index h*W + w into its input plane of the window's maximum.
            On ties the first maximum in row-major window order wins (as in PyTorch).
    Raises:
        ValueError when not one window fits (``kernels.output_size``), or when a dilated window
        holds padding only (such a window has no input element to take the maximum of).
    """
    h, w = x.shape[2:]
    out_hw = kernels.output_size("max_pool2d", (h, w), kernel_size, stride, padding, dilation, ceil_mode)
    _check_every_window_holds_input((h, w), kernel_size, stride, padding, dilation, out_hw)
    out, switches = pool_kernels.max_pool2d(x, kernel_size, stride, padding, dilation, out_hw)
    return out, (switches, x.shape)


def max_pool2d_inference(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Forward pass of 2-D max pooling when no backward pass will follow (``minidl.no_grad``).

    The same out as ``max_pool2d_forward``, bit for bit, without the switches: only the
    gradient needs to know where each maximum came from, so inference skips finding out
    (``pool_kernels.max_pool2d_values``).

    Args:
        as ``max_pool2d_forward``.
    Returns:
        out: (N, C, H', W').
    """
    h, w = x.shape[2:]
    out_hw = kernels.output_size("max_pool2d", (h, w), kernel_size, stride, padding, dilation, ceil_mode)
    _check_every_window_holds_input((h, w), kernel_size, stride, padding, dilation, out_hw)
    return pool_kernels.max_pool2d_values(x, kernel_size, stride, padding, dilation, out_hw)


def max_pool2d_backward(dout, cache):
    """Backward pass of ``max_pool2d_forward``.

    Each output is one input element (its switch), so d out / d x is 1 at the switch and 0
    elsewhere: dx[n, c, switch] += dout[n, c, y, x] for every output. Overlapping windows
    (stride < kernel) can share a switch; their gradients add up (``pool_kernels.max_pool2d_backward``).

    Args:
        dout: (N, C, H', W') upstream gradient.
        cache: (switches, x_shape) from ``max_pool2d_forward``.
    Returns:
        dx: (N, C, H, W).
    """
    switches, x_shape = cache
    return pool_kernels.max_pool2d_backward(dout, switches, x_shape)


def max_unpool2d_forward(x, indices, output_size):
    """Forward pass of max unpooling: put every value back at its switch, zeros elsewhere.

    out[n, c].flat[indices[n, c, y, x]] = x[n, c, y, x]

    Args:
        x: (N, C, H', W') pooled values.
        indices: integer array of x's shape, flat indices into an output plane (the switches of
            ``max_pool2d_forward``), each in [0, OH*OW).
        output_size: (OH, OW) of the unpooled planes.
    Returns:
        out: (N, C, OH, OW).
        cache: indices.
    """
    n, c = x.shape[:2]
    oh, ow = output_size
    out = np.zeros((n * c, oh * ow), dtype=x.dtype)
    pooled = x.shape[2] * x.shape[3]
    out[np.arange(n * c)[:, None], indices.reshape(n * c, pooled)] = x.reshape(n * c, pooled)
    return out.reshape(n, c, oh, ow), indices


def max_unpool2d_backward(dout, cache):
    """Backward pass of ``max_unpool2d_forward``.

    Each x[n, c, y, x] was copied to one output position, so its gradient is dout read back
    at that position: dx[n, c, y, x] = dout[n, c].flat[indices[n, c, y, x]] (a gather, the
    adjoint of the scatter in forward). The indices are integers and get no gradient.

    Args:
        dout: (N, C, OH, OW) upstream gradient.
        cache: indices from ``max_unpool2d_forward``.
    Returns:
        (dx, None): dx of shape (N, C, H', W'), None for the indices.
    """
    indices = cache
    n, c, oh, ow = dout.shape
    pooled = indices.shape[2] * indices.shape[3]
    dx = dout.reshape(n * c, oh * ow)[np.arange(n * c)[:, None], indices.reshape(n * c, pooled)]
    return dx.reshape(indices.shape), None


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0), count_include_pad=True, ceil_mode=False):
    """Forward pass of 2-D average pooling.

    out[n, c, y, x] = (sum over i, j of xp[n, c, y*SH + i, x*SW + j]) / divisor[y, x]

    where xp is x zero-padded and the divisor counts the window's taps
    (``pool_kernels.avg_pool2d_divisor``): with count_include_pad=True (PyTorch's default)
    those inside the padded input, which is KH*KW except for a ceil_mode window running past
    it; with count_include_pad=False only the real input elements.

    Args:
        x: (N, C, H, W) input.
        kernel_size, stride, padding: pairs of ints (vertical, horizontal).
        count_include_pad: whether padding zeros count towards the window size.
        ceil_mode: round H' and W' up; taps of the extra windows beyond the padded input read
            zeros and never count towards the divisor.
    Returns:
        out: (N, C, H', W') with H' = floor((H + 2*PH - KH)/SH) + 1, likewise W'
            (``kernels.output_size`` gives the ceil_mode sizes).
        cache: (x_shape, kernel_size, stride, padding, count_include_pad); the backward pass
            recomputes the (H', W') divisors from them.
    """
    out_hw = kernels.output_size("avg_pool2d", x.shape[2:], kernel_size, stride, padding, (1, 1), ceil_mode)
    out = pool_kernels.avg_pool2d(x, kernel_size, stride, padding, count_include_pad, out_hw)
    return out, (x.shape, kernel_size, stride, padding, count_include_pad)


def avg_pool2d_backward(dout, cache):
    """Backward pass of ``avg_pool2d_forward``.

    d out[y, x] / d xp[y*SH + i, x*SW + j] = 1 / divisor[y, x] for every tap (i, j), so each
    output sends dout / divisor to every input element of its window; where windows overlap
    an element adds up the shares of all of them, and shares falling on the padding (or the
    ceil_mode overhang) are dropped (``pool_kernels.avg_pool2d_backward``).

    Args:
        dout: (N, C, H', W') upstream gradient.
        cache: from ``avg_pool2d_forward``.
    Returns:
        dx: (N, C, H, W).
    """
    x_shape, kernel_size, stride, padding, count_include_pad = cache
    return pool_kernels.avg_pool2d_backward(dout, x_shape, kernel_size, stride, padding, count_include_pad)


def _adaptive_bins(size, out_size, dtype):
    """(out_size, size) averaging matrix of PyTorch's adaptive bins along one axis.

    Bin i covers positions [floor(i*size/out_size), ceil((i+1)*size/out_size)); row i holds
    1/(bin length) on those positions and 0 elsewhere. Neighbouring bins may overlap by one
    position when out_size does not divide size.
    """
    i = np.arange(out_size)
    start = (i * size) // out_size
    end = -((-(i + 1) * size) // out_size)            # ceil division in integers
    positions = np.arange(size)
    inside = (positions >= start[:, None]) & (positions < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d_forward(x, output_size):
    """Forward pass of 2-D adaptive average pooling.

    Output (y, x) averages the input rectangle rows [floor(y*H/OH), ceil((y+1)*H/OH)) times
    columns [floor(x*W/OW), ceil((x+1)*W/OW)). A mean over a rectangle is a mean over rows of a
    mean over columns, so with the per-axis averaging matrices A_h (OH, H) and A_w (OW, W):

        out[n, c] = A_h @ x[n, c] @ A_w^T

    Args:
        x: (N, C, H, W) input.
        output_size: (OH, OW), positive ints (OH > H is allowed: bins then repeat rows).
    Returns:
        out: (N, C, OH, OW).
        cache: (A_h, A_w), in x's dtype.
    """
    h, w = x.shape[2:]
    a_h = _adaptive_bins(h, output_size[0], x.dtype)
    a_w = _adaptive_bins(w, output_size[1], x.dtype)
    return a_h @ x @ a_w.T, (a_h, a_w)


def adaptive_avg_pool2d_backward(dout, cache):
    """Backward pass of ``adaptive_avg_pool2d_forward``.

    out = A_h @ x @ A_w^T is linear in x, so dx = A_h^T @ dout @ A_w: every input element
    gathers dout / (bin size) from each bin that contains it.

    Args:
        dout: (N, C, OH, OW) upstream gradient.
        cache: (A_h, A_w) from ``adaptive_avg_pool2d_forward``.
    Returns:
        dx: (N, C, H, W).
    """
    a_h, a_w = cache
    return a_h.T @ dout @ a_w
