"""What a model is fed: pictures in [0, 1], fitted to its size, then normalised.

The views inside a network show pictures, so every function of ``minidl.visualize`` takes
images as a dataset holds them, float values in [0, 1] of shape (N, C, H, W), with two settings
that turn them into the model's input:

    transform   a batch transform that keeps values in [0, 1], such as ``Resize`` to the side
                the model was built for (None: the images are the model's size already)
    normalize   the model's normalisation, ``{"mean": [...], "std": [...]}`` as in
                ``model.weights_metadata["normalize"]``, or a pair ``(mean, std)``; None feeds
                the pictures as they are

    x[:, c] = (transform(images)[:, c] - mean[c]) / std[c]

Keeping the two apart lets a view crop or show ``transform(images)`` (the pixels the model saw)
while the model gets ``x``.
"""

import numpy as np
from tqdm.auto import tqdm

from minidl.data import DataLoader
from minidl.data.transforms import Normalize
from minidl.tensor import Tensor

__all__ = ["Preprocess", "check_pictures", "batches", "gather", "model_dtype"]


def check_pictures(where, images, name="images"):
    """``images`` as a float ndarray (N, C, H, W) with values in [0, 1]; anything else is a
    one-line ValueError naming ``where``."""
    array = np.asarray(images.numpy() if isinstance(images, Tensor) else images)
    if array.dtype.kind != "f":
        raise ValueError(f"{where}: expected float {name} in [0, 1], got dtype {array.dtype}")
    if array.ndim != 4:
        raise ValueError(f"{where}: expected {name} of shape (N, C, H, W), got shape {array.shape}")
    if array.size and not (array.min() >= 0 and array.max() <= 1):   # "not" also catches NaN
        raise ValueError(f"{where}: expected {name} in [0, 1] (before normalisation), got values from "
                         f"{array.min():.4g} to {array.max():.4g}")
    return array


class Preprocess:
    """``transform`` then ``normalize`` (module docstring); ``where`` names the caller in errors.

    ``pixels(images)`` gives transform(images), still in [0, 1]; calling the object gives the
    model's input x, in ``dtype`` (the model's: ``model_dtype``) if given; ``bounds(channels)``
    gives the per-channel limits of x that pixels 0 and 1 map to, (C, 1, 1) arrays low and high
    (the range a synthesised image must stay in).
    """

    def __init__(self, where, transform=None, normalize=None, dtype=None):
        if transform is not None and not callable(transform):
            raise TypeError(f"{where}: transform must be a batch transform (a callable), got {transform!r}")
        self.where, self.transform, self.dtype = where, transform, dtype
        if normalize is None:
            self.normalize = None
        else:
            mean, std = (normalize["mean"], normalize["std"]) if isinstance(normalize, dict) else normalize
            self.normalize = Normalize(mean, std)

    def pixels(self, images):
        """transform(images): (N, C, H, W) in [0, 1] -> (N, C, H', W') in [0, 1]."""
        images = np.asarray(images)
        return images if self.transform is None else self.transform(images)

    def __call__(self, images):
        """The model's input for pictures ``images`` (N, C, H, W) in [0, 1]."""
        return self.from_pixels(self.pixels(images))

    def from_pixels(self, pixels):
        """Normalise pictures already at the model's size (no transform)."""
        x = np.asarray(pixels)
        x = x if self.normalize is None else self.normalize(x)
        return x if self.dtype is None else x.astype(self.dtype, copy=False)

    def to_pixels(self, x):
        """The inverse of the normalisation: pictures = x * std + mean, per channel."""
        if self.normalize is None:
            return np.array(x)
        mean, std = self._statistics(x.shape[1], x.dtype)
        return x * std + mean

    def bounds(self, channels):
        """(low, high), each (channels, 1, 1): the model-input values of pixels 0 and 1."""
        dtype = self.dtype or np.float32
        if self.normalize is None:
            return np.zeros((channels, 1, 1), dtype), np.ones((channels, 1, 1), dtype)
        mean, std = self._statistics(channels, dtype)
        return (0 - mean[0]) / std[0], (1 - mean[0]) / std[0]

    def _statistics(self, channels, dtype):
        if len(self.normalize.mean) != channels:
            raise ValueError(f"{self.where}: the normalisation has {len(self.normalize.mean)} channel(s) but the "
                             f"images have {channels}")
        mean = np.asarray(self.normalize.mean, dtype=dtype).reshape(1, -1, 1, 1)
        std = np.asarray(self.normalize.std, dtype=dtype).reshape(1, -1, 1, 1)
        return mean, std


def model_dtype(model):
    """The dtype of ``model``'s parameters (float32 for a model without any): its inputs' dtype."""
    parameter = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return np.dtype(np.float32) if parameter is None else parameter.dtype


def batches(dataset, batch_size, progress=False, desc=None):
    """Yield ``(start, images, labels)`` over ``dataset`` in order: images float (B, C, H, W)
    ndarrays as the dataset holds them, labels int (B,), ``start`` the index of the first one."""
    loader = DataLoader(dataset, batch_size, shuffle=False)
    start = 0
    for images, labels in tqdm(loader, desc=desc, disable=not progress, leave=False):
        images = images.numpy()
        yield start, images, np.asarray(labels.numpy() if isinstance(labels, Tensor) else labels)
        start += len(images)


def gather(dataset, indices):
    """The images of ``dataset`` at ``indices``, stacked: (len(indices), C, H, W)."""
    pictures = [dataset[int(i)][0] for i in indices]
    return np.stack([np.asarray(p.numpy() if isinstance(p, Tensor) else p) for p in pictures])
