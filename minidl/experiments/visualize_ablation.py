"""Ablations: what removing layers, or halving and doubling their widths, does to train and test error.

Zeiler and Fergus (2014, table 3) trained variants of their ImageNet network: layers 6 and 7 (the
fully connected ones) removed, layers 3 and 4 (middle convolutions) removed, both, and the layers
made narrower or wider. Their observations: removing the fully connected layers, or the middle
convolutions, changes the error little, but removing both hurts a lot (the depth matters, not one
layer); wider middle convolutions help; wider fully connected layers help little, and widening
everything overfits (training error down, test error up).

Here the same table for a network small enough to train ten times on a laptop: layers 1-3 are
convolutions (5x5 with 8 maps, 3x3 with 16, 3x3 with 32), each followed by a ReLU and a 2x2 max
pool (28 -> 14 -> 7 -> 3), layers 4 and 5 fully connected (128 units, ReLU), layer 6 the classifier.
A removed convolution keeps its pool, so the head always sees a 3x3 grid. Every variant trains from
the same seed for 15 epochs with Adam (rate 3e-3, minidl train's default, on a cosine schedule;
batches of 64; no augmentation and no dropout, so that overfitting shows) on the first 10,000
Fashion-MNIST training images when ``--data-root`` holds Fashion-MNIST, else on the 8,000 built-in
MNIST images; the errors are measured afterwards in evaluation mode on those training images and
on the whole test split. One seed per variant: a
difference under about half a point (the spread of a test error of 10,000 images around 10%, 0.3
points, plus the seed's) is noise.
"""

import os
import time
from collections import OrderedDict

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, Subset, load_dataset, transforms
from minidl.plots import save_figure
from minidl.train import evaluate, fit

__all__ = ["TITLE", "BASE", "VARIANTS", "build", "load_data", "train_variant", "run"]

TITLE = "Inside the network: ablations of a small convolutional network (Zeiler and Fergus, table 3)"

BASE = {"convs": (8, 16, 32), "hidden": (128, 128), "removed": ()}
# The rows of the table: a name in the lecture's words, and what differs from BASE.
VARIANTS = [
    ("Our model (layers 1-3: 8, 16, 32 maps; 4-5: 128 units)", {}),
    ("Removed layer 5", {"removed": ("fc5",)}),
    ("Removed layers 4, 5", {"removed": ("fc4", "fc5")}),
    ("Removed layer 2", {"removed": ("conv2",)}),
    ("Removed layers 2, 4, 5", {"removed": ("conv2", "fc4", "fc5")}),
    ("Adjust layers 4, 5: 64 units", {"hidden": (64, 64)}),
    ("Adjust layers 4, 5: 256 units", {"hidden": (256, 256)}),
    ("Adjust layers 1-3: 4, 8, 16 maps", {"convs": (4, 8, 16)}),
    ("Adjust layers 1-3: 16, 32, 64 maps", {"convs": (16, 32, 64)}),
    ("Adjust layers 1-3: 16, 32, 64 maps and 4, 5: 256 units", {"convs": (16, 32, 64), "hidden": (256, 256)}),
]
EPOCHS, BATCH_SIZE, LR, TRAIN_IMAGES = 15, 64, 3e-3, 10000


