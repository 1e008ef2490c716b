"""Peak memory of one convolution forward+backward (shape c), minidl against PyTorch.

    python -m benchmarks.memory --threads 1 2 [--repeats 3] [--output RESULTS.md]

Each measurement is a fresh process (``--worker IMPL``), so that nothing another
implementation allocated is counted. The worker imports everything, runs a tiny convolution of
the same kind (loading compiled kernels and PyTorch's lazy parts), allocates the inputs, resets
its peak resident set size (RSS) to the current one, runs one forward+backward and reports how
far the peak rose above the RSS before it.

The peak is Linux's VmHWM (/proc/self/status), reset by writing 5 to /proc/self/clear_refs.
``getrusage``'s ``ru_maxrss`` would be the same number if it were not carried over from the
parent through fork and exec: a worker started by a parent holding PyTorch would begin with
PyTorch's peak. Before the measured runs, one worker per minidl implementation fills Numba's
disk cache, so that no measured process compiles.
"""

import json
import os
import statistics
import subprocess
import sys

import numpy as np

from benchmarks import common
from benchmarks.conv import SHAPES, ConvShape

SHAPE = SHAPES["c"]
QUICK_SHAPE = ConvShape(4, 8, 16, 16, 8, 3, padding=1)
MiB = 2**20


def rss_bytes():
    """(current, peak) resident set size of this process, in bytes: VmRSS and VmHWM."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return tuple(int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM"))


def reset_peak_rss():
    """Make the peak RSS (VmHWM) equal to the current RSS, so that later peaks are new ones."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def worker(impl, shape, n_threads):
    """Run in a fresh process: the rise of the peak RSS over one forward+backward, in bytes."""
    from minidl import Tensor
    from minidl import functional as F
    from minidl.kernels import threads

    threads.set_num_threads(n_threads)
    if impl == "torch":
        import torch

        torch.set_num_threads(n_threads)

        def conv_step(x, w, b, dout):
            x, w, b = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
            torch.nn.functional.conv2d(x, w, b, stride=shape.stride, padding=shape.padding).backward(
                torch.from_numpy(dout))
    else:
        def conv_step(x, w, b, dout):
            x, w, b = (Tensor(a, requires_grad=True) for a in (x, w, b))
            F.conv2d(x, w, b, stride=shape.stride, padding=shape.padding).backward(dout)

    def arrays(s):
        rng = np.random.default_rng(0)
        return (rng.standard_normal((s.n, s.c, s.h, s.w), dtype=np.float32),
                rng.standard_normal((s.f, s.c, s.k, s.k), dtype=np.float32),
                rng.standard_normal(s.f, dtype=np.float32),
                rng.standard_normal((s.n, s.f) + s.out_hw(), dtype=np.float32))

    tiny = ConvShape(1, shape.c, 8, 8, shape.f, shape.k, shape.stride, shape.padding)
    with common.backend(impl):
        conv_step(*arrays(tiny))
        inputs = arrays(shape)
        reset_peak_rss()
        baseline, _ = rss_bytes()
        conv_step(*inputs)
    return {"baseline": baseline, "increase": rss_bytes()[1] - baseline}


def run_worker(impl, args_quick, n_threads):
    command = [sys.executable, "-m", "benchmarks.memory", "--worker", impl, "--threads", str(n_threads)]
    if args_quick:
        command.append("--quick")
    done = subprocess.run(command, cwd=common.ROOT, capture_output=True, text=True,
                          env=common.child_env())
    if done.returncode != 0:
        raise RuntimeError(f"memory worker {impl} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def required_bytes(shape):
    """The arrays one forward+backward cannot do without: x, w, b, out, dout, dx, dw, db."""
    oh, ow = shape.out_hw()
    x = shape.n * shape.c * shape.h * shape.w
    out = shape.n * shape.f * oh * ow
    w = shape.f * shape.c // shape.groups * shape.k * shape.k
    return 4 * (2 * x + 2 * out + 2 * w + 2 * shape.f)


def main(argv=None):
    p = common.parser("Peak memory of one conv2d forward+backward (shape c), each in its own process.",
                      repeats=3)
    p.add_argument("--worker", choices=common.IMPLS, help="(internal) measure one implementation")
    args = common.parse(p, argv)
    if not os.path.exists("/proc/self/clear_refs"):
        p.error("the memory benchmark reads peak memory from Linux's /proc; this system has none")
    shape = QUICK_SHAPE if args.quick else SHAPE
    if args.worker:
        print(json.dumps(worker(args.worker, shape, args.threads[0])))
        return None

    text = common.header(f"memory of conv2d forward+backward, {shape.describe()}", args)
    text += (f"\nThe arrays themselves (x, w, b, out and their gradients) take "
             f"{required_bytes(shape) / MiB:.1f} MiB; the rest is each implementation's workspace "
             f"(im2col columns, ...).\n")
    for n in args.threads:
        for impl in args.impls:
            if impl != "torch":
                run_worker(impl, args.quick, n)  # fills Numba's disk cache
        results = {impl: [] for impl in args.impls}
        for _ in range(args.repeats):
            for impl in args.impls:
                results[impl].append(run_worker(impl, args.quick, n))
        increase = {impl: statistics.median(r["increase"] for r in runs) for impl, runs in results.items()}
        headers = ["implementation", "peak RSS increase MiB", "baseline RSS MiB"]
        if "torch" in args.impls:
            headers.append("ratio to torch")
        rows = []
        for impl, runs in results.items():
            row = [impl, f"{increase[impl] / MiB:.1f}",
                   f"{statistics.median(r['baseline'] for r in runs) / MiB:.0f}"]
            if "torch" in args.impls:
                row.append(common.fmt_ratio(increase[impl] / max(increase["torch"], 1)))
            rows.append(row)
        text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + common.markdown_table(headers, rows) + "\n"
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
