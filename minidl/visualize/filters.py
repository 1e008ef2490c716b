"""Weights as pictures: a convolution's filters, and a fully connected layer's rows as templates.

    filters(model.features.conv1, path="filters.png")                     # (F, C, kh, kw) tiles
    linear_templates(classifier, (1, 28, 28), labels=classes, path="t.png")   # one image per row

A first-layer filter w (C, kh, kw) is what the unit computes against each patch of the input,
sum_{c,u,v} w[c, u, v] x[c, i+u, j+v]: drawn as a picture it shows the pattern that excites the
unit most (an edge, a colour blob). A fully connected layer on pixels, s_k = w_k . x + b_k, holds
one such template per output (CS231n's linear classifier): row w_k reshaped to the image.

Every weight is coloured on one scale symmetric around 0, from -m to +m with m the largest
|weight| of the grid, so that 0 always looks the same and a filter that barely moved from its
small initial weights looks faint. (Stretching each tile to its own range, as many tools do,
makes every filter look equally strong and hides its sign.) ``shared_scale=False`` gives each
filter its own m instead (0 still in the middle), to see the pattern of weak filters. Grey
tiles (one input channel, or each channel of filters with C other than 3) use a diverging colour
map: white 0, red positive, blue negative. Colour filters (C = 3) are RGB pictures whose channels
go from 0 at -m to 1 at +m, so mid-grey is 0. A colour bar gives the scale.
"""

from collections import namedtuple

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from minidl.nn import Conv2d, Linear
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.pictures import grid_shape, signed_rgb

__all__ = ["Filters", "filters", "linear_templates"]

# weight: float64 (F, C, kh, kw) as drawn; limits: (F,) the m of each tile's scale (all equal on
# a shared scale); figure: the matplotlib Figure.
Filters = namedtuple("Filters", ["weight", "limits", "figure"])


def filters(layer, path=None, title=None, shared_scale=True):
    """Draw the filters of a convolution as a grid of tiles with a colour bar.

    Args:
        layer: an ``nn.Conv2d``, or its weight (F, C, kh, kw) as a Tensor or ndarray.
        path: where to write the PNG (None: nothing written).
        title: heads the figure, before the description of the grid (e.g. the layer's name).
        shared_scale: one scale [-m, m] for the grid, m = max |w| (module docstring); False: each
            filter f on its own [-m_f, m_f].
    Returns:
        ``Filters(weight, limits, figure)``.
    """
    weight = _conv_weight(layer)
    what = "x".join(str(n) for n in weight.shape[1:])
    return _draw_weights("filters", weight, None, f"{len(weight)} filters of {what}", path, title, shared_scale)


def linear_templates(layer, image_shape, labels=None, path=None, title=None, shared_scale=True):
    """Draw each row of a fully connected layer on pixels as an image: its template.

    Args:
        layer: an ``nn.Linear`` (or its weight (out, in)) whose inputs are the pixels of an image.
        image_shape: (C, H, W) (or (H, W)) with C*H*W = in_features: the layout of the flattened input.
        labels: a name for each row (the class names of a classifier), shown over its tile.
        path, title, shared_scale: as for ``filters``.
    Returns:
        ``Filters(weight (out, C, H, W), limits, figure)``.
    """
    weight = _linear_weight(layer)
    shape = tuple(int(n) for n in image_shape)
    shape = (1, *shape) if len(shape) == 2 else shape
    if len(shape) != 3 or int(np.prod(shape)) != weight.shape[1]:
        raise ValueError(f"linear_templates: image_shape {tuple(image_shape)} has {int(np.prod(shape))} values but the "
                         f"layer takes {weight.shape[1]} inputs; give the (C, H, W) that was flattened")
    if labels is not None and len(labels) != len(weight):
        raise ValueError(f"linear_templates: {len(labels)} labels for a layer with {len(weight)} outputs")
    templates = weight.reshape(len(weight), *shape)
    heading = f"{len(weight)} templates of {'x'.join(map(str, shape))}"
    return _draw_weights("linear_templates", templates, labels, heading, path, title, shared_scale)


