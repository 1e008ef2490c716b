"""Turning arrays into the small pictures that the views draw: tiles, signed values, mosaics.

Every view draws with matplotlib's Agg renderer through ``Figure`` (never ``pyplot``, so no
display is needed and a notebook's figures are left alone) and writes PNGs atomically with
``minidl.plots.save_figure``. Pictures are RGB arrays (H, W, 3) in [0, 1]:

    rgb(image)               (C, H, W) in [0, 1] -> (H, W, 3); one channel becomes grey
    signed_rgb(values, m)    (C, H, W) of any sign -> (H, W, 3): -m -> 0, 0 -> 0.5, +m -> 1 in each
                             channel, so mid-grey is 0 (a weight, a deconvnet projection)
    mosaic(tiles, columns)   equal-sized tiles in a grid with white gutters, one picture

Drawing a whole grid as one picture (one ``imshow``) instead of one panel per tile keeps a
figure of hundreds of tiles fast.
"""

import math

import numpy as np

__all__ = ["rgb", "signed_rgb", "mosaic", "show", "grid_shape", "OUTSIDE"]

# The colour of a tile's part that lies outside the image (a receptive field cut by the border):
# a pale cream that no grey picture contains.
OUTSIDE = (1.0, 0.94, 0.78)


def rgb(image):
    """(C, H, W) with C = 1 or 3, values in [0, 1] -> (H, W, 3), clipped to [0, 1]."""
    image = np.clip(np.asarray(image, dtype=np.float64), 0, 1)
    if image.shape[0] == 1:
        return np.repeat(image[0][..., None], 3, axis=2)
    if image.shape[0] != 3:
        raise ValueError(f"rgb: expected 1 or 3 channels (C, H, W), got shape {image.shape}")
    return image.transpose(1, 2, 0)


def signed_rgb(values, limit):
    """(C, H, W) signed, C = 1 or 3 -> (H, W, 3) = 0.5 + values / (2 limit), clipped to [0, 1]."""
    limit = float(limit) if limit > 0 else 1.0   # an all-zero array shows as 0 on any scale
    return rgb(0.5 + np.asarray(values, dtype=np.float64) / (2 * limit))


def grid_shape(count, columns=None):
    """(rows, columns) for ``count`` tiles: ``columns`` given, else a near-square grid."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / columns)), columns


def mosaic(tiles, columns=None, gap=1, fill=1.0):
    """Tiles (h, w, 3) of one size in a grid of ``columns`` (default near square), ``gap`` pixels
    of ``fill`` between them and in the empty cells: one (rows*(h+gap)-gap, ...) RGB picture."""
    tiles = [np.asarray(t, dtype=np.float64) for t in tiles]
    height, width = tiles[0].shape[:2]
    rows, columns = grid_shape(len(tiles), columns)
    picture = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), fill, dtype=np.float64)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        picture[top:top + height, left:left + width] = tile
    return picture


def show(axes, picture, title=None):
    """Draw an RGB picture without axes, pixels as squares (no smoothing)."""
    axes.imshow(picture, interpolation="nearest")
    axes.set_axis_off()
    if title:
        axes.set_title(title, fontsize="small")
