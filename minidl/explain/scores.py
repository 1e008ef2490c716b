"""Localisation scores: does an attribution map point at the object the model was asked about?

SyntheticShapes knows where each object is (``dataset.masks``, bool (N, H, W)), so a map can be
scored against the truth, not only looked at:

    maps = method_maps(explain(model, x, "saliency", target=labels), "saliency")   # (N, H, W)
    scores = localisation_scores(maps, dataset.masks[:N])
    scores["mean"]          # {"pointing_game": ..., "fraction_inside": ..., "bbox_iou": ...}

Every score takes one map per image, (N, H, W), with values >= 0 (the absolute map of each method:
``method_maps``), and the object's mask Omega_n, (N, H, W) of bools:

- ``pointing_game`` (Zhang et al. 2016): is the map's maximum on the object?
- ``fraction_inside``: the share of the map's total inside the object (the "energy" inside).
- ``bbox_iou``: the lecture's "object localisation using class saliency" (Simonyan et al. 2014):
  threshold the map, box its largest blob, and compare that box with the object's box.

A map that says nothing scores chance: a constant map (all zeros too) has every pixel at its
maximum, spreads its total evenly and boxes the whole image, so its pointing game and fraction
inside both equal the object's area |Omega_n| / (H W). The baselines make that concrete:
``random_maps`` (noise), ``centre_maps`` (a Gaussian at the centre: a method that only
learnt "objects are in the middle") and ``edge_maps`` (an edge detector on the image, which
uses no model at all).
"""

import numpy as np

from minidl.tensor import Tensor

__all__ = ["CHANNEL_REDUCTION", "SIGNED_METHODS", "reduce_channels", "method_maps", "check_maps", "pointing_game",
           "fraction_inside", "threshold_region", "largest_component", "bounding_box", "box_iou", "bbox_iou",
           "localisation_scores", "random_maps", "centre_maps", "edge_maps"]

# How each method of ``minidl.explain.methods`` turns its (N, C, H, W) attributions into one
# non-negative value per pixel, following the method's own papers:
#   "max_abs"  M = max_c |A_c|   Simonyan et al.'s saliency map, used for the gradient-like maps
#   "abs_sum"  M = |sum_c A_c|   the pixel's total credit (integrated gradients' completeness adds
#                                the channels; occlusion gives every channel the same value;
#                                Grad-CAM has one channel)
CHANNEL_REDUCTION = {"saliency": "max_abs", "smoothgrad": "max_abs", "guided": "max_abs", "deconvnet": "max_abs",
                     "ig": "abs_sum", "occlusion": "abs_sum", "gradcam": "abs_sum"}
# The methods whose maps have a sign (for and against the class); the others are >= 0 by
# construction (|gradient|, rectified Grad-CAM), so their signed map is their absolute one.
SIGNED_METHODS = ("guided", "deconvnet", "ig", "occlusion")
REDUCTIONS = ("max_abs", "abs_sum", "sum")


def _numpy(value):
    return np.asarray(value.numpy() if isinstance(value, Tensor) else value)


def reduce_channels(attributions, reduction):
    """One value per pixel from attributions (N, C, H, W) -> (N, H, W), as float64.

    ``reduction``: "max_abs" gives M = max_c |A_c|, "abs_sum" M = |sum_c A_c|, "sum" the signed
    M = sum_c A_c (Captum's reduction for its pictures).
    """
    values = np.asarray(_numpy(attributions), dtype=np.float64)
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduce_channels: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if values.ndim != 4:
        raise ValueError(f"reduce_channels: expected attributions of shape (N, C, H, W), got shape {values.shape}")
    if reduction == "max_abs":
        return np.abs(values).max(axis=1)
    total = values.sum(axis=1)
    return np.abs(total) if reduction == "abs_sum" else total


def method_maps(attributions, method, signed=False):
    """The maps of ``method`` (a name of ``minidl.explain.METHODS``) from its attributions
    (N, C, H, W): (N, H, W), by its ``CHANNEL_REDUCTION``, or the signed sum over the channels
    with ``signed=True``."""
    if method not in CHANNEL_REDUCTION:
        raise ValueError(f"method_maps: method must be one of {', '.join(CHANNEL_REDUCTION)}, got {method!r}")
    return reduce_channels(attributions, "sum" if signed else CHANNEL_REDUCTION[method])


