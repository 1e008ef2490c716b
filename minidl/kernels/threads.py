"""How many CPU threads minidl computes with, how the kernels share work among them, and the
notice shown while kernels compile.

One setting decides how many threads compute: Numba's thread count, which minidl's kernels read
to split their work (they share blocks of planes among the calling thread and a small pool of
their own, see "sharing work" below), and which the large matrix products of the layers share
out the same way (``matmul``). ``set_num_threads(n)`` sets it, so one number answers "how many
cores does minidl use":

    minidl.set_num_threads(1)     # e.g. to compare with torch.set_num_threads(1)
    minidl.get_num_threads()      # -> 1

Numba's setting is per Python thread: call ``set_num_threads`` in the thread that runs the
model. The BLAS library behind NumPy (OpenBLAS in the pip wheels) computes on one thread:
importing minidl sets it so for the process, through threadpoolctl (see "BLAS" below).

Numba compiles each kernel to machine code on its first call and keeps the result on disk
(``@njit(cache=True)``), so only the very first run on a machine waits for the compiler.
``compile_notice(__file__)`` prints one line to stderr before that wait, so the first run does
not look frozen.

How work is shared: ``launch`` runs a compiled loop over planes (or channels, filters, single
elements) split among the threads, ``matmul`` a large matrix product (or a batch of them), and
``for_each_chunk`` the chunks of images a convolution cuts its batch into, each chunk run
whole by one thread.
"""

import glob
import hashlib
import itertools
import os
import sys
import threading
import time

import numba
import numpy as np
from numba.misc.appdirs import AppDirs
from threadpoolctl import ThreadpoolController

from minidl.kernels import spin
from minidl.kernels.backend import get_backend

# About how long compiling all of minidl's kernels takes, shown in the first-run notice.
FIRST_RUN_SECONDS = 15


def max_threads():
    """The number of threads this machine offers minidl: the size of Numba's thread pool,
    which is the number of CPUs the process may run on unless NUMBA_NUM_THREADS lowers it."""
    return numba.config.NUMBA_NUM_THREADS


