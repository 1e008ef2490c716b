"""Datasets by name, as ``minidl train --dataset NAME`` and the pretrained weights refer to them.

    test_set = load_dataset("fashion-mnist", train=False, root="data/")
"""

from minidl.data.builtin import load_builtin
from minidl.data.cifar import CIFAR10
from minidl.data.mnist import MNIST, FashionMNIST
from minidl.data.synthetic import SyntheticShapes

__all__ = ["DATASETS", "SYNTHETIC_SIZES", "load_dataset"]

DATASETS = ("builtin", "mnist", "fashion-mnist", "cifar10", "synthetic-shapes")
# Images in the train / test draw of "synthetic-shapes"; seed 0 makes them the same everywhere.
SYNTHETIC_SIZES = {True: 10000, False: 2000}


def load_dataset(name, train, root=None, download=False):
    """The training (``train=True``) or test split of the dataset called ``name``.

    ``"builtin"`` is the MNIST subset shipped inside minidl (offline); ``"synthetic-shapes"`` is
    generated (offline, seed 0); the others read the original files under ``root`` (default
    ``$MINIDL_DATA``, else the per-user cache folder), fetching them first if ``download``.
    """
    if name == "builtin":
        return load_builtin("mnist", train=train)
    if name == "mnist":
        return MNIST(root, train=train, download=download)
    if name == "fashion-mnist":
        return FashionMNIST(root, train=train, download=download)
    if name == "cifar10":
        return CIFAR10(root, train=train, download=download)
    if name == "synthetic-shapes":
        return SyntheticShapes(SYNTHETIC_SIZES[train], seed=0, train=train)
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