def check_maps(function, maps, masks=None, nonnegative=True):
    """``maps`` as float64 (N, H, W), checked: finite, >= 0 if ``nonnegative``; with ``masks``,
    also the masks as bool (N, H, W) of the same shape, none of them empty."""
    values = np.asarray(_numpy(maps), dtype=np.float64)
    if values.ndim != 3:
        raise ValueError(f"{function}: expected maps of shape (N, H, W), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{function}: the maps hold NaN or infinite values (image {_first(~np.isfinite(values))})")
    if nonnegative and values.size and values.min() < 0:
        raise ValueError(f"{function}: expected maps >= 0 (take their absolute value or positive part first), "
                         f"got {values.min():.3g} in image {_first(values < 0)}")
    if masks is None:
        return values
    regions = _numpy(masks)
    if regions.dtype != bool:
        raise ValueError(f"{function}: expected boolean masks (True on the object), got dtype {regions.dtype}")
    if regions.shape != values.shape:
        raise ValueError(f"{function}: expected one mask per map, of the maps' shape {values.shape}, "
                         f"got masks of shape {regions.shape}")
    empty = ~regions.any(axis=(1, 2))
    if empty.any():
        raise ValueError(f"{function}: the mask of image {_first(empty)} is empty: there is no object to find")
    return values, regions


def _first(flags):
    """The index of the first image (axis 0) with a True anywhere in ``flags``."""
    return int(np.flatnonzero(flags.reshape(len(flags), -1).any(axis=1))[0])


def _dilate(masks, radius):
    """The masks (N, H, W) grown by a disc: the pixels within Euclidean distance ``radius`` of a mask pixel."""
    grown = masks.copy()
    height, width = masks.shape[1:]
    reach = int(np.floor(radius))
    for di in range(-reach, reach + 1):
        for dj in range(-reach, reach + 1):
            if di * di + dj * dj > radius * radius or (di, dj) == (0, 0):
                continue
            # grown[i, j] |= masks[i - di, j - dj] wherever that pixel exists
            grown[:, max(di, 0):height + min(di, 0), max(dj, 0):width + min(dj, 0)] |= \
                masks[:, max(-di, 0):height + min(-di, 0), max(-dj, 0):width + min(-dj, 0)]
    return grown


def pointing_game(maps, masks, tolerance=0):
    """The pointing game (Zhang et al. 2016): is the map's maximum on the object?

    Args:
        maps: (N, H, W), values >= 0; masks: (N, H, W) bools, True on the object.
        tolerance: r >= 0, in pixels: a maximum within Euclidean distance r of the object counts
            (Zhang et al. use 15 pixels on 224-pixel images; 0, the default, asks for the pixel itself).
    Returns:
        (N,) floats: P_n = |{p in argmax M_n : d(p, Omega_n) <= r}| / |argmax M_n|. With a
        single maximum P_n is 1 (a hit) or 0; maxima that tie (a plateau of occlusion, a constant
        map) share the hit, so a constant map scores the object's area fraction, as chance does.
    """
    values, regions = check_maps("pointing_game", maps, masks)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float | np.integer | np.floating) \
            or not tolerance >= 0:
        raise ValueError(f"pointing_game: tolerance must be a number of pixels >= 0, got {tolerance!r}")
    targets = _dilate(regions, float(tolerance)) if tolerance > 0 else regions
    peaks = values == values.max(axis=(1, 2), keepdims=True)
    return (peaks & targets).sum(axis=(1, 2)) / peaks.sum(axis=(1, 2))


def fraction_inside(maps, masks):
    """The share of each map's total that lies on the object: F_n = sum_{p in Omega_n} M_n(p) / sum_p M_n(p).

    Args:
        maps: (N, H, W), values >= 0 (the absolute map, or the positive part of a signed one);
        masks: (N, H, W) bools.
    Returns:
        (N,) floats in [0, 1]. An all-zero map counts as uniform: F_n = |Omega_n| / (H W), chance.
    """
    values, regions = check_maps("fraction_inside", maps, masks)
    totals = values.sum(axis=(1, 2))
    inside = (values * regions).sum(axis=(1, 2))
    area = regions.mean(axis=(1, 2))
    zero = totals == 0
    return np.where(zero, area, inside / np.where(zero, 1.0, totals))


