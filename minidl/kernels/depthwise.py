"""Depthwise convolution computed directly, without im2col.

In a depthwise convolution (groups = C) every output channel f filters one input channel,
c = f // M, where M = F / C is the channel multiplier:

    out[n, f, y, x] = sum_{i, j} w[f, 0, i, j] * xp[n, f // M, y*SH + i*DH, x*SW + j*DW]

im2col would copy every input value KH*KW times only to multiply it by M filters: the matrix
products are tiny (M x KH*KW) and the copies dominate. Looping over the taps (i, j) and adding
one shifted, scaled row of the input at a time does the same arithmetic with no copies.

The backward pass follows from the same sum:

    dx[n, c, p, q] = sum over f of channel c, and over the taps (i, j) and outputs (y, x) that
                     read (p, q), of w[f, 0, i, j] * dout[n, f, y, x]
                     (a "full" convolution of dout with the flipped kernel, channel by channel)
    dw[f, 0, i, j] = sum_{n, y, x} dout[n, f, y, x] * xp[n, f // M, y*SH + i*DH, x*SW + j*DW]
                     (the correlation of dout with the input, one tap at a time)

Each kernel exists twice: the NumPy reference (``*_reference``), written with the window view
of ``im2col.sliding_windows`` and ``einsum``, and the compiled loops (``*_fast``) that run by
default. ``minidl.kernels`` picks one of the two through ``backend.dispatch``.
"""

import numpy as np
from numba import njit

from minidl.kernels.im2col import col2im, pad2d, sliding_windows
from minidl.kernels.im2col_numba import result_array, strided
from minidl.kernels.threads import launch

# ---------------------------------------------------------------------------- NumPy reference


