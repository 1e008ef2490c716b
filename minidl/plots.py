"""Pictures of a training run, written as PNG files: learning curves, confusion matrix, filters.

    plot_curves(history, "run/curves.png", title="lenet5 on MNIST")   # the history that fit returns
    plot_confusion(matrix, dataset.classes, "run/confusion.png", title="test set")
    plot_filters(model.features[0].weight, "run/filters.png")

The figures are drawn with matplotlib's Agg renderer, which needs no display (servers, CI), and
never go through ``pyplot``, so nothing here changes the backend or the figures of a notebook.
Each file is written atomically: a half-written PNG never replaces a good one. Each function
returns the matplotlib ``Figure`` it drew, to look at in a notebook or to change and save again.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minidl.files import atomic_write

__all__ = ["plot_curves", "plot_confusion", "plot_filters", "save_figure"]


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


def plot_filters(weight, path, title=None):
    """Show convolution filters, weight (F, C, kh, kw), as a grid of small images on one colour scale.

    Every weight of every filter is coloured on the same scale, symmetric around 0: from -m to
    +m with m the largest absolute weight. Grey filters (C = 1), and each input channel of
    filters with C other than 3 (one row of channels per filter), use a diverging colour map:
    white is 0, red positive, blue negative. A colour filter (C = 3) is one RGB image whose
    channels go from 0 at -m to 1 at +m, so mid-grey is 0 everywhere. One shared scale lets
    the filters be compared: a filter that barely changed from its small initial weights looks
    faint, and an edge detector shows its sign. (Stretching each filter to its own range would
    make every filter look equally strong.) A colour bar gives the scale; ``title`` (e.g. the
    layer's name) heads the figure.
    """
    weight = np.asarray(weight, dtype=np.float64)   # a Tensor or an ndarray
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (F, C, kh, kw), got shape {weight.shape}")
    largest = float(np.abs(weight).max()) if weight.size else 0.0
    limit = largest if largest > 0 else 1.0   # all-zero filters: any symmetric scale shows them as 0
    filters, channels = weight.shape[:2]
    scale = ScalarMappable(norm=Normalize(-limit, limit), cmap="gray" if channels == 3 else "RdBu_r")
    if channels == 3:
        # One RGB tile per filter (kh, kw, 3): -limit -> 0, 0 -> 0.5, +limit -> 1 in each channel.
        tiles = list(np.clip(0.5 + weight.transpose(0, 2, 3, 1) / (2 * limit), 0, 1))
        options = {}
    else:
        # One tile per filter and input channel, in rows of channels (one tile a row for C = 1).
        tiles = list(weight.reshape(filters * channels, *weight.shape[2:]))
        options = {"cmap": scale.get_cmap(), "norm": scale.norm}
    if channels in (1, 3):
        columns = math.ceil(math.sqrt(filters))
        rows = math.ceil(filters / columns)
    else:
        rows, columns = filters, channels
    figure = Figure(figsize=(max(1.2 * columns + 1.5, 4.5), 1.2 * rows + 1.0), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index < len(tiles):
            axes.imshow(tiles[index], interpolation="nearest", **options)
    label = "weight (each of R, G, B)" if channels == 3 else "weight"
    figure.colorbar(scale, ax=grid, shrink=0.8, label=label)
    shape = "x".join(str(n) for n in weight.shape[1:])
    heading = f"{filters} filters of {shape}\none colour scale, 0 is {'mid-grey' if channels == 3 else 'white'}"
    figure.suptitle(f"{title}: {heading}" if title else heading, fontsize="medium")
    save_figure(figure, path)
    return figure

