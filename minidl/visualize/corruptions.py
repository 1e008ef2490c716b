"""Common corruptions of images (Hendrycks and Dietterich 2019, ImageNet-C), at five severities.

    noisy = corrupt(images, "gaussian_noise", severity=3, seed=0)   # (N, C, H, W) in [0, 1]
    plot_corruptions(images[0], path="corruptions.png")             # every kind at severities 0-5

Hendrycks and Dietterich measure how a classifier's error grows when its test images are
corrupted by noise, blur, weather and digital artefacts, each at severities 1 to 5. Here are the
ones that need nothing beyond NumPy, matplotlib and Pillow (which matplotlib requires); of their
15 benchmark corruptions, 9:

    noise     gaussian_noise   x + N(0, c^2)                       c = .08 .12 .18 .26 .38
              shot_noise       Poisson(c x) / c                    c = 60 25 12 5 3
              impulse_noise    a fraction c of the values set to 0 or 1 (salt and pepper, half each)
                                                                   c = .03 .06 .09 .17 .27
    blur      defocus_blur     convolution with a disk of radius r, anti-aliased by a Gaussian of
                               sigma a: (r, a) = (3, .1) (4, .5) (6, .5) (8, .5) (10, .5) pixels at 224
              zoom_blur        the mean of the image and its central zooms by factors z
                               z = 1..1.10 by .01, 1..1.15 by .01, 1..1.20 by .02, 1..1.25 by .02,
                               1..1.30 by .03
    digital   contrast         (x - mean) c + mean, per image and channel   c = .4 .3 .2 .1 .05
              brightness       V + c in HSV colour space (for grey images: x + c)   c = .1 .2 .3 .4 .5
              pixelate         shrink to c times the side (area average), enlarge back (nearest)
                                                                   c = .6 .5 .4 .3 .25
              jpeg_compression JPEG at quality c                   c = 25 18 15 10 7

and two of their extra corruptions: speckle_noise, x + x N(0, c^2) with c = .15 .2 .35 .45 .6, and
gaussian_blur, a Gaussian of sigma c = 1 2 3 4 6 pixels at 224. (Glass and motion blur, snow,
frost, fog, elastic transforms, spatter and saturation are not here: they need ImageMagick, image
files of frost, or steps that vanish at this size.)

**Rescaling to small images.** The constants above are ImageNet-C's, for 224x224 images. A
corruption's amplitudes (noise levels, contrast and brightness factors, the JPEG quality) and its
relative sizes (pixelate's and zoom blur's factors, fractions of the image) do not depend on the
image size and are kept. Its lengths in pixels (the defocus disk's radius and its anti-aliasing
sigma, the Gaussian blur's sigma) are multiplied by side / 224, so that a blur covers the same
fraction of a 28x28 digit as of a 224x224 photograph: the defocus radii become 0.375 to 1.25
pixels at 28x28. The disk is therefore drawn with the fraction of each pixel it covers
(supersampled 16x16), so that a radius under a pixel still blurs a little (below half a pixel it
covers only its own pixel and changes nothing). Hendrycks's own CIFAR-10-C (32x32) picked milder
constants by eye instead, so neither set of numbers is comparable with published ImageNet-C or
CIFAR-10-C results.

Severity 0 is the image itself. Random corruptions draw from ``np.random.default_rng(seed)``, so a
seed gives the same corrupted images every time. Every result is clipped to [0, 1].
"""

import io
from collections import namedtuple

import numpy as np
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from matplotlib.figure import Figure

from minidl import functional as F
from minidl.layers.resize import upsample_bilinear2d_forward, upsample_nearest2d_forward
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.inputs import check_pictures
from minidl.visualize.pictures import rgb, show

__all__ = ["CORRUPTIONS", "BENCHMARK", "EXTRA", "SEVERITIES", "REFERENCE_SIDE", "corrupt", "disk_kernel",
           "CorruptionGrid", "plot_corruptions"]

REFERENCE_SIDE = 224   # ImageNet-C's image side, for which the constants below were chosen
SEVERITIES = (1, 2, 3, 4, 5)

# ImageNet-C's constants for severities 1 to 5 (module docstring).
CONSTANTS = {
    "gaussian_noise": (.08, .12, .18, .26, .38),
    "shot_noise": (60, 25, 12, 5, 3),
    "impulse_noise": (.03, .06, .09, .17, .27),
    "defocus_blur": ((3, .1), (4, .5), (6, .5), (8, .5), (10, .5)),
    "zoom_blur": tuple(tuple(np.round(np.arange(1, end, step), 2)) for end, step in
                       ((1.11, .01), (1.16, .01), (1.21, .02), (1.26, .02), (1.31, .03))),
    "contrast": (.4, .3, .2, .1, .05),
    "brightness": (.1, .2, .3, .4, .5),
    "pixelate": (.6, .5, .4, .3, .25),
    "jpeg_compression": (25, 18, 15, 10, 7),
    "speckle_noise": (.15, .2, .35, .45, .6),
    "gaussian_blur": (1, 2, 3, 4, 6),
}
BENCHMARK = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "zoom_blur", "contrast", "brightness",
             "pixelate", "jpeg_compression")
