"""Pictures of a training run, written as PNG files: learning curves, confusion matrix, filters.

    plot_curves(history, "run/curves.png")                    # the history that fit returns
    plot_confusion(matrix, dataset.classes, "run/confusion.png")
    plot_filters(model.features[0].weight, "run/filters.png")

The figures are drawn with matplotlib's Agg renderer, which needs no display (servers, CI), and
never go through ``pyplot``, so nothing here changes the backend or the figures of a notebook.
Each file is written atomically: a half-written PNG never replaces a good one.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from minidl.files import atomic_write

__all__ = ["plot_curves", "plot_confusion", "plot_filters", "save_figure"]


def save_figure(figure, path):
    """Draw ``figure`` with the Agg renderer and write it atomically to ``path`` as a PNG."""
    FigureCanvasAgg(figure)
    with atomic_write(path) as file:
        figure.savefig(file, format="png", dpi=100)


def plot_curves(history, path):
    """Loss (left) and accuracy (right) per epoch, training and validation, from ``fit``'s history.

    Validation lines are drawn when the history has validation values. A training loss far below
    the validation loss, with a validation loss that rises, is the picture of overfitting.
    """
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    figure = Figure(figsize=(10, 4), layout="constrained")
    for axes, metric, title in zip(figure.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy")):
        for split in ("train", "val"):
            values = history.get(f"{split}_{metric}", [])
            if values and all(v is not None for v in values):
                axes.plot(epochs, values, marker="o", label=split)
        axes.set(xlabel="epoch", ylabel=title, title=title)
        axes.grid(alpha=0.3)
        axes.legend()
    save_figure(figure, path)


def plot_confusion(matrix, class_names, path):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with its counts.

    Each row is coloured by the fraction of that class predicted in each column, so rare and
    common classes are comparable; the numbers written in the cells are the counts.
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
    axes.set(xlabel="predicted class", ylabel="true class",
             title=f"accuracy {np.trace(matrix) / max(matrix.sum(), 1):.4f}")
    save_figure(figure, path)


def plot_filters(weight, path):
    """Show convolution filters, weight (F, C, kh, kw), as a grid of small images.

    With C = 3 each filter is one colour image; otherwise each of its C input channels is drawn
    in grey, one row of channels per filter. Every filter is stretched to the full range of
    grey (or colour) by its own minimum and maximum, so weak filters are as visible as strong
    ones; first-layer filters of a trained network look like edge and blob detectors.
    """
    weight = np.asarray(weight, dtype=np.float64)   # a Tensor or an ndarray
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight of shape (F, C, kh, kw), got shape {weight.shape}")
    low = weight.min(axis=(1, 2, 3), keepdims=True)
    high = weight.max(axis=(1, 2, 3), keepdims=True)
    scaled = (weight - low) / np.where(high > low, high - low, 1)
    filters, channels = weight.shape[:2]
    if channels in (1, 3):
        # One tile per filter, grey or colour (kh, kw, RGB), in a square-ish grid.
        tiles = list(scaled[:, 0]) if channels == 1 else list(scaled.transpose(0, 2, 3, 1))
        columns = math.ceil(math.sqrt(filters))
        rows = math.ceil(filters / columns)
    else:
        # One row per filter, one grey tile per input channel.
        tiles = list(scaled.reshape(filters * channels, *weight.shape[2:]))
        rows, columns = filters, channels
    figure = Figure(figsize=(1.2 * columns + 0.5, 1.2 * rows + 0.5), layout="constrained")
    for index, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        axes.set_axis_off()
        if index < len(tiles):
            axes.imshow(tiles[index], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    figure.suptitle(f"{weight.shape[0]} filters of {weight.shape[1]}x{weight.shape[2]}x{weight.shape[3]}")
    save_figure(figure, path)
