"""Activation maps: what chosen layers output for one image, each map a tile.

    result = activations(model, image, ["features.relu1b", "features.relu3b"],
                         normalize=model.weights_metadata["normalize"], path="activations.png")
    result.maps["features.relu1b"].shape          # (16, 28, 28): one map per channel

A convolutional layer's output A (C, h, w) holds one map per channel: A[c, i, j] is how strongly
filter c matched the patch of the input under position (i, j). Early maps are large and follow
the image closely (edges, strokes); after each pooling they are smaller, coarser and more
selective, and many are zero for a given image (ReLU). Each layer's maps share one colour scale:
0 to the layer's largest value when no value is negative (after a ReLU), else symmetric around 0;
so a faint tile is a weak response, not a rescaled one.
"""

from collections import namedtuple

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.inputs import Preprocess, check_pictures, model_dtype
from minidl.visualize.layers import layer_name, layer_output
from minidl.visualize.pictures import mosaic, rgb, show

__all__ = ["Activations", "activations"]

# maps: {layer name: (C, h, w) ndarray (or (K,) for a fully connected layer)}; picture: the input
# (C, H, W) in [0, 1] as the model saw it; figure: the matplotlib Figure.
Activations = namedtuple("Activations", ["maps", "picture", "figure"])


def activations(model, image, layers, transform=None, normalize=None, path=None, title=None):
    """The outputs of ``layers`` for one image, drawn as one grid of maps per layer.

    Args:
        model: the network (run in evaluation mode; its modes are restored).
        image: one picture (C, H, W) or (1, C, H, W), values in [0, 1].
        layers: a module name, or a list of them (``model.named_modules()``).
        transform, normalize: how the picture becomes the model's input (``minidl.visualize.inputs``).
        path: where to write the PNG; title: heads the figure.
    Returns:
        ``Activations(maps, picture, figure)``: maps {layer: (C, h, w)}.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise ValueError("activations: expected at least one layer name, got none")
    pictures = np.asarray(image.numpy() if isinstance(image, Tensor) else image)
    pictures = check_pictures("activations", pictures[None] if pictures.ndim == 3 else pictures, "image")
    if len(pictures) != 1:
        raise ValueError(f"activations: expected one image, (C, H, W) or (1, C, H, W), got {len(pictures)}")
    names = [layer_name("activations", model, layer) for layer in layers]
    preprocess = Preprocess("activations", transform, normalize, model_dtype(model))
    x = preprocess(pictures)
    maps = {name: layer_output("activations", model, name, x).numpy()[0] for name in names}
    picture = preprocess.pixels(pictures)[0]
    figure = _draw(picture, maps, title)
    if path is not None:
        save_figure(figure, path)
    return Activations(maps, picture, figure)


def _draw(picture, maps, title):
    """The picture on top, then one row per layer: its maps as one mosaic with a colour bar."""
    figure = Figure(figsize=(9, 2.6 * (len(maps) + 1)), layout="constrained")
    panels = figure.subplots(len(maps) + 1, 1, squeeze=False)[:, 0]
    show(panels[0], rgb(picture), "input")
    for axes, (name, values) in zip(panels[1:], maps.items()):
        tiles = values.reshape(-1, 1, 1) if values.ndim == 1 else values   # a vector: one value a tile
        negative = bool((tiles < 0).any())
        largest = float(np.abs(tiles).max()) or 1.0
        scale = ScalarMappable(norm=Normalize(-largest if negative else 0.0, largest),
                               cmap="RdBu_r" if negative else "viridis")
        coloured = [scale.to_rgba(tile)[..., :3] for tile in tiles]
        columns = max(1, int(np.ceil(np.sqrt(len(tiles) * 2))))   # wider than tall: the panel is
        show(axes, mosaic(coloured, columns))
        size = "x".join(map(str, tiles.shape[1:])) if values.ndim == 3 else "1"
        axes.set_title(f"{name}: {len(tiles)} maps of {size}", fontsize="medium")
        figure.colorbar(scale, ax=axes, shrink=0.9, label="activation")
    if title:
        figure.suptitle(title, fontsize="medium")
    return figure
