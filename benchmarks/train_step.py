"""One SGD training step of LeNet-5 and ResNet-20: minidl (Numba and NumPy kernels) against PyTorch.

    python -m benchmarks.train_step --threads 1 2 [--repeats 7] [--output RESULTS.md]

A step is what a training loop repeats: zero the gradients, forward, cross-entropy loss,
backward, SGD update (lr 0.01, momentum 0.9, weight decay 5e-4), on a batch of 64 random
images. Both frameworks start from the same weights (minidl's, loaded into the PyTorch model);
the first step's losses are printed side by side as a check that the models are the same.
"""

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


def main(argv=None):
    p = common.parser("Time one SGD step of LeNet-5 and ResNet-20.")
    p.add_argument("--batch", type=int, default=64, help="images per batch (default 64; 4 with --quick)")
    args = common.parse(p, argv)
    return common.time_models("training step", args, MODELS, QUICK_IMAGES, cases,
                              lambda args: "first-step loss (" + " / ".join(args.impls) + ")",
                              lambda losses, args: " / ".join(f"{losses[impl]:.4f}" for impl in args.impls))


if __name__ == "__main__":
    main(sys.argv[1:])
