"""A whole training epoch, data pipeline included: minidl's ``fit`` against the same training
written in plain PyTorch.

    python -m benchmarks.epoch --threads 1 2 [--repeats 3] [--models ...] [--limit N] [--output RESULTS.md]

Two runs, each one epoch over arrays both frameworks share:

- LeNet-5 (ReLU, max pooling) on the MNIST subset built into minidl (8,000 images 1x28x28);
- ResNet-20 on SyntheticShapes (10,000 images 3x32x32, generated with a fixed seed).

minidl: ``DataLoader(train_set, 64, shuffle=True, transform=Normalize(mean, std))`` and
``fit(model, SGD(lr=0.01, momentum=0.9, weight_decay=5e-4), loader, epochs=1)``, timed by
``fit`` itself (its history's "time": from the start of the epoch's first batch to the end of
the epoch, with no validation, checkpoint or progress bar). PyTorch: a ``TensorDataset`` over
the same arrays and a ``DataLoader`` with the same batch size, shuffling and
``num_workers=0``; each batch normalised with the same mean and std, then zero_grad, forward,
cross-entropy, backward, step, the loss read with ``.item()`` and the correct predictions
counted (what ``fit`` does for its history); timed from creating the epoch's iterator to the
end of the last step. Start-up (imports, loading the data, building the models) is outside
both. Each framework first trains one untimed epoch on a few batches (Numba's compiled kernels
load, caches fill); then the two take turns, a fresh model from the same weights each round.
"""

import statistics
import sys
import time

import numpy as np

import minidl
from benchmarks import common
from benchmarks.models import lenet5, resnet20
from benchmarks.train_step import SGD_OPTIONS
from minidl import nn, optim
from minidl.data import DataLoader, load_dataset, transforms
from minidl.data.dataset import Subset
from minidl.train import fit

BATCH = 64
# name: (builder taking an nn module, dataset name, image shape)
MODELS = {
    "LeNet-5 (ReLU, max pool)": (lambda nn: lenet5(nn, "relu", "max"), "builtin", (1, 28, 28)),
    "ResNet-20": (resnet20, "synthetic-shapes", (3, 32, 32)),
}
WARM_UP_IMAGES = 4 * BATCH
QUICK_IMAGES = 2 * BATCH


def training_data(dataset, limit):
    """(minidl dataset, its images float32 (N, C, H, W) in [0, 1], labels int64 (N,), per-channel
    mean, std) of the training split, the first ``limit`` images when given."""
    data = load_dataset(dataset, train=True)
    images, labels = data.images[:limit], data.targets[:limit]
    if limit is not None:
        data = Subset(data, range(len(images)))
    return data, images, labels, images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))


def minidl_epoch(build, weights, data, mean, std, seed):
    """Seconds of one epoch of ``fit`` over the dataset ``data``, as its history records it."""
    model = build(nn)
    model.load_state_dict(weights)
    optimizer = optim.SGD(model.parameters(), **SGD_OPTIONS)
    loader = DataLoader(data, BATCH, shuffle=True, seed=seed, transform=transforms.Normalize(mean, std))
    history = fit(model, optimizer, loader, epochs=1, progress=False, log=None)
    return history["time"][0]


def torch_epoch(torch, build, weights, images, labels, mean, std, seed):
    """Seconds of one epoch of the plain PyTorch loop over the same arrays."""
    model = build(torch.nn)
    model.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), **SGD_OPTIONS)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(seed))
    mean = torch.from_numpy(mean.astype(np.float32)).reshape(1, -1, 1, 1)
    std = torch.from_numpy(std.astype(np.float32)).reshape(1, -1, 1, 1)
    model.train()
    start = time.perf_counter()
    total_loss, correct, seen = 0.0, 0, 0
    for batch, targets in loader:
        batch = (batch - mean) / std
        optimizer.zero_grad()
        scores = model(batch)
        loss = torch.nn.functional.cross_entropy(scores, targets)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(targets)
        correct += int((scores.argmax(1) == targets).sum())
        seen += len(targets)
    return time.perf_counter() - start


def measure(name, args, torch):
    """{impl: [seconds of each round]} for one model, and the number of images of its epoch."""
    build, dataset, _ = MODELS[name]
    data, images, labels, mean, std = training_data(dataset, QUICK_IMAGES if args.quick else args.limit)
    minidl.manual_seed(0)
    weights = {key: np.array(value) for key, value in build(nn).state_dict().items()}
    runs = {"numba": lambda data, images, labels, seed: minidl_epoch(build, weights, data, mean, std, seed)}
    if torch is not None:
        runs["torch"] = lambda data, images, labels, seed: torch_epoch(torch, build, weights, images, labels, mean,
                                                                       std, seed)
    few = range(min(WARM_UP_IMAGES, len(data)))
    for run in runs.values():                       # untimed: compiled kernels load, caches fill
        run(Subset(data, few), images[few], labels[few], 0)
    seconds = {impl: [] for impl in runs}
    for round_ in range(args.repeats):
        for impl, run in runs.items():
            seconds[impl].append(run(data, images, labels, round_))
    return seconds, len(images)


def main(argv=None):
    p = common.parser("Time one training epoch of LeNet-5 and ResNet-20, minidl's fit against plain PyTorch.",
                      repeats=3)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N images only (default: the whole training set)")
    args = common.parse(p, argv)
    args.impls = [impl for impl in args.impls if impl != "numpy"]   # the NumPy twins would take hours
    torch = common.load_torch() if "torch" in args.impls else None
    text = common.header(f"one training epoch, batch {BATCH}, data pipeline included", args)
    for n in args.threads:
        with common.thread_count(n):
            rows = []
            for name in args.models:
                seconds, images = measure(name, args, torch)
                row = [name, f"{images} x " + "x".join(map(str, MODELS[name][2]))]
                row += [f"{statistics.median(seconds[impl]):.2f}" for impl in seconds]
                if "torch" in seconds:
                    row.append(common.fmt_spread(common.round_ratios(seconds, "numba")))
                rows.append(row)
            headers = ["model", "images"] + [f"{impl} s" for impl in ("numba", "torch") if impl in args.impls
                                              and (impl == "numba" or torch is not None)]
            if torch is not None:
                headers.append("numba/torch")
            text += f"\n### {n} thread{'s' if n > 1 else ''}\n\n" + common.markdown_table(headers, rows, 2) + "\n"
    return common.emit(text, args)


if __name__ == "__main__":
    main(sys.argv[1:])
