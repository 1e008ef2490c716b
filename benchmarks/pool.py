"""Pooling speed: minidl (Numba and NumPy kernels) against PyTorch on a 64x64x32x32 input.

    python -m benchmarks.pool --threads 1 2 [--repeats 7] [--output RESULTS.md]

Max pooling 2x2 stride 2 (VGG, LeNet) and 3x3 stride 2 (overlapping windows, AlexNet), and
average pooling 2x2 stride 2, each in three passes as in ``benchmarks.conv``: inference
(``minidl.no_grad()`` against ``torch.inference_mode()``, no switches needed), forward on
Tensors that require gradients, and forward+backward.
"""

import statistics
import sys

import numpy as np

from benchmarks import common
from benchmarks.conv import grad_mode
from minidl import Tensor
from minidl import functional as F

# name: (kind, kernel, stride)
POOLS = {
    "max 2x2 s2": ("max", 2, 2),
    "max 3x3 s2": ("max", 3, 2),
    "avg 2x2 s2": ("avg", 2, 2),
}
SHAPE = (64, 64, 32, 32)
QUICK_SHAPE = (2, 4, 8, 8)
PASSES = ("inference", "forward", "forward+backward")


def cases(shape, kind, kernel, stride, passname, impls, torch):
    """``(prepare, run)`` per implementation for one pooling and pass, all on the same numbers."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    n, c, h, w = shape
    dout = rng.standard_normal((n, c, (h - kernel) // stride + 1, (w - kernel) // stride + 1), dtype=np.float32)
    backward, requires_grad = passname == "forward+backward", passname != "inference"
    result = {}
    for impl in impls:
        if impl == "torch":
            functional, grad = torch.nn.functional, torch.from_numpy(dout)
            xt = torch.from_numpy(x).requires_grad_(requires_grad)
        else:
            functional, xt, grad = F, Tensor(x, requires_grad=requires_grad), dout
        pool = functional.max_pool2d if kind == "max" else functional.avg_pool2d

        def prepare(xt=xt):
            xt.grad = None

        def run(xt=xt, grad=grad, pool=pool, impl=impl):
            with grad_mode(impl, passname, torch):
                out = pool(xt, kernel, stride)
            if backward:
                out.backward(grad)

        result[impl] = (prepare, run)
    return result


def report(ms, args):
    minidl_impls = [impl for impl in args.impls if impl != "torch"]
    has_torch = "torch" in args.impls
    headers = ["pooling", "pass"] + [f"{impl} ms" for impl in args.impls]
    if has_torch:
        headers += [f"{impl}/torch" for impl in minidl_impls]
    rows, worst_max = [], {impl: 0.0 for impl in minidl_impls}
    for (name, passname), rounds in ms.items():
        row = [name, passname] + [common.fmt_ms(statistics.median(rounds[impl])) for impl in args.impls]
        if has_torch:
            for impl in minidl_impls:
                ratios = common.round_ratios(rounds, impl)
                row.append(common.fmt_spread(ratios))
                if name.startswith("max"):
                    worst_max[impl] = max(worst_max[impl], statistics.median(ratios))
        rows.append(row)
    text = common.markdown_table(headers, rows, text_columns=2) + "\n"
    if has_torch:
        text += "\n" + "\n".join(f"- max pooling, worst {impl}/torch: {common.fmt_ratio(worst_max[impl])}"
                                 for impl in minidl_impls) + "\n"
    return text


def main(argv=None):
    p = common.parser("Time max and average pooling, forward and forward+backward.")
    args = common.parse(p, argv)
    torch = common.load_torch()
    shape = QUICK_SHAPE if args.quick else SHAPE
    text = common.header("pooling on " + "x".join(map(str, shape)), args)
    for n in args.threads:
        with common.thread_count(n):
            common.gemm_peak(256 if args.quick else 2048, repeats=1)
            ms = {(name, passname): common.timed_rounds(cases(shape, *POOLS[name], passname, args.impls, torch),
                                                        args.repeats)
                  for name in POOLS for passname in PASSES}
            text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + report(ms, args)
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
