"""The hidden cases of hw4: fixed inputs and the answer keys' outputs (minidl.transfer's layer-wise
groups and feature extraction, and a least-squares ridge solution written independently of the
task's normal equations). ``minidl assignment expected hw4`` stores them."""

import numpy as np

import minidl
from minidl.data import TensorDataset, load_dataset
from minidl.transfer import extract_features, layerwise_param_groups
from minidl.zoo import lenet5, load_pretrained

GROUPS = [["features.conv1"], ["features.conv2"], ["classifier.fc1", "classifier.fc2"], ["classifier.fc3"]]


def _ridge_accuracy(train_x, train_y, test_x, test_y, reg):
    """Ridge regression as the least-squares problem [X; sqrt(reg) I'] W = [Y; 0]."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    design = lambda f: np.hstack([(f - mean) / std, np.ones((len(f), 1))])   # noqa: E731
    x = design(train_x)
    penalty = np.sqrt(reg) * np.eye(x.shape[1])[:-1]   # no row for the bias
    stacked = np.vstack([x, penalty])
    targets = np.vstack([np.eye(train_y.max() + 1)[train_y], np.zeros((len(penalty), train_y.max() + 1))])
    weights = np.linalg.lstsq(stacked, targets, rcond=None)[0]
    return np.mean((design(test_x) @ weights).argmax(axis=1) == test_y)


def cases():
    rng = np.random.default_rng(44)
    found = {}
    minidl.manual_seed(0)
    model = lenet5(num_classes=5, in_channels=3, image_size=32)
    model.features.conv1.weight.requires_grad = False
    for i, group in enumerate(layerwise_param_groups(model, 0.03, factor=2.5, groups=GROUPS)):
        found[f"layerwise/lr{i}"] = group["lr"]
        found[f"layerwise/size{i}"] = sum(p.numel() for p in group["params"])

    model = load_pretrained("lenet5-synthetic-shapes")
    normalize = model.weights_metadata["normalize"]
    mean = np.array(normalize["mean"], dtype=np.float32)[:, None, None]
    std = np.array(normalize["std"], dtype=np.float32)[:, None, None]
    images = ((load_dataset("synthetic-shapes", train=False).images[100:124] - mean) / std).astype(np.float32)
    found["features/images"] = images
    data = TensorDataset(images, np.zeros(len(images), dtype=np.int64))
    for layer, pool in (("features.conv2", "avg"), ("classifier.fc1", None)):
        found[f"features/{layer}"] = extract_features(model, data, layer, pool=pool, progress=False)[0]

    centres = rng.standard_normal((4, 6)) * 1.5
    train_y, test_y = rng.integers(0, 4, 80), rng.integers(0, 4, 40)
    # The last feature is the same for every image: its standard deviation is 0.
    train_x = np.hstack([centres[train_y] + rng.standard_normal((80, 6)), np.full((80, 1), 3.0)])
    test_x = np.hstack([centres[test_y] + rng.standard_normal((40, 6)), np.full((40, 1), 3.0)])
    found.update({"probe/train_x": train_x, "probe/train_y": train_y, "probe/test_x": test_x, "probe/test_y": test_y})
    for reg in (0.1, 300.0):
        found[f"probe/accuracy_{reg}"] = _ridge_accuracy(train_x, train_y, test_x, test_y, reg)
    return found
