"""Datasets, loading and augmentation.

- ``dataset``: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``
- ``loader``: ``DataLoader`` (batches, seeded shuffling, exact resume)
- ``transforms``: augmentations applied to whole batches at once
- ``mnist``, ``cifar``: the original files of MNIST, Fashion-MNIST and CIFAR-10, checksummed
- ``synthetic``: ``SyntheticShapes``, coloured shapes with their pixel masks
- ``builtin``: the MNIST subset shipped inside the package, for offline use
- ``named``: ``load_dataset(name, train)``, the datasets by the names the CLI uses

``minidl.utils.data`` holds ``DataLoader``, ``Dataset``, ``TensorDataset``, ``Subset`` and
``random_split`` again at PyTorch's path (``torch.utils.data``).
"""

from minidl.data import transforms
from minidl.data.builtin import load_builtin
from minidl.data.cifar import CIFAR10
from minidl.data.dataset import Dataset, Subset, TensorDataset, random_split
from minidl.data.download import ChecksumError, DownloadError, default_root
from minidl.data.image_dataset import ImageDataset, select_classes
from minidl.data.loader import DataLoader
from minidl.data.mnist import MNIST, FashionMNIST
from minidl.data.named import DATASETS, load_dataset
from minidl.data.synthetic import SyntheticShapes

__all__ = [
    "transforms", "load_builtin", "CIFAR10", "Dataset", "Subset", "TensorDataset", "random_split",
    "ChecksumError", "DownloadError", "default_root", "ImageDataset", "DataLoader", "MNIST",
    "FashionMNIST", "SyntheticShapes", "DATASETS", "load_dataset", "select_classes",
]
