"""Pictures of a training run, written as PNG files: learning curves and the confusion matrix.

    plot_curves(history, "run/curves.png", title="lenet5 on MNIST")   # the history that fit returns
    plot_confusion(matrix, dataset.classes, "run/confusion.png", title="test set")

(A model's filters are drawn by ``minidl.visualize.filters``, with the other views inside a network.)

The figures are drawn with matplotlib's Agg renderer, which needs no display (servers, CI), and
never go through ``pyplot``, so nothing here changes the backend or the figures of a notebook.
Each file is written atomically: a half-written PNG never replaces a good one. Each function
returns the matplotlib ``Figure`` it drew, to look at in a notebook or to change and save again.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minidl.files import atomic_write

__all__ = ["plot_curves", "plot_confusion", "save_figure"]


def save_figure(figure, path):
    """Draw ``figure`` with the Agg renderer and write it atomically to ``path`` as a PNG."""
    FigureCanvasAgg(figure)
    with atomic_write(path) as file:
        figure.savefig(file, format="png", dpi=100)


def plot_curves(history, path, title=None):
    """Loss (left) and accuracy (right) per epoch, training and validation, from ``fit``'s history.

    Validation lines are drawn when the history has validation values. A training loss far below
    the validation loss, with a validation loss that rises, is the picture of overfitting. Every
    epoch is a marker on its line, so that a one-epoch run shows its point; the epochs axis
    counts whole epochs and the accuracy axis spans 0 to 1. ``title`` (e.g. the model, the data
    and the test accuracy) heads the figure.
    """
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    figure = Figure(figsize=(10, 4.4), layout="constrained")
    for axes, metric, name in zip(figure.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy")):
        for split, label in (("train", "training"), ("val", "validation")):
            values = history.get(f"{split}_{metric}", [])
            if values and all(v is not None for v in values):
                axes.plot(epochs, values, marker="o", markersize=6, label=label)
        axes.set(xlabel="epoch", ylabel=name, title=name, xlim=(0.5, len(epochs) + 0.5))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if metric == "acc":
            axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    save_figure(figure, path)
    return figure


def plot_confusion(matrix, class_names, path, title=None):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with its counts.

    Each row is coloured by the fraction of that class predicted in each column, so rare and
    common classes are comparable; the numbers written in the cells are the counts. The title
    is ``title`` (say which images were scored, e.g. "the MNIST test set") over the accuracy.
    """
    matrix = np.asarray(matrix)
    classes = len(class_names)
    if matrix.shape != (classes, classes):
        raise ValueError(
            f"plot_confusion: a matrix of shape {matrix.shape} does not match {classes} class names"
        )
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.6 * classes + 2)
    figure = Figure(figsize=(size, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, shrink=0.8, label="fraction of the true class")
    for i in range(classes):
        for j in range(classes):
            axes.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                      color="white" if rates[i, j] > 0.5 else "black")
    ticks = np.arange(classes)
    axes.set_xticks(ticks, [str(name) for name in class_names], rotation=45, ha="right")
    axes.set_yticks(ticks, [str(name) for name in class_names])
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    accuracy = f"accuracy {correct / max(total, 1):.4f} ({correct:,} of {total:,})"
    axes.set(xlabel="predicted class", ylabel="true class", title=f"{title}\n{accuracy}" if title else accuracy)
    save_figure(figure, path)
    return figure

