"""``DataLoader``: turn a dataset into a stream of shuffled, augmented mini-batches.

    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0,
                        transform=transforms.RandomCrop(28, padding=2))
    for images, labels in loader:        # one epoch
        ...                              # images: float32 Tensor (64, C, H, W), labels: int64 Tensor (64,)

Where the randomness comes from, and why that makes resuming exact
------------------------------------------------------------------
The loader owns one ``np.random.Generator``. At the start of every epoch it draws from it

    1. the epoch's order of the samples (a permutation, when ``shuffle=True``), then
    2. one integer, the epoch's augmentation seed s.

Batch b of the epoch is augmented with a fresh generator seeded by the pair (s, b). So
everything an epoch yields is fixed by the generator's state at the epoch's start, and batch b
does not depend on whether batches 0..b-1 were ever computed. ``state_dict()`` therefore only
needs that state and the number of batches already handed out; a loader that loads it (in a new
process, after a crash) replays the same order and skips what was done, so a resumed training
run sees exactly the batches an uninterrupted one would have.
"""

import math

import numpy as np

from minidl.data.dataset import Subset
from minidl.random import get_generator
from minidl.tensor import Tensor


class DataLoader:
    """Iterate over a dataset in mini-batches ``(images, labels)``, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a dataset whose items are ``(image, label)`` pairs: image a float array or
            Tensor (C, H, W), label an int.
        batch_size: samples per batch (>= 1).
        shuffle: visit the samples in a new random order every epoch.
        num_workers: accepted so that PyTorch code runs unchanged (an int >= 0), but every batch
            is loaded in the main process: the batches are gathered with one vectorised index
            (see below), which worker processes would not speed up.
        pin_memory: accepted and ignored: minidl runs on the CPU, there is no device to copy to.
        drop_last: leave out the last batch when it would be smaller than ``batch_size``.
        seed: seed of the loader's generator (shuffling and augmentation). None draws the seed
            from minidl's generator when the loader is made, so ``minidl.manual_seed`` fixes it.
        transform: a batch transform ``transform(images, rng) -> images`` applied to the float32
            array (B, C, H, W) of every batch (see ``minidl.data.transforms``).

    The arguments after ``shuffle`` are keyword-only: PyTorch's fourth positional argument is a
    sampler, which minidl does not take.

    Yields, per batch, as PyTorch does:
        images: Tensor float32 (B, C, H, W) (B = batch_size except maybe for the last batch).
        labels: Tensor (B,), int64 for class labels (other target dtypes keep their dtype).

    Batches are gathered with one vectorised index ``images[batch_indices]`` when the dataset,
    or the dataset under a chain of Subsets, has ``images`` and ``targets`` ndarrays (the fast
    path); otherwise the loader calls ``dataset[i]`` for every sample and stacks the items.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, *, num_workers=0, pin_memory=False, drop_last=False,
                 seed=None, transform=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int | np.integer):
            raise TypeError(f"DataLoader: num_workers must be an int, got {num_workers!r}")
        if num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers must be >= 0, got {num_workers} (minidl loads every batch "
                "in the main process whatever the number)"
            )
        if len(dataset) == 0:
            raise ValueError("DataLoader: the dataset is empty, there is nothing to load")
        if drop_last and len(dataset) < batch_size:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} and only "
                f"{len(dataset)} samples would leave no batch at all"
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"DataLoader: transform must be callable as transform(images, rng), got "
                f"{type(transform).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.pin_memory = bool(pin_memory)
        self.transform = transform
        if seed is None:
            seed = int(get_generator().integers(2**63))
        self.generator = np.random.default_rng(seed)
        # What state_dict() reports: the generator's state at the start of the current epoch
        # and how many of its batches were handed out. Outside an epoch: the current state, 0.
        self._epoch_start_state = None
        self._batches_done = 0
        self._batches_to_skip = 0   # set by load_state_dict to resume in the middle of an epoch

    def __len__(self):
        """Number of batches per epoch: ceil(N / B), or floor(N / B) with drop_last."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        """One epoch: draw the order and the augmentation seed, then yield the batches."""
        start_state = self.generator.bit_generator.state
        size = len(self.dataset)
        order = self.generator.permutation(size) if self.shuffle else np.arange(size)
        epoch_seed = int(self.generator.integers(2**63))
        skip, self._batches_to_skip = self._batches_to_skip, 0
        self._epoch_start_state, self._batches_done = start_state, skip
        arrays = _array_source(self.dataset)
        for b in range(skip, len(self)):
            batch_indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            images, labels = self._gather(batch_indices, arrays)
            if self.transform is not None:
                images = self.transform(images, np.random.default_rng([epoch_seed, b]))
            # Counted before handing the batch out: a checkpoint taken while the training loop
            # holds batch b must resume at batch b + 1.
            self._batches_done = b + 1
            yield Tensor(np.asarray(images, dtype=np.float32)), Tensor(labels)
        self._epoch_start_state, self._batches_done = None, 0

    def _gather(self, batch_indices, arrays):
        """The batch ``(images float32 (B, ...), labels (B,))`` of the samples at ``batch_indices``."""
        if arrays is not None:
            images, targets, index_map = arrays
            rows = batch_indices if index_map is None else index_map[batch_indices]
            images, labels = images[rows], targets[rows]
        else:
            items = [self.dataset[int(i)] for i in batch_indices]
            for item in items:
                if not (isinstance(item, tuple | list) and len(item) == 2):
                    raise TypeError(
                        f"DataLoader: dataset items must be (image, label) pairs, got "
                        f"{type(item).__name__} {_describe(item)}"
                    )
            images = np.stack([_to_array(image) for image, _ in items])
            labels = np.asarray([_to_array(label) for _, label in items])
        if images.dtype.kind != "f":
            raise TypeError(
                f"DataLoader: images must be floating point (float32 in [0, 1]), got dtype "
                f"{images.dtype}; convert them first, e.g. images.astype(np.float32) / 255"
            )
        if labels.dtype.kind not in "iubf":
            raise TypeError(
                f"DataLoader: labels must be numbers (class indices or float targets) to make a "
                f"Tensor, got dtype {labels.dtype}"
            )
        if labels.dtype.kind in "iub":
            labels = labels.astype(np.int64, copy=False)
        return images.astype(np.float32, copy=False), labels

    def state_dict(self):
        """Where the loader is in its stream of batches: the generator's state and a position.

        Returns a dict of plain Python values (JSON-serialisable):
            generator: ``bit_generator.state`` at the start of the current epoch, or the current
                state between epochs;
            batches_done: batches of that epoch already handed out (0 between epochs);
            batch_size, num_samples: to refuse resuming a different loader mid-epoch.
        """
        if self._epoch_start_state is not None and self._batches_done < len(self):
            generator_state, batches_done = self._epoch_start_state, self._batches_done
        else:
            # Between epochs (also right after the last batch, when the generator has drawn all
            # the epoch needed): the current state starts the next epoch, of which a preceding
            # load_state_dict may have asked to skip some batches.
            generator_state, batches_done = self.generator.bit_generator.state, self._batches_to_skip
        return {
            "generator": generator_state,
            "batches_done": batches_done,
            "batch_size": self.batch_size,
            "num_samples": len(self.dataset),
        }

    def load_state_dict(self, state):
        """Continue from ``state_dict()``: the next epoch started replays the saved one's order and
        augmentation and skips the batches already done (or starts afresh between epochs)."""
        batches_done = int(state["batches_done"])
        if batches_done and (state["batch_size"], state["num_samples"]) != (
                self.batch_size, len(self.dataset)):
            raise ValueError(
                f"DataLoader: cannot resume in the middle of an epoch of a different loader: the "
                f"state has batch_size={state['batch_size']} over {state['num_samples']} samples, "
                f"this loader batch_size={self.batch_size} over {len(self.dataset)} samples"
            )
        self.generator.bit_generator.state = state["generator"]
        self._batches_to_skip = batches_done
        self._epoch_start_state, self._batches_done = None, 0

    def __repr__(self):
        return (f"DataLoader(dataset of {len(self.dataset)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, transform={self.transform!r})")


def _array_source(dataset):
    """``(images, targets, index_map)`` when batches can be gathered from whole arrays, else None.

    Walks down a chain of Subsets: if S1 = Subset(base, i1) and S2 = Subset(S1, i2), then sample j
    of S2 is row i1[i2[j]] of base's arrays, so index_map = i1[i2] (None: the identity).
    """
    index_map = None
    while isinstance(dataset, Subset):
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    images, targets = getattr(dataset, "images", None), getattr(dataset, "targets", None)
    if isinstance(images, np.ndarray) and isinstance(targets, np.ndarray):
        return images, targets, index_map
    return None


def _to_array(value):
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


def _describe(item):
    return f"of length {len(item)}" if isinstance(item, tuple | list) else "(not a pair)"
