"""Datasets: indexable collections of samples, and the ways to cut one into pieces.

A dataset is anything with ``len(ds)`` and ``ds[i]``. For image classification ``ds[i]`` is a
pair ``(image, label)``: a float32 array (C, H, W) with values in [0, 1] and an int. That is all
a ``DataLoader`` needs, but stacking N items one by one is slow, so datasets that hold their
samples in memory also expose the whole arrays:

    ds.images    float32 (N, C, H, W)
    ds.targets   int64 (N,)

and the loader then gathers a batch with one fancy index, ``ds.images[batch_indices]``.

- ``Dataset``: the abstract base class (``__getitem__`` and ``__len__``)
- ``TensorDataset(*arrays)``: samples are rows of arrays that share their first dimension
- ``Subset(dataset, indices)``: a view of some samples of another dataset
- ``random_split(dataset, lengths, generator)``: disjoint random Subsets, e.g. train / validation
"""

import abc
import math

import numpy as np

from minidl.random import get_generator
from minidl.tensor import Tensor


class Dataset(abc.ABC):
    """Abstract base class of datasets, as ``torch.utils.data.Dataset``.

    A subclass implements ``__len__`` (the number of samples) and ``__getitem__(index)`` (sample
    ``index``, 0 <= index < len, e.g. the pair ``(image (C, H, W) float32, label int)``).
    """

    @abc.abstractmethod
    def __getitem__(self, index):
        """Sample number ``index``."""

    @abc.abstractmethod
    def __len__(self):
        """How many samples the dataset holds."""


class TensorDataset(Dataset):
    """Samples made of the rows of arrays with the same first dimension.

    ``TensorDataset(images, labels)[i] == (images[i], labels[i])``. Given exactly two arrays it
    also exposes them as ``images`` and ``targets``, which lets a ``DataLoader`` gather whole
    batches at once; the images should then be float (N, C, H, W) and the labels ints (N,).

    Args:
        *arrays: ndarrays or Tensors (their arrays are used, not copied), each of shape (N, ...).
    Attributes:
        arrays: the tuple of ndarrays.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        arrays = tuple(a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        for position, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {position} is a scalar; every array needs a first "
                    f"dimension that counts the samples"
                )
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"TensorDataset: all arrays must have the same first dimension (one row per "
                f"sample), got shapes {shapes}"
            )
        self.arrays = arrays
        if len(arrays) == 2:
            self.images, self.targets = arrays

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)

    def __len__(self):
        return len(self.arrays[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] == ds[idx[i]]``.

    No sample is copied; a ``DataLoader`` over a Subset of a dataset with ``images``/``targets``
    arrays still gathers batches from those arrays directly.

    Attributes:
        dataset: the underlying dataset.
        indices: int64 array (len,) of positions in ``dataset``.
    """

    def __init__(self, dataset, indices):
        indices = np.asarray(indices)
        if indices.size == 0:
            indices = indices.astype(np.int64)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise TypeError(
                f"Subset: indices must be a 1-D sequence of ints, got an array of shape "
                f"{indices.shape} and dtype {indices.dtype}"
            )
        size = len(dataset)
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            raise IndexError(
                f"Subset: indices must lie in [0, {size}) for a dataset of {size} samples, got "
                f"values from {indices.min()} to {indices.max()}"
            )
        self.dataset = dataset
        self.indices = indices.astype(np.int64)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None, *, seed=None):
    """Split ``dataset`` at random into disjoint Subsets of the given lengths, as PyTorch's.

    Args:
        dataset: any dataset.
        lengths: ints that sum to ``len(dataset)``, or fractions that sum to 1. Fractions give
            ``floor(fraction * len)`` samples each, and the samples left over are dealt one at a
            time to the first subsets (as ``torch.utils.data.random_split`` does), so
            ``random_split(ds, [0.8, 0.2])`` uses every sample.
        generator: the ``np.random.Generator`` that draws the permutation (PyTorch's argument
            takes a ``torch.Generator``), e.g. ``np.random.default_rng(42)``.
        seed: an int, shorthand for ``generator=np.random.default_rng(seed)``.
            With neither, the permutation comes from minidl's generator, so that
            ``minidl.manual_seed`` fixes the split too.
    Returns:
        a list of ``Subset``, one per length, together a permutation of the whole dataset.
    """
    if generator is not None and seed is not None:
        raise ValueError("random_split: give a generator or a seed, not both")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"random_split: generator must be an np.random.Generator (e.g. np.random.default_rng(42)), "
            f"got {type(generator).__name__}; an int seed goes in seed="
        )
    size = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: expected at least one length, got none")
    if all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in lengths):
        if min(lengths) < 0:
            raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
        if sum(lengths) != size:
            raise ValueError(
                f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has "
                f"{size} samples"
            )
        counts = [int(n) for n in lengths]
    else:
        if any(isinstance(f, bool) or not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        if not math.isclose(sum(lengths), 1.0):
            raise ValueError(f"random_split: the fractions {lengths} sum to {sum(lengths)}, not 1")
        counts = [math.floor(size * f) for f in lengths]
        for i in range(size - sum(counts)):
            counts[i % len(counts)] += 1
    if generator is None:
        generator = get_generator() if seed is None else np.random.default_rng(seed)
    order = generator.permutation(size)
    ends = np.cumsum(counts)
    return [Subset(dataset, order[end - n:end]) for end, n in zip(ends, counts)]
