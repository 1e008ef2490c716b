"""Whole-model inference: one forward pass of a batch, minidl under ``no_grad`` against PyTorch
under ``inference_mode``.

    python -m benchmarks.inference --threads 1 2 [--repeats 7] [--batch 64] [--output RESULTS.md]

What evaluation, feature extraction, probes and every visualisation spend their time in:
``model.eval()``, then ``model(x)`` on a batch of random images, with no graph recorded. The
models are those of ``benchmarks.train_step`` and the zoo's small VGG, each starting from the
same weights in both frameworks; the table gives the largest difference between their class
scores, which must be float32 rounding.
"""

import sys

import numpy as np

import minidl
from benchmarks import common
from benchmarks.models import lenet5, resnet20, small_vgg
from minidl import nn

# name: (builder taking an nn module, input shape of one image)
MODELS = {
    "LeNet-5 (ReLU, max pool)": (lambda nn: lenet5(nn, "relu", "max"), (1, 28, 28)),
    "LeNet-5 (tanh, avg pool)": (lambda nn: lenet5(nn, "tanh", "avg"), (1, 28, 28)),
    "ResNet-20": (resnet20, (3, 32, 32)),
    "small VGG": (small_vgg, (1, 28, 28)),
}
QUICK_IMAGES = {"ResNet-20": (3, 8, 8), "small VGG": (1, 8, 8)}  # LeNet's linear layers need 28x28


def cases(name, batch, quick, impls, torch):
    """``(prepare, run)`` per implementation, each with its own model in evaluation mode, and
    the class scores of each."""
    build, image = MODELS[name]
    if quick:
        image = QUICK_IMAGES.get(name, image)
    x = np.random.default_rng(0).standard_normal((batch,) + image, dtype=np.float32)
    minidl.manual_seed(0)
    weights = build(nn).state_dict()
    result, scores = {}, {}
    for impl in impls:
        if impl == "torch":
            model = build(torch.nn)
            model.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in weights.items()})
            inputs, no_grad = torch.from_numpy(x), torch.inference_mode
        else:
            model = build(nn)
            model.load_state_dict(weights)
            inputs, no_grad = minidl.Tensor(x), minidl.no_grad
        model.eval()

        def forward(model=model, inputs=inputs, no_grad=no_grad):
            with no_grad():
                return model(inputs)

        with common.backend(impl):
            scores[impl] = forward().numpy().copy()
        result[impl] = (lambda: None, forward)
    return result, scores


def score_difference(scores, args):
    """The largest difference of any implementation's class scores from the first's."""
    first = scores[args.impls[0]]
    return f"{max(float(np.abs(s - first).max()) for s in scores.values()):.1e}"


def main(argv=None):
    p = common.parser("Time one inference forward pass of LeNet-5, ResNet-20 and the small VGG.")
    p.add_argument("--batch", type=int, default=64, help="images per batch (default 64; 4 with --quick)")
    args = common.parse(p, argv)
    return common.time_models("inference forward pass", args, MODELS, QUICK_IMAGES, cases,
                              lambda args: "largest score difference", score_difference)


if __name__ == "__main__":
    main(sys.argv[1:])