def build(in_channels=1, classes=10, convs=BASE["convs"], hidden=BASE["hidden"], removed=()):
    """The network of the module docstring, for 28x28 images, without the layers named in ``removed``
    ("conv2", "fc4", ...). Input (N, in_channels, 28, 28) -> (N, classes)."""
    layers, channels = [], in_channels
    for number, (width, kernel) in enumerate(zip(convs, (5, 3, 3)), start=1):
        if f"conv{number}" not in removed:
            layers += [(f"conv{number}", nn.Conv2d(channels, width, kernel, padding=kernel // 2)),
                       (f"relu{number}", nn.ReLU())]
            channels = width
        layers.append((f"pool{number}", nn.MaxPool2d(2)))
    layers.append(("flatten", nn.Flatten()))
    features = channels * 3 * 3
    for number, units in zip((4, 5), hidden):
        if f"fc{number}" not in removed:
            layers += [(f"fc{number}", nn.Linear(features, units)), (f"relu{number}", nn.ReLU())]
            features = units
    layers.append(("fc6", nn.Linear(features, classes)))
    return nn.Sequential(OrderedDict(layers))


def load_data(data_root=None, quick=False):
    """(train set, test set, normalisation {"mean", "std"}, what the data is): Fashion-MNIST's first
    10,000 training images and its test split if ``data_root`` holds them, else the built-in MNIST
    subset; ``quick`` keeps 256 training and 200 test images."""
    try:
        train_set, test_set = (load_dataset("fashion-mnist", split, root=data_root) for split in (True, False))
        name = "Fashion-MNIST"
    except (FileNotFoundError, OSError, ValueError):
        train_set, test_set = load_dataset("builtin", True), load_dataset("builtin", False)
        name = "the built-in MNIST subset"
    images = train_set.images[:TRAIN_IMAGES]
    normalize = {"mean": [float(images.mean())], "std": [float(images.std())]}
    train_set = Subset(train_set, np.arange(min(256 if quick else TRAIN_IMAGES, len(train_set))))
    if quick:
        test_set = Subset(test_set, np.arange(200))
    return train_set, test_set, normalize, name


def train_variant(settings, train_set, test_set, normalize, epochs=EPOCHS, seed=0, callbacks=()):
    """Train one variant from ``seed``; returns (model, its row: parameters, train and test error, seconds)."""
    minidl.manual_seed(seed)
    model = build(**{**BASE, **settings})
    normalise = transforms.Normalize(normalize["mean"], normalize["std"])
    loader = DataLoader(train_set, BATCH_SIZE, shuffle=True, seed=seed, transform=normalise)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    started = time.perf_counter()
    fit(model, optimizer, loader, epochs, scheduler=scheduler, progress=False, log=None, callbacks=callbacks)
    seconds = time.perf_counter() - started
    errors = [1 - evaluate(model, DataLoader(data, 512, transform=normalise))[1] for data in (train_set, test_set)]
    return model, {"parameters": sum(p.numel() for p in model.parameters()), "train_error": errors[0],
                   "test_error": errors[1], "seconds": seconds}


def observations(rows):
    """Zeiler and Fergus's observations, each checked against ``rows`` {name: row}: (claim, holds, numbers)."""
    names = [name for name, _ in VARIANTS]
    test = {name: 100 * rows[name]["test_error"] for name in names}
    train = {name: 100 * rows[name]["train_error"] for name in names}
    base = test[names[0]]
    change = {name: test[name] - base for name in names}
    small = 0.5   # points: within the noise of one seed
    checks = [
        ("removing the fully connected layers (4, 5) changes the test error little",
         abs(change[names[2]]) <= small, f"{change[names[2]]:+.1f} points"),
        ("removing a middle convolution (2) changes the test error little",
         abs(change[names[3]]) <= small, f"{change[names[3]]:+.1f} points"),
        ("removing both hurts more than either alone",
         change[names[4]] > max(change[names[2]], change[names[3]]) + small,
         f"{change[names[4]]:+.1f} against {change[names[2]]:+.1f} and {change[names[3]]:+.1f} points"),
        ("wider convolutions lower the test error",
         change[names[8]] < -small, f"{change[names[8]]:+.1f} points"),
        ("wider fully connected layers change the test error little",
         abs(change[names[6]]) <= small, f"{change[names[6]]:+.1f} points"),
        ("widening everything overfits: training error falls while test error does not",
         train[names[9]] < train[names[0]] and change[names[9]] >= -small,
         f"train {train[names[9]] - train[names[0]]:+.1f}, test {change[names[9]]:+.1f} points"),
    ]
    return checks


def run(out, quick=False, data_root=None, log=print):
    train_set, test_set, normalize, data_name = load_data(data_root, quick)
    epochs = 1 if quick else EPOCHS
    rows = {}
    for name, settings in VARIANTS:
        _, rows[name] = train_variant(settings, train_set, test_set, normalize, epochs)
        if log is not None:
            log(f"{name}: train error {100 * rows[name]['train_error']:.2f}%, test error "
                f"{100 * rows[name]['test_error']:.2f}% ({rows[name]['seconds']:.0f} s)")
    lines = ["| Error % | parameters | Train top-1 | Test top-1 | training time |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {row['parameters']:,} | {100 * row['train_error']:.2f} | {100 * row['test_error']:.2f} | "
              f"{row['seconds']:.0f} s |" for name, row in rows.items()]
    claims = "\n".join(f"- {claim}: **{'holds' if holds else 'does not hold'}** ({numbers})"
                       for claim, holds, numbers in observations(rows))
    _plot(rows, os.path.join(out, "ablation.png"), data_name)
    return (f"Data: {len(train_set):,} training images of {data_name}, {len(test_set):,} test images; {epochs} "
            f"epoch{'s' if epochs > 1 else ''} of Adam at {LR:g} with a cosine schedule, batches of {BATCH_SIZE}, "
            "seed 0, no augmentation.\n\n"
            + "\n".join(lines) + f"\n\nZeiler and Fergus's observations on this table:\n\n{claims}\n\n"
            "![ablation](ablation.png)\n")


def _plot(rows, path, data_name):
    from matplotlib.figure import Figure

    names = list(rows)
    figure = Figure(figsize=(9, 5), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(names))
    axes.barh(positions - 0.2, [100 * rows[n]["train_error"] for n in names], 0.4, label="train")
    axes.barh(positions + 0.2, [100 * rows[n]["test_error"] for n in names], 0.4, label="test")
    axes.set_yticks(positions, names, fontsize="small")
    axes.invert_yaxis()
    axes.set(xlabel="top-1 error (%)", title=f"Ablations on {data_name}")
    axes.grid(axis="x", alpha=0.3)
    axes.legend()
    save_figure(figure, path)
