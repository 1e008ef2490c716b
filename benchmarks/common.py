"""What every benchmark shares: the command line, thread counts, timing, the GEMM peak, Markdown.

The conventions, so that numbers from different runs and modules can be compared:
- every implementation runs at the same thread count: minidl's threads
  (``minidl.kernels.threads.set_num_threads``; BLAS runs on one thread per product) and
  PyTorch's (``torch.set_num_threads``);
- float32 everywhere;
- before any timing, one large matrix product wakes OpenBLAS up (its first calls are slow);
- each implementation runs once untimed (compiling Numba kernels, filling caches), then all of
  them take turns for ``--repeats`` rounds, and each reports the median of its rounds. Taking
  turns means a burst of load from elsewhere on the machine slows every implementation alike.
  Each turn is an untimed run followed by the timed ones, so that no implementation is timed
  while the previous one's threads (PyTorch's spin after each operation) still hold the cores;
  a round's time is the mean of back-to-back runs filling at least ``MIN_ROUND_SECONDS``.
"""

import argparse
import contextlib
import datetime
import gc
import importlib.util
import os
import statistics
import time
from pathlib import Path

import numpy as np

from minidl.kernels import threads
from minidl.machine import describe_cpu
from minidl.kernels.backend import use_backend

ROOT = Path(__file__).resolve().parents[1]

# minidl with its fast kernels, minidl with its NumPy reference kernels, and PyTorch on the CPU.
IMPLS = ("numba", "numpy", "torch")
MINIDL_IMPLS = ("numba", "numpy")


def load_torch():
    """The torch module, or None when PyTorch is not installed (its columns are then left out)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def parser(description, repeats=7):
    """The options every benchmark takes; a module adds its own to the returned parser."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts to measure at, one table each (default: 1 and 2, as far "
                        "as the machine has them)")
    p.add_argument("--repeats", type=int, default=repeats,
                   help=f"timed rounds; the median is reported (default {repeats})")
    p.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS),
                   help="implementations to run (default: all; torch only when installed)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and one round: checks that the benchmark runs, measures nothing")
    p.add_argument("--output", type=Path, default=None,
                   help="also append the Markdown to this file")
    return p


def parse(p, argv):
    """Parse ``argv`` and settle the defaults that depend on the machine and on --quick."""
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = sorted({1, min(2, threads.max_threads())})
    for n in args.threads:
        if not 1 <= n <= threads.max_threads():
            p.error(f"--threads must be between 1 and {threads.max_threads()} on this machine, got {n}")
    if args.quick:
        args.repeats = 1
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    if "torch" in args.impls and importlib.util.find_spec("torch") is None:
        args.impls = [impl for impl in args.impls if impl != "torch"]
    return args


def child_env(**variables):
    """The environment for a benchmark's child process: this one's, with the repository on the
    module path (so ``benchmarks`` and ``minidl`` import from any folder) and ``variables`` set."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **variables)


def backend(impl):
    """The context an implementation runs in: minidl's kernel backend, or nothing for PyTorch."""
    return use_backend(impl) if impl in MINIDL_IMPLS else contextlib.nullcontext()


@contextlib.contextmanager
def thread_count(n):
    """Run minidl (its kernels and its shared matrix products) and PyTorch with ``n`` threads inside
    the block."""
    torch = load_torch()
    before = threads.get_num_threads()
    torch_before = torch.get_num_threads() if torch else None
    threads.set_num_threads(n)
    if torch:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        threads.set_num_threads(before)
        if torch:
            torch.set_num_threads(torch_before)


