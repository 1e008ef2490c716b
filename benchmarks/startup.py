"""Start-up time: a new process doing ``import minidl`` and one convolution forward+backward.

    python -m benchmarks.startup --threads 1 2 [--repeats 7] [--cold-repeats 3] [--output RESULTS.md]

Cold start is the first run on a machine: Numba's disk cache is empty and every kernel the
step needs is compiled. Each cold run gets its own empty temporary NUMBA_CACHE_DIR, so the
cache minidl really uses is neither read nor cleared. Warm start is every later run: the
kernels load from the cache. Warm runs share one temporary NUMBA_CACHE_DIR, filled by one
untimed run first.

Two times per run: "import + step", measured inside the process from before ``import minidl``
to the end of the backward pass, and "process", the whole process as the shell sees it
(interpreter start and exit included). The last column says whether the process printed
minidl's first-run compile notice; it should for cold starts and not for warm ones.
"""

import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import common
from benchmarks.conv import QUICK_SHAPES, SHAPES

NOTICE = "minidl: compiling kernels"

STEP = """
import time
start = time.perf_counter()
import numpy as np
import minidl
from minidl import functional as F
from minidl.kernels.backend import set_backend
from minidl.kernels.threads import set_num_threads

set_backend({backend!r})
set_num_threads({threads})
rng = np.random.default_rng(0)
x, w, b = (minidl.Tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
           for shape in ({x_shape}, {w_shape}, ({f},)))
out = F.conv2d(x, w, b, stride={stride}, padding={padding})
out.backward(np.ones(out.shape, dtype=np.float32))
print(time.perf_counter() - start)
"""


def start_once(shape, backend, n_threads, cache_dir):
    """One new process: (seconds for import + step, seconds for the whole process, notice shown)."""
    code = STEP.format(backend=backend, threads=n_threads, x_shape=(shape.n, shape.c, shape.h, shape.w),
                       w_shape=(shape.f, shape.c, shape.k, shape.k), f=shape.f, stride=shape.stride,
                       padding=shape.padding)
    env = common.child_env(NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"start-up run failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1]), wall, NOTICE in done.stderr


def summarize(label, runs):
    inside, wall, notices = zip(*runs)
    shown = "yes" if all(notices) else "no" if not any(notices) else f"{sum(notices)} of {len(runs)}"
    return [label, str(len(runs)), f"{statistics.median(inside):.2f}", f"{statistics.median(wall):.2f}", shown]


def main(argv=None):
    p = common.parser("Time a new process importing minidl and running one conv2d forward+backward.")
    p.add_argument("--cold-repeats", type=int, default=3,
                   help="cold starts to take the median of; each compiles everything (default 3, 0 skips)")
    args = common.parse(p, argv)
    cold_repeats = min(args.cold_repeats, 1) if args.quick else args.cold_repeats
    shape = QUICK_SHAPES["a"] if args.quick else SHAPES["a"]
    backends = [impl for impl in args.impls if impl != "torch"]
    text = common.header(f"start-up: import minidl + conv2d forward+backward, {shape.describe()}", args)
    for n in args.threads:
        rows = []
        for backend in backends:
            if cold_repeats:
                cold = []
                for _ in range(cold_repeats):
                    with tempfile.TemporaryDirectory(prefix="minidl-cold-") as cache_dir:
                        cold.append(start_once(shape, backend, n, cache_dir))
                rows.append(summarize(f"{backend}, cold (empty cache)", cold))
            with tempfile.TemporaryDirectory(prefix="minidl-warm-") as cache_dir:
                start_once(shape, backend, n, cache_dir)  # fills the cache
                warm = [start_once(shape, backend, n, cache_dir) for _ in range(args.repeats)]
            rows.append(summarize(f"{backend}, warm", warm))
        headers = ["start", "runs", "import + step s", "process s", "compile notice"]
        text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + common.markdown_table(headers, rows) + "\n"
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
