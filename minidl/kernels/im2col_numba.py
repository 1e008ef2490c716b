"""im2col and col2im compiled with Numba: the fast twins of ``minidl.kernels.im2col``.

They compute exactly what the NumPy versions compute (same arguments, same row order
(c, kh, kw), same results) but without building a padded copy of the input: for each kernel
tap they work out which output columns read inside the image, copy those, and write zeros for
the rest. Each (image, channel) plane is independent, so large calls split the planes among
minidl's threads (``threads.launch``). Groups need nothing special: the rows of channel block g
are one block of rows.

The Python wrappers check the arguments, allocate the result with NumPy when no ``out`` is
given (allocating inside compiled code is slower: the fresh pages fault in one by one) and
call the compiled loops. Every compiled loop is used with float32 and float64 arrays only.
"""

import numpy as np
from numba import njit

from minidl.kernels.threads import launch


@njit(cache=True)
def valid_range(offset, stride, size, count):
    """Output positions o in [0, count) whose input position o*stride + offset is in [0, size).

    They form one run [lo, hi); positions before lo read the left padding, after hi the right.
    """
    lo = 0 if offset >= 0 else (stride - 1 - offset) // stride
    hi = 0 if offset >= size else (size - 1 - offset) // stride + 1
    lo = max(0, min(lo, count))
    return lo, max(lo, min(hi, count))


@njit(cache=True)
def strided(row, start, count, step):
    """The view row[start], row[start + step], ..., of ``count`` >= 1 elements."""
    return row[start:start + (count - 1) * step + 1:step]


# Numba checks every index for a negative value (Python's wraparound) unless it can prove the
# index is not negative, and such checks keep the compiler from using vector instructions. So
# the loops below index with their own counters plus offsets passed through max(0, ...), which
# proves them non-negative. (Slicing out a view per row would avoid the checks too, but making
# a view costs more than copying the 16 or 32 numbers of a typical row.)


@njit(cache=True, nogil=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, start, stop):
    n, c, h, w = x.shape
    sw = max(sw, 1)
    for plane in range(start, stop):
        b, ch = plane // c, plane % c
        for i in range(kh):
            for j in range(kw):
                row = (ch * kh + i) * kw + j
                lo, hi = valid_range(j * dw - pw, sw, w, ow)
                first = max(lo * sw + j * dw - pw, 0)      # input column read by output column lo
                for oy in range(oh):
                    iy = oy * sh + i * dh - ph
                    start = max(oy * ow, 0)
                    if iy < 0 or iy >= h:
                        for k in range(ow):
                            cols[b, row, start + k] = 0
                        continue
                    for k in range(lo):
                        cols[b, row, start + k] = 0
                    # Strides 1 and 2 get loops of their own: with the stride known when
                    # compiling, the loop runs several elements per instruction.
                    if sw == 1:
                        for k in range(hi - lo):
                            cols[b, row, start + lo + k] = x[b, ch, iy, first + k]
                    elif sw == 2:
                        for k in range(hi - lo):
                            cols[b, row, start + lo + k] = x[b, ch, iy, first + 2 * k]
                    else:
                        for k in range(hi - lo):
                            cols[b, row, start + lo + k] = x[b, ch, iy, first + k * sw]
                    for k in range(hi, ow):
                        cols[b, row, start + k] = 0


@njit(cache=True, nogil=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx, start, stop):
    n, c, h, w = dx.shape
    sw = max(sw, 1)
    for plane in range(start, stop):
        b, ch = plane // c, plane % c
        dx[b, ch] = 0
        # Taps are added in the order (i, j), as in the NumPy version, so sums round alike.
        for i in range(kh):
            for j in range(kw):
                row = (ch * kh + i) * kw + j
                lo, hi = valid_range(j * dw - pw, sw, w, ow)
                first = max(lo * sw + j * dw - pw, 0)
                for oy in range(oh):
                    iy = oy * sh + i * dh - ph
                    if iy < 0 or iy >= h:
                        continue
                    start = max(oy * ow + lo, 0)
                    if sw == 1:
                        for k in range(hi - lo):
                            dx[b, ch, iy, first + k] += cols[b, row, start + k]
                    else:
                        for k in range(hi - lo):
                            dx[b, ch, iy, first + k * sw] += cols[b, row, start + k]


def check_out(out, shape, dtype, kernel):
    """A preallocated result must have the exact shape, dtype and a C-contiguous layout."""
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(
            f"{kernel}: out must be a C-contiguous {np.dtype(dtype)} array of shape {tuple(shape)}, "
            f"got {out.dtype} array of shape {out.shape}"
            f"{'' if out.flags.c_contiguous else ' (not contiguous)'}"
        )
    return out


def result_array(out, shape, dtype, kernel):
    """``out`` checked, or a new uninitialised array when it is None."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    return check_out(out, shape, dtype, kernel)


def im2col(x, kernel, stride, padding, dilation, out_hw, out=None):
    """Columns of every receptive field of ``x``: (N, C*KH*KW, H'*W'). See ``im2col.im2col``."""
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    cols = result_array(out, (n, c * kh * kw, oh * ow), x.dtype, "im2col")
    launch(__file__, _im2col, n * c, cols.size, np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kernel, stride, padding, dilation, out_hw, out=None):
    """Adjoint of ``im2col``: dx of shape ``x_shape``. See ``im2col.col2im``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    dx = result_array(out, x_shape, cols.dtype, "col2im")
    launch(__file__, _col2im, x_shape[0] * x_shape[1], dx.size, np.ascontiguousarray(cols), kh, kw, sh, sw,
           ph, pw, dh, dw, oh, ow, dx)
    return dx
