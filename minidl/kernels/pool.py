"""Pooling kernels: max pooling with switches and average pooling, forward and backward.

Every kernel exists twice, joined by ``backend.dispatch``:

- ``*_reference``: vectorised NumPy, the version to read. ``sliding_windows`` gives a view of
  all windows at once, of shape (N, C, KH, KW, H', W') with

      windows[n, c, i, j, y, x] = xp[n, c, y*SH + i*DH, x*SW + j*DW]

  so a pool is a reduction over the two kernel axes (i, j), with no loop over output positions.
- ``*_fast``: the same results from loops compiled by Numba. Each (n, c) plane is pooled on
  its own, so blocks of planes are shared out among minidl's threads (``launch``, as for the
  convolution kernels) and no two threads ever write the same element. The loops are arranged so that the innermost one runs over
  contiguous arrays without branches, which the compiler turns into vector instructions:
  max pooling goes tap by tap over all windows at once, average pooling sums the columns of
  a window row first (see each loop's docstring).

All kernels take the output size ``out_hw`` from ``shapes.output_size`` (with ceil_mode the
last window may run past the padded input at the bottom or right: its taps there are padding
like any other) and work on float32 or float64 arrays, keeping the dtype.
"""

import numpy as np
from numba import njit

from minidl.kernels.backend import dispatch
from minidl.kernels.im2col import col2im, pad2d, sliding_windows
from minidl.kernels.threads import launch

# ``launch`` shares a call out among the threads from PARALLEL_MIN_ELEMENTS elements of a
# simple pass (about 0.1 ns each). A window's tap costs about ten times that: a gathered read
# and a select. Each plane costs another ~120 ns (setting up its vectors; the loops over a
# small plane are mostly their remainders). Measured on one Zen 4 core, 2x2 max pooling with
# switches of LeNet-5's 64x6x28x28 activations (384 planes, 75,264 windows) takes 340 us and
# of its 64x16x10x10 activations (1,024 planes, 25,600 windows) 220 us. The forward kernels
# count their work in taps and planes.
TAP_WORK = 10
PLANE_WORK = 1200


def _forward_work(out, kernel):
    """The work of pooling into ``out`` (N, C, H', W') with a KH x KW window, for ``launch``."""
    return out.size * kernel[0] * kernel[1] * TAP_WORK + out.shape[0] * out.shape[1] * PLANE_WORK


@njit(cache=True)
def _u(index):
    """An index the compiler knows is not negative. Numba checks every signed index for Python's
    wraparound (a[-1] is the last element), and those checks keep the compiler from vectorising
    a loop; an unsigned index has none. Average pooling ran 2.1x faster with them (measured).
    The other kernels' way, offsets passed through max(0, ...) (``im2col_numba``), left the
    forward pass at 1.6x: its windows' column offsets are computed per output."""
    return np.uintp(index)


def _overhang(input_hw, kernel, stride, padding, dilation, out_hw):
    """Rows and columns by which the last window runs past the padded input: (0, 0) unless ceil_mode.

    The last window along an axis starts at (H' - 1)*S in the padded input and spans D*(K-1) + 1
    positions; the padded input holds H + 2P of them.
    """
    return tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
                 for size, k, s, p, d, o in zip(input_hw, kernel, stride, padding, dilation, out_hw))


def _pad_for_windows(x, padding, extra, value=0.0):
    """x padded with ``value`` by P on each side, and by ``extra`` (the overhang) more at the bottom and right."""
    (ph, pw), (eh, ew) = padding, extra
    # pad2d pads both sides alike: pad by P + overhang, then drop the surplus at the top and left.
    return pad2d(x, (ph + eh, pw + ew), value)[:, :, eh:, ew:]


def _planes(a):
    """A C-contiguous (N*C, ...) view of an (N, C, ...) array: one entry per channel plane.

    Contiguous arrays are what the compiled loops are compiled for (a copy is made only when
    ``a`` is not contiguous already, e.g. a broadcast gradient).
    """
    return np.ascontiguousarray(a).reshape(a.shape[0] * a.shape[1], *a.shape[2:])


