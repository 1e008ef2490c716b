"""Per-channel statistics and per-channel affine maps of (N, C, ...) arrays: batch norm's kernels.

Batch normalisation reads and writes whole activation tensors several times per step: the
mean and variance of each channel, the normalised input, the output, and in backward two sums
and the input gradient. Written with NumPy broadcasting each of those is a separate pass with
a temporary array (``x.var`` alone makes three); the compiled twins do each in one pass over
contiguous rows, with float64 accumulators for the sums.

Every function takes arrays of shape (N, C) or (N, C, L) or (N, C, H, W); "channel c" means
every entry with index c on axis 1, and the per-channel vectors have shape (C,).

- ``channel_moments(x)`` -> (mean, var): each channel's mean and biased variance.
- ``channel_sum(x)`` -> each channel's sum (a convolution's bias gradient, db = sum of dout).
- ``channel_sums(a, b)`` -> (sum a, sum a*b): two per-channel sums (batch norm's dbeta, dgamma).
- ``channel_affine(x, center, scale, shift, out=None)``: out = (x - center[c]) * scale[c] +
  shift[c], in x's dtype; ``out`` may be x itself (a layer adding its bias in place). The
  centre is subtracted first: x and the mean may be close, and x/std - mean/std would lose
  the digits that (x - mean)/std keeps.
- ``channel_affine_pair(x, center, scale, shift, scale2)``: the affine map above and
  (x - center[c]) * scale2[c] in one pass over x (batch norm's output and, for backward, its
  normalised input xhat): one read of x and one hand-over to the threads instead of two.
- ``batch_norm_input_grad(dout, xhat, dbeta, dgamma, scale)``: batch norm's training-mode
  dx = (scale[c] / M) * (M * dout - dbeta[c] - xhat * dgamma[c]), M values per channel. The
  bracket is kept as one expression: for tiny batches its terms nearly cancel, and multiplying
  each by the (possibly huge) scale first would turn rounding noise into visible error.
"""

import math

import numpy as np
from numba import njit

from minidl.kernels.im2col_numba import result_array
from minidl.kernels.threads import launch


def _reduced_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(vector, x):
    """A (C,) vector in x's dtype, shaped to broadcast along axis 1 of x."""
    return np.asarray(vector, dtype=x.dtype).reshape((1, -1) + (1,) * (x.ndim - 2))


# ---------------------------------------------------------------------------- NumPy references
def channel_moments_reference(x):
    """Mean and biased variance (dividing by the count N*L) of each channel."""
    axes = _reduced_axes(x)
    return x.mean(axis=axes), x.var(axis=axes)


def channel_sum_reference(x):
    """sum(x) over each channel."""
    return x.sum(axis=_reduced_axes(x))


def channel_sums_reference(a, b):
    """sum(a) and sum(a * b) over each channel."""
    axes = _reduced_axes(a)
    return a.sum(axis=axes), (a * b).sum(axis=axes)


def channel_affine_reference(x, center, scale, shift, out=None):
    """(x - center[c]) * scale[c] + shift[c], broadcast along axis 1 (into ``out`` if given)."""
    result = (x - _per_channel(center, x)) * _per_channel(scale, x) + _per_channel(shift, x)
    if out is None:
        return result
    out[...] = result
    return out


def channel_affine_pair_reference(x, center, scale, shift, scale2):
    """((x - center[c]) * scale[c] + shift[c], (x - center[c]) * scale2[c] + 0)."""
    return channel_affine_reference(x, center, scale, shift), channel_affine_reference(x, center, scale2,
                                                                                      np.zeros_like(scale2))


def batch_norm_input_grad_reference(dout, xhat, dbeta, dgamma, scale):
    """(scale[c] / M) * (M * dout - dbeta[c] - xhat * dgamma[c]) with M = dout.size / C."""
    count = dout.size // dout.shape[1]
    bracket = count * dout - _per_channel(dbeta, dout) - xhat * _per_channel(dgamma, dout)
    return _per_channel(np.asarray(scale) / count, dout) * bracket


# ---------------------------------------------------------------------------- compiled twins
def _rows(x):
    """x as a C-contiguous (N, C, L) array (a view when x already is contiguous)."""
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))  # not -1: N may be 0


