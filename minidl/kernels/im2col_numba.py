"""im2col and col2im compiled with Numba: the fast twins of ``minidl.kernels.im2col``.

They compute exactly what the NumPy versions compute (same arguments, same row order
(c, kh, kw), same results) but without building a padded copy of the input: for each kernel
tap they work out which output columns read inside the image, copy those, and write zeros for
the rest. Each (image, channel) plane is independent, so large calls split the planes among
minidl's threads (``launch``). Groups need nothing special: the rows of channel block g are
one block of rows.

The Python wrappers check the arguments, allocate the result with NumPy when no ``out`` is
given (allocating inside compiled code is slower: the fresh pages fault in one by one) and
call the compiled loops. Every compiled loop is used with float32 and float64 arrays only.

This module also holds how work is shared among threads: ``launch`` for the compiled loops of
all the kernels (convolution, pooling, batch norm, ReLU), ``matmul`` for the layers' batches of
matrix products, and ``for_each_chunk`` for the chunks of images a convolution cuts its batch
into, each chunk run whole by one thread.
"""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit
from threadpoolctl import ThreadpoolController

from minidl.kernels.backend import get_backend
from minidl.kernels.threads import compile_notice

# Below this many elements written, a kernel runs on the calling thread alone: waking other
# threads costs more than it saves, and far more when another process keeps a core busy.
PARALLEL_MIN_ELEMENTS = 1 << 16


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


# Threads. Large kernel calls split their planes into blocks shared among minidl's threads
# (``numba.get_num_threads()``, set by ``minidl.set_num_threads``), and so do the layers'
# batches of matrix products (``matmul``). Why not Numba's prange and OpenBLAS's own threads:
# both pools make their idle threads spin for a while, and on two cores each pool's spinning
# threads take the cores the other pool is waiting for. When another process is busy too, a
# matrix product split over OpenBLAS's threads waits for the slowest of them at every call.
# Our threads sleep while idle, the compiled loops release the GIL (``nogil=True``) so they
# really run side by side, and each matrix product runs on one thread. The calling thread works
# too, beside threads - 1 pool threads, and every one of them takes the next block as soon as it
# is free: a thread slowed down by another process simply does fewer blocks, and a call costs
# one hand-over per pool thread, not one per block (a hand-over is tens of microseconds, which
# a ResNet's few hundred kernel calls per step would otherwise pay thousands of times).
_pools = {}                      # (process id, threads) -> pool; a forked child needs its own threads
_blas = []                       # the BLAS libraries' thread controller, made on first use
_local = threading.local()       # .one_chunk: this thread is one of those sharing the chunks of
                                 # ``for_each_chunk``; its kernels and products stay on it


def _run_blocks(function, items, threads):
    """Call ``function(start, stop)`` on blocks covering [0, items), spread over ``threads``
    (the calling thread and threads - 1 pool threads)."""
    key = (os.getpid(), threads)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="minidl-kernel")
    blocks = min(items, 4 * threads)
    bounds = [items * k // blocks for k in range(blocks + 1)]
    taken = itertools.count()
    lock = threading.Lock()

    def work():
        while True:
            with lock:                                     # each block goes to exactly one thread
                k = next(taken)
            if k >= blocks:
                return
            function(bounds[k], bounds[k + 1])

    helpers = [_pools[key].submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        # Wait for every helper even if this thread failed: none may still write into the
        # caller's arrays after we return. A helper's own error is raised here.
        for helper in helpers:
            helper.result()


def _threads_for(items):
    """How many threads may share ``items`` pieces of work: minidl's thread count, but only the
    calling thread inside ``for_each_chunk`` (the other threads are busy with other chunks)."""
    if getattr(_local, "one_chunk", False):
        return 1
    return min(numba.get_num_threads(), items)


def for_each_chunk(function, count):
    """Call ``function(k)`` for k in range(count), the calls shared among minidl's threads.

    This is how a layer that processes its batch in chunks of images uses the threads: each
    thread takes whole chunks and runs every step of a chunk itself (e.g. im2col, then the
    matrix product), with its kernels and matrix products on that one thread. A chunk's
    scratch data is then written and read back by the same core while it is still in that
    core's cache, and the threads are handed work once per layer instead of once per kernel.
    The calls must write to disjoint places; a single chunk runs with all threads inside. Under
    the "numpy" backend the chunks run one after another: the NumPy twins hold the GIL for most
    of their many small steps, so two threads running them would take turns, only slower.
    """
    threads = _threads_for(count) if get_backend() == "numba" else 1
    if threads == 1:
        for k in range(count):
            function(k)
        return

    def chunks(start, stop):
        _local.one_chunk = True
        try:
            for k in range(start, stop):
                function(k)
        finally:
            _local.one_chunk = False

    with single_threaded_blas():
        _run_blocks(chunks, count, threads)


def single_threaded_blas():
    """A context in which BLAS runs every matrix product on the thread that calls it."""
    if not _blas:
        _blas.append(ThreadpoolController())
    return _blas[0].limit(limits=1, user_api="blas")


def launch(module_file, loops, items, size, *args):
    """Run the compiled ``loops(*args, start, stop)`` over items [0, items) (image planes,
    channels, filters or single elements); calls that write ``size`` >= PARALLEL_MIN_ELEMENTS
    elements are shared out."""
    compile_notice(module_file)
    threads = _threads_for(items) if size >= PARALLEL_MIN_ELEMENTS else 1
    if threads == 1:
        loops(*args, 0, items)
    else:
        _run_blocks(lambda start, stop: loops(*args, start, stop), items, threads)


def matmul(a, b, out):
    """``np.matmul(a, b, out=out)``, the products along the first axis of ``out`` shared out
    among minidl's threads, each running single-threaded BLAS.

    ``a`` and ``b`` either have that axis too (and are split along it) or are broadcast.
    """
    threads = _threads_for(out.shape[0])
    if threads == 1 or out.size * a.shape[-1] < PARALLEL_MIN_ELEMENTS * 16:
        return np.matmul(a, b, out=out)

    def products(start, stop):
        part = [m[start:stop] if m.ndim == out.ndim else m for m in (a, b)]
        np.matmul(*part, out=out[start:stop])

    with single_threaded_blas():
        _run_blocks(products, out.shape[0], threads)
    return out


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
