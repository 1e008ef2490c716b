"""Pictures of attributions: heat maps, alone or blended over the image, one method or several.

    visualize_image_attr(maps[0], image, path="saliency.png", title="saliency")
    plot_attributions({"epoch 1": a1, "epoch 10": a10}, image, path="compare.png")   # one colour scale
    plot_methods(model, x[:1], target=3, path="methods.png", image=pixels)          # every method

An attribution (C, H, W) becomes one value per pixel by adding its channels (Captum's
reduction), then, by ``sign``:

    "absolute_value"  |sum_c A_c|        how much, either way (the default, as Captum's)
    "positive"        max(sum_c A_c, 0)  what speaks for the class
    "negative"        max(-sum_c A_c, 0) what speaks against it
    "all"             sum_c A_c          signed: red for, blue against, white 0

A few extreme pixels would otherwise take the whole colour range, so the scale stops at a clip
value: as in Captum, the smallest value v such that the pixels with |value| <= v hold
(100 - outlier_perc)% of the map's total |value|. Brighter pixels are drawn at full colour. When
maps are compared (the same method on several images or models), ``plot_attributions`` gives
them one clip value and one colour bar, so that a fainter map *is* a weaker one; maps of
different methods have different units, and ``plot_methods`` gives each its own.

Figures are drawn with matplotlib's Agg renderer (no display needed) and written atomically by
``minidl.plots.save_figure``; each function returns its Figure.
"""

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from minidl.explain.methods import METHODS, explain
from minidl.plots import save_figure
from minidl.tensor import Tensor

__all__ = ["SIGNS", "VISUALIZATION_METHODS", "attribution_map", "clip_value", "visualize_image_attr",
           "plot_attributions", "plot_methods"]

SIGNS = ("absolute_value", "positive", "negative", "all")
VISUALIZATION_METHODS = ("heat_map", "blended_heat_map", "original_image")
COLOUR_MAPS = {"absolute_value": "Reds", "positive": "Reds", "negative": "Blues", "all": "RdBu_r"}


def _array(value, name, what):
    array = np.asarray(value.numpy() if isinstance(value, Tensor) else value, dtype=np.float64)
    if array.ndim == 4 and array.shape[0] == 1:   # a batch of one
        array = array[0]
    if array.ndim not in (2, 3):
        raise ValueError(f"{name}: expected {what} of shape (C, H, W) or (H, W), got shape {array.shape}")
    return array


def attribution_map(attr, sign="absolute_value"):
    """One value per pixel, (H, W): the channels of ``attr`` (C, H, W) added, then taken by ``sign``."""
    if sign not in SIGNS:
        raise ValueError(f"attribution_map: sign must be one of {', '.join(SIGNS)}, got {sign!r}")
    values = _array(attr, "attribution_map", "an attribution")
    total = values.sum(axis=0) if values.ndim == 3 else values
    return {"absolute_value": np.abs(total), "positive": np.maximum(total, 0),
            "negative": np.maximum(-total, 0), "all": total}[sign]


def clip_value(maps, outlier_perc=2):
    """Captum's clip value of one or several (H, W) maps: the smallest |value| v such that the
    pixels with |value| <= v hold (100 - outlier_perc)% of the total |value| (1.0 for empty or
    all-zero maps, which any scale shows as 0)."""
    if not 0 <= outlier_perc < 100:
        raise ValueError(f"clip_value: outlier_perc must lie in [0, 100), got {outlier_perc!r}")
    values = np.sort(np.concatenate([np.abs(np.asarray(m, dtype=np.float64)).ravel() for m in maps]))
    if values.size == 0 or values[-1] == 0:
        return 1.0
    cumulative = np.cumsum(values)
    return float(values[np.searchsorted(cumulative, cumulative[-1] * (100 - outlier_perc) / 100)])


def _show_image(axes, image):
    """Draw an image (C, H, W) or (H, W) with values in [0, 1]: grey for one channel, else RGB."""
    picture = _array(image, "visualize_image_attr", "an image")
    if picture.ndim == 3:
        picture = picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0)
    axes.imshow(np.clip(picture, 0, 1), cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1,
                interpolation="nearest")


def _scale(sign, clip):
    """The colour scale of a map: (-clip, clip) for signed maps, (0, clip) otherwise."""
    return ScalarMappable(norm=Normalize(-clip if sign == "all" else 0.0, clip), cmap=COLOUR_MAPS[sign])


def _draw(axes, values, image, method, scale, alpha_overlay):
    """One panel: the heat map of ``values`` (H, W), over ``image`` if blended."""
    axes.set_axis_off()
    if method == "original_image":
        _show_image(axes, image)
        return
    if method == "blended_heat_map":
        _show_image(axes, image)
    axes.imshow(values, cmap=scale.get_cmap(), norm=scale.norm, interpolation="nearest",
                alpha=alpha_overlay if method == "blended_heat_map" else None)


def _check_options(name, method, sign, image, alpha_overlay):
    if method not in VISUALIZATION_METHODS:
        raise ValueError(f"{name}: method must be one of {', '.join(VISUALIZATION_METHODS)}, got {method!r}")
    if sign not in SIGNS:
        raise ValueError(f"{name}: sign must be one of {', '.join(SIGNS)}, got {sign!r}")
    if method != "heat_map" and image is None:
        raise ValueError(f"{name}: method {method!r} needs the image")
    if not 0 <= alpha_overlay <= 1:
        raise ValueError(f"{name}: alpha_overlay must lie in [0, 1], got {alpha_overlay!r}")