# The sums may be reassociated: LLVM then runs them in SIMD lanes, about 10x faster than one
# addition after another. Only reassociation and fused multiply-add are allowed, not the
# "no NaN / no inf" assumptions of full fastmath, so a NaN in the data still comes out as NaN.
REDUCTION_MATH = {"reassoc", "contract"}


# The sums run plane by plane, (image, channel) after (image, channel), in the order the planes
# lie in memory, and each plane's sum is kept (in float64); a channel's sum then adds its planes
# image after image. Summed one channel at a time instead, each thread's channels were spread
# over the whole array, and two threads were slower than one: on a 2-core Zen 4 (AVX2), batch
# norm's backward of a 64x16x32x32 gradient took 674 us on one thread and 835 on two; by planes
# it takes 643 and 576, and the batch norm backward passes of a ResNet-20 step at two threads
# went from 15.5 to 11.4 ms. The order of the sums is fixed by the shape alone, so every thread
# count gives the same bits.
@njit(cache=True, nogil=True, fastmath=REDUCTION_MATH)
def _plane_moments(x, sums, squares, start, stop):
    """For planes p in [start, stop) of x (P, L): sums[p] = sum of the plane, squares[p] = sum
    of its squared deviations from the plane's own mean (a second pass over the plane, which
    is still in the core's first-level cache)."""
    length = x.shape[1]
    for p in range(start, stop):
        total = 0.0
        for k in range(length):
            total += x[p, k]
        m = total / length
        deviations = 0.0
        for k in range(length):
            d = x[p, k] - m
            deviations += d * d
        sums[p] = total
        squares[p] = deviations


@njit(cache=True, nogil=True, fastmath=REDUCTION_MATH)
def _plane_sum(x, sums, start, stop):
    length = x.shape[1]
    for p in range(start, stop):
        total = 0.0
        for k in range(length):
            total += x[p, k]
        sums[p] = total


@njit(cache=True, nogil=True, fastmath=REDUCTION_MATH)
def _plane_sums(a, b, sum_a, sum_ab, start, stop):
    length = a.shape[1]
    for p in range(start, stop):
        total, dot = 0.0, 0.0
        for k in range(length):
            total += a[p, k]
            dot += a[p, k] * b[p, k]
        sum_a[p] = total
        sum_ab[p] = dot


@njit(cache=True, nogil=True)
def _affine(x, center, scale, shift, out, start, stop):
    channels, length = x.shape[1], x.shape[2]
    for plane in range(start, stop):
        i, c = plane // channels, plane % channels
        m, s, t = center[c], scale[c], shift[c]
        for k in range(length):
            out[i, c, k] = (x[i, c, k] - m) * s + t


@njit(cache=True, nogil=True)
def _affine_pair(x, center, scale, shift, scale2, out, out2, start, stop):
    channels, length = x.shape[1], x.shape[2]
    for plane in range(start, stop):
        i, c = plane // channels, plane % channels
        m, s, t, s2 = center[c], scale[c], shift[c], scale2[c]
        for k in range(length):
            centred = x[i, c, k] - m
            out[i, c, k] = centred * s + t
            out2[i, c, k] = centred * s2 + 0


@njit(cache=True, nogil=True)
def _input_grad(dout, xhat, dbeta, dgamma, gain, out, start, stop):
    channels, length = dout.shape[1], dout.shape[2]
    count = dout.shape[0] * length
    for plane in range(start, stop):
        i, c = plane // channels, plane % channels
        b, g, k = dbeta[c], dgamma[c], gain[c]
        for j in range(length):
            out[i, c, j] = k * (count * dout[i, c, j] - b - xhat[i, c, j] * g)


def _planes(x):
    """x as a C-contiguous (N*C, L) array of its planes, and N."""
    rows = _rows(x)
    return rows.reshape(rows.shape[0] * rows.shape[1], rows.shape[2]), x.shape[0]


