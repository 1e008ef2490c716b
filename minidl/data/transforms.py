"""Batch transforms: data augmentation and normalisation of a whole batch at once.

Every transform takes a float array of images (B, C, H, W) and returns a new one, computing all
B images with array operations: the random parameters are drawn as arrays of B values and
applied by broadcasting or fancy indexing, never by a Python loop over the images. (A loop over
the few taps of a blur kernel is fine: its length does not grow with the batch.)

    augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), Normalize([0.5], [0.5])])
    images = augment(images, rng)         # (B, C, H, W) -> (B, C, H, W)

``t(images, rng)`` draws from the ``np.random.Generator`` it is given (a ``DataLoader`` passes
its own, which makes the augmentation reproducible and resumable); without one it draws from
minidl's generator, reseeded by ``minidl.manual_seed``. Transforms that change pixel values
(``ColorJitter``, ``GaussianNoise``) assume images in [0, 1] and clip to that range, so apply
``Normalize`` last.
"""

import abc

import numpy as np

from minidl import kernels
from minidl.layers.resize import upsample_bilinear2d_forward
from minidl.random import get_generator

__all__ = ["Transform", "Compose", "Normalize", "Resize", "RandomCrop", "RandomHorizontalFlip",
           "RandomTranslation", "ColorJitter", "GaussianNoise", "GaussianBlur"]


class Transform(abc.ABC):
    """Abstract base class of the batch transforms.

    ``__call__(images, rng=None)`` checks that ``images`` is a float32/float64 array
    (B, C, H, W), picks the generator (``rng``, else minidl's) and calls ``apply``, which a
    subclass implements. Public attributes are the constructor's arguments and make the repr.
    """

    def __call__(self, images, rng=None):
        name = type(self).__name__
        if not isinstance(images, np.ndarray):
            raise TypeError(
                f"{name}: expected an ndarray of images (B, C, H, W), got {type(images).__name__}"
            )
        if images.ndim != 4:
            raise ValueError(
                f"{name}: expected a batch of images (B, C, H, W), got a {images.ndim}-D array of "
                f"shape {images.shape}"
            )
        if images.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: expected float32 or float64 images, got dtype {images.dtype}")
        return self.apply(images, get_generator() if rng is None else rng)

    @abc.abstractmethod
    def apply(self, images, rng):
        """The transformed batch: a new array of ``images``' dtype."""

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose:
    """Apply transforms one after the other, all drawing from the same generator.

    Args:
        transforms: a list of batch transforms (callables ``t(images, rng) -> images``).
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")
        self.transforms = transforms

    def __call__(self, images, rng=None):
        rng = get_generator() if rng is None else rng
        for t in self.transforms:
            images = t(images, rng)
        return images

    def __repr__(self):
        lines = "".join(f"    {t!r},\n" for t in self.transforms)
        return f"Compose([\n{lines}])"


class Normalize(Transform):
    """Per channel: out[:, c] = (images[:, c] - mean[c]) / std[c]. Not random.

    Args:
        mean, std: one value per channel (std > 0), e.g. the training set's channel statistics
            (MNIST: mean 0.1307, std 0.3081).
    """

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        if len(self.mean) != len(self.std):
            raise ValueError(
                f"Normalize: mean and std need one value per channel each, got {len(self.mean)} "
                f"means and {len(self.std)} stds"
            )
        if min(self.std) <= 0:
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def apply(self, images, rng):
        channels = images.shape[1]
        if len(self.mean) != channels:
            raise ValueError(
                f"Normalize: mean and std have {len(self.mean)} values but the images have "
                f"{channels} channels"
            )
        mean = np.asarray(self.mean, dtype=images.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=images.dtype).reshape(-1, 1, 1)
        return (images - mean) / std


def _random_crop(images, size, padding, rng, layer):
    """Zero-pad every image by ``padding`` and cut a ``size`` window at a random place in each.

    With padding P the padded image has H + 2P rows, so a crop of height h can start at any of
    H + 2P - h + 1 rows. ``kernels.sliding_windows`` is a view of all those windows,
    (B, C, h, w, positions_h, positions_w); indexing it with one (top, left) pair per image picks
    all B crops in one gather: crops[b] = windows[b, :, :, :, top[b], left[b]].
    """
    batch, _, height, width = images.shape
    (crop_h, crop_w), (pad_h, pad_w) = size, padding
    padded_h, padded_w = height + 2 * pad_h, width + 2 * pad_w
    if crop_h > padded_h or crop_w > padded_w:
        raise ValueError(
            f"{layer}: the crop {crop_h}x{crop_w} is larger than the padded image "
            f"{padded_h}x{padded_w} (image {height}x{width} with padding ({pad_h}, {pad_w}) on "
            f"each side)"
        )
    positions = (padded_h - crop_h + 1, padded_w - crop_w + 1)
    windows = kernels.sliding_windows(kernels.pad2d(images, padding), (crop_h, crop_w), (1, 1), (1, 1),
                                      positions)
    top = rng.integers(0, positions[0], size=batch)
    left = rng.integers(0, positions[1], size=batch)
    return windows[np.arange(batch), :, :, :, top, left]


class RandomCrop(Transform):
    """Pad each image with zeros, then crop a ``size`` window at a random offset per image.

    Args:
        size: crop height and width, an int or a pair.
        padding: zeros added on each side of each spatial axis first, an int or a pair.
    Shapes: (B, C, H, W) -> (B, C, size_h, size_w); needs size <= H + 2 * padding (likewise W).
    """

    def __init__(self, size, padding=0):
        self.size = kernels.pair(size, "size", "RandomCrop")
        self.padding = kernels.pair(padding, "padding", "RandomCrop")
        kernels.check_positive(self.size, "size", "RandomCrop")
        kernels.check_non_negative(self.padding, "padding", "RandomCrop")

    def apply(self, images, rng):
        return _random_crop(images, self.size, self.padding, rng, "RandomCrop")


class RandomTranslation(Transform):
    """Shift each image by a random whole number of pixels, filling the uncovered border with zeros.

    Each image moves by (dy, dx), drawn uniformly from [-max_shift, max_shift] per axis:
    out[b, c, y, x] = images[b, c, y - dy, x - dx], or 0 where that pixel lies outside. This is
    a crop of the image's own size out of the image padded by max_shift: the crop starting at
    row t shows the image moved down by dy = max_shift - t.

    Args:
        max_shift: largest shift in pixels, an int or a pair (vertical, horizontal).
    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, max_shift):
        self.max_shift = kernels.pair(max_shift, "max_shift", "RandomTranslation")
        kernels.check_non_negative(self.max_shift, "max_shift", "RandomTranslation")

    def apply(self, images, rng):
        return _random_crop(images, images.shape[2:], self.max_shift, rng, "RandomTranslation")


