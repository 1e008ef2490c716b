"""Pretrained weights that ship inside minidl, trained by minidl itself.

    from minidl.zoo import load_pretrained, PRETRAINED
    model = load_pretrained("lenet5-mnist")      # eval mode, ready to classify
    model.weights_metadata["normalize"]          # the input normalisation it was trained with
    model.weights_metadata["test_accuracy"]      # {"mnist": 0.9931, "builtin": ...}

Each file in ``minidl/zoo/pretrained/`` is a safetensors file (see ``weights.py``) whose
metadata records the architecture, the dataset and its class names, the mean and standard
deviation to normalise inputs with, the command that trained it, how long that took and the
test accuracies measured when it was exported (``scripts/export_pretrained.py``), and the
SHA-256 of its tensors (checked by ``read_weights``). The registry below adds each whole file's
SHA-256, checked on every load, so a damaged or replaced file is refused instead of silently
giving wrong answers.
"""

import hashlib
import os
from collections import namedtuple

from minidl.data import DataLoader, load_dataset, transforms
from minidl.train import evaluate
from minidl.zoo.weights import WeightsError, load_weights, read_weights

__all__ = ["PRETRAINED", "PretrainedWeights", "load_pretrained", "pretrained_path", "evaluate_pretrained",
           "describe"]

FOLDER = os.path.join(os.path.dirname(__file__), "pretrained")

PretrainedWeights = namedtuple("PretrainedWeights", ["file", "sha256", "description"])

PRETRAINED = {
    "lenet5-mnist": PretrainedWeights(
        "lenet5-mnist.safetensors",
        "4816fb19570dc4bf3628513f1b9c0efd9dc506f1580c2429cbe7b72f9eb4f672",
        "LeNet-5 (ReLU, max pooling) on MNIST, 28x28 greyscale digits, 10 classes",
    ),
    "small_vgg-fashion-mnist": PretrainedWeights(
        "small_vgg-fashion-mnist.safetensors",
        "678fbdf582c72e9257ce941bb2065fd04e9848e8d3650a8a53c0d0be495cd90b",
        "small VGG with batch norm on Fashion-MNIST, 28x28 greyscale clothes, 10 classes; "
        "the source model for transfer learning",
    ),
    "lenet5-synthetic-shapes": PretrainedWeights(
        "lenet5-synthetic-shapes.safetensors",
        "fc57a1362fcec388f11037c4750ca7817a038e3159c5d6d818b423bbf9a790d8",
        "LeNet-5 for 32x32 colour images on SyntheticShapes, 5 shape classes",
    ),
    "resnet20-synthetic-shapes": PretrainedWeights(
        "resnet20-synthetic-shapes.safetensors",
        "bc64c9367ed3c5af511c9d8a738bb1170eab284c5be439cc7ffbee0895a149ed",
        "CIFAR-style ResNet-20 for 32x32 colour images on SyntheticShapes, 5 shape classes; the deeper "
        "colour source model for transfer learning",
    ),
    "small_vgg-fashion-mnist-a": PretrainedWeights(
        "small_vgg-fashion-mnist-a.safetensors",
        "9b3d04d71b79e73cf62822f4a3619489a0e26b5b1758ea52e67408cfa9440c64",
        "small VGG with batch norm on Fashion-MNIST classes 0-4 only (T-shirt/top, Trouser, Pullover, Dress, "
        "Coat); the source for transfer to the other five classes, which it never saw",
    ),
}


def pretrained_path(name):
    """The path of the weights file registered as ``name``, after checking its SHA-256."""
    if name not in PRETRAINED:
        raise KeyError(f"pretrained: unknown weights {name!r}; available: {', '.join(sorted(PRETRAINED))}")
    entry = PRETRAINED[name]
    path = os.path.join(FOLDER, entry.file)
    if not os.path.exists(path):
        raise WeightsError(f"pretrained weights {name!r}: the file {path} is missing from the installation")
    with open(path, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    if digest != entry.sha256:
        raise WeightsError(
            f"pretrained weights {name!r}: {path} has SHA-256 {digest}, expected {entry.sha256}; "
            "the file is damaged or was replaced: reinstall minidl"
        )
    return path


def load_pretrained(name):
    """The model registered as ``name`` with its weights loaded, in eval mode.

    ``model.weights_metadata`` holds what the file records (dataset, classes, normalize,
    test_accuracy, command, ...).
    """
    return load_weights(pretrained_path(name))


def evaluate_pretrained(name, dataset=None, root=None, download=False):
    """Test accuracy of the pretrained ``name`` on ``dataset`` (default: the one it was trained on).

    Returns ``(accuracy, recorded)``: the accuracy measured now on the test split, and the one
    recorded in the weights file for that dataset (``None`` if none was recorded). Inputs are
    normalised with the statistics stored in the file, as in training.
    """
    model = load_pretrained(name)
    metadata = model.weights_metadata
    dataset = dataset or metadata["dataset"]
    test_set = load_dataset(dataset, train=False, root=root, download=download)
    loader = DataLoader(test_set, 256, transform=transforms.Normalize(**metadata["normalize"]))
    _, accuracy, _ = evaluate(model, loader)
    return accuracy, metadata.get("test_accuracy", {}).get(dataset)


def describe(name):
    """The metadata recorded in the weights file ``name``, without building the model."""
    return read_weights(pretrained_path(name))[1]