def gemm_peak(size=2048, repeats=3):
    """GFLOP/s of a float32 ``size`` x ``size`` matrix product as minidl computes one: NumPy's BLAS
    on one thread per block, the blocks shared among minidl's threads (``kernels.matmul``).

    The first product is the warm-up OpenBLAS needs; the median of the next ``repeats`` is the
    practical peak a convolution lowered to GEMM can approach at this thread count.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = threads.matmul(a, b)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        threads.matmul(a, b, out=out)
        seconds.append(time.perf_counter() - start)
    torch = load_torch()
    if torch:  # PyTorch has its own BLAS, which wants the same warm-up
        torch.from_numpy(a) @ torch.from_numpy(b)
    return 2 * size**3 / statistics.median(seconds) / 1e9


# A round times back-to-back runs of a case for at least this long (at most MAX_RUNS_PER_ROUND
# of them) and reports their mean: one run of a millisecond on a virtual machine's two cores
# moved by 30% and more from round to round (a core that idled is slow to come back, and the
# other implementation's threads may still be spinning when a turn starts), where a training
# loop or an evaluation repeats its steps back to back.
MIN_ROUND_SECONDS = 0.1
MAX_RUNS_PER_ROUND = 50


def timed_rounds(cases, repeats):
    """Milliseconds of a ``run`` in every round of each case: {impl: [ms of round 1, 2, ...]},
    each the mean of the round's back-to-back runs (``MIN_ROUND_SECONDS``).

    ``cases`` maps an implementation to ``(prepare, run)``: ``prepare()`` is untimed (clearing
    gradients, say), ``run()`` is timed. Every case first runs once untimed, then the cases take
    turns for ``repeats`` rounds, so round r of every implementation ran at about the same
    time and under about the same outside load (``round_ratios`` pairs them).

    Each turn starts with one untimed run of its own. PyTorch's OpenMP threads keep spinning
    on the cores for a while after each operation, so whatever runs right after PyTorch finds
    the cores busy; the untimed run absorbs part of that, and the timed runs follow runs of the
    same implementation, as in a training loop where one step follows another. (Waiting for the
    threads to go to sleep instead would slow PyTorch's own next run, which must wake them.)
    """
    def once(impl):
        prepare, run = cases[impl]
        with backend(impl):
            prepare()
            start = time.perf_counter()
            run()                   # untimed: the cores settle on this implementation
            runs = max(1, min(MAX_RUNS_PER_ROUND, int(MIN_ROUND_SECONDS / (time.perf_counter() - start))))
            gc.collect()  # so that no collection of an earlier round lands inside the timing
            seconds = 0.0
            for _ in range(runs):
                prepare()
                start = time.perf_counter()
                run()
                seconds += time.perf_counter() - start
            return seconds / runs

    # Whatever exists now (the imported modules above all) is left out of garbage collection,
    # so the collection before each run only walks the objects the benchmark itself made.
    gc.freeze()
    try:
        for impl in cases:
            once(impl)
        times = {impl: [] for impl in cases}
        for _ in range(repeats):
            for impl in cases:
                times[impl].append(1e3 * once(impl))
    finally:
        gc.unfreeze()
    return times


def median_ms(cases, repeats):
    """Median milliseconds of each case's ``run`` over ``timed_rounds``: {impl: ms}."""
    return {impl: statistics.median(t) for impl, t in timed_rounds(cases, repeats).items()}


def round_ratios(rounds, impl, base="torch"):
    """The ratio ``impl`` / ``base`` of each round: both ran one after the other in that round,
    so outside load that comes and goes divides out better than in a ratio of two medians."""
    return [a / b for a, b in zip(rounds[impl], rounds[base], strict=True)]


def fmt_spread(ratios):
    """"median (lowest-highest)" of per-round ratios, e.g. "0.93x (0.88-1.02)"."""
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def geometric_mean(values):
    return statistics.geometric_mean(values) if values else float("nan")


def fmt_ms(ms):
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def fmt_ratio(ratio):
    return f"{ratio:.2f}x"


def markdown_table(headers, rows, text_columns=1):
    """A Markdown table: the first ``text_columns`` left-aligned, the others (numbers) right-aligned."""
    aligns = [":---"] * text_columns + ["---:"] * (len(headers) - text_columns)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def library_kernels():
    """Which kernels the libraries picked at run time: OpenBLAS's core type (its GEMM kernel;
    a Haswell kernel uses 256-bit vectors even where the CPU has AVX-512) and PyTorch's CPU
    capability."""
    from threadpoolctl import threadpool_info

    # dict.fromkeys: each kind once, where several copies of OpenBLAS are loaded (NumPy's, SciPy's)
    parts = list(dict.fromkeys(f"OpenBLAS {lib.get('architecture', '?')} kernels" for lib in threadpool_info()
                               if lib.get("internal_api") == "openblas"))
    torch = load_torch()
    if torch:
        parts.append(f"PyTorch {torch.backends.cpu.get_cpu_capability()}")
    return ", ".join(parts)


def header(title, args):
    """The heading of a report: what ran, where, with which versions and settings."""
    import numba

    torch = load_torch()
    versions = f"numpy {np.__version__}, numba {numba.__version__}"
    if torch:
        versions += f", torch {torch.__version__}"
    mode = " (--quick: tiny sizes, a smoke test, not a measurement)" if args.quick else ""
    return (f"## {title}{mode}\n\n"
            f"{datetime.date.today()} · {describe_cpu()} · {library_kernels()} · {versions} · float32 · "
            f"median of {args.repeats} after warm-up · implementations: {', '.join(args.impls)}\n")


def time_models(title, args, models, quick_images, cases, check_header, check_cell):
    """Time every model's ``cases`` at each thread count; the report, one table per count.

    ``models`` maps a name to ``(builder, image shape)``, ``quick_images`` gives smaller images
    for --quick, and ``cases(name, batch, quick, impls, torch)`` returns ``({impl: (prepare,
    run)}, check)``: ``check`` is what shows the implementations computed the same thing (class
    scores, a first loss), put in the table's last column as ``check_cell(check, args)``.
    """
    batch = 4 if args.quick else args.batch
    torch = load_torch()
    text = header(f"{title}, batch {batch}", args)
    for n in args.threads:
        with thread_count(n):
            gemm_peak(256 if args.quick else 2048, repeats=1)
            minidl_impls = [impl for impl in args.impls if impl != "torch"]
            has_torch = "torch" in args.impls
            headers = ["model", "input"] + [f"{impl} ms" for impl in args.impls]
            if has_torch:
                headers += [f"{impl}/torch" for impl in minidl_impls]
            rows = []
            for name in models:
                model_cases, check = cases(name, batch, args.quick, args.impls, torch)
                image = quick_images.get(name, models[name][1]) if args.quick else models[name][1]
                rounds = timed_rounds(model_cases, args.repeats)
                row = [name, f"{batch}x" + "x".join(map(str, image))]
                row += [fmt_ms(statistics.median(rounds[impl])) for impl in args.impls]
                if has_torch:
                    row += [fmt_spread(round_ratios(rounds, impl)) for impl in minidl_impls]
                rows.append(row + [check_cell(check, args)])
            table = markdown_table(headers + [check_header(args)], rows, text_columns=2)
            text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n{table}\n"
    return emit(text, args)


def emit(text, args):
    """Print ``text`` and append it to --output when given; returns it for callers and tests."""
    print(text, flush=True)
    if args.output:
        with open(args.output, "a") as f:
            f.write(text + "\n")
    return text
