"""Where a training step's time goes: minidl per operation against PyTorch's profiler.

    python -m benchmarks.profile_step [--model ResNet-20] [--threads 1] [--steps 5] [--batch 64]

Runs the SGD step of ``benchmarks.train_step`` on one model. For minidl, every Function's
forward and backward is timed (the outermost call only: a Function calling another inside is
counted once), and summed per operation over ``--steps`` steps; what is left of the step's
wall time is the engine's own work (building and walking the graph, adding gradients) and the
optimiser. For PyTorch, ``torch.profiler`` gives each ATen operation's own CPU time over as
many steps. Both tables list milliseconds per step, largest first.
"""

import contextlib
import sys
import threading
import time
from collections import defaultdict

import numpy as np

from benchmarks import common
from benchmarks.train_step import MODELS, cases
from minidl.function import Function

_local = threading.local()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _timed(function, pass_name, totals, name=None):
    """``function`` timed into totals[(operation, pass_name)], outermost calls only. A
    classmethod's operation is the class it was called on (its first argument)."""

    def wrapper(*args, **kwargs):
        if getattr(_local, "inside", False):
            return function(*args, **kwargs)
        _local.inside = True
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[(name or args[0].__name__, pass_name)] += time.perf_counter() - start
            _local.inside = False

    return wrapper


@contextlib.contextmanager
def timing_every_function(totals):
    """Inside the block, every Function subclass's forward and backward add their time to ``totals``."""
    saved = []
    for cls in _subclasses(Function):
        for pass_name in ("forward", "backward"):
            raw = cls.__dict__.get(pass_name)
            if isinstance(raw, staticmethod):
                wrapped = staticmethod(_timed(raw.__func__, pass_name, totals, name=cls.__name__))
            elif isinstance(raw, classmethod):
                wrapped = classmethod(_timed(raw.__func__, pass_name, totals))
            else:
                continue
            saved.append((cls, pass_name, raw))
            setattr(cls, pass_name, wrapped)
    try:
        yield
    finally:
        for cls, pass_name, raw in saved:
            setattr(cls, pass_name, raw)


def minidl_profile(run, steps):
    """{(operation, pass): ms per step} and the step's wall ms."""
    totals = defaultdict(float)
    run()
    with timing_every_function(totals):
        start = time.perf_counter()
        for _ in range(steps):
            run()
        wall = time.perf_counter() - start
    return {key: 1e3 * value / steps for key, value in totals.items()}, 1e3 * wall / steps


def torch_profile(torch, run, steps):
    """{ATen operation: own CPU ms per step} and the step's wall ms."""
    run()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for _ in range(steps):
            run()
        wall = time.perf_counter() - start
    return ({event.key: event.self_cpu_time_total / 1e3 / steps for event in profiler.key_averages()},
            1e3 * wall / steps)


def report(name, ours, our_wall, theirs, their_wall, rows):
    table = [[f"{op} {pass_name}", f"{ms:.2f}"] for (op, pass_name), ms in
             sorted(ours.items(), key=lambda item: -item[1])[:rows]]
    engine = our_wall - sum(ours.values())
    table.append(["engine, optimiser and the rest", f"{engine:.2f}"])
    text = (f"### minidl: {our_wall:.1f} ms per step (profiled)\n\n"
            + common.markdown_table(["operation", "ms per step"], table) + "\n")
    table = [[op, f"{ms:.2f}"] for op, ms in sorted(theirs.items(), key=lambda item: -item[1])[:rows]]
    text += (f"\n### PyTorch: {their_wall:.1f} ms per step (profiled)\n\n"
             + common.markdown_table(["ATen operation (own time)", "ms per step"], table) + "\n")
    return text


def main(argv=None):
    p = common.parser("Profile one model's training step, minidl per operation and PyTorch per ATen op.")
    p.add_argument("--model", choices=list(MODELS), default="ResNet-20")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5, help="profiled steps (default 5)")
    p.add_argument("--rows", type=int, default=15, help="largest operations listed (default 15)")
    args = common.parse(p, argv)
    torch = common.load_torch()
    impls = ["numba", "torch"] if torch else ["numba"]
    batch = 4 if args.quick else args.batch
    text = common.header(f"profile of a training step: {args.model}, batch {batch}", args)
    for n in args.threads:
        with common.thread_count(n):
            step_cases, _ = cases(args.model, batch, args.quick, impls, torch)
            ours, our_wall = minidl_profile(step_cases["numba"][1], 1 if args.quick else args.steps)
            theirs, their_wall = ({}, float("nan")) if not torch else torch_profile(
                torch, step_cases["torch"][1], 1 if args.quick else args.steps)
            text += f"\n#### {n} thread{'s' if n > 1 else ''}\n\n" + report(args.model, ours, our_wall, theirs,
                                                                              their_wall, args.rows)
    return common.emit(text, args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