EXTRA = ("speckle_noise", "gaussian_blur")
CORRUPTIONS = BENCHMARK + EXTRA


def corrupt(images, kind, severity, seed=0):
    """Corrupt images with ``kind`` at ``severity`` (module docstring).

    Args:
        images: (N, C, H, W) floats in [0, 1] (before any normalisation), C = 1 or 3.
        kind: one of ``CORRUPTIONS``.
        severity: an int from 0 (no change) to 5.
        seed: an int (or an ``np.random.Generator``) for the random corruptions.
    Returns:
        a new array of ``images``' shape and dtype, in [0, 1].
    """
    pictures = check_pictures("corrupt", images)
    if kind not in CONSTANTS:
        raise ValueError(f"corrupt: unknown corruption {kind!r}; the corruptions: {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer) or not 0 <= severity <= 5:
        raise ValueError(f"corrupt: severity must be an integer from 0 to 5, got {severity!r}")
    if pictures.shape[1] not in (1, 3):
        raise ValueError(f"corrupt: expected grey (1 channel) or colour (3 channels) images, got shape "
                         f"{pictures.shape}")
    if severity == 0:
        return pictures.copy()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    c = CONSTANTS[kind][severity - 1]
    x = pictures.astype(np.float64)
    out = _CORRUPT[kind](x, c, rng)
    return np.clip(out, 0, 1).astype(pictures.dtype)


def _gaussian_noise(x, c, rng):
    return x + rng.normal(scale=c, size=x.shape)


def _shot_noise(x, c, rng):
    return rng.poisson(x * c) / c


def _impulse_noise(x, c, rng):
    hit = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    return np.where(hit, salt.astype(x.dtype), x)


def _speckle_noise(x, c, rng):
    return x + x * rng.normal(scale=c, size=x.shape)


def _scaled(length, side):
    """A length in pixels of a 224-pixel image, at ``side`` pixels."""
    return length * side / REFERENCE_SIDE


def disk_kernel(radius, alias_sigma):
    """The defocus kernel: a disk of ``radius`` pixels, each tap the fraction of its pixel inside
    the disk (16x16 samples a pixel), then blurred by a 3x3 Gaussian of ``alias_sigma`` (ImageNet-C's
    anti-aliasing), normalised to sum 1. Returns a (k, k) array, k odd."""
    half = int(np.ceil(radius + 0.5)) + 1
    samples = (np.arange(16) + 0.5) / 16 - 0.5                    # sub-pixel offsets in [-0.5, 0.5)
    centres = np.arange(-half, half + 1)
    axis = (centres[:, None] + samples[None]).reshape(-1)           # every sample's coordinate
    inside = (axis[:, None] ** 2 + axis[None] ** 2) <= radius ** 2
    kernel = inside.reshape(len(centres), 16, len(centres), 16).mean(axis=(1, 3))
    if alias_sigma > 0:
        taps = np.exp(-0.5 * (np.arange(-1, 2) / alias_sigma) ** 2)
        gaussian = np.outer(taps, taps) / taps.sum() ** 2
        # The 3x3 blur as a sum of shifted copies of the disk (one pixel of zeros around it).
        kernel = np.pad(kernel, 1)
        kernel = sum(gaussian[1 + di, 1 + dj] * np.roll(kernel, (di, dj), axis=(0, 1))
                     for di in (-1, 0, 1) for dj in (-1, 0, 1))
    kernel = kernel[~np.all(kernel == 0, axis=1)][:, ~np.all(kernel == 0, axis=0)]   # drop empty borders
    return kernel / kernel.sum()


def _filter(x, kernel):
    """Each channel of x (N, C, H, W) filtered with the symmetric 2-D ``kernel``, borders mirrored
    (numpy's "reflect", OpenCV's default BORDER_REFLECT_101 in ImageNet-C)."""
    n, c, height, width = x.shape
    r_h, r_w = kernel.shape[0] // 2, kernel.shape[1] // 2
    if r_h >= height or r_w >= width:
        raise ValueError(f"corrupt: a {kernel.shape[0]}x{kernel.shape[1]} blur does not fit {height}x{width} images")
    padded = np.pad(x.reshape(n * c, 1, height, width), ((0, 0), (0, 0), (r_h, r_h), (r_w, r_w)), mode="reflect")
    out = F.conv2d(Tensor(padded), Tensor(kernel[None, None].astype(x.dtype))).numpy()
    return out.reshape(n, c, height, width)


def _defocus_blur(x, c, rng):
    radius, alias = c
    return _filter(x, disk_kernel(_scaled(radius, x.shape[2]), _scaled(alias, x.shape[2])))


def _gaussian_blur(x, c, rng):
    sigma = _scaled(c, x.shape[2])
    radius = min(int(np.ceil(4 * sigma)), x.shape[2] - 1)   # +-4 sigma, as scikit-image's default
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return _filter(x, np.outer(taps, taps) / taps.sum() ** 2)


def _zoom_blur(x, factors, rng):
    """The mean of x and, for each factor z, its central ceil(H/z) square enlarged z times
    (bilinear, corners aligned as scipy's zoom) and cut back to the centre H x W."""
    side = x.shape[2]
    total = x.copy()
    for z in factors:
        crop = int(np.ceil(side / z))
        top = (side - crop) // 2
        enlarged, _ = upsample_bilinear2d_forward(x[:, :, top:top + crop, top:top + crop],
                                                  (int(round(crop * z)),) * 2, align_corners=True)
        trim = (enlarged.shape[2] - side) // 2
        total += enlarged[:, :, trim:trim + side, trim:trim + side]
    return total / (len(factors) + 1)


def _contrast(x, c, rng):
    means = x.mean(axis=(2, 3), keepdims=True)
    return (x - means) * c + means


def _brightness(x, c, rng):
    if x.shape[1] == 1:   # grey: the value channel is the grey level
        return x + c
    hsv = rgb_to_hsv(x.transpose(0, 2, 3, 1))
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return hsv_to_rgb(hsv).transpose(0, 3, 1, 2)


def _pixelate(x, c, rng):
    height, width = x.shape[2:]
    small = F.adaptive_avg_pool2d(Tensor(x), (int(height * c), int(width * c))).numpy()
    return upsample_nearest2d_forward(small, (height, width))[0]


def _jpeg_compression(x, quality, rng):
    """Each image through Pillow's JPEG encoder and decoder at ``quality`` (as 8-bit pixels)."""
    from PIL import Image

    out = np.empty_like(x)
    for n, picture in enumerate(np.round(x * 255).astype(np.uint8)):
        image = Image.fromarray(picture[0] if len(picture) == 1 else picture.transpose(1, 2, 0))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(quality))
        decoded = np.asarray(Image.open(buffer), dtype=np.float64) / 255
        out[n] = decoded[None] if decoded.ndim == 2 else decoded.transpose(2, 0, 1)
    return out