# ---------------------------------------------------------------------------- max pooling


def max_pool2d_reference(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling that records the switches, in vectorised NumPy.

    out[n, c, y, x] = max over i, j of xp[n, c, y*SH + i*DH, x*SW + j*DW], where xp is x
    padded with -inf (padding never wins against a real element).

    Args:
        x: (N, C, H, W) input.
        kernel, stride, padding, dilation: pairs (vertical, horizontal).
        out_hw: (H', W'); every window must hold at least one input element.
    Returns:
        out: (N, C, H', W').
        switches: int64 array of out's shape: the flat index h*W + w, into its input plane, of
            each window's maximum. On ties the first maximum in row-major window order wins;
            a padding tap is never a switch; a NaN makes the maximum NaN and the switch points
            at the first NaN (as in PyTorch).
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    extra = _overhang((h, w), kernel, stride, padding, dilation, out_hw)
    windows = sliding_windows(_pad_for_windows(x, padding, extra, -np.inf), kernel, stride, dilation, out_hw)
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

    # The switch is the first real tap holding the maximum (argmax returns the first True).
    # Padding taps are excluded so that a window whose real elements are all -inf still points
    # into the input; with a NaN the maximum is NaN and the first NaN is the switch.
    is_max = (taps == out[:, :, None]) | np.isnan(taps)
    winner = np.argmax(is_max & is_real, axis=2)                             # (N, C, H', W')
    switches = tap_index[winner, np.arange(oh)[:, None], np.arange(ow)]
    return out, switches


@njit(cache=True)
def _first_inside(start, step):
    """The first n >= 0 with start + n*step >= 0: a window's first tap past the top (left) padding.

    Every window holds an input element, so that tap is inside the input.
    """
    return 0 if start >= 0 else (-start + step - 1) // step


@njit(cache=True)
def _take_larger(values, offset, best, best_offset, new_best, new_offset):
    """One tap of every window: new = (value, offset) where the tap wins, else the best so far.

    A tap wins when it is strictly larger than the best so far (so on ties the earlier tap
    stays), or when it is the first NaN (a NaN maximum then stays, as in PyTorch). Padding
    holds -inf, so it never wins. The loop is one select per element over contiguous arrays,
    which the compiler turns into vector instructions. It writes to new_* instead of updating
    best in place: an in-place update becomes a masked vector store, which is slow.
    """
    for k in range(values.shape[0]):
        value, current, current_offset = values[k], best[k], best_offset[k]
        wins = (value > current) | ((value != value) & (current == current))   # | and &: no branches
        new_best[k] = value if wins else current
        new_offset[k] = offset if wins else current_offset


@njit(cache=True, nogil=True)
def _max_pool2d_planes(x, out, switches, kh, kw, sh, sw, ph, pw, dh, dw, start, stop):
    """Fill out and switches, both (planes, H', W'), from x (planes, H, W), for planes [start, stop).

    Tap by tap rather than window by window: for tap (i, j), in row-major order, the value it
    reads in every window, xp[y*SH + i*DH, x*SW + j*DW] of the -inf padded plane xp, is
    gathered into one contiguous vector, and ``_take_larger`` updates the running maximum of
    all H'*W' outputs at once. Every output still meets its taps in row-major order, so the
    first maximum wins. The winner is kept as its offset i*DH*W + j*DW from the window's
    top-left corner; adding the corner's flat index (y*SH - PH)*W + x*SW - PW gives the switch.
    In a window whose real elements are all -inf no tap wins (-inf never beats -inf); its
    switch is its first real tap, as in the reference.
    """
    h, w = x.shape[1:]
    oh, ow = out.shape[1:]
    outputs = oh * ow
    # The padded plane xp: P on each side, and the ceil_mode overhang at the bottom and right.
    # Without either the windows read x itself.
    hp = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
    wp = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    padded = hp > h or wp > w
    # Scratch arrays, reused for every plane of the block.
    xp = np.full((hp, wp) if padded else (0, 0), -np.inf, x.dtype)
    values = np.empty(outputs, x.dtype)
    other_best = np.empty(outputs, x.dtype)
    other_offset = np.empty(outputs, np.int64)
    for plane in range(start, stop):
        if padded:
            xp[ph:ph + h, pw:pw + w] = x[plane]
        source = xp if padded else x[plane]
        best = out[plane].reshape(outputs)
        best_offset = switches[plane].reshape(outputs)
        best[:] = -np.inf
        best_offset[:] = -1                                   # no real tap has won yet
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    source_row = source[y * sh + i * dh]
                    for x_out in range(ow):
                        values[y * ow + x_out] = source_row[x_out * sw + j * dw]
                # The best so far lives in (best, best_offset) and (other_best, other_offset)
                # in turn, one tap each; after an odd number of taps it is in the other pair.
                if (i * kw + j) % 2 == 0:
                    _take_larger(values, i * dh * w + j * dw, best, best_offset, other_best, other_offset)
                else:
                    _take_larger(values, i * dh * w + j * dw, other_best, other_offset, best, best_offset)
        if kh * kw % 2 == 1:
            best[:] = other_best
            best_offset[:] = other_offset
        for y in range(oh):
            for x_out in range(ow):
                offset = best_offset[y * ow + x_out]
                if offset < 0:
                    # No tap won: every real element of this window is -inf.
                    first_i, first_j = _first_inside(y * sh - ph, dh), _first_inside(x_out * sw - pw, dw)
                    offset = first_i * dh * w + first_j * dw
                best_offset[y * ow + x_out] = (y * sh - ph) * w + x_out * sw - pw + offset


def max_pool2d_fast(x, kernel, stride, padding, dilation, out_hw):
    """``max_pool2d_reference`` as compiled loops, blocks of (n, c) planes shared among threads."""
    out = np.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
    switches = np.empty(out.shape, dtype=np.int64)
    launch(__file__, _max_pool2d_planes, x.shape[0] * x.shape[1], _forward_work(out, kernel),
           _planes(x), _planes(out), _planes(switches), *kernel, *stride, *padding, *dilation)
    return out, switches


def max_pool2d_backward_reference(dout, switches, x_shape):
    """Gradient of max pooling: every dout goes to its switch, summed where switches repeat.

    Each output is one input element, so d out / d x is 1 at the switch and 0 elsewhere:
    dx[n, c].flat[switches[n, c, y, x]] += dout[n, c, y, x] for every output. Overlapping
    windows (stride < kernel) can share a switch; their gradients must add up.

    Args:
        dout: (N, C, H', W') upstream gradient.
        switches: (N, C, H', W') int64, from ``max_pool2d``.
        x_shape: (N, C, H, W) of the pooled input.
    Returns:
        dx: (N, C, H, W) in dout's dtype.
    """
    n, c, h, w = x_shape
    outputs = dout.shape[2] * dout.shape[3]
    dx = np.zeros((n * c, h * w), dtype=dout.dtype)
    planes = np.arange(n * c)[:, None]
    # np.add.at accumulates repeated indices; dx[planes, switches] += dout would keep one of them.
    np.add.at(dx, (planes, switches.reshape(n * c, outputs)), dout.reshape(n * c, outputs))
    return dx.reshape(x_shape)


@njit(cache=True, nogil=True)
def _max_pool2d_backward_planes(dout, switches, dx, start, stop):
    """dx (planes, H*W) = the scatter-add of dout (planes, H'*W') through switches, planes [start, stop)."""
    for plane in range(start, stop):
        dx[plane, :] = 0
        for k in range(dout.shape[1]):
            dx[plane, switches[plane, k]] += dout[plane, k]


def max_pool2d_backward_fast(dout, switches, x_shape):
    """``max_pool2d_backward_reference`` as compiled loops; each thread owns whole planes, so
    the += of windows sharing a switch never races."""
    n, c, h, w = x_shape
    outputs = dout.shape[2] * dout.shape[3]
    dx = np.empty((n * c, h * w), dtype=dout.dtype)
    launch(__file__, _max_pool2d_backward_planes, n * c, dx.size, _planes(dout).reshape(n * c, outputs),
           _planes(switches).reshape(n * c, outputs), dx)
    return dx.reshape(x_shape)


def max_pool2d_values_reference(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling without switches, in vectorised NumPy: what inference runs, where no
    backward pass will ask where the maxima came from.

    out[n, c, y, x] = max over i, j of xp[n, c, y*SH + i*DH, x*SW + j*DW], xp padded with
    -inf; the same numbers as ``max_pool2d_reference``'s out (a NaN in a window makes its
    maximum NaN).

    Args:
        x: (N, C, H, W) input.
        kernel, stride, padding, dilation: pairs (vertical, horizontal).
        out_hw: (H', W'); every window must hold at least one input element.
    Returns:
        out: (N, C, H', W').
    """
    extra = _overhang(x.shape[2:], kernel, stride, padding, dilation, out_hw)
    windows = sliding_windows(_pad_for_windows(x, padding, extra, -np.inf), kernel, stride, dilation, out_hw)
    return windows.max(axis=(2, 3))


@njit(cache=True, nogil=True)
def _max_pool2d_values_planes(x, out, kh, kw, sh, sw, ph, pw, dh, dw, start, stop):
    """Fill out (planes, H', W') with the window maxima of x (planes, H, W), planes [start, stop).

    Tap by tap, as ``_max_pool2d_planes`` but without switches: the value tap (i, j) reads in
    every window, xp[y*SH + i*DH, x*SW + j*DW] of the -inf padded plane xp, is gathered into
    one contiguous vector, and the running maxima of all H'*W' outputs take the larger of the
    two in one select per element, which the compiler runs several per instruction. A NaN wins
    once and then stays (nothing is larger than NaN, and NaN is only replaced by NaN), as in
    ``np.max``.
    """
    h, w = x.shape[1:]
    oh, ow = out.shape[1:]
    outputs = oh * ow
    hp = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
    wp = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    padded = hp > h or wp > w
    xp = np.full((hp, wp) if padded else (0, 0), -np.inf, x.dtype)
    values = np.empty(outputs, x.dtype)
    for plane in range(start, stop):
        if padded:
            xp[ph:ph + h, pw:pw + w] = x[plane]
        source = xp if padded else x[plane]
        best = out[plane].reshape(outputs)
        best[:] = -np.inf
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    source_row = source[y * sh + i * dh]
                    for x_out in range(ow):
                        values[y * ow + x_out] = source_row[x_out * sw + j * dw]
                for k in range(outputs):
                    value, current = values[k], best[k]
                    best[k] = value if (value > current) | (value != value) else current


def max_pool2d_values_fast(x, kernel, stride, padding, dilation, out_hw):
    """``max_pool2d_values_reference`` as compiled loops, blocks of (n, c) planes shared among threads."""
    out = np.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
    launch(__file__, _max_pool2d_values_planes, x.shape[0] * x.shape[1], _forward_work(out, kernel),
           _planes(x), _planes(out), *kernel, *stride, *padding, *dilation)
    return out


max_pool2d = dispatch(max_pool2d_reference, max_pool2d_fast)
max_pool2d_values = dispatch(max_pool2d_values_reference, max_pool2d_values_fast)
max_pool2d_backward = dispatch(max_pool2d_backward_reference, max_pool2d_backward_fast)


# ---------------------------------------------------------------------------- average pooling


def avg_pool2d_divisor(input_hw, kernel, stride, padding, count_include_pad, out_hw, dtype):
    """(H', W') array of the number each window's sum is divided by (PyTorch's rule).

    A window starting at input row s covers rows [s, s + KH). The padded input is rows
    [-PH, H + PH), so min(s + KH, H + PH) - s of the window's rows count with the padding
    (count_include_pad=True), and min(s + KH, H) - max(s, 0) are real input rows
    (count_include_pad=False). A window's count is that of its rows times that of its columns;
    taps of a ceil_mode window beyond the padded input never count.
    """
    (h, w), (kh, kw), (sh, sw), (ph, pw), (oh, ow) = input_hw, kernel, stride, padding, out_hw
    row_starts, col_starts = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
    if count_include_pad:
        rows = np.minimum(row_starts + kh, h + ph) - row_starts
        cols = np.minimum(col_starts + kw, w + pw) - col_starts
    else:
        rows = np.minimum(row_starts + kh, h) - np.maximum(row_starts, 0)
        cols = np.minimum(col_starts + kw, w) - np.maximum(col_starts, 0)
    return np.outer(rows, cols).astype(dtype)


def avg_pool2d_reference(x, kernel, stride, padding, count_include_pad, out_hw):
    """Average pooling in vectorised NumPy.

    out[n, c, y, x] = (sum over i, j of xp[n, c, y*SH + i, x*SW + j]) / divisor[y, x]

    where xp is x zero-padded and ``divisor`` is ``avg_pool2d_divisor``.

    Args:
        x: (N, C, H, W) input.
        kernel, stride, padding: pairs (vertical, horizontal).
        count_include_pad: whether padding zeros count towards the divisor.
        out_hw: (H', W').
    Returns:
        out: (N, C, H', W').
    """
    h, w = x.shape[2:]
    divisor = avg_pool2d_divisor((h, w), kernel, stride, padding, count_include_pad, out_hw, x.dtype)
    extra = _overhang((h, w), kernel, stride, padding, (1, 1), out_hw)
    windows = sliding_windows(_pad_for_windows(x, padding, extra), kernel, stride, (1, 1), out_hw)
    return windows.sum(axis=(2, 3)) / divisor


@njit(cache=True, nogil=True)
def _avg_pool2d_planes(x, divisor, out, kh, kw, sh, sw, ph, pw, start, stop):
    """out (planes, H', W') = window sums of x (planes, H, W), divided by divisor (H', W'),
    for planes [start, stop).

    A window's sum is the sum over its columns of its column sums. For output row y the
    window rows are summed once for every input column (a loop over contiguous rows, which
    the compiler vectorises); each output of the row then adds up the KW column sums under its
    window. The column sums sit in a row as wide as the padded input, zero in the padding
    columns, so a window never needs its bounds checked; only the rows inside the input are read.
    """
    h, w = x.shape[1:]
    oh, ow = out.shape[1:]
    column_sums = np.zeros(max(w + 2 * pw, (ow - 1) * sw + kw), x.dtype)     # columns -PW ... stay 0 outside x
    for plane in range(start, stop):
        for y in range(oh):
            first, last = max(y * sh - ph, 0), min(y * sh - ph + kh, h)
            for col in range(w):
                column_sums[_u(pw + col)] = 0
            for row in range(first, last):
                x_row = x[_u(plane), _u(row)]
                for col in range(w):
                    column_sums[_u(pw + col)] += x_row[_u(col)]
            for x_out in range(ow):
                total = column_sums[_u(x_out * sw)]
                for j in range(1, kw):
                    total += column_sums[_u(x_out * sw + j)]
                out[_u(plane), _u(y), _u(x_out)] = total / divisor[_u(y), _u(x_out)]


def avg_pool2d_fast(x, kernel, stride, padding, count_include_pad, out_hw):
    """``avg_pool2d_reference`` as compiled loops, blocks of (n, c) planes shared among threads."""
    divisor = avg_pool2d_divisor(x.shape[2:], kernel, stride, padding, count_include_pad, out_hw, x.dtype)
    out = np.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
    launch(__file__, _avg_pool2d_planes, x.shape[0] * x.shape[1], _forward_work(out, kernel),
           _planes(x), divisor, _planes(out), *kernel, *stride, *padding)
    return out


def avg_pool2d_backward_reference(dout, x_shape, kernel, stride, padding, count_include_pad):
    """Gradient of average pooling, in NumPy.

    d out[y, x] / d xp[y*SH + i, x*SW + j] = 1 / divisor[y, x] for every tap (i, j), so each
    output sends dout / divisor to every position of its window. Laying that value out as one
    column per window, dx is ``col2im`` of the columns: col2im adds up the columns where
    windows overlap and drops what fell on the padding. The ceil_mode overhang is padding too:
    col2im runs on the input grown by the overhang at the bottom and right, which is then cut off.

    Args:
        dout: (N, C, H', W') upstream gradient.
        x_shape: (N, C, H, W) of the pooled input.
        kernel, stride, padding, count_include_pad: those of the forward pass.
    Returns:
        dx: (N, C, H, W) in dout's dtype.
    """
    n, c, h, w = x_shape
    (kh, kw), (oh, ow) = kernel, dout.shape[2:]
    divisor = avg_pool2d_divisor((h, w), kernel, stride, padding, count_include_pad, (oh, ow), dout.dtype)
    eh, ew = _overhang((h, w), kernel, stride, padding, (1, 1), (oh, ow))
    share = dout / divisor                                                   # (N, C, H', W')
    cols = np.broadcast_to(share[:, :, None, None], (n, c, kh, kw, oh, ow)).reshape(n, c * kh * kw, oh * ow)
    dx = col2im(cols, (n, c, h + eh, w + ew), kernel, stride, padding, (1, 1), (oh, ow))
    return dx[:, :, :h, :w]


@njit(cache=True, nogil=True)
def _avg_pool2d_backward_planes(share, dx, kh, kw, sh, sw, ph, pw, start, stop):
    """dx (planes, H, W): every output adds its share (planes, H', W') to each input element of its window.

    The forward pass in reverse: for output row y, each output first adds its share onto
    the columns under its window (a row as wide as the padded input, so no bounds to check);
    the shares of the input's columns are then added onto every input row of the window
    (contiguous rows, vectorised). Each thread owns whole planes, so the += of overlapping
    windows never races.
    """
    h, w = dx.shape[1:]
    oh, ow = share.shape[1:]
    column_shares = np.empty(max(w + 2 * pw, (ow - 1) * sw + kw), dx.dtype)
    for plane in range(start, stop):
        dx[plane] = 0
        for y in range(oh):
            column_shares[:] = 0
            for x_out in range(ow):
                value = share[_u(plane), _u(y), _u(x_out)]
                for j in range(kw):
                    column_shares[_u(x_out * sw + j)] += value
            for row in range(max(y * sh - ph, 0), min(y * sh - ph + kh, h)):
                dx_row = dx[_u(plane), _u(row)]
                for col in range(w):
                    dx_row[_u(col)] += column_shares[_u(pw + col)]


def avg_pool2d_backward_fast(dout, x_shape, kernel, stride, padding, count_include_pad):
    """``avg_pool2d_backward_reference`` as compiled loops: the shares dout / divisor are
    computed as in NumPy, the loops add them onto dx."""
    divisor = avg_pool2d_divisor(x_shape[2:], kernel, stride, padding, count_include_pad, dout.shape[2:], dout.dtype)
    dx = np.empty(x_shape, dtype=dout.dtype)
    launch(__file__, _avg_pool2d_backward_planes, x_shape[0] * x_shape[1], dx.size, _planes(dout / divisor),
           _planes(dx), *kernel, *stride, *padding)
    return dx


avg_pool2d = dispatch(avg_pool2d_reference, avg_pool2d_fast)
avg_pool2d_backward = dispatch(avg_pool2d_backward_reference, avg_pool2d_backward_fast)