def threshold_region(maps, percentile=80):
    """The strong part of each map: R_n = {p : M_n(p) > T_n} union argmax M_n, T_n the map's
    ``percentile`` (NumPy's linear interpolation between pixels), so the region holds about the
    top (100 - percentile)% of the pixels and is never empty (a constant map: every pixel).

    Args: maps (N, H, W); percentile in [0, 100). Returns: bools (N, H, W).
    """
    values = check_maps("threshold_region", maps, nonnegative=False)
    if isinstance(percentile, bool) or not isinstance(percentile, int | float | np.integer | np.floating) \
            or not 0 <= percentile < 100:
        raise ValueError(f"threshold_region: percentile must lie in [0, 100), got {percentile!r}")
    thresholds = np.percentile(values.reshape(len(values), -1), percentile, axis=1)
    peaks = values == values.max(axis=(1, 2), keepdims=True)
    return (values > thresholds[:, None, None]) | peaks


def largest_component(regions):
    """The largest 8-connected blob of each region (N, H, W) bools -> (N, H, W) bools.

    Each pixel of a region starts with its own label (its row-major index) and takes, again and
    again, the smallest label among itself and its 8 neighbours in the region, until nothing
    changes: every blob then carries the index of its first pixel. The blob with most pixels is
    kept (ties: the one that starts first in row-major order). An empty region stays empty.
    """
    regions = np.asarray(regions, dtype=bool)
    if regions.ndim != 3:
        raise ValueError(f"largest_component: expected regions of shape (N, H, W), got shape {regions.shape}")
    n, height, width = regions.shape
    outside = height * width   # a label larger than every pixel's index
    labels = np.where(regions, np.arange(height * width).reshape(height, width), outside)
    while True:
        padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)), constant_values=outside)
        neighbours = np.min([padded[:, 1 + di:1 + di + height, 1 + dj:1 + dj + width]
                             for di in (-1, 0, 1) for dj in (-1, 0, 1)], axis=0)
        updated = np.where(regions, neighbours, outside)
        if np.array_equal(updated, labels):
            break
        labels = updated
    kept = np.zeros_like(regions)
    for i in range(n):
        if regions[i].any():
            counts = np.bincount(labels[i][regions[i]], minlength=outside)
            kept[i] = labels[i] == np.argmax(counts)
    return kept


def bounding_box(regions):
    """The smallest box around each region (N, H, W) bools: (N, 4) ints (top, bottom, left, right),
    inclusive pixel indices. Every region must hold a pixel."""
    regions = np.asarray(regions, dtype=bool)
    if regions.ndim != 3:
        raise ValueError(f"bounding_box: expected regions of shape (N, H, W), got shape {regions.shape}")
    if regions.size and not regions.any(axis=(1, 2)).all():
        raise ValueError(f"bounding_box: region {_first(~regions.any(axis=(1, 2)))} is empty: it has no box")
    rows, columns = regions.any(axis=2), regions.any(axis=1)
    top, bottom = rows.argmax(axis=1), rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
    left, right = columns.argmax(axis=1), columns.shape[1] - 1 - columns[:, ::-1].argmax(axis=1)
    return np.stack([top, bottom, left, right], axis=1)


def box_iou(boxes, other):
    """Intersection over union of boxes (N, 4) and (N, 4) (top, bottom, left, right, inclusive pixels):
    |B1 and B2| / |B1 or B2|, areas counted in pixels, (N,) floats in [0, 1]."""
    boxes, other = np.asarray(boxes), np.asarray(other)
    height = np.minimum(boxes[:, 1], other[:, 1]) - np.maximum(boxes[:, 0], other[:, 0]) + 1
    width = np.minimum(boxes[:, 3], other[:, 3]) - np.maximum(boxes[:, 2], other[:, 2]) + 1
    overlap = np.maximum(height, 0) * np.maximum(width, 0)

    def area(b):
        return (b[:, 1] - b[:, 0] + 1) * (b[:, 3] - b[:, 2] + 1)

    return overlap / (area(boxes) + area(other) - overlap)