def _probability(p, layer):
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise ValueError(f"{layer}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def _non_negative(value, name, layer):
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{layer}: {name} must be a non-negative number, got {value!r}")
    return float(value)


class RandomHorizontalFlip(Transform):
    """Mirror each image left to right with probability p: out[b] = images[b, :, :, ::-1].

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, p=0.5):
        self.p = _probability(p, "RandomHorizontalFlip")

    def apply(self, images, rng):
        flip = rng.random(len(images)) < self.p
        return np.where(flip[:, None, None, None], images[:, :, :, ::-1], images)


class ColorJitter(Transform):
    """Random brightness, then contrast, with one factor of each per image (torchvision's math).

    brightness factor f_b ~ U[max(0, 1 - brightness), 1 + brightness]:
        out = clip(f_b * x, 0, 1)                         (scales towards black)
    contrast factor f_c ~ U[max(0, 1 - contrast), 1 + contrast], m = mean of the image over C, H, W:
        out = clip(f_c * x + (1 - f_c) * m, 0, 1)         (scales the distance from the mean)

    Unlike torchvision, which takes a grey-level mean and applies the two in random order, the
    mean here is over all channels and the order is fixed. A value 0 leaves that property alone.
    Expects images in [0, 1]. Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, brightness=0.0, contrast=0.0):
        self.brightness = _non_negative(brightness, "brightness", "ColorJitter")
        self.contrast = _non_negative(contrast, "contrast", "ColorJitter")

    def apply(self, images, rng):
        shape = (len(images), 1, 1, 1)   # one factor per image, broadcast over C, H, W
        f_b = rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness, shape).astype(images.dtype)
        f_c = rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast, shape).astype(images.dtype)
        out = np.clip(f_b * images, 0, 1)
        mean = out.mean(axis=(1, 2, 3), keepdims=True)
        return np.clip(f_c * out + (1 - f_c) * mean, 0, 1)


