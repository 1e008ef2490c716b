"""How many CPU threads minidl computes with, and the notice shown while kernels compile.

Two settings decide how many threads compute: Numba's thread count, which minidl's kernels
read to split their work (they share blocks of planes among the calling thread and a small pool
of their own, see ``im2col_numba``), and the BLAS library behind NumPy (OpenBLAS in the pip
wheels), which runs the matrix products that do not go through the kernels (``np.matmul``,
``@``, ``np.dot`` on their own). ``set_num_threads(n)`` sets both, so one number answers "how
many cores does minidl use":

    minidl.set_num_threads(1)     # e.g. to compare with torch.set_num_threads(1)
    minidl.get_num_threads()      # -> 1

The BLAS pool is reached through threadpoolctl, which finds the BLAS libraries loaded in the
process and calls their own "set threads" functions. Numba's setting is per Python thread:
call ``set_num_threads`` in the thread that runs the model.

Numba compiles each kernel to machine code on its first call and keeps the result on disk
(``@njit(cache=True)``), so only the very first run on a machine waits for the compiler.
``compile_notice(__file__)`` prints one line to stderr before that wait, so the first run does
not look frozen.
"""

import glob
import hashlib
import os
import sys

import numba
from numba.misc.appdirs import AppDirs
from threadpoolctl import ThreadpoolController

# About how long compiling all of minidl's kernels takes, shown in the first-run notice.
FIRST_RUN_SECONDS = 15


def max_threads():
    """The number of threads this machine offers minidl: the size of Numba's thread pool,
    which is the number of CPUs the process may run on unless NUMBA_NUM_THREADS lowers it."""
    return numba.config.NUMBA_NUM_THREADS


def set_num_threads(n):
    """Compute with ``n`` threads: both Numba's parallel loops and NumPy's BLAS use ``n``.

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
    # A fresh controller each time: it sees BLAS libraries loaded since the last call too.
    ThreadpoolController().limit(limits=n, user_api="blas")


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