def bbox_iou(maps, masks, percentile=80):
    """Object localisation from a map (Simonyan et al. 2014, sec. 3.1; the box step of Zhou et al.
    2016): threshold the map (``threshold_region``: the pixels above its ``percentile``), keep the
    largest 8-connected blob (``largest_component``), and compare its bounding box B_n with the
    object's, G_n = the box of Omega_n:

        IoU_n = |B_n and G_n| / |B_n or G_n|

    Args: maps (N, H, W) >= 0; masks (N, H, W) bools; percentile in [0, 100).
    Returns: (N,) floats in [0, 1].
    """
    values, regions = check_maps("bbox_iou", maps, masks)
    found = largest_component(threshold_region(values, percentile))
    return box_iou(bounding_box(found), bounding_box(regions))


def localisation_scores(maps, masks, tolerance=0, percentile=80):
    """The three scores of maps (N, H, W) >= 0 against the object masks (N, H, W) bools.

    Returns:
        {"per_image": {"pointing_game": (N,), "fraction_inside": (N,), "bbox_iou": (N,)},
         "mean": {the same names: the mean over the N images}}
        with ``tolerance`` for ``pointing_game`` and ``percentile`` for ``bbox_iou``.
    """
    values, regions = check_maps("localisation_scores", maps, masks)
    per_image = {"pointing_game": pointing_game(values, regions, tolerance),
                 "fraction_inside": fraction_inside(values, regions),
                 "bbox_iou": bbox_iou(values, regions, percentile)}
    return {"per_image": per_image, "mean": {name: float(np.mean(value)) for name, value in per_image.items()}}


def random_maps(n, height, width, seed=0):
    """Baseline: maps of independent uniform noise in [0, 1), (N, H, W) float64, from NumPy's
    generator seeded with ``seed``. Expected scores: chance (the object's area fraction)."""
    return np.random.default_rng(seed).random((n, height, width))


def centre_maps(n, height, width, sigma=None):
    """Baseline: a Gaussian at the image's centre, the same for every image, (N, H, W) float64:

        M(i, j) = exp(-((i - c_i)^2 + (j - c_j)^2) / (2 sigma^2)),  c = ((H - 1) / 2, (W - 1) / 2)

    with pixel indices i, j and ``sigma`` = min(H, W) / 4 by default. It scores well exactly as
    far as objects sit near the middle of the image.
    """
    sigma = min(height, width) / 4 if sigma is None else sigma
    if not sigma > 0:
        raise ValueError(f"centre_maps: sigma must be > 0, got {sigma!r}")
    rows = (np.arange(height) - (height - 1) / 2)[:, None]
    columns = (np.arange(width) - (width - 1) / 2)[None, :]
    single = np.exp(-(rows ** 2 + columns ** 2) / (2 * sigma ** 2))
    return np.broadcast_to(single, (n, height, width)).copy()


def edge_maps(images):
    """Baseline that uses no model: the Sobel edge strength of the image, (N, C, H, W) -> (N, H, W):

        M = max_c sqrt((K_x * I_c)^2 + (K_y * I_c)^2),  K_x = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],  K_y = K_x^T

    (* a 3x3 cross-correlation, the image's border pixels repeated outward). Adebayo et al. (2018)
    found maps of some methods hard to tell from such an edge detector.
    """
    pictures = np.asarray(_numpy(images), dtype=np.float64)
    if pictures.ndim != 4:
        raise ValueError(f"edge_maps: expected images of shape (N, C, H, W), got shape {pictures.shape}")
    padded = np.pad(pictures, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = pictures.shape[2:]

    def shifted(di, dj):   # the neighbour at offset (di, dj) of every pixel
        return padded[:, :, 1 + di:1 + di + height, 1 + dj:1 + dj + width]

    gx = (shifted(-1, 1) + 2 * shifted(0, 1) + shifted(1, 1)) - (shifted(-1, -1) + 2 * shifted(0, -1) + shifted(1, -1))
    gy = (shifted(1, -1) + 2 * shifted(1, 0) + shifted(1, 1)) - (shifted(-1, -1) + 2 * shifted(-1, 0) + shifted(-1, 1))
    return np.sqrt(gx ** 2 + gy ** 2).max(axis=1)
