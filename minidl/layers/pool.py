"""Pooling: max pooling with switches, max unpooling, average and adaptive average pooling.

Pooling slides a window over every channel plane on its own and summarises it by one number.
``kernels.sliding_windows`` gives a view of all windows at once, of shape
(N, C, KH, KW, H', W') with

    windows[n, c, i, j, y, x] = xp[n, c, y*SH + i*DH, x*SW + j*DW]

so a pool is a reduction over the two kernel axes (i, j), with no loop over output positions.

With ``ceil_mode=True`` the output size rounds up (``kernels.output_size``), so the last window
may run past the padded input at the bottom or right. The input is then padded further there by
that overhang (``_pad_for_windows``); those taps are padding like any other.

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


def _overhang(input_hw, kernel, stride, padding, dilation, out_hw):
    """Rows and columns by which the last window runs past the padded input: (0, 0) unless ceil_mode.

    The last window along an axis starts at (H' - 1)*S in the padded input and spans D*(K-1) + 1
    positions; the padded input holds H + 2P of them.
    """
    return tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
                 for size, k, s, p, d, o in zip(input_hw, kernel, stride, padding, dilation, out_hw))


def _pad_for_windows(x, padding, overhang, value=0.0):
    """x padded with ``value`` by P on each side, and by ``overhang`` more at the bottom and right."""
    (ph, pw), (eh, ew) = padding, overhang
    # pad2d pads both sides alike: pad by P + overhang, then drop the surplus at the top and left.
    return kernels.pad2d(x, (ph + eh, pw + ew), value)[:, :, eh:, ew:]


def max_pool2d_forward(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    """Forward pass of 2-D max pooling; records the switches.

    out[n, c, y, x] = max over i, j of xp[n, c, y*SH + i*DH, x*SW + j*DW], where xp is x
    padded with -inf (padding never wins against a real element).

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
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = kernels.output_size("max_pool2d", (h, w), kernel_size, stride, padding, dilation, ceil_mode)
    overhang = _overhang((h, w), kernel_size, stride, padding, dilation, (oh, ow))

    xp = _pad_for_windows(x, padding, overhang, -np.inf)
    windows = kernels.sliding_windows(xp, kernel_size, stride, dilation, (oh, ow))
    taps = windows.reshape(n, c, kh * kw, oh, ow)          # tap t = i*KW + j: row-major window order
    out = taps.max(axis=2)

    # Tap i of output row y reads input row y*SH + i*DH - PH (outside [0, H): padding, which
    # includes the overhang of ceil_mode); columns likewise. From these come the flat input
    # index of every tap and whether it is real.
    rows = np.arange(oh) * sh + np.arange(kh)[:, None] * dh - ph            # (KH, H')
    cols = np.arange(ow) * sw + np.arange(kw)[:, None] * dw - pw            # (KW, W')
    tap_index = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(kh * kw, oh, ow)
    real_rows, real_cols = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    is_real = (real_rows[:, None, :, None] & real_cols[None, :, None, :]).reshape(kh * kw, oh, ow)
    if not is_real.any(axis=0).all():
        raise ValueError(
            f"max_pool2d: with kernel_size {kernel_size}, dilation {dilation} and padding {padding}, "
            f"some windows over the {h}x{w} input hold padding only; use less padding or dilation"
        )

    # The switch is the first real tap holding the maximum (argmax returns the first True).
    # Padding taps are excluded so that a window whose real elements are all -inf still points
    # into the input; a NaN makes the maximum NaN (as in PyTorch) and the switch a NaN's index.
    is_max = (taps == out[:, :, None]) | np.isnan(taps)
    winner = np.argmax(is_max & is_real, axis=2)                             # (N, C, H', W')
    switches = tap_index[winner, np.arange(oh)[:, None], np.arange(ow)]
    return out, (switches, x.shape)


def max_pool2d_backward(dout, cache):
    """Backward pass of ``max_pool2d_forward``.

    Each output is one input element (its switch), so d out / d x is 1 at the switch and 0
    elsewhere: dx[n, c, switch] += dout[n, c, y, x] for every output. Overlapping windows
    (stride < kernel) can share a switch; their gradients must add up.

    Args:
        dout: (N, C, H', W') upstream gradient.
        cache: (switches, x_shape) from ``max_pool2d_forward``.
    Returns:
        dx: (N, C, H, W).
    """
    switches, x_shape = cache
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=dout.dtype)
    planes = np.arange(n * c)[:, None]
    # np.add.at accumulates repeated indices; dx[planes, switches] += dout would keep one of them.
    np.add.at(dx, (planes, switches.reshape(n * c, -1)), dout.reshape(n * c, -1))
    return dx.reshape(x_shape)


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
    out[np.arange(n * c)[:, None], indices.reshape(n * c, -1)] = x.reshape(n * c, -1)
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
    n, c = dout.shape[:2]
    dx = dout.reshape(n * c, -1)[np.arange(n * c)[:, None], indices.reshape(n * c, -1)]
    return dx.reshape(indices.shape), None


