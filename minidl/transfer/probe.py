"""Linear probes: how much of the answer a layer's features already hold.

A probe is a linear classifier trained on frozen features. Trained on each layer in turn it
shows where the features become linearly separable by class: the lecture's table of classifiers
on conv1 ... fc7 features, where accuracy climbs with depth.

``linear_probe`` trains the classifier with minidl itself on standardised features, either a
softmax classifier (cross-entropy) or a linear SVM with the multiclass hinge loss

    L_i = sum over j != y_i of max(0, s_j - s_{y_i} + 1)      (CS231n's SVM),

both with L2 weight decay, by Adam on mini-batches. ``probe_layers`` extracts each layer's
features from a model and probes them, returning the table and drawing the plot.
"""

from collections import namedtuple

import numpy as np

from matplotlib.figure import Figure

from minidl import functional as F
from minidl import nn, optim
from minidl.grad_mode import no_grad
from minidl.plots import save_figure
from minidl.random import get_generator
from minidl.tensor import Tensor
from minidl.transfer.features import FeatureExtractor, extract_features

__all__ = ["linear_probe", "hinge_loss", "probe_layers", "format_probe_table", "plot_probe", "ProbeResult"]

ProbeResult = namedtuple("ProbeResult", ["train_accuracy", "test_accuracy", "classifier", "mean", "std"])


def hinge_loss(scores, labels, margin=1.0):
    """CS231n's multiclass SVM loss, averaged over the batch: sum_j!=y max(0, s_j - s_y + margin)."""
    labels = np.asarray(labels, dtype=np.int64)
    correct = scores.gather(1, Tensor(labels.reshape(-1, 1)))
    margins = (scores - correct + margin).clip(min=0.0)
    others = np.ones(scores.shape, dtype=scores.dtype)
    others[np.arange(len(labels)), labels] = 0  # the correct class contributes no margin
    return (margins * others).sum() / len(labels)


def _check(name, features, labels):
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(f"linear_probe: {name} features must be (N, D), got shape {features.shape}")
    if labels.shape != (len(features),):
        raise ValueError(f"linear_probe: {name} labels must be ({len(features)},), got shape {labels.shape}")
    if len(features) == 0:
        raise ValueError(f"linear_probe: no {name} examples")
    return features.astype(np.float32), labels.astype(np.int64)


def linear_probe(train_features, train_labels, test_features, test_labels, loss="softmax", epochs=30,
                 lr=0.05, weight_decay=1e-4, batch_size=256, num_classes=None):
    """Train a linear classifier on ``train_features`` and report train and test accuracy.

    Args:
        train_features, test_features: (N, D) arrays; standardised with the training mean and std.
        train_labels, test_labels: (N,) integer class labels.
        loss: ``"softmax"`` (cross-entropy) or ``"svm"`` (multiclass hinge).
        epochs, lr, weight_decay, batch_size: Adam's training schedule (decoupled decay, AdamW).
        num_classes: the number of classes (default: one more than the largest label).
    Returns a ``ProbeResult(train_accuracy, test_accuracy, classifier, mean, std)``.
    """
    if loss not in ("softmax", "svm"):
        raise ValueError(f"linear_probe: loss must be 'softmax' or 'svm', got {loss!r}")
    x, y = _check("train", train_features, train_labels)
    x_test, y_test = _check("test", test_features, test_labels)
    if x_test.shape[1] != x.shape[1]:
        raise ValueError(f"linear_probe: train features have {x.shape[1]} dimensions, test features {x_test.shape[1]}")
    classes = int(max(y.max(), y_test.max()) + 1) if num_classes is None else num_classes
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    x, x_test = (x - mean) / std, (x_test - mean) / std
    classifier = nn.Linear(x.shape[1], classes)
    optimizer = optim.AdamW(classifier.parameters(), lr=lr, weight_decay=weight_decay)
    objective = F.cross_entropy if loss == "softmax" else hinge_loss
    rng = get_generator()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            objective(classifier(Tensor(x[batch])), y[batch]).backward()
            optimizer.step()

    def accuracy(features, labels):
        with no_grad():
            return float((classifier(Tensor(features)).argmax(dim=1).numpy() == labels).mean())

    return ProbeResult(accuracy(x, y), accuracy(x_test, y_test), classifier, mean, std)


def probe_layers(model, train_data, test_data, layers, pool="avg", losses=("softmax", "svm"), transform=None,
                 cache_dir=None, progress=True, **probe_options):
    """Probe each of ``layers`` of ``model``: one row ``{layer, dimensions, pool, <loss>, <loss>_train}`` each.

    ``pool`` applies to the 4-D activations of convolutional layers; flat ones are used as they
    are, and the row's ``pool`` says which was done (None: the full activations).
    """
    rows = []
    for layer in layers:
        used = pool if pool is not None and _is_spatial(model, train_data, layer) else None
        train = extract_features(model, train_data, layer, pool=used, transform=transform, cache_dir=cache_dir,
                                 progress=progress)
        test = extract_features(model, test_data, layer, pool=used, transform=transform, cache_dir=cache_dir,
                                progress=progress)
        row = {"layer": layer, "dimensions": train[0].shape[1], "pool": used}
        for loss in losses:
            result = linear_probe(*train, *test, loss=loss, **probe_options)
            row[loss], row[f"{loss}_train"] = result.test_accuracy, result.train_accuracy
        rows.append(row)
    return rows


def _is_spatial(model, data, layer):
    """Whether ``layer`` gives (N, C, H, W) maps, found by running one image through the model."""
    image = Tensor(np.asarray(data[0][0])[np.newaxis])
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return FeatureExtractor(model, [layer])(image)[layer].ndim == 4
    finally:
        model.train(was_training)


def format_probe_table(rows):
    """The probe table as text: layer, feature size, pooling, test accuracy per loss."""
    losses = [key for key in rows[0] if key in ("softmax", "svm")] if rows else []
    lines = [f"{'layer':<22} {'features':>9} {'pool':>5}" + "".join(f" {loss:>8}" for loss in losses)]
    for row in rows:
        pool = "-" if row["pool"] is None else str(row["pool"])
        lines.append(f"{row['layer']:<22} {row['dimensions']:>9} {pool:>5}"
                     + "".join(f" {row[loss]:>8.1%}" for loss in losses))
    return "\n".join(lines)


def plot_probe(rows, path, title="Linear probes per layer"):
    """Test accuracy of each probe against the layer, one line per loss; saved as a PNG at ``path``."""
    figure = Figure(figsize=(max(5.0, 0.8 * len(rows) + 2), 3.8), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(rows))
    for loss, marker in (("softmax", "o"), ("svm", "s")):
        if rows and loss in rows[0]:
            axes.plot(positions, [row[loss] for row in rows], marker=marker, label=f"{loss} probe")
    axes.set_xticks(positions, [row["layer"] for row in rows], rotation=30, ha="right")
    axes.set_ylabel("test accuracy")
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    save_figure(figure, path)
