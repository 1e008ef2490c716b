"""Experiment 4, layer-wise learning rates: each earlier group 1x, 3x or 10x slower, and a fast new head.

The lecture's recipe for fine-tuning: each earlier group of layers at a 3-10x smaller rate than
the one after it, and new layers at a higher rate than initialised ones (0.01 against 0.001).
One case: the different target (``synthetic-shapes-outline``), 100 labels per class, fine-tune-all
from the ResNet-20 source with the groups stem+stage 1, stage 2, stage 3, head. The settings:
- factor 1: every group at 0.01;
- factor 3 and factor 10: the head at 0.01, each earlier group 3x (10x) slower;
- new head 10x: the body at 0.001 (factor 1) and the new head at 0.01, the lecture's numbers;
- gradual unfreezing: factor 3, one more group unfrozen every 2 epochs, the head first.
Each setting runs with three seeds (the labelled images, the head's initialisation and the
shuffling change together); the table gives the mean and the spread.
"""

import numpy as np

from minidl.experiments.transfer_setup import DIFFERENT, SOURCE, markdown_table, run_strategy

TITLE = "Transfer learning: layer-wise learning rates (factor 1, 3, 10; a new head at 10x the body)"

SETTINGS = {
    "factor 1 (all at 0.01)": dict(lr=0.01, layer_lr_factor=1.0),
    "factor 3": dict(lr=0.01, layer_lr_factor=3.0),
    "factor 10": dict(lr=0.01, layer_lr_factor=10.0),
    "new head 10x (body 0.001, head 0.01)": dict(lr=0.001, layer_lr_factor=1.0, head_lr=0.01),
    "gradual unfreezing (factor 3, every 2 epochs)": dict(lr=0.01, layer_lr_factor=3.0, unfreeze_every=2),
}


def run(out, quick=False, data_root=None, log=print):
    seeds = (0,) if quick else (0, 1, 2)
    rows = []
    for name, options in SETTINGS.items():
        scores = [run_strategy("fine-tune-all", DIFFERENT, labels_per_class=2 if quick else 100, seed=seed,
                               test_limit=40 if quick else 1000, epochs=1 if quick else 10, log=log, **options)
                  ["test_accuracy"] for seed in seeds]
        rows.append([name, float(np.mean(scores)), f"{100 * np.std(scores):.1f}",
                     ", ".join(f"{100 * s:.1f}" for s in scores)])
    table = markdown_table(["setting", "mean test accuracy", "std (points)", "per seed"], rows)
    best = max(rows, key=lambda row: row[1])
    return (f"Source `{SOURCE}`, target `{DIFFERENT}`, 100 labels per class (500 images), 10 epochs of SGD "
            f"(momentum 0.9, cosine schedule), test accuracy on 1,000 images, seeds {', '.join(map(str, seeds))}."
            f"\n\n{table}\n\nBest on average: {best[0]}.\n")