_CORRUPT = {"gaussian_noise": _gaussian_noise, "shot_noise": _shot_noise, "impulse_noise": _impulse_noise,
            "defocus_blur": _defocus_blur, "zoom_blur": _zoom_blur, "contrast": _contrast, "brightness": _brightness,
            "pixelate": _pixelate, "jpeg_compression": _jpeg_compression, "speckle_noise": _speckle_noise,
            "gaussian_blur": _gaussian_blur}

# pictures: (K, 6, C, H, W), corruption k at severities 0..5; figure.
CorruptionGrid = namedtuple("CorruptionGrid", ["kinds", "pictures", "figure"])


def plot_corruptions(image, kinds=CORRUPTIONS, seed=0, path=None, title=None):
    """One image under every corruption (rows) at severities 0 to 5 (columns).

    Args:
        image: (C, H, W) or (1, C, H, W) in [0, 1].
        kinds: the corruptions to show; seed: as for ``corrupt``; path: the PNG to write.
    Returns:
        ``CorruptionGrid(kinds, pictures (K, 6, C, H, W), figure)``.
    """
    picture = np.asarray(image)
    picture = check_pictures("plot_corruptions", picture[None] if picture.ndim == 3 else picture, "image")[:1]
    pictures = np.stack([np.concatenate([corrupt(picture, kind, s, seed) for s in range(6)]) for kind in kinds])
    figure = Figure(figsize=(7.0, 1.15 * len(kinds) + 0.8), layout="constrained")
    grid = figure.subplots(len(kinds), 6, squeeze=False)
    for row, kind in enumerate(kinds):
        for severity in range(6):
            show(grid[row, severity], rgb(pictures[row, severity]), f"severity {severity}" if row == 0 else None)
        grid[row, 0].set_axis_on()
        grid[row, 0].set(xticks=[], yticks=[])
        grid[row, 0].set_ylabel(kind.replace("_", " "), fontsize="small")
    heading = f"corruptions of Hendrycks and Dietterich, rescaled to {picture.shape[2]}x{picture.shape[3]} images"
    figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return CorruptionGrid(tuple(kinds), pictures, figure)
