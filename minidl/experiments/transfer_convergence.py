"""Experiment 5, convergence: with enough target data, pretrained and from-scratch end up close, pretrained sooner.

The lecture's claim: with enough target data, pretraining mostly speeds up convergence (the
final accuracies are similar). Here: the similar target (``synthetic-shapes-new``) with 1,000
labels per class (5,000 images), fine-tune-all from the ResNet-20 source against the same
network from random weights, each for 12 epochs at the same schedule, the test accuracy (1,000
images) measured after every epoch. Reported: the final accuracies and the first epoch whose
accuracy is within one point of the run's final accuracy.
"""

import os

from minidl.experiments.transfer_setup import SIMILAR, SOURCE, markdown_table, run_strategy
from minidl.plots import save_figure

TITLE = "Transfer learning: convergence of fine-tuning against training from scratch, with enough data"


def epochs_to_within(curve, final, margin=0.01):
    """The first epoch (from 1) whose accuracy is within ``margin`` of ``final``."""
    return next(epoch for epoch, value in enumerate(curve, 1) if value >= final - margin)


def run(out, quick=False, data_root=None, log=print):
    epochs = 2 if quick else 12
    curves, rows = {}, []
    for strategy in ("fine-tune-all", "from-scratch"):
        result = run_strategy(strategy, SIMILAR, labels_per_class=2 if quick else 1000, epochs=epochs,
                              test_limit=40 if quick else 1000, track_test=True, log=log)
        curve = result["history"]["val_acc"]
        curves[strategy] = curve
        rates = "0.05, every layer" if strategy == "from-scratch" else "0.01 head, each earlier group 3x slower"
        rows.append([strategy, rates, curve[0], curve[-1], epochs_to_within(curve, curve[-1]),
                     f"{sum(result['history']['time']):.0f} s"])
    table = markdown_table(["strategy", "learning rate", "accuracy after epoch 1", f"after epoch {epochs}",
                            "epochs to within 1 point of final", "training time"], rows)

    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4))
    for strategy, curve in curves.items():
        axes.plot(range(1, len(curve) + 1), curve, marker="o", label=strategy)
    axes.set(xlabel="epoch", ylabel="test accuracy", title=f"{SOURCE} -> {SIMILAR}, 1,000 labels per class")
    axes.grid(True, alpha=0.3)
    axes.legend()
    save_figure(figure, os.path.join(out, "convergence.png"))
    gap = curves["fine-tune-all"][-1] - curves["from-scratch"][-1]
    return (f"Source `{SOURCE}`, target `{SIMILAR}`, 5,000 training images, SGD with momentum 0.9 and a cosine "
            f"schedule (from scratch at a higher rate, 0.05, since nothing is pretrained; fine-tuning with the "
            f"head at 0.01 and each earlier group 3x slower).\n\n{table}\n\nFinal gap (fine-tune minus scratch): "
            f"{100 * gap:+.1f} points.\n\n![convergence](convergence.png)\n")
