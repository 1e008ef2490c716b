"""Experiment 2, learning curves: test accuracy against the number of target labels per class.

For the linear probe, the feature extractor, fine-tuning everything and training from scratch,
on the similar target (``synthetic-shapes-new``) from the ResNet-20 source, at 1, 5, 10, 50,
100, 500 and 1,000 labels per class (half of the 2,000 per class the dataset has: the whole set
would need more than this experiment's 15 minutes on two cores). Each point trains for about
250 SGD steps (``epochs_for``), at least 3 epochs.

The lecture's claims: pretraining helps most with little data and stops mattering with enough;
accuracy grows with data as a power law. The from-scratch error is fitted as
``error = a * N**(-b)`` (a straight line through log error against log N, N labels per class,
least squares) and the exponent b is reported with how well the line fits (R² in log space).
"""

import os

import numpy as np

from minidl.experiments.transfer_setup import SIMILAR, SOURCE, markdown_table, run_strategy
from minidl.plots import save_figure

TITLE = "Transfer learning: learning curves (accuracy vs target labels per class) and a power-law fit"

STRATEGIES = ("linear-probe", "feature-extractor", "fine-tune-all", "from-scratch")


def power_law(labels, errors):
    """(a, b, r2) of the least-squares line log(error) = log(a) - b log(labels)."""
    x, y = np.log(np.asarray(labels, float)), np.log(np.asarray(errors, float))
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    r2 = 1 - np.sum(residual ** 2) / np.sum((y - y.mean()) ** 2)
    return float(np.exp(intercept)), float(-slope), float(r2)


def run(out, quick=False, data_root=None, log=print):
    counts = (1, 2) if quick else (1, 5, 10, 50, 100, 500, 1000)
    accuracy = {strategy: [] for strategy in STRATEGIES}
    for labels in counts:
        for strategy in STRATEGIES:
            result = run_strategy(strategy, SIMILAR, labels_per_class=labels, test_limit=40 if quick else 1000,
                                  epochs=1 if quick else None, log=log)
            accuracy[strategy].append(result["test_accuracy"])
    rows = [[n] + [accuracy[s][i] for s in STRATEGIES] for i, n in enumerate(counts)]
    table = markdown_table(["labels per class"] + list(STRATEGIES), rows)

    # Error of at most 0 cannot be logged: fit the points with some error left.
    errors = 1 - np.asarray(accuracy["from-scratch"])
    fitted = errors > 0
    fit_text = "too few points with error above 0 to fit a power law"
    if fitted.sum() >= 3:
        a, b, r2 = power_law(np.asarray(counts)[fitted], errors[fitted])
        fit_text = (f"from-scratch test error ≈ {a:.3f} · N^(-{b:.3f}) (N labels per class, {fitted.sum()} points, "
                    f"R² = {r2:.3f} in log-log space)")

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