def visualize_image_attr(attr, image=None, method="blended_heat_map", sign="absolute_value", outlier_perc=2,
                         clip=None, alpha_overlay=0.5, show_colorbar=True, title=None, path=None):
    """Draw one attribution (C, H, W) (or (H, W)) as a heat map, alone or blended over ``image``.

    Args:
        image: the picture (C, H, W) or (H, W) with values in [0, 1] (undo the model's
            normalisation first), needed by "blended_heat_map" and "original_image".
        method: "heat_map", "blended_heat_map" (the map with opacity ``alpha_overlay`` over the
            image) or "original_image".
        sign: which values to show (module docstring); outlier_perc: the clipping (module docstring).
        clip: the value drawn at full colour; None computes it from the map (``clip_value``). Pass
            the same clip to draw several maps on one scale.
        show_colorbar: a colour bar in the attribution's units; title: heads the panel.
        path: where to write the PNG (None: nothing written).
    Returns:
        the matplotlib Figure.
    """
    _check_options("visualize_image_attr", method, sign, image, alpha_overlay)
    values = attribution_map(attr, sign)
    clip = clip_value([values], outlier_perc) if clip is None else float(clip)
    scale = _scale(sign, clip)
    figure = Figure(figsize=(4.2, 3.6), layout="constrained")
    axes = figure.subplots()
    _draw(axes, values, image, method, scale, alpha_overlay)
    if show_colorbar and method != "original_image":
        figure.colorbar(scale, ax=axes, shrink=0.85, label=_colour_label(sign, clip))
    if title:
        axes.set_title(title, fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return figure


def _colour_label(sign, clip):
    what = {"absolute_value": "|attribution|", "positive": "attribution > 0", "negative": "-(attribution < 0)",
            "all": "attribution"}[sign]
    return f"{what} (clipped at {clip:.3g})"


def plot_attributions(attributions, image, path=None, method="blended_heat_map", sign="absolute_value",
                      outlier_perc=2, shared_scale=True, alpha_overlay=0.5, title=None):
    """A row of panels: the image, then each attribution of the dict ``{name: (C, H, W) map}``.

    With ``shared_scale`` (for maps in the same units: one method on several images, models or
    training epochs) every map is drawn on one clip value computed from all of them, with one
    colour bar; without it, each map on its own clip value, with its own colour bar.
    Returns the Figure; writes the PNG to ``path`` if given.
    """
    _check_options("plot_attributions", method, sign, image, alpha_overlay)
    if not attributions:
        raise ValueError("plot_attributions: expected at least one attribution, got none")
    maps = {name: attribution_map(attr, sign) for name, attr in attributions.items()}
    shared = clip_value(list(maps.values()), outlier_perc) if shared_scale else None
    columns = len(maps) + (image is not None)
    figure = Figure(figsize=(2.6 * columns + 1.2, 3.3), layout="constrained")
    panels = list(np.atleast_1d(figure.subplots(1, columns)))
    if image is not None:
        first = panels.pop(0)
        first.set_axis_off()
        _show_image(first, image)
        first.set_title("image", fontsize="medium")
    for axes, (name, values) in zip(panels, maps.items()):
        scale = _scale(sign, shared if shared_scale else clip_value([values], outlier_perc))
        _draw(axes, values, image, method, scale, alpha_overlay)
        axes.set_title(name, fontsize="medium")
        if not shared_scale:
            figure.colorbar(scale, ax=axes, shrink=0.8, location="bottom")
    if shared_scale:
        figure.colorbar(_scale(sign, shared), ax=panels, shrink=0.8, label=_colour_label(sign, shared))
    if title:
        figure.suptitle(title, fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_methods(model, x, target, path=None, image=None, methods=METHODS, layer=None, sign="absolute_value",
                 outlier_perc=2, title=None):
    """Every method's map of one image side by side (``minidl.explain.methods``), each on its own scale.

    Args:
        x: the model's input for one image, (1, C, H, W) or (C, H, W) (normalised as the model expects).
        target: the class to explain.
        image: the picture to show (C, H, W) in [0, 1]; default x stretched to [0, 1].
        methods: names from ``METHODS``; layer: Grad-CAM's layer (default the last Conv2d).
    Returns:
        (Figure, {method: (C, H, W) ndarray of its attributions}); the PNG is written to ``path`` if given.
    """
    inputs = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
    inputs = inputs[None] if inputs.ndim == 3 else inputs
    if inputs.ndim != 4 or len(inputs) != 1:
        raise ValueError(f"plot_methods: expected one image, (1, C, H, W) or (C, H, W), got shape {inputs.shape}")
    if image is None:
        low, high = inputs.min(), inputs.max()
        image = (inputs[0] - low) / (high - low) if high > low else np.zeros_like(inputs[0])
    found = {name: explain(model, inputs, name, target, layer=layer if name == "gradcam" else None).numpy()[0]
             for name in methods}
    figure = plot_attributions(found, image, path=path, sign=sign,
                               outlier_perc=outlier_perc, shared_scale=False,
                               title=title or f"class {target}: {', '.join(methods)}")
    return figure, found