def set_num_threads(n):
    """Compute with ``n`` threads: minidl's kernels and its large matrix products share their
    work among ``n`` threads (each product's parts run on one BLAS thread).

    Args:
        n: int, 1 <= n <= max_threads().
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__} {n!r}")
    limit = max_threads()
    if not 1 <= n <= limit:
        raise ValueError(
            f"set_num_threads: n must be between 1 and {limit} (the CPUs this machine offers), got {n}"
        )
    numba.set_num_threads(n)
    single_threaded_blas()     # and any BLAS library loaded since the import


def get_num_threads():
    """The number of threads minidl computes with (as set by ``set_num_threads``)."""
    return numba.get_num_threads()


def kernel_cache_dirs(module_file):
    """The folders where Numba may keep the compiled kernels of the module at ``module_file``.

    Numba picks the first usable of: ``$NUMBA_CACHE_DIR/<folder>_<sha1 of the folder path>``
    when NUMBA_CACHE_DIR is set; else ``__pycache__`` beside the module when it is writable;
    else the same ``<folder>_<sha1>`` name under the user's cache folder (~/.cache/numba).
    """
    folder = os.path.dirname(os.path.abspath(module_file))
    subfolder = os.path.basename(folder) + "_" + hashlib.sha1(folder.encode()).hexdigest()
    if numba.config.CACHE_DIR:
        return [os.path.join(numba.config.CACHE_DIR, subfolder)]
    user_cache = AppDirs(appname="numba", appauthor=False).user_cache_dir
    return [os.path.join(folder, "__pycache__"), os.path.join(user_cache, subfolder)]


def is_compiled(module_file):
    """True when Numba's disk cache holds at least one kernel of the module at ``module_file``.

    Each cached kernel has an index file ``<module>.<function>-<line>.pyXY.nbi`` that lists the
    compiled versions; none means the kernels of this module will be compiled from scratch.
    """
    module = os.path.splitext(os.path.basename(module_file))[0]
    return any(glob.glob(os.path.join(folder, glob.escape(module) + ".*.nbi"))
               for folder in kernel_cache_dirs(module_file))


_checked_modules = set()
_notice_shown = False


def compile_notice(module_file, seconds=FIRST_RUN_SECONDS):
    """Print "minidl: compiling kernels ..." to stderr if the kernels of ``module_file`` are not
    in Numba's disk cache yet. At most one notice per process, however many modules ask.

    A kernel module calls ``compile_notice(__file__)`` at the start of its fast kernels, before
    the first call of a jitted function. The disk is looked at once per module; later calls
    cost a set look-up.
    """
    global _notice_shown
    if _notice_shown or module_file in _checked_modules:
        return
    _checked_modules.add(module_file)
    if numba.config.DISABLE_JIT or is_compiled(module_file):
        return
    _notice_shown = True
    print(f"minidl: compiling kernels for this machine (first run only, ~{seconds} s)...",
          file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- sharing work
# Below this many elements written, a kernel runs on the calling thread alone: waking other
# threads costs more than it saves, and far more when another process keeps a core busy.
# Measured on the 2-core AMD Zen 5 of benchmarks/RESULTS.md: handing work to a second thread
# and waiting for it costs 40-45 us, and one pass over 2**18 float32 (ReLU, a batch norm
# affine map) takes 23-27 us on one thread and 33-58 us on two. From about 2**20 elements
# (~100 us on one thread) two threads save more than the hand-over costs. Kernels whose
# work per element is larger (a convolution's tiles) pass a size scaled to match.
PARALLEL_MIN_ELEMENTS = 1 << 20


# Threads. Large kernel calls split their planes into blocks shared among minidl's threads
# (``numba.get_num_threads()``, set by ``minidl.set_num_threads``), and so do the layers'
# matrix products (``matmul``). Why not Numba's prange and OpenBLAS's own threads: two pools
# on two cores, each keeping its idle threads spinning for a while, take the cores the other
# is waiting for, and when another process is busy too, a matrix product split over OpenBLAS's
# threads waits for the slowest of them at every call. So minidl has one pool of its own: the
# compiled loops release the GIL (``nogil=True``) so its threads really run side by side, and
# each matrix product runs on one BLAS thread. The calling thread works too, beside threads - 1
# helper threads, and every one of them takes the next block as soon as it is free: a thread
# slowed down by another process simply does fewer blocks, and a call costs one hand-over per
# helper thread, not one per block (a hand-over is tens of microseconds, which a ResNet's few
# hundred kernel calls per step would otherwise pay thousands of times). Between calls a helper
# watches for the next one for SPIN_MICROSECONDS, then sleeps (``_Team``).
_teams = {}                      # (process id, threads) -> _Team; a forked child needs its own threads
_local = threading.local()       # .one_chunk: this thread is one of those sharing the chunks of
                                 # ``for_each_chunk``; its kernels and products stay on it


# How long a thread of a team watches for the next hand-over in compiled code before it
# sleeps on its lock (see kernels/spin.py); read when a team is made.
SPIN_MICROSECONDS = 300
_spins_per_microsecond = None


def _spins(microseconds):
    """How many reads of a flag ``spin`` makes in about ``microseconds`` on this machine: the
    rate is measured once per process. 0 when Numba is switched off (the loops would hold
    the GIL)."""
    global _spins_per_microsecond
    if numba.config.DISABLE_JIT or microseconds <= 0:
        return 0
    if _spins_per_microsecond is None:
        compile_notice(spin.__file__)
        flags = np.zeros(1, np.int64)
        spin.watch_until(flags, 0, 1, 1)                  # compiled (or loaded) before it is timed
        reads = 1 << 20
        start = time.perf_counter()
        spin.watch_until(flags, 0, 1, reads)
        _spins_per_microsecond = max(1, int(reads / ((time.perf_counter() - start) * 1e6)))
    return int(microseconds * _spins_per_microsecond)


class _Team:
    """The calling thread and ``helpers`` threads of minidl's own that run one job together.

    The caller posts a job: it sets the job, releases each helper's ``go`` lock and stores the
    job's number in ``flags[0]``. A helper runs it and then, in compiled code with the GIL
    released, stores the number in its own ``flags[1 + k]`` and watches ``flags[0]`` for the next
    job for SPIN_MICROSECONDS, before it sleeps on ``go``. The caller, its own share done,
    watches ``flags[1 + k]`` the same way, then takes ``done``. So hand-overs that come close
    together wake nobody from sleep, and the caller does not wait for the GIL when a helper
    finishes: the helper stores its flag after it has released the GIL.

    Why not ``concurrent.futures.ThreadPoolExecutor``: a Future, a queue and a condition per call
    made handing an empty job to one worker and waiting for it take 77 us on the 2-core Zen 4
    of benchmarks/RESULTS.md.
    """

    def __init__(self, helpers):
        self._spins = _spins(SPIN_MICROSECONDS)   # measured here, before any helper spins
        self._busy = threading.Lock()        # held while a job runs: one job at a time
        self._job = None
        self._posted = 0                     # the number of the job posted last
        self._flags = np.zeros(1 + helpers, np.int64)
        self._errors = [None] * helpers
        self._go, self._done = [], []
        for k in range(helpers):
            go, done = threading.Lock(), threading.Lock()
            go.acquire()
            done.acquire()
            self._go.append(go)
            self._done.append(done)
            threading.Thread(target=self._serve, args=(k,), name=f"minidl-kernel-{k}", daemon=True).start()

    def _serve(self, k):
        go, done, flags, spins = self._go[k], self._done[k], self._flags, self._spins
        seen = finished = 0
        while True:
            posted = spin.store_and_watch(flags, 1 + k, finished, 0, seen, spins) if spins else seen
            if posted == seen:
                go.acquire()                 # nothing came while watching: sleep until a job does
            elif not go.acquire(blocking=False):
                seen = posted                # the caller did that job alone and took its go back
                continue
            seen = self._posted
            try:
                self._job()
            except BaseException as error:   # raised again in the caller's thread
                self._errors[k] = error
            finally:
                done.release()
            finished = seen

    def run(self, job):
        """Call ``job()`` on the calling thread and on every helper at once and return when all
        calls have returned; the calls share the work out among themselves (e.g. each takes
        blocks from a common counter until none is left). An error in any call is raised here.
        While another thread's job runs, the calling thread runs its job alone."""
        if not self._busy.acquire(blocking=False):
            job()
            return
        try:
            self._job = job
            self._posted += 1
            for go in self._go:
                go.release()
            self._flags[0] = self._posted    # after the release: a helper that sees it finds go free
            try:
                job()
            finally:
                # Wait for every helper that has started, even if this thread failed: none may
                # still write into the caller's arrays after we return. A helper that has not
                # taken its ``go`` yet finds it taken back: there is nothing left for it to do.
                for k, (go, done) in enumerate(zip(self._go, self._done)):
                    if not go.acquire(blocking=False):
                        if self._spins:
                            spin.watch_until(self._flags, 1 + k, self._posted, self._spins)
                        done.acquire()
                self._job = None
                # Taken here, so that a helper's error never surfaces in a later job (when this
                # thread failed too, its own error is the one raised).
                errors = [error for error in self._errors if error is not None]
                self._errors = [None] * len(self._errors)
            if errors:
                raise errors[0]
        finally:
            self._busy.release()