def _conv_weight(layer):
    if isinstance(layer, Conv2d):
        layer = layer.weight
    elif not isinstance(layer, Tensor | np.ndarray):
        hint = "; for a fully connected layer's rows use linear_templates(layer, image_shape)" \
            if isinstance(layer, Linear) else ""
        raise ValueError(f"filters: expected a Conv2d layer or its weight (F, C, kh, kw), got "
                         f"{type(layer).__name__}{hint}")
    weight = np.asarray(layer.numpy() if isinstance(layer, Tensor) else layer, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"filters: expected a conv weight of shape (F, C, kh, kw), got shape {weight.shape}")
    return weight


def _linear_weight(layer):
    if isinstance(layer, Linear):
        layer = layer.weight
    elif not isinstance(layer, Tensor | np.ndarray):
        raise ValueError(f"linear_templates: expected a Linear layer or its weight (out, in), got "
                         f"{type(layer).__name__}")
    weight = np.asarray(layer.numpy() if isinstance(layer, Tensor) else layer, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"linear_templates: expected a weight of shape (out, in), got shape {weight.shape}")
    return weight


def _draw_weights(name, weight, labels, heading, path, title, shared_scale):
    """The grid of ``weight`` (F, C, h, w): one panel per filter (module docstring)."""
    count, channels = weight.shape[:2]
    if count == 0:
        raise ValueError(f"{name}: there are no filters to draw (the weight has shape {weight.shape})")
    largest = np.abs(weight).reshape(count, -1).max(axis=1)
    limits = np.full(count, largest.max()) if shared_scale else largest
    limits = np.where(limits > 0, limits, 1.0)   # all-zero filters: any symmetric scale shows them as 0
    colour = channels == 3
    # A tile is (h, w), or for C other than 1 and 3 a strip of C channels: as many columns as
    # keep the figure about 14 inches wide.
    height, width = weight.shape[2], weight.shape[3] if channels in (1, 3) else channels * (weight.shape[3] + 1)
    panel = 1.2 * min(width / height, 10.0)
    rows, columns = grid_shape(count, min(grid_shape(count)[1], max(1, int(14 // panel))))
    figure = Figure(figsize=(max(panel * columns + 1.5, 4.5), (1.2 + 0.25 * (labels is not None)) * rows + 1.0),
                    layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index >= count:
            continue
        norm = Normalize(-limits[index], limits[index])
        if colour:
            axes.imshow(signed_rgb(weight[index], limits[index]), interpolation="nearest")
        else:
            axes.imshow(_channel_strip(weight[index]), cmap=_diverging(), norm=norm, interpolation="nearest")
        if labels is not None:
            axes.set_title(str(labels[index]), fontsize="small")
    unit = "weight" if shared_scale else "weight / largest |weight| of its filter"
    scale = ScalarMappable(norm=Normalize(-limits[0], limits[0]) if shared_scale else Normalize(-1, 1),
                           cmap="gray" if colour else _diverging())
    figure.colorbar(scale, ax=grid, shrink=0.8, label=f"{unit} (each of R, G, B)" if colour else unit)
    zero = "mid-grey" if colour else "white"
    how = "one colour scale" if shared_scale else "each filter on its own scale"
    text = f"{heading}\n{how}, 0 is {zero}"
    figure.suptitle(f"{title}: {text}" if title else text, fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return Filters(weight, limits, figure)


def _channel_strip(tile):
    """One filter (C, h, w) as a picture: the (h, w) tile itself for C = 1; for other C its
    channels side by side, a NaN column (drawn blank) between two."""
    if len(tile) == 1:
        return tile[0]
    gutter = np.full((tile.shape[1], 1), np.nan)
    return np.hstack([part for channel in tile for part in (channel, gutter)][:-1])


def _diverging():
    """Red positive, blue negative, white 0; NaN (a gutter) drawn white too."""
    from matplotlib import colormaps

    return colormaps["RdBu_r"].with_extremes(bad="white")
