"""Convolution speed: minidl (Numba and NumPy kernels) against PyTorch on shapes a-h.

    python -m benchmarks.conv --threads 1 2 [--repeats 7] [--passes ...] [--output RESULTS.md]

Three passes. "inference" is ``F.conv2d`` under ``minidl.no_grad()`` on Tensors that do not
require gradients, against PyTorch under ``torch.inference_mode()``: what evaluation, feature
extraction and every visualisation run. "forward" is ``F.conv2d`` on Tensors that require
gradients (the forward of a training step); "forward+backward" adds ``out.backward(dout)``,
which computes dx, dw and db. FLOPs count a
multiply-add as 2: a forward does 2 * N * F * H' * W' * (C / groups) * KH * KW, and the
backward does twice that (dx and dw are each a convolution of the same size), so a
forward+backward does 3 forwards' worth.
"""

import contextlib
import statistics
import sys
from dataclasses import dataclass

import numpy as np

import minidl
from benchmarks import common
from minidl import Tensor
from minidl import functional as F


@dataclass(frozen=True)
class ConvShape:
    n: int
    c: int
    h: int
    w: int
    f: int
    k: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    def out_hw(self):
        span = self.dilation * (self.k - 1) + 1
        return tuple((size + 2 * self.padding - span) // self.stride + 1 for size in (self.h, self.w))

    def forward_flops(self):
        oh, ow = self.out_hw()
        return 2 * self.n * self.f * oh * ow * (self.c // self.groups) * self.k * self.k

    def describe(self):
        text = f"{self.n}x{self.c}x{self.h}x{self.w} -> {self.f}, k{self.k} s{self.stride} p{self.padding}"
        if self.dilation != 1:
            text += f" d{self.dilation}"
        if self.groups != 1:
            text += f" g{self.groups}"
        return text


SHAPES = {
    "a": ConvShape(64, 1, 28, 28, 6, 5, padding=2),              # LeNet's first layer
    "b": ConvShape(64, 3, 32, 32, 32, 3, padding=1),             # a CIFAR stem
    "c": ConvShape(64, 64, 32, 32, 64, 3, padding=1),            # a VGG/ResNet body layer
    "d": ConvShape(64, 128, 16, 16, 128, 3, padding=1),          # ... deeper, smaller images
    "e": ConvShape(64, 64, 32, 32, 128, 3, stride=2, padding=1),  # a downsampling layer
    "f": ConvShape(64, 64, 32, 32, 64, 3, padding=2, dilation=2),  # dilated
    "g_dw": ConvShape(64, 64, 32, 32, 64, 3, padding=1, groups=64),  # MobileNet: depthwise
    "g_pw": ConvShape(64, 64, 32, 32, 128, 1),                   # ... then pointwise
    "h": ConvShape(8, 3, 227, 227, 96, 11, stride=4),            # AlexNet's first layer
}

QUICK_SHAPES = {
    "a": ConvShape(2, 1, 12, 12, 3, 5, padding=2),
    "b": ConvShape(2, 3, 8, 8, 4, 3, padding=1),
    "c": ConvShape(2, 4, 8, 8, 4, 3, padding=1),
    "d": ConvShape(2, 8, 4, 4, 8, 3, padding=1),
    "e": ConvShape(2, 4, 8, 8, 8, 3, stride=2, padding=1),
    "f": ConvShape(2, 4, 8, 8, 4, 3, padding=2, dilation=2),
    "g_dw": ConvShape(2, 4, 8, 8, 4, 3, padding=1, groups=4),
    "g_pw": ConvShape(2, 4, 8, 8, 8, 1),
    "h": ConvShape(1, 3, 23, 23, 4, 11, stride=4),
}

# The shapes whose speed is also given as a fraction of the GEMM peak: large, dense 3x3 layers
# that a GEMM-based convolution should run near the speed of the matrix product itself.
PEAK_SHAPES = ("c", "d", "f")
# g_dw and g_pw form one block, g, in the geometric mean.
BLOCKS = {"a": ("a",), "b": ("b",), "c": ("c",), "d": ("d",), "e": ("e",), "f": ("f",),
          "g": ("g_dw", "g_pw"), "h": ("h",)}
PASSES = ("inference", "forward", "forward+backward")


def grad_mode(impl, passname, torch):
    """The autograd mode a pass runs in: no_grad (minidl) or inference_mode (PyTorch) for
    inference, recording as usual for the training passes."""
    if passname != "inference":
        return contextlib.nullcontext()
    return torch.inference_mode() if impl == "torch" else minidl.no_grad()


def cases(shape, passname, impls, torch):
    """``(prepare, run)`` per implementation for one shape and pass, all on the same numbers."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((shape.n, shape.c, shape.h, shape.w), dtype=np.float32)
    w = rng.standard_normal((shape.f, shape.c // shape.groups, shape.k, shape.k), dtype=np.float32)
    b = rng.standard_normal(shape.f, dtype=np.float32)
    dout = rng.standard_normal((shape.n, shape.f) + shape.out_hw(), dtype=np.float32)
    options = dict(stride=shape.stride, padding=shape.padding, dilation=shape.dilation, groups=shape.groups)
    backward, requires_grad = passname == "forward+backward", passname != "inference"
    result = {}
    for impl in impls:
        if impl == "torch":
            tensors = [torch.from_numpy(a).requires_grad_(requires_grad) for a in (x, w, b)]
            grad, conv2d = torch.from_numpy(dout), torch.nn.functional.conv2d
        else:
            tensors = [Tensor(a, requires_grad=requires_grad) for a in (x, w, b)]
            grad, conv2d = dout, F.conv2d

        def prepare(tensors=tensors):
            for t in tensors:
                t.grad = None

        def run(tensors=tensors, grad=grad, conv2d=conv2d, impl=impl):
            with grad_mode(impl, passname, torch):
                out = conv2d(*tensors, **options)
            if backward:
                out.backward(grad)

        result[impl] = (prepare, run)
    return result


def measure(shapes, args, torch):
    """{(shape name, pass): {impl: [ms of each round]}}, with the g block added as g_dw + g_pw
    round by round."""
    ms = {}
    for passname in args.passes:
        for name, shape in shapes.items():
            ms[name, passname] = common.timed_rounds(cases(shape, passname, args.impls, torch), args.repeats)
        ms["g", passname] = {impl: [dw + pw for dw, pw in zip(ms["g_dw", passname][impl], ms["g_pw", passname][impl])]
                             for impl in args.impls}
    return ms


def block_geomeans(ms, passname, impl):
    """The geometric mean over the blocks a-h of each round's ratio impl/torch: one per round."""
    per_block = [common.round_ratios(ms[block, passname], impl) for block in BLOCKS]
    return [common.geometric_mean(list(ratios)) for ratios in zip(*per_block)]


def report(shapes, ms, peak, gemm_size, args):
    """The Markdown of one thread count: a table per pass, then the summary lines.

    Times are medians over the rounds; a ratio to PyTorch is the median of the rounds' own
    ratios, with the lowest and highest in brackets, and so is the geometric mean over a-h.
    """
    minidl_impls = [impl for impl in args.impls if impl != "torch"]
    has_torch = "torch" in args.impls
    headers = ["shape", "config", "GFLOP"] + [f"{impl} ms" for impl in args.impls]
    headers += [f"{impl} GFLOP/s" for impl in args.impls]
    if has_torch:
        headers += [f"{impl}/torch" for impl in minidl_impls]
    if "numba" in args.impls:
        headers.append("numba % GEMM peak")

    parts, summary = [], []
    for passname in args.passes:
        factor = 3 if passname == "forward+backward" else 1
        rows = []
        names = list(shapes)
        names.insert(names.index("g_pw") + 1, "g")
        for name in names:
            if name == "g":
                config, flops = "g_dw then g_pw", sum(shapes[s].forward_flops() for s in BLOCKS["g"])
            else:
                config, flops = shapes[name].describe(), shapes[name].forward_flops()
            flops *= factor
            times = {impl: statistics.median(rounds) for impl, rounds in ms[name, passname].items()}
            gflops = {impl: flops / (times[impl] * 1e-3) / 1e9 for impl in args.impls}
            row = [name, config, f"{flops / 1e9:.3f}"]
            row += [common.fmt_ms(times[impl]) for impl in args.impls]
            row += [f"{gflops[impl]:.1f}" for impl in args.impls]
            if has_torch:
                row += [common.fmt_spread(common.round_ratios(ms[name, passname], impl)) for impl in minidl_impls]
            if "numba" in args.impls:
                row.append(f"{100 * gflops['numba'] / peak:.0f}%" if name in PEAK_SHAPES else "")
            rows.append(row)
        parts.append(f"#### {passname}\n\n" + common.markdown_table(headers, rows, text_columns=2) + "\n")
        for impl in minidl_impls if has_torch else []:
            medians = {block: statistics.median(common.round_ratios(ms[block, passname], impl)) for block in BLOCKS}
            worst = max(medians, key=medians.get)
            summary.append(
                f"- {passname}, {impl}/torch: geometric mean over a-h "
                f"{common.fmt_spread(block_geomeans(ms, passname, impl))}, "
                f"worst {worst} {common.fmt_ratio(medians[worst])}"
            )
    summary.insert(0, f"- float32 GEMM peak (np.matmul {gemm_size}x{gemm_size}) in this run: {peak:.1f} GFLOP/s")
    return "\n".join(parts) + "\n" + "\n".join(summary) + "\n"


def main(argv=None):
    p = common.parser("Time conv2d inference, forward and forward+backward on shapes a-h.")
    p.add_argument("--passes", nargs="+", choices=PASSES, default=list(PASSES),
                   help="passes to time (default: all three)")
    args = common.parse(p, argv)
    torch = common.load_torch()
    shapes = QUICK_SHAPES if args.quick else SHAPES
    text = common.header("conv2d", args)
    for n in args.threads:
        with common.thread_count(n):
            gemm_size = 256 if args.quick else 2048
            peak = common.gemm_peak(gemm_size, repeats=1 if args.quick else 3)
            ms = measure(shapes, args, torch)
            text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + report(shapes, ms, peak, gemm_size, args)
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