def _per_plane(kernel, x, *others, results=1):
    """Run ``kernel`` over the planes of x (and of the arrays ``others`` of its shape); returns
    its ``results`` per-plane float64 sums, each as an (N, C) array."""
    planes, n = _planes(x)
    sums = [np.empty(planes.shape[0]) for _ in range(results)]
    launch(__file__, kernel, planes.shape[0], x.size, planes,
           *(_planes(other.astype(x.dtype, copy=False))[0] for other in others), *sums)
    return [total.reshape(n, x.shape[1]) for total in sums]


def channel_moments_fast(x):
    """Compiled twin of ``channel_moments_reference``.

    Each channel's mean and variance from its planes' sums s_i and squared deviations q_i
    (L values each, N planes; Chan, Golub and LeVeque's pairwise update):

        mean = sum_i s_i / (N*L),   var = (sum_i q_i + L * sum_i (s_i / L - mean)**2) / (N*L)

    which keeps the digits of a two-pass variance: no large sum of squares is subtracted.
    """
    if x.size == 0:  # the mean of no values is NaN, as NumPy's (and the loops would divide by 0)
        return np.full(x.shape[1], np.nan, dtype=x.dtype), np.full(x.shape[1], np.nan, dtype=x.dtype)
    sums, squares = _per_plane(_plane_moments, x, results=2)
    length = x.size // (x.shape[0] * x.shape[1])
    count = x.shape[0] * length
    mean = sums.sum(axis=0) / count
    var = (squares.sum(axis=0) + length * ((sums / length - mean) ** 2).sum(axis=0)) / count
    return mean.astype(x.dtype), var.astype(x.dtype)


def channel_sum_fast(x):
    """Compiled twin of ``channel_sum_reference``."""
    (sums,) = _per_plane(_plane_sum, x)
    return sums.sum(axis=0).astype(x.dtype)


def channel_sums_fast(a, b):
    """Compiled twin of ``channel_sums_reference``."""
    sum_a, sum_ab = _per_plane(_plane_sums, a, b, results=2)
    return sum_a.sum(axis=0).astype(a.dtype), sum_ab.sum(axis=0).astype(a.dtype)


def channel_affine_fast(x, center, scale, shift, out=None):
    """Compiled twin of ``channel_affine_reference``."""
    out = result_array(out, x.shape, x.dtype, "channel_affine")
    vectors = [_vector(v, x.dtype, x.shape[1]) for v in (center, scale, shift)]
    launch(__file__, _affine, x.shape[0] * x.shape[1], x.size, _rows(x), *vectors, _rows(out))
    return out


def channel_affine_pair_fast(x, center, scale, shift, scale2):
    """Compiled twin of ``channel_affine_pair_reference``."""
    out = result_array(None, x.shape, x.dtype, "channel_affine_pair")
    out2 = result_array(None, x.shape, x.dtype, "channel_affine_pair")
    vectors = [_vector(v, x.dtype, x.shape[1]) for v in (center, scale, shift, scale2)]
    launch(__file__, _affine_pair, x.shape[0] * x.shape[1], 2 * x.size, _rows(x), *vectors, _rows(out), _rows(out2))
    return out, out2


def batch_norm_input_grad_fast(dout, xhat, dbeta, dgamma, scale):
    """Compiled twin of ``batch_norm_input_grad_reference``."""
    out = result_array(None, dout.shape, dout.dtype, "batch_norm_input_grad")
    count = dout.size // dout.shape[1]
    vectors = [_vector(v, dout.dtype, dout.shape[1]) for v in (dbeta, dgamma, np.asarray(scale) / count)]
    launch(__file__, _input_grad, dout.shape[0] * dout.shape[1], dout.size, _rows(dout),
           _rows(xhat.astype(dout.dtype, copy=False)), *vectors, _rows(out))
    return out


def _vector(values, dtype, channels):
    """A per-channel vector (or one number for every channel, as broadcasting reads it) as a
    contiguous (C,) array of the data's dtype: the compiled loops need one dtype, and would read
    past the end of a shorter vector."""
    values = np.asarray(values, dtype=dtype)
    if values.size not in (1, channels):
        raise ValueError(f"channels: expected a vector of {channels} values (one per channel) or a single "
                         f"number, got shape {values.shape}")
    return np.ascontiguousarray(np.broadcast_to(values.reshape(-1), (channels,)))