def avg_pool2d_forward(x, kernel_size, stride, padding=(0, 0), count_include_pad=True, ceil_mode=False):
    """Forward pass of 2-D average pooling.

    out[n, c, y, x] = (sum over i, j of xp[n, c, y*SH + i, x*SW + j]) / divisor[y, x]

    where xp is x zero-padded and the divisor counts the window's taps: with
    count_include_pad=True (PyTorch's default) those inside the padded input, which is KH*KW
    except for a ceil_mode window running past it; with count_include_pad=False only the real
    input elements.

    Args:
        x: (N, C, H, W) input.
        kernel_size, stride, padding: pairs of ints (vertical, horizontal).
        count_include_pad: whether padding zeros count towards the window size.
        ceil_mode: round H' and W' up; taps of the extra windows beyond the padded input read
            zeros and never count towards the divisor.
    Returns:
        out: (N, C, H', W') with H' = floor((H + 2*PH - KH)/SH) + 1, likewise W'
            (``kernels.output_size`` gives the ceil_mode sizes).
        cache: (divisor, x_shape, kernel_size, stride, padding, out_hw); divisor is an
            (H', W') array of the window sizes in x's dtype.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    oh, ow = kernels.output_size("avg_pool2d", (h, w), kernel_size, stride, padding, (1, 1), ceil_mode)

    # A window starting at input row s covers rows [s, s + KH). The padded input is rows
    # [-PH, H + PH), so min(s + KH, H + PH) - s of the window's rows count with the padding, and
    # min(s + KH, H) - max(s, 0) are real. A window's count is that of its rows times that of
    # its columns (PyTorch's rule, also for the ceil_mode windows that run past the padding).
    row_starts, col_starts = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
    if count_include_pad:
        rows = np.minimum(row_starts + kh, h + ph) - row_starts
        cols = np.minimum(col_starts + kw, w + pw) - col_starts
    else:
        rows = np.minimum(row_starts + kh, h) - np.maximum(row_starts, 0)
        cols = np.minimum(col_starts + kw, w) - np.maximum(col_starts, 0)
    divisor = np.outer(rows, cols).astype(x.dtype)

    overhang = _overhang((h, w), kernel_size, stride, padding, (1, 1), (oh, ow))
    windows = kernels.sliding_windows(_pad_for_windows(x, padding, overhang), kernel_size, stride,
                                      (1, 1), (oh, ow))
    out = windows.sum(axis=(2, 3)) / divisor
    return out, (divisor, x.shape, kernel_size, stride, padding, (oh, ow))


def avg_pool2d_backward(dout, cache):
    """Backward pass of ``avg_pool2d_forward``.

    d out[y, x] / d xp[y*SH + i, x*SW + j] = 1 / divisor[y, x] for every tap (i, j), so each
    output sends dout / divisor to every position of its window. Laying that value out as one
    column per window, dx is ``kernels.col2im`` of the columns: col2im adds up the columns
    where windows overlap and drops what fell on the padding. The ceil_mode overhang is padding
    too: col2im runs on the input grown by the overhang at the bottom and right, which is then
    cut off.

    Args:
        dout: (N, C, H', W') upstream gradient.
        cache: from ``avg_pool2d_forward``.
    Returns:
        dx: (N, C, H, W).
    """
    divisor, x_shape, kernel_size, stride, padding, out_hw = cache
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = kernel_size, out_hw
    eh, ew = _overhang((h, w), kernel_size, stride, padding, (1, 1), out_hw)
    share = dout / divisor                                                   # (N, C, H', W')
    cols = np.broadcast_to(share[:, :, None, None], (n, c, kh, kw, oh, ow)).reshape(n, c * kh * kw, oh * ow)
    dx = kernels.col2im(cols, (n, c, h + eh, w + ew), kernel_size, stride, padding, (1, 1), out_hw)
    return dx[:, :, :h, :w]


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
