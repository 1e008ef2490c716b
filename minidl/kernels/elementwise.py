"""ReLU, its gradient and the sum of two arrays as compiled loops shared among minidl's threads.

Every value is handled on its own, so the work splits into runs of the flattened array. NumPy
runs ``np.maximum`` on one thread and its backward as two passes (the mask ``out > 0``, then
the product); the compiled twins take one pass each, on all of minidl's threads. A network
like ResNet calls them on every activation, twice per step, and adds whole activations at
every residual connection: forward (the shortcut plus the block) and backward (the gradients
of the two paths that leave a block's input).

- ``relu(x)``: max(x, 0); a NaN stays NaN, as in NumPy and PyTorch.
- ``relu_grad(dout, out)``: dout * (out > 0), the gradient through a ReLU given its output.
- ``add(a, b)``: a + b for two arrays of one shape and dtype (nothing is broadcast).
"""

import numpy as np
from numba import njit

from minidl.kernels.threads import launch


# ---------------------------------------------------------------------------- NumPy references
def relu_reference(x):
    """max(x, 0), elementwise."""
    return np.maximum(x, 0)


def relu_grad_reference(dout, out):
    """dout where out > 0, else 0: a product with the 0/1 mask."""
    return dout * (out > 0)


def add_reference(a, b):
    """a + b, elementwise."""
    return a + b


# ---------------------------------------------------------------------------- Numba
# The loops count from 0 and add a start that max(0, ...) proves non-negative: with an index
# that might be negative, Numba checks it for Python's wraparound on every step, and those
# checks keep the compiler from using vector instructions (which make these loops 4-6x faster).


@njit(cache=True, nogil=True)
def _relu(x, out, start, stop):
    start = max(start, 0)
    for i in range(stop - start):
        v = x[start + i]
        out[start + i] = 0 if v <= 0 else v          # a NaN fails v <= 0 and is kept


@njit(cache=True, nogil=True)
def _relu_grad(dout, out, dx, start, stop):
    start = max(start, 0)
    for i in range(stop - start):
        dx[start + i] = dout[start + i] * (out[start + i] > 0)


@njit(cache=True, nogil=True)
def _add(a, b, out, start, stop):
    start = max(start, 0)
    for i in range(stop - start):
        out[start + i] = a[start + i] + b[start + i]


def relu_fast(x):
    """Compiled twin of ``relu_reference``."""
    x = np.asarray(x, order="C")            # (ascontiguousarray would turn a 0-d array into 1-d)
    out = np.empty_like(x)
    launch(__file__, _relu, x.size, x.size, x.reshape(-1), out.reshape(-1))
    return out


def relu_grad_fast(dout, out):
    """Compiled twin of ``relu_grad_reference``."""
    dout, out = np.asarray(dout, order="C"), np.asarray(out, order="C")
    if dout.shape != out.shape:
        # The loop reads both arrays element by element, unchecked: nothing may be broadcast.
        raise ValueError(f"relu_grad: dout has shape {dout.shape} but the ReLU's output has shape {out.shape}")
    dx = np.empty_like(dout)
    launch(__file__, _relu_grad, dout.size, dout.size, dout.reshape(-1), out.reshape(-1), dx.reshape(-1))
    return dx


def add_fast(a, b):
    """Compiled twin of ``add_reference``, for two arrays of one shape and dtype."""
    a, b = np.asarray(a, order="C"), np.asarray(b, order="C")
    if a.shape != b.shape or a.dtype != b.dtype:
        # The loop reads both arrays element by element, unchecked: nothing may be broadcast.
        raise ValueError(f"add: the arrays must have one shape and dtype, got {a.shape} {a.dtype} "
                         f"and {b.shape} {b.dtype}")
    out = np.empty_like(a)
    launch(__file__, _add, a.size, a.size, a.reshape(-1), b.reshape(-1), out.reshape(-1))
    return out
