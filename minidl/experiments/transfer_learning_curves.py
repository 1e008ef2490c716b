"""Experiment 2, learning curves: test accuracy against the number of target labels per class.

For the linear probe, the feature extractor, fine-tuning everything and training from scratch,
on the similar target (``synthetic-shapes-new``) from the LeNet-5 source, at 1, 5, 10, 50, 100,
500 and 2,000 (all) labels per class. Each point trains for about 1,000 SGD steps of 32 images
(at least 5 epochs, at most 300): from scratch, a network needs that many to learn these shapes
at all, and LeNet-5 is small enough to give every point that budget within 15 minutes on two
cores (ResNet-20, the other experiments' source, is not: from scratch it stays near chance after
the 250 steps they can afford).

The lecture's claims: pretraining helps most with little data and stops mattering with enough;
accuracy grows with data as a power law. The from-scratch error is fitted as
``error = a * N**(-b)`` (a straight line through log error against log N, N labels per class,
least squares) and the exponent b is reported with how well the line fits (R² in log space).
"""

import os

import numpy as np

from minidl.experiments.transfer_setup import SIMILAR, epochs_for, markdown_table, run_strategy
from minidl.plots import save_figure

TITLE = "Transfer learning: learning curves (accuracy vs target labels per class) and a power-law fit"

STRATEGIES = ("linear-probe", "feature-extractor", "fine-tune-all", "from-scratch")
SOURCE = "lenet5-synthetic-shapes"
CLASSES = 5


def power_law(labels, errors):
    """(a, b, r2) of the least-squares line log(error) = log(a) - b log(labels)."""
    x, y = np.log(np.asarray(labels, float)), np.log(np.asarray(errors, float))
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    r2 = 1 - np.sum(residual ** 2) / np.sum((y - y.mean()) ** 2)
    return float(np.exp(intercept)), float(-slope), float(r2)


def run(out, quick=False, data_root=None, log=print):
    counts = (1, 2) if quick else (1, 5, 10, 50, 100, 500, 2000)
    accuracy = {strategy: [] for strategy in STRATEGIES}
    for labels in counts:
        for strategy in STRATEGIES:
            epochs = 1 if quick else epochs_for(CLASSES * labels, steps=1000, least=5, most=300)
            result = run_strategy(strategy, SIMILAR, labels_per_class=labels, test_limit=40 if quick else 1000,
                                  epochs=epochs, source=SOURCE, log=log)
            accuracy[strategy].append(result["test_accuracy"])
    rows = [[n] + [accuracy[s][i] for s in STRATEGIES] for i, n in enumerate(counts)]
    table = markdown_table(["labels per class"] + list(STRATEGIES), rows)

    # Fit where the network has learnt something (10 points above chance) and some error is left
    # (0 cannot be logged): points at chance follow no power law, they are where learning has not begun.
    errors = 1 - np.asarray(accuracy["from-scratch"])
    fitted = (errors > 0) & (np.asarray(accuracy["from-scratch"]) > 1 / CLASSES + 0.1)
    fit_text = "fewer than 3 points above chance + 10 points with some error left: no power law fitted"
    if fitted.sum() >= 3:
        a, b, r2 = power_law(np.asarray(counts)[fitted], errors[fitted])
        used = ", ".join(str(n) for n in np.asarray(counts)[fitted])
        fit_text = (f"from-scratch test error ≈ {a:.3f} · N^(-{b:.3f}) (N labels per class; fitted on the "
                    f"{fitted.sum()} points above chance + 10 points, N = {used}; R² = {r2:.3f} in log-log space)")

    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for strategy in STRATEGIES:
        left.plot(counts, accuracy[strategy], marker="o", label=strategy)
        right.plot(counts, 1 - np.asarray(accuracy[strategy]), marker="o", label=strategy)
    if fitted.sum() >= 3:
        grid = np.geomspace(min(counts), max(counts), 50)
        right.plot(grid, a * grid ** (-b), "k--", linewidth=1, label=f"power law, b = {b:.2f}")
    left.set(xscale="log", xlabel="target labels per class", ylabel="test accuracy",
             title=f"{SOURCE} -> {SIMILAR}")
    right.set(xscale="log", yscale="log", xlabel="target labels per class", ylabel="test error (log)",
              title="error on log-log axes")
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    save_figure(figure, os.path.join(out, "learning_curves.png"))

    gap = [accuracy["fine-tune-all"][i] - accuracy["from-scratch"][i] for i in range(len(counts))]
    return (f"Source `{SOURCE}`, target `{SIMILAR}`, test accuracy on 1,000 test images.\n\n{table}\n\n"
            f"Fine-tune-all minus from-scratch, per row: {', '.join(f'{100 * g:+.1f}' for g in gap)} points.\n\n"
            f"Power law: {fit_text}.\n\n![learning curves](learning_curves.png)\n")
