"""``ImageDataset``: an image-classification dataset held in memory as uint8 pixels.

MNIST, Fashion-MNIST, CIFAR-10 and the built-in subset all come as 8-bit pixels and integer
labels. This base class keeps the pixels as they are stored (1 byte per value, the layout of
``torchvision``'s ``.data``) and converts to what a network eats, float32 in [0, 1] with the
channels first, only when asked:

    ds.data      uint8 (N, H, W) for grey images, (N, H, W, C) for colour ones
    ds.images    float32 (N, C, H, W) = data / 255, made on first use and kept
    ds.targets   int64 (N,)
    ds.classes   list of the class names, ds.classes[label]
    ds[i]        (float32 (C, H, W), int label)

A ``DataLoader`` gathers batches straight from ``ds.images`` and ``ds.targets``.
"""

import functools

import numpy as np

from minidl.data.dataset import Dataset

__all__ = ["ImageDataset", "select_classes"]


class ImageDataset(Dataset):
    """Images and labels held as arrays (see the module docstring for the attributes).

    Args:
        data: uint8 array (N, H, W) or (N, H, W, C).
        targets: integer labels (N,), each in [0, len(classes)).
        classes: the class names.
    """

    def __init__(self, data, targets, classes):
        name = type(self).__name__
        data, targets = np.asarray(data), np.asarray(targets)
        if data.dtype != np.uint8 or data.ndim not in (3, 4):
            raise ValueError(
                f"{name}: expected uint8 images (N, H, W) or (N, H, W, C), got dtype "
                f"{data.dtype} and shape {data.shape}"
            )
        if targets.ndim != 1 or targets.dtype.kind not in "iu" or len(targets) != len(data):
            raise ValueError(
                f"{name}: expected one integer label per image, {len(data)} in all, got dtype "
                f"{targets.dtype} and shape {targets.shape}"
            )
        if len(targets) and (targets.min() < 0 or targets.max() >= len(classes)):
            raise ValueError(
                f"{name}: labels must lie in [0, {len(classes)}) for {len(classes)} classes, got "
                f"values from {targets.min()} to {targets.max()}"
            )
        self.data = data
        self.targets = targets.astype(np.int64)
        self.classes = list(classes)

    @functools.cached_property
    def images(self):
        """float32 (N, C, H, W) in [0, 1]; built on first use (4 bytes a value against data's 1)."""
        return _to_float_channels_first(self.data)

    def __getitem__(self, index):
        """``(image float32 (C, H, W) in [0, 1], label int)``."""
        if "images" in self.__dict__:   # already converted as a whole: just index it
            image = self.images[index]
        else:
            image = _to_float_channels_first(self.data[index][np.newaxis])[0]
        return image, int(self.targets[index])

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return (f"{type(self).__name__}({len(self)} images of shape {self.data.shape[1:]}, "
                f"{len(self.classes)} classes)")


def _to_float_channels_first(data):
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    images = data[:, np.newaxis] if data.ndim == 3 else data.transpose(0, 3, 1, 2)
    images = np.ascontiguousarray(images, dtype=np.float32)
    images /= 255
    return images


def select_classes(dataset, classes):
    """The images of ``dataset`` (an ImageDataset) whose class is in ``classes``, relabelled 0..k-1.

    ``classes`` lists class indices or names; their order gives the new labels. Used to split one
    dataset into a source task and a target task that share no class (transfer experiments).
    """
    indices = [c if isinstance(c, int | np.integer) else _class_index(dataset, c) for c in classes]
    if len(set(indices)) != len(indices) or not indices:
        raise ValueError(f"select_classes: expected distinct classes, got {list(classes)}")
    for index in indices:
        if not 0 <= index < len(dataset.classes):
            raise ValueError(f"select_classes: class {index} is out of range for {len(dataset.classes)} classes")
    relabel = np.full(len(dataset.classes), -1, dtype=np.int64)
    relabel[indices] = np.arange(len(indices))
    keep = relabel[dataset.targets] >= 0
    return ImageDataset(dataset.data[keep], relabel[dataset.targets[keep]],
                        [dataset.classes[i] for i in indices])


def _class_index(dataset, name):
    if name not in dataset.classes:
        raise ValueError(f"select_classes: no class named {name!r}; the classes are {dataset.classes}")
    return dataset.classes.index(name)

