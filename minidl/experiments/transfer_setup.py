"""What the transfer-learning experiments share: the source models, the targets, one run of a strategy.

The domains (all offline):
- source: ``resnet20-synthetic-shapes``, a CIFAR-style ResNet-20 trained by minidl on
  SyntheticShapes (filled circle, square, triangle, cross and ring over textured backgrounds);
- a *similar* target, ``synthetic-shapes-new``: five other shapes drawn the same way;
- a *different* target, ``synthetic-shapes-outline``: those five shapes as thin outlines over
  checkerboards, a rendering the source never saw.
The target's images are the target dataset's own train and test draws (fixed seeds), never the
source's test set.

A pair of real image domains, for the experiments run with ``--data-root`` (Fashion-MNIST and
MNIST files): the source ``small_vgg-fashion-mnist-a`` saw only Fashion-MNIST's classes 0-4; the
similar target is classes 5-9 (``fashion-mnist-b``), the different one MNIST's digits.
"""

import math

import minidl
from minidl.cli.common import load_source
from minidl.cli.target import prepare_target
from minidl.transfer import finetune

__all__ = ["SOURCE", "SIMILAR", "DIFFERENT", "FASHION", "GROUPS", "epochs_for", "run_strategy", "markdown_table"]

SOURCE = "resnet20-synthetic-shapes"
SIMILAR, DIFFERENT = "synthetic-shapes-new", "synthetic-shapes-outline"
FASHION = dict(source="small_vgg-fashion-mnist-a", similar="fashion-mnist-b", different="mnist")
# The layer groups of layer-wise rates, from the input to the head: one per stage of the
# network (ResNet-20's stem goes with its first stage), then the classifier.
GROUPS = {
    "resnet20": [["conv1", "bn1", "layer1"], ["layer2"], ["layer3"], ["fc"]],
    "small_vgg": [[f"features.{kind}{stage}{half}" for half in "ab" for kind in ("conv", "bn")]
                  for stage in (1, 2, 3)] + [["classifier"]],
}
BATCH_SIZE = 32


def epochs_for(train_size, steps=250, least=3, most=60):
    """Epochs giving about ``steps`` SGD steps of ``BATCH_SIZE`` images, between ``least`` and ``most``:
    a tiny training set needs many passes, a large one few."""
    return min(most, max(least, math.ceil(steps * BATCH_SIZE / train_size)))


def run_strategy(strategy, dataset, labels_per_class=None, seed=0, test_limit=1000, source=SOURCE, epochs=None,
                 lr=None, layer_lr_factor=3.0, head_lr=None, unfreeze_every=None, track_test=False, data_root=None,
                 log=None):
    """Train ``strategy`` from a fresh copy of ``source`` on ``dataset`` and return ``finetune``'s result
    (plus ``epochs``). ``labels_per_class=None`` uses the whole training set; the seed picks the
    labelled images, the new head and the shuffling. ``log`` gets one line with the outcome.
    ``lr`` defaults to 0.01 (the new head's rate; earlier groups ``layer_lr_factor`` times slower
    each) and to 0.05 from scratch, where every layer starts random and a higher rate trains faster."""
    minidl.manual_seed(seed)
    model = load_source(source)
    train, test, transform, _ = prepare_target(model, dataset, labels_per_class=labels_per_class,
                                               test_limit=test_limit, adapt_channels=True, data_root=data_root,
                                               seed=seed)
    epochs = epochs or epochs_for(len(train))
    lr = lr or (0.05 if strategy == "from-scratch" else 0.01)
    groups = GROUPS.get(model.architecture)
    result = finetune(model.model, train, test, strategy=strategy, epochs=epochs, lr=lr,
                      layer_lr_factor=layer_lr_factor, head_lr=head_lr, unfreeze_every=unfreeze_every,
                      groups=groups if strategy.startswith("fine-tune") else None, last_k=2, batch_size=BATCH_SIZE,
                      transform=transform, val_data=test if track_test else None)
    result["epochs"] = epochs
    if log is not None:
        log(f"{strategy} on {dataset} with {len(train)} labels: test accuracy {result['test_accuracy']:.4f} "
            f"({result['seconds']:.0f} s, {epochs} epochs)")
    return result


def markdown_table(headers, rows):
    """A Markdown table; floats in (0, 1] are shown as percentages with one decimal."""
    def cell(value):
        if isinstance(value, float):
            return f"{100 * value:.1f}%"
        return str(value)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
