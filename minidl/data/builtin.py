"""Built-in data: a real subset of MNIST shipped inside the package, so that training works offline.

    train_set = load_builtin("mnist", train=True)    # 8,000 images, 800 per digit
    test_set = load_builtin("mnist", train=False)    # 2,000 images, 200 per digit

The subset is ``minidl/data/builtin/mnist.npz`` (about 1.7 MB), cut from the official MNIST files
by ``scripts/make_builtin_data.py``: a class-balanced random sample of the official training set
for training and of the official test set for testing, so the two never share an image. Its
README records the source, licence, checksums and the exact recipe.

The file is read with ``np.load(..., allow_pickle=False)``: plain arrays of numbers only, nothing
in it can run code.
"""

import importlib.resources

import numpy as np

from minidl.data.image_dataset import ImageDataset
from minidl.data.mnist import MNIST

__all__ = ["load_builtin", "BUILTIN_DATASETS"]

BUILTIN_DATASETS = {"mnist": MNIST.class_names}   # name -> class names


def load_builtin(name="mnist", train=True):
    """The built-in dataset ``name``, training (``train=True``) or test split.

    Returns an ``ImageDataset``: ``data`` uint8 (N, 28, 28), ``images`` float32 (N, 1, 28, 28)
    in [0, 1], ``targets`` int64 (N,), ``classes``; ``ds[i]`` is ``(image (1, 28, 28), label)``.
    Also ``source_indices`` int64 (N,): each image's position in the official file it came from.
    """
    if name not in BUILTIN_DATASETS:
        raise ValueError(
            f"load_builtin: no built-in dataset {name!r}; available: {sorted(BUILTIN_DATASETS)}"
        )
    split = "train" if train else "test"
    resource = importlib.resources.files("minidl.data") / "builtin" / f"{name}.npz"
    with resource.open("rb") as file, np.load(file, allow_pickle=False) as archive:
        images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
        source_indices = archive[f"{split}_indices"]
    dataset = ImageDataset(images, labels, BUILTIN_DATASETS[name])
    dataset.source_indices = source_indices.astype(np.int64)
    return dataset
