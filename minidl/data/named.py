"""Datasets by name, as ``minidl train --dataset NAME`` and the pretrained weights refer to them.

    test_set = load_dataset("fashion-mnist", train=False, root="data/")
"""

from minidl.data.builtin import load_builtin
from minidl.data.cifar import CIFAR10
from minidl.data.image_dataset import select_classes
from minidl.data.mnist import MNIST, FashionMNIST
from minidl.data.synthetic import OTHER_SHAPES, SyntheticShapes

__all__ = ["DATASETS", "SYNTHETIC_SIZES", "load_dataset"]

# The transfer experiments' domains, besides the datasets themselves:
# - "synthetic-shapes-new": five other shapes drawn the same way (a target similar to
#   "synthetic-shapes"), "synthetic-shapes-outline": those shapes as outlines over checkerboards
#   (a target whose rendering differs);
# - "fashion-mnist-a" / "fashion-mnist-b": Fashion-MNIST's classes 0-4 (T-shirt/top, Trouser,
#   Pullover, Dress, Coat) and 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), each relabelled 0-4:
#   a source and a target of real images that share no class.
DATASETS = ("builtin", "mnist", "fashion-mnist", "cifar10", "synthetic-shapes", "synthetic-shapes-new",
            "synthetic-shapes-outline", "fashion-mnist-a", "fashion-mnist-b")
# Images in the train / test draw of the "synthetic-shapes" datasets; fixed seeds make them the
# same everywhere.
SYNTHETIC_SIZES = {True: 10000, False: 2000}
SYNTHETIC_VARIANTS = {
    "synthetic-shapes": dict(seed=0),
    "synthetic-shapes-new": dict(seed=1, classes=OTHER_SHAPES),
    "synthetic-shapes-outline": dict(seed=2, classes=OTHER_SHAPES, background="checker", outline=True),
}
FASHION_SPLITS = {"fashion-mnist-a": range(0, 5), "fashion-mnist-b": range(5, 10)}


def load_dataset(name, train, root=None, download=False):
    """The training (``train=True``) or test split of the dataset called ``name``.

    ``"builtin"`` is the MNIST subset shipped inside minidl (offline); the ``"synthetic-shapes"``
    datasets are generated (offline, fixed seeds); the others read the original files under ``root`` (default
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
    if name in SYNTHETIC_VARIANTS:
        return SyntheticShapes(SYNTHETIC_SIZES[train], train=train, **SYNTHETIC_VARIANTS[name])
    if name in FASHION_SPLITS:
        return select_classes(FashionMNIST(root, train=train, download=download), list(FASHION_SPLITS[name]))
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
