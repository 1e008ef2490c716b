"""One SGD training step of LeNet-5 and ResNet-20: minidl (Numba and NumPy kernels) against PyTorch.

    python -m benchmarks.train_step --threads 1 2 [--repeats 7] [--output RESULTS.md]

A step is what a training loop repeats: zero the gradients, forward, cross-entropy loss,
backward, SGD update (lr 0.01, momentum 0.9, weight decay 5e-4), on a batch of 64 random
images. Both frameworks start from the same weights (minidl's, loaded into the PyTorch model);
the first step's losses are printed side by side as a check that the models are the same.
"""

import statistics
import sys

import numpy as np

import minidl
from benchmarks import common
from benchmarks.models import lenet5, resnet20
from minidl import functional as F
from minidl import nn, optim

# name: (builder taking an nn module, input shape of one image)
MODELS = {
    "LeNet-5 (ReLU, max pool)": (lambda nn: lenet5(nn, "relu", "max"), (1, 28, 28)),
    "LeNet-5 (tanh, avg pool)": (lambda nn: lenet5(nn, "tanh", "avg"), (1, 28, 28)),
    "ResNet-20": (resnet20, (3, 32, 32)),
}
QUICK_IMAGES = {"ResNet-20": (3, 8, 8)}  # LeNet's linear layers need 28x28
SGD_OPTIONS = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)


def cases(name, batch, quick, impls, torch):
    """``(prepare, run)`` per implementation, each with its own model and optimizer, and the
    loss of each implementation's first step."""
    build, image = MODELS[name]
    if quick:
        image = QUICK_IMAGES.get(name, image)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + image, dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    minidl.manual_seed(0)
    weights = build(nn).state_dict()
    result, first_loss = {}, {}
    for impl in impls:
        if impl == "torch":
            model = build(torch.nn)
            model.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in weights.items()})
            optimizer = torch.optim.SGD(model.parameters(), **SGD_OPTIONS)
            inputs, targets, cross_entropy = torch.from_numpy(x), torch.from_numpy(y), torch.nn.functional.cross_entropy
        else:
            model = build(nn)
            model.load_state_dict(weights)
            optimizer = optim.SGD(model.parameters(), **SGD_OPTIONS)
            inputs, targets, cross_entropy = minidl.Tensor(x), y, F.cross_entropy

        def step(model=model, optimizer=optimizer, inputs=inputs, targets=targets, cross_entropy=cross_entropy):
            optimizer.zero_grad()
            loss = cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss.item()

        with common.backend(impl):
            first_loss[impl] = step()
        result[impl] = (lambda: None, step)
    return result, first_loss


def report(ms, losses, args):
    minidl_impls = [impl for impl in args.impls if impl != "torch"]
    has_torch = "torch" in args.impls
    headers = ["model", "input"] + [f"{impl} ms" for impl in args.impls]
    if has_torch:
        headers += [f"{impl}/torch" for impl in minidl_impls]
    headers.append("first-step loss (" + " / ".join(args.impls) + ")")
    rows = []
    for (name, image), rounds in ms.items():
        row = [name, image] + [common.fmt_ms(statistics.median(rounds[impl])) for impl in args.impls]
        if has_torch:
            row += [common.fmt_spread(common.round_ratios(rounds, impl)) for impl in minidl_impls]
        row.append(" / ".join(f"{losses[name][impl]:.4f}" for impl in args.impls))
        rows.append(row)
    return common.markdown_table(headers, rows, text_columns=2) + "\n"


def main(argv=None):
    p = common.parser("Time one SGD step of LeNet-5 and ResNet-20.")
    p.add_argument("--batch", type=int, default=64, help="images per batch (default 64; 4 with --quick)")
    args = common.parse(p, argv)
    batch = 4 if args.quick else args.batch
    torch = common.load_torch()
    text = common.header(f"training step, batch {batch}", args)
    for n in args.threads:
        with common.thread_count(n):
            common.gemm_peak(256 if args.quick else 2048, repeats=1)
            ms, losses = {}, {}
            for name in MODELS:
                step_cases, losses[name] = cases(name, batch, args.quick, args.impls, torch)
                image = QUICK_IMAGES.get(name, MODELS[name][1]) if args.quick else MODELS[name][1]
                ms[name, f"{batch}x" + "x".join(map(str, image))] = common.timed_rounds(step_cases, args.repeats)
            text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + report(ms, losses, args)
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
