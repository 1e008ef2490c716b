"""Feature evolution during training: when do the units of each layer settle on what they detect?

Zeiler and Fergus (2014, figure 4) show, for a few units of each layer, the strongest activation
over the training set after epochs 1, 2, 5, 10, 20, 30, 40 and 64, projected to the pixels, and
observe that the lower layers' features settle within a few epochs while the upper layers'
develop only after considerable training.

Here the base network of the ablation experiment (three convolutions, two hidden fully connected
layers; ``visualize_ablation``) trains as there but for 10 epochs, with a ``FeatureEvolution``
callback on the ReLU after each convolution, recording the top 9 images of units 0-5 over the
first 2,000 training images after epochs 1, 2, 5 and 10. How settled a unit is at epoch e: the
share of its top 9 images at e that are still among its top 9 at the last epoch (1 = it already
responds to what it will respond to).
"""

import os

import numpy as np

from minidl.data import Subset
from minidl.experiments.visualize_ablation import load_data, train_variant
from minidl.visualize import FeatureEvolution

__all__ = ["TITLE", "run", "settled"]

TITLE = "Inside the network: how each layer's features evolve during training (Zeiler and Fergus, figure 4)"

LAYERS = ("relu1", "relu2", "relu3")
UNITS, EPOCHS, RECORDED, SEARCH_IMAGES, K = 6, 10, (1, 2, 5, 10), 2000, 9


def settled(records):
    """{epoch: the mean over units of |top k at epoch ∩ top k at the last epoch| / k} of a
    ``FeatureEvolution``'s records."""
    last = records[max(records)]
    return {epoch: float(np.mean([len(set(now) & set(end)) / len(end)
                                  for now, end in zip(record.indices, last.indices)]))
            for epoch, record in sorted(records.items())}


def run(out, quick=False, data_root=None, log=print):
    train_set, test_set, normalize, data_name = load_data(data_root, quick)
    epochs, recorded = (2, (1, 2)) if quick else (EPOCHS, RECORDED)
    search = Subset(train_set, np.arange(min(200 if quick else SEARCH_IMAGES, len(train_set))))
    callbacks = [FeatureEvolution(search, layer, list(range(UNITS)), recorded, k=K, normalize=normalize)
                 for layer in LAYERS]
    _, row = train_variant({}, train_set, test_set, normalize, epochs, callbacks=callbacks)
    if log is not None:
        log(f"trained {epochs} epochs: test error {100 * row['test_error']:.2f}% ({row['seconds']:.0f} s with the "
            "callbacks)")
    shares = {layer: settled(callback.records) for layer, callback in zip(LAYERS, callbacks)}
    lines = ["| layer | receptive field | " + " | ".join(f"after epoch {e}" for e in recorded) + " |",
             "|---|---|" + "---:|" * len(recorded)]
    for layer, callback in zip(LAYERS, callbacks):
        field = callback.records[recorded[0]].field
        lines.append(f"| {layer} | {field.size[0]}x{field.size[1]} | "
                     + " | ".join(f"{100 * shares[layer][e]:.0f}%" for e in recorded) + " |")
        callback.plot(os.path.join(out, f"evolution-{layer}.png"), title=f"{data_name}, units 0-{UNITS - 1}")
    before = recorded[:-1]   # the epochs before the last, where a unit can still differ from its end
    lower, upper = (float(np.mean([shares[layer][e] for e in before])) for layer in (LAYERS[0], LAYERS[-1]))
    verdict = "holds" if lower > upper else "does not hold"
    figures = "\n".join(f"![{layer}](evolution-{layer}.png)" for layer in LAYERS)
    return (f"Data: {len(train_set):,} training images of {data_name}; the units' top {K} images are searched "
            f"among the first {len(search):,}. Test error after epoch {epochs}: {100 * row['test_error']:.2f}%.\n\n"
            f"Share of each unit's top {K} images (units 0-{UNITS - 1}, averaged) that are already among its top "
            f"{K} at the last epoch:\n\n" + "\n".join(lines)
            + f"\n\nZeiler and Fergus's observation, the lower layers settle first: **{verdict}** (averaged over "
              f"epochs {', '.join(map(str, before))}: {100 * lower:.0f}% for {LAYERS[0]} against {100 * upper:.0f}% "
              f"for {LAYERS[-1]}).\n\n"
              f"{figures}\n")