def _run_blocks(function, items, threads):
    """Call ``function(start, stop)`` on blocks covering [0, items), spread over ``threads``
    (the calling thread and threads - 1 helper threads)."""
    key = (os.getpid(), threads)
    if key not in _teams:
        _teams[key] = _Team(threads - 1)
    blocks = min(items, 4 * threads)
    bounds = [items * k // blocks for k in range(blocks + 1)]
    taken = itertools.count()

    def work():
        while True:
            k = next(taken)      # one call into C, which the GIL makes atomic: each block goes to one thread
            if k >= blocks:
                return
            function(bounds[k], bounds[k + 1])

    _teams[key].run(work)


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

    _run_blocks(chunks, count, threads)


# BLAS. Every matrix product runs on one BLAS thread, and ``matmul`` shares a large one out
# among minidl's threads in parts. OpenBLAS's own threads, once woken by a product, keep
# spinning on their cores long after it, where minidl's kernels then wait for a core: measured
# on a 2-core AMD Zen 4, a LeNet-5 training step at two minidl threads took 8.8-13 ms with two
# BLAS threads and 5.3-5.9 ms with one. So minidl sets the BLAS libraries loaded in the process
# to one thread when it is imported (this also holds for NumPy products outside minidl; raise
# it again with threadpoolctl's ``threadpool_limits`` where wanted).
def single_threaded_blas():
    """Set the BLAS libraries loaded in this process to one thread (threadpoolctl finds them and
    calls their own "set threads" functions)."""
    ThreadpoolController().limit(limits=1, user_api="blas")


single_threaded_blas()


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


# A product of fewer multiply-adds than this runs whole on the calling thread; a larger one is
# cut into parts of at least this many, and into at most MATMUL_MAX_BLOCKS of them.
PARALLEL_MIN_MULTIPLY_ADDS = 16 * PARALLEL_MIN_ELEMENTS
MATMUL_MAX_BLOCKS = 8


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)``, a large product shared out among minidl's threads in parts.

    A batch of products (``out`` of 3 or more dimensions, each of ``a`` and ``b`` either having
    its first axis or broadcast along it) is split along that first axis; a single product (2-D,
    or a batch of one) into blocks of rows of ``out``, or of columns when it has more columns.
    The blocks depend on the shapes only, never on the number of threads, so the result is bit
    for bit the same whatever that number is. Returns ``out`` (made when not given).
    """
    if out is None:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        out = np.empty(shape, dtype=np.result_type(a, b))
    result = out
    work = out.size * a.shape[-1]
    if work < PARALLEL_MIN_MULTIPLY_ADDS or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        # (A product written over one of its operands must be computed whole, as NumPy does.)
        return np.matmul(a, b, out=out)
    while out.ndim > 2 and out.shape[0] == 1:         # a batch of one: its single product
        a, b = (m[0] if m.ndim == out.ndim else m for m in (a, b))
        out = out[0]
    if out.ndim > 2:
        def products(start, stop):
            # An operand with the batch axis is split along it; one broadcast along it is not.
            part = [m[start:stop] if m.ndim == out.ndim and m.shape[0] == out.shape[0] else m for m in (a, b)]
            np.matmul(*part, out=out[start:stop])

        _share(products, out.shape[0])
        return result
    rows, columns = out.shape
    by_rows = rows >= columns
    length = rows if by_rows else columns
    blocks = max(1, min(MATMUL_MAX_BLOCKS, work // PARALLEL_MIN_MULTIPLY_ADDS, length))
    bounds = [length * k // blocks for k in range(blocks + 1)]

    def block_products(first, last):
        for k in range(first, last):
            lo, hi = bounds[k], bounds[k + 1]
            if by_rows:
                np.matmul(a[..., lo:hi, :], b, out=out[lo:hi])
            else:
                np.matmul(a, b[..., lo:hi], out=out[:, lo:hi])

    _share(block_products, blocks)
    return result


def _share(function, items):
    """``function(start, stop)`` over [0, items), on the calling thread alone or shared out."""
    threads = _threads_for(items)
    if threads == 1:
        function(0, items)
    else:
        _run_blocks(function, items, threads)