def depthwise_conv2d_reference(x, weight, bias, stride, padding, dilation, out_hw, out=None):
    """Depthwise convolution.

    Args:
        x: (N, C, H, W) input.
        weight: (F, 1, KH, KW) filters, F = M*C; filter f reads channel f // M.
        bias: (F,) or None.
        stride, padding, dilation: pairs; out_hw: (H', W') from ``shapes.output_size``.
        out: optional (N, F, H', W') array to write the result into.
    Returns:
        out: (N, F, H', W').
    """
    n, c = x.shape[:2]
    f, _, kh, kw = weight.shape
    windows = sliding_windows(pad2d(x, padding), (kh, kw), stride, dilation, out_hw)  # (N, C, KH, KW, H', W')
    by_channel = weight.reshape(c, f // c, kh, kw)                                   # (C, M, KH, KW)
    result = np.einsum("cmij,ncijyx->ncmyx", by_channel, windows).reshape(n, f, *out_hw)
    if bias is not None:
        result += bias.reshape(1, f, 1, 1)
    if out is None:
        return result
    out[...] = result
    return out


def depthwise_conv2d_input_grad_reference(dout, weight, x_shape, stride, padding, dilation, out=None):
    """dx of a depthwise convolution: each tap's w * dout is added back where that tap read.

    Args:
        dout: (N, F, H', W'); weight: (F, 1, KH, KW); x_shape: (N, C, H, W).
        out: optional (N, C, H, W) array to write dx into.
    Returns:
        dx: (N, C, H, W).
    """
    n, c = x_shape[:2]
    f, _, kh, kw = weight.shape
    out_hw = dout.shape[2:]
    by_channel = weight.reshape(c, f // c, kh, kw)
    # taps[n, c, i, j, y, x] = sum over the M filters of channel c of w * dout: the column that
    # im2col would have built for tap (i, j) of output (y, x); col2im adds them back in place.
    taps = np.einsum("cmij,ncmyx->ncijyx", by_channel, dout.reshape(n, c, f // c, *out_hw))
    cols = taps.reshape(n, c * kh * kw, out_hw[0] * out_hw[1])
    return col2im(cols, x_shape, (kh, kw), stride, padding, dilation, out_hw, out=out)


def depthwise_conv2d_weight_grad_reference(dout, x, weight_shape, stride, padding, dilation):
    """dw of a depthwise convolution: dw[f, 0, i, j] = sum_{n, y, x} dout * (window of tap (i, j)).

    Args:
        dout: (N, F, H', W'); x: (N, C, H, W) the forward input; weight_shape: (F, 1, KH, KW).
    Returns:
        dw: (F, 1, KH, KW).
    """
    n, c = x.shape[:2]
    f, _, kh, kw = weight_shape
    out_hw = dout.shape[2:]
    windows = sliding_windows(pad2d(x, padding), (kh, kw), stride, dilation, out_hw)
    dw = np.einsum("ncmyx,ncijyx->cmij", dout.reshape(n, c, f // c, *out_hw), windows)
    return dw.reshape(weight_shape)


# ---------------------------------------------------------------------------- Numba


# The compiled loops lay each image plane out on a "wide grid": the zero-padded plane, PW
# columns wider on each side (rounded up to a multiple of SW), flattened row after row. On that
# grid the input position read by tap (i, j) for output (y, x) is
#
#     (y*SH + i*DH) * Wp + x*SW + j*DW  =  SW * (y * Wo + x)  +  (i*DH*Wp + j*DW),   Wo = SH*Wp/SW
#
# so if the output is also laid out with Wo columns per row, one tap is a single long loop
# "out_wide[k] += w[i, j] * x_wide[offset + SW*k]" over all k = y*Wo + x at once. The columns
# x >= W' of that output grid are thrown away (the gradient grid holds zeros there). One long
# loop per tap instead of one short loop per row and tap is what lets the compiler use vector
# instructions well; it never indexes outside the grid, so no bounds checks are needed.


@njit(cache=True)
def _wide_grid(h, w, sh, sw, ph, pw):
    """Row pitch Wp of the padded input grid, its rows, and the pitch Wo of the output grid."""
    wp = -(-(w + 2 * pw) // sw) * sw                  # W + 2PW rounded up to a multiple of SW
    rows = h + 2 * ph + sh                             # SH spare rows: the last tap reads past row H+2PH
    return wp, rows, sh * wp // sw


@njit(cache=True)
def _spread(plane, ph, pw, wide, pitch):
    """Copy ``plane`` into the zeroed flat ``wide`` grid at row PH, column PW."""
    wide[:] = 0
    h, w = plane.shape
    for y in range(h):
        start = max((y + ph) * pitch + pw, 0)          # max(0, ...): see ``im2col_numba``
        for k in range(w):
            wide[start + k] = plane[y, k]


@njit(cache=True)
def _gather(wide, ph, pw, pitch, plane):
    """The inverse of ``_spread``: plane[y, x] = wide[(y + PH) * pitch + PW + x]."""
    h, w = plane.shape
    for y in range(h):
        start = max((y + ph) * pitch + pw, 0)
        for k in range(w):
            plane[y, k] = wide[start + k]


@njit(cache=True)
def _add_scaled(dst, scale, src):
    for k in range(dst.shape[0]):
        dst[k] += scale * src[k]


@njit(cache=True)
def _add_products(dst, a, b):
    for k in range(dst.shape[0]):
        dst[k] += a[k] * b[k]


@njit(cache=True)
def _tap_offset(i, j, dh, dw, wp):
    return i * dh * wp + j * dw


@njit(cache=True, nogil=True)
def _depthwise_forward(x, weight, bias, sh, sw, ph, pw, dh, dw, out, start, stop):
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    multiplier = f // c
    oh = out.shape[2]
    wp, rows, wo = _wide_grid(h, w, sh, sw, ph, pw)
    length = oh * wo
    x_wide, out_wide = np.empty(rows * wp, dtype=x.dtype), np.empty(length, dtype=x.dtype)
    for plane in range(start, stop):
        b, fo = plane // f, plane % f
        _spread(x[b, fo // multiplier], ph, pw, x_wide, wp)
        out_wide[:] = bias[fo]                          # the sums start at the bias: no pass to add it
        for i in range(kh):
            for j in range(kw):
                offset = _tap_offset(i, j, dh, dw, wp)
                if sw == 1:
                    _add_scaled(out_wide, weight[fo, 0, i, j], x_wide[offset:offset + length])
                else:
                    _add_scaled(out_wide, weight[fo, 0, i, j], strided(x_wide, offset, length, sw))
        _gather(out_wide, 0, 0, wo, out[b, fo])


@njit(cache=True, nogil=True)
def _depthwise_input_grad(dout, weight, sh, sw, ph, pw, dh, dw, dx, start, stop):
    n, c, h, w = dx.shape
    f, _, kh, kw = weight.shape
    multiplier = f // c
    oh = dout.shape[2]
    wp, rows, wo = _wide_grid(h, w, sh, sw, ph, pw)
    length = oh * wo
    dx_wide, dout_wide = np.empty(rows * wp, dtype=dx.dtype), np.empty(length, dtype=dx.dtype)
    for plane in range(start, stop):
        b, ch = plane // c, plane % c
        dx_wide[:] = 0
        for fo in range(ch * multiplier, (ch + 1) * multiplier):
            _spread(dout[b, fo], 0, 0, dout_wide, wo)
            for i in range(kh):
                for j in range(kw):
                    # The adjoint of the forward tap: scatter the scaled dout back where it read.
                    offset = _tap_offset(i, j, dh, dw, wp)
                    if sw == 1:
                        _add_scaled(dx_wide[offset:offset + length], weight[fo, 0, i, j], dout_wide)
                    else:
                        _add_scaled(strided(dx_wide, offset, length, sw), weight[fo, 0, i, j], dout_wide)
        _gather(dx_wide, ph, pw, wp, dx[b, ch])


@njit(cache=True, nogil=True)
def _depthwise_weight_grad(dout, x, sh, sw, ph, pw, dh, dw, grad, start, stop):
    n, c, h, w = x.shape
    f, _, kh, kw = grad.shape
    multiplier = f // c
    oh = dout.shape[2]
    wp, rows, wo = _wide_grid(h, w, sh, sw, ph, pw)
    length = oh * wo
    x_wide, dout_wide = np.empty(rows * wp, dtype=x.dtype), np.empty(length, dtype=x.dtype)
    for fo in range(start, stop):
        # One running sum per (tap, grid position): the additions are independent of each other,
        # so the compiler can do several at once (a single scalar sum would be one long chain).
        sums = np.zeros((kh * kw, length), dtype=grad.dtype)
        for b in range(n):
            _spread(x[b, fo // multiplier], ph, pw, x_wide, wp)
            _spread(dout[b, fo], 0, 0, dout_wide, wo)
            for i in range(kh):
                for j in range(kw):
                    offset = _tap_offset(i, j, dh, dw, wp)
                    if sw == 1:
                        _add_products(sums[i * kw + j], dout_wide, x_wide[offset:offset + length])
                    else:
                        _add_products(sums[i * kw + j], dout_wide, strided(x_wide, offset, length, sw))
        for i in range(kh):
            for j in range(kw):
                grad[fo, 0, i, j] = sums[i * kw + j].sum()


def depthwise_conv2d_fast(x, weight, bias, stride, padding, dilation, out_hw, out=None):
    """Compiled twin of ``depthwise_conv2d_reference`` (same arguments and result)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    result = result_array(out, (x.shape[0], weight.shape[0], *out_hw), x.dtype, "depthwise_conv2d")
    bias = np.zeros(weight.shape[0], x.dtype) if bias is None else np.ascontiguousarray(bias, dtype=x.dtype)
    launch(__file__, _depthwise_forward, result.shape[0] * result.shape[1], result.size, np.ascontiguousarray(x),
           np.ascontiguousarray(weight), bias, sh, sw, ph, pw, dh, dw, result)
    return result


def depthwise_conv2d_input_grad_fast(dout, weight, x_shape, stride, padding, dilation, out=None):
    """Compiled twin of ``depthwise_conv2d_input_grad_reference``."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    dx = result_array(out, x_shape, dout.dtype, "depthwise_conv2d_input_grad")
    launch(__file__, _depthwise_input_grad, x_shape[0] * x_shape[1], dx.size, np.ascontiguousarray(dout),
           np.ascontiguousarray(weight), sh, sw, ph, pw, dh, dw, dx)
    return dx


def depthwise_conv2d_weight_grad_fast(dout, x, weight_shape, stride, padding, dilation):
    """Compiled twin of ``depthwise_conv2d_weight_grad_reference``."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    grad = np.empty(weight_shape, dtype=dout.dtype)
    # The work is shared out by filters, each reading its whole plane of dout: count it by dout's size.
    launch(__file__, _depthwise_weight_grad, weight_shape[0], dout.size, np.ascontiguousarray(dout),
           np.ascontiguousarray(x), sh, sw, ph, pw, dh, dw, grad)
    return grad
