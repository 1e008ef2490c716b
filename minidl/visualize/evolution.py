"""How a unit's favourite input changes during training (Zeiler and Fergus 2014, figure 4).

    evolution = FeatureEvolution(train_subset, "features.relu2b", channels=[0, 1, 2, 3],
                                 epochs=(1, 2, 5, 10), normalize=normalize)
    fit(model, optimizer, loader, epochs=10, callbacks=[evolution])
    evolution.records[5].indices          # each unit's strongest image after epoch 5
    evolution.plot("evolution.png")       # units x epochs

Zeiler and Fergus show, for a few units of each layer, the strongest activation over the
training set at epochs 1, 2, 5, 10, 20, 30, 40 and 64, projected back to the pixels by their
deconvnet: the lower layers' features settle within a few epochs, the upper layers' only after
many. ``FeatureEvolution`` is a callback of ``minidl.train.fit``: at the end of each chosen epoch
it runs ``top_patches`` (the k strongest images of each unit over ``dataset``, their crops and
projections) and keeps the result; nothing of the training changes (no random numbers are
drawn, and the model's mode is restored), so a run with the callback trains exactly as one
without.
"""

import numpy as np
from matplotlib.figure import Figure

from minidl.kernels import is_int
from minidl.plots import save_figure
from minidl.visualize.pictures import rgb, show, signed_rgb
from minidl.visualize.top_patches import place_in_field, top_patches

__all__ = ["FeatureEvolution", "ZEILER_FERGUS_EPOCHS"]

# The epochs of Zeiler and Fergus's figure 4.
ZEILER_FERGUS_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)


class FeatureEvolution:
    """A ``fit`` callback recording, at chosen epochs, each chosen unit's strongest inputs.

    Args:
        dataset: the images to search, ``(image, label)`` pairs in [0, 1] (a subset of the
            training set keeps it quick).
        layer: the module name whose output holds the units.
        channels: the units (channels of the feature map), an int or a list.
        epochs: the epochs (counted from 1, as ``fit`` counts) after which to record.
        k: images kept per unit (the figure shows the strongest).
        transform, normalize, batch_size: as for ``top_patches``.

    Attributes:
        records: {epoch: ``TopPatches`` (without its figure)}, filled as training goes.
    """

    def __init__(self, dataset, layer, channels, epochs=ZEILER_FERGUS_EPOCHS, k=1, transform=None, normalize=None,
                 batch_size=256):
        epochs = tuple(epochs)
        if not epochs or any(isinstance(e, bool) or not is_int(e) or e < 1 for e in epochs):
            raise ValueError(f"FeatureEvolution: epochs must be ints >= 1 (fit counts epochs from 1), got {epochs!r}")
        self.dataset, self.layer, self.channels = dataset, layer, channels
        self.epochs = tuple(sorted(set(int(e) for e in epochs)))
        self.k, self.transform, self.normalize, self.batch_size = k, transform, normalize, batch_size
        self.records = {}

    def on_epoch_end(self, model, epoch, history):
        """Record the units' strongest inputs if ``epoch`` is one of ``epochs``."""
        if epoch in self.epochs:
            self.records[epoch] = top_patches(model, self.dataset, self.layer, self.channels, k=self.k,
                                              transform=self.transform, normalize=self.normalize,
                                              batch_size=self.batch_size, progress=False, plot=False)

    def plot(self, path=None, title=None):
        """Units (rows) x recorded epochs (columns): each cell the unit's strongest image patch
        over its deconvnet projection (0 mid-grey, each on its own scale). Returns the Figure."""
        if not self.records:
            raise ValueError("FeatureEvolution.plot: nothing recorded yet; train with this callback first "
                             f"(it records after epochs {', '.join(map(str, self.epochs))})")
        epochs = sorted(self.records)
        first = self.records[epochs[0]]
        units = len(first.channels)
        figure = Figure(figsize=(max(1.3 * len(epochs) + 1.0, 4.5), 2.4 * units + 1.0), layout="constrained")
        grid = figure.subplots(units, len(epochs), squeeze=False)
        for column, epoch in enumerate(epochs):
            record = self.records[epoch]
            for row in range(units):
                box = record.boxes[row, 0]
                patch = place_in_field(rgb(record.patches[row][0]), box, record.field, record.image_size)
                picture = patch
                if record.projections is not None:
                    projection = record.projections[row][0]
                    projected = place_in_field(signed_rgb(projection, np.abs(projection).max()), box, record.field,
                                               record.image_size)
                    picture = np.vstack([patch, np.ones((2, patch.shape[1], 3)), projected])
                show(grid[row, column], picture, f"epoch {epoch}" if row == 0 else None)
                if column == 0:
                    grid[row, column].set_axis_on()
                    grid[row, column].set(xticks=[], yticks=[])
                    grid[row, column].set_ylabel(f"unit {record.channels[row]}")
        heading = f"{first.layer}: each unit's strongest image (top)\nand its deconvnet projection, by epoch"
        figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
        if path is not None:
            save_figure(figure, path)
        return figure