class GaussianNoise(Transform):
    """Add independent N(0, std^2) noise to every pixel: out = x + std * z, z ~ N(0, 1).

    Args:
        std: standard deviation of the noise (>= 0).
        clip: clip the result to [0, 1] (as torchvision's GaussianNoise), for images in [0, 1].
    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, std=0.1, clip=True):
        self.std = _non_negative(std, "std", "GaussianNoise")
        self.clip = bool(clip)

    def apply(self, images, rng):
        out = images + self.std * rng.standard_normal(images.shape, dtype=images.dtype)
        return np.clip(out, 0, 1) if self.clip else out


def _gaussian_kernels(sigmas, size):
    """Normalised 1-D Gaussian kernels, one row per sigma: (B,) -> (B, size).

    g[k] = exp(-(k - r)^2 / (2 sigma^2)) / sum_j exp(-(j - r)^2 / (2 sigma^2)),  r = (size - 1) / 2
    """
    offsets = np.arange(size) - (size - 1) / 2
    g = np.exp(-0.5 * (offsets / sigmas[:, None]) ** 2)
    return g / g.sum(axis=1, keepdims=True)


def _filter_along(padded, taps, axis):
    """out[b, ..., i, ...] = sum_k taps[b, k] * padded[b, ..., i + k, ...] along ``axis`` (2 or 3).

    A 1-D filter is a weighted sum of K shifted copies of the image; the loop runs over the K
    taps, each step a whole-batch array operation. (For a symmetric kernel such as a Gaussian
    this cross-correlation is also the convolution.)
    """
    size = taps.shape[1]
    length = padded.shape[axis] - size + 1
    out = np.zeros(padded.shape[:axis] + (length,) + padded.shape[axis + 1:], dtype=padded.dtype)
    window = [slice(None)] * padded.ndim
    for k in range(size):
        window[axis] = slice(k, k + length)
        out += taps[:, k, None, None, None] * padded[tuple(window)]
    return out


class GaussianBlur(Transform):
    """Blur each image with a Gaussian, as two 1-D filters: first along H, then along W.

    The 2-D Gaussian is separable, G(y, x) = g(y) g(x), so filtering with g down the columns and
    then along the rows equals one 2-D convolution with the outer product g g^T, at a cost of
    KH + KW instead of KH * KW multiplications per pixel. The borders use reflect padding
    (mirroring without repeating the edge pixel, as ``np.pad(mode="reflect")`` and torchvision),
    so a constant image stays constant.

    Args:
        kernel_size: odd kernel height and width, an int or a pair.
        sigma: the Gaussian's standard deviation in pixels: a number, or a range (low, high)
            from which each image draws its own sigma uniformly (torchvision's default (0.1, 2.0)).
    Shapes: (B, C, H, W) -> (B, C, H, W); needs kernel_size // 2 < H (likewise W).
    """

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        self.kernel_size = kernels.pair(kernel_size, "kernel_size", "GaussianBlur")
        kernels.check_positive(self.kernel_size, "kernel_size", "GaussianBlur")
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"GaussianBlur: kernel_size must be odd, got {self.kernel_size}")
        fixed = isinstance(sigma, int | float) and not isinstance(sigma, bool)
        if not fixed and not (isinstance(sigma, tuple | list) and len(sigma) == 2):
            raise TypeError(f"GaussianBlur: sigma must be a number or a pair (low, high), got {sigma!r}")
        low, high = (sigma, sigma) if fixed else sigma
        if not 0 < low <= high:
            raise ValueError(f"GaussianBlur: sigma must be positive, with low <= high, got {sigma!r}")
        self.sigma = float(sigma) if fixed else (float(low), float(high))

    def apply(self, images, rng):
        batch, _, height, width = images.shape
        k_h, k_w = self.kernel_size
        r_h, r_w = k_h // 2, k_w // 2   # reflect padding that keeps the size H x W
        if r_h >= height or r_w >= width:
            raise ValueError(
                f"GaussianBlur: kernel_size {self.kernel_size} needs reflect padding of "
                f"({r_h}, {r_w}), which must be smaller than the image size {height}x{width}"
            )
        if isinstance(self.sigma, tuple):
            sigmas = rng.uniform(self.sigma[0], self.sigma[1], size=batch)
        else:
            sigmas = np.full(batch, self.sigma)
        padded = np.pad(images, ((0, 0), (0, 0), (r_h, r_h), (r_w, r_w)), mode="reflect")
        out = _filter_along(padded, _gaussian_kernels(sigmas, k_h).astype(images.dtype), axis=2)
        return _filter_along(out, _gaussian_kernels(sigmas, k_w).astype(images.dtype), axis=3)


class Resize(Transform):
    """Resize every image to ``size`` x ``size`` by bilinear interpolation. Not random.

    (B, C, H, W) -> (B, C, size, size), PyTorch's ``F.interpolate(images, (size, size),
    mode="bilinear", align_corners=False)`` (torchvision's ``Resize`` without antialiasing),
    computed by ``minidl.layers.resize.upsample_bilinear2d_forward``, whose docstring gives the
    source position and the weights of every output pixel.
    """

    def __init__(self, size):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"Resize: size must be a positive int, got {size!r}")
        self.size = int(size)

    def apply(self, images, rng):
        resized, _ = upsample_bilinear2d_forward(images, (self.size, self.size), align_corners=False)
        return resized
