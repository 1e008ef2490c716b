"""The dataset patches that excite a unit most, beside their deconvnet projections (Zeiler and Fergus).

    result = top_patches(model, test_set, "features.relu3b", k=9,
                         normalize=model.weights_metadata["normalize"], path="top9.png")
    result.indices[c]          # the 9 images whose strongest response of channel c is largest
    result.patches[c][0]       # the first one, cropped to the unit's receptive field

Zeiler and Fergus (2014, figure 2) show, for a feature map of a trained network, the nine
activations that are strongest over the whole dataset, each as the image patch that the unit
sees and as the deconvnet projection of that one activation down to the pixels: the patch says
what the unit responds to, the projection which of its pixels made it respond.

How it is computed, for channel c of ``layer`` (output A of shape (N, C, h, w)):

1. Scan the dataset in batches under ``no_grad``. For each image n keep only its strongest
   position, m_n = max_{i,j} A[n, c, i, j] at (i_n, j_n) (the first maximum in row-major order),
   so that the k images shown are k different images, as in the paper.
2. Keep the k largest m_n seen so far (ties: the earlier image), merging each batch into them:
   memory is one batch of activations plus k entries per channel, whatever the dataset's size.
3. Crop each image to the receptive field of unit (i, j) (``minidl.receptive_field``): a field of
   r pixels, jump s and first centre t covers the rows [t - r/2 + i s, t - r/2 + i s + r), clipped
   to the image (fields of units near the border, or larger than the image, are cut).
4. Project A[n, c, i, j] alone back to the pixels with ``minidl.explain.deconv_reconstruct``
   (unpooling through the switches, rectification, transposed filters) and crop it the same way.
   A network that is not a chain of layers (a residual block) is projected by the same deconvnet
   rule run as a backward pass from that unit (``relu_rule("deconvnet")``), which gives the same
   picture on a chain.

A fully connected layer's unit sees the whole image: its "patch" is the image.
"""

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from minidl.analysis.receptive_field import receptive_field
from minidl.explain import deconv_reconstruct
from minidl.explain.attribution import inspecting
from minidl.grad_mode import enable_grad, no_grad
from minidl.kernels import is_int
from minidl.plots import save_figure
from minidl.relu_rules import relu_rule
from minidl.tensor import Tensor
from minidl.transfer.features import FeatureExtractor
from minidl.visualize.inputs import Preprocess, batches, check_pictures, gather, model_dtype
from minidl.visualize.layers import check_channels, layer_name, layer_output
from minidl.visualize.pictures import OUTSIDE, grid_shape, mosaic, rgb, show, signed_rgb

__all__ = ["TopPatches", "top_patches", "scan_strongest", "field_boxes", "project_unit", "place_in_field"]


@dataclass
class TopPatches:
    """What ``top_patches`` found, for M channels and k images each (strongest first).

    Attributes:
        layer: the layer's name.
        channels: (M,) the channels.
        indices: (M, k) the dataset index of each image.
        values: (M, k) its strongest activation of the channel, m_n.
        positions: (M, k, 2) the (i, j) of that activation, or None for a fully connected layer.
        boxes: (M, k, 4) the crop, rows [top, bottom) and columns [left, right) of the model's input.
        field: the layer's ``ReceptiveField``.
        image_size: (H, W) of the model's input, where the boxes lie.
        patches: M lists of k pixel crops (C, h, w) in [0, 1].
        projections: M lists of k deconvnet projections (C, h, w), cropped alike; None if not asked.
        projection: how the projections were made: "deconv_reconstruct" or "deconvnet backward".
        figure: the matplotlib Figure, or None with ``plot=False``.
    """

    layer: str
    channels: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    positions: np.ndarray | None
    boxes: np.ndarray
    field: object
    image_size: tuple
    patches: list
    projections: list | None
    projection: str | None
    figure: Figure | None = None


def top_patches(model, dataset, layer, channels=None, k=9, transform=None, normalize=None, batch_size=256,
                project=True, progress=True, plot=True, path=None, title=None):
    """The k dataset images that excite each channel of ``layer`` most, cropped, with projections.

    Args:
        model: the network (run in evaluation mode, modes restored afterwards).
        dataset: ``(image, label)`` pairs, images (C, H, W) in [0, 1].
        layer: the module (or its name) whose output holds the feature maps.
        channels: the channels to show (an int or a list); None: all.
        k: images per channel (at most one position per image); 1 <= k <= len(dataset).
        transform, normalize: how images become the model's input (``minidl.visualize.inputs``).
        batch_size: images per forward pass of the scan.
        project: also compute the deconvnet projections.
        progress: a progress bar over the scan.
        plot: draw the figure; path: where to write it as a PNG; title: heads it.
    Returns:
        a ``TopPatches``.
    """
    name = layer_name("top_patches", model, layer)
    if isinstance(k, bool) or not is_int(k) or k < 1:
        raise ValueError(f"top_patches: k must be a positive int, got {k!r}")
    if k > len(dataset):
        raise ValueError(f"top_patches: k={k} is larger than the dataset ({len(dataset)} images); "
                         f"choose k <= {len(dataset)}")
    preprocess = Preprocess("top_patches", transform, normalize, model_dtype(model))
    first = check_pictures("top_patches", gather(dataset, [0]), "the dataset's images")
    x_first = preprocess(first)
    probe = layer_output("top_patches", model, name, x_first)
    channels = check_channels("top_patches", channels, probe.shape[1], name)
    try:
        field = receptive_field(model, x_first.shape[1:], layer=name, dtype=x_first.dtype)
    except ValueError as error:
        raise ValueError(f"top_patches: {error}") from error
    values, indices, flat = scan_strongest(model, dataset, name, channels, k, preprocess, batch_size, progress)
    width = probe.shape[3] if probe.ndim == 4 else None
    positions = None if width is None else np.stack(np.divmod(flat, width), axis=-1)
    boxes = field_boxes(field, positions, x_first.shape[2:], indices.shape)
    chosen = np.unique(indices)
    pixels = preprocess.pixels(gather(dataset, chosen))
    row = {int(n): r for r, n in enumerate(chosen)}
    patches = [[_crop(pixels[row[int(n)]], box) for n, box in zip(indices[m], boxes[m])]
               for m in range(len(channels))]
    projections, how = None, None
    if project:
        x = preprocess.from_pixels(pixels)
        projections, how = [], "deconv_reconstruct"
        for m, channel in enumerate(channels):
            rows = [row[int(n)] for n in indices[m]]
            spots = [None] * k if positions is None else [tuple(p) for p in positions[m]]
            maps, how = project_unit(model, x[rows], name, int(channel), spots, how)
            projections.append([_crop(p, box) for p, box in zip(maps, boxes[m])])
    result = TopPatches(name, channels, indices, values, positions, boxes, field, tuple(x_first.shape[2:]), patches,
                        projections, how)
    if plot:
        result.figure = _draw(result, title)
        if path is not None:
            save_figure(result.figure, path)
    return result


def scan_strongest(model, dataset, name, channels, k, preprocess, batch_size=256, progress=False):
    """Steps 1-2 of the module docstring: for each channel the k images with the largest m_n.

    Returns (values, indices, flat), each (M, k), strongest first: m_n, n and the flat index
    i * w + j of the position of m_n (0 for a fully connected layer).
    """
    extractor = FeatureExtractor(model, [name])
    best = np.full((k, len(channels)), -np.inf)
    best_index = np.full((k, len(channels)), -1, dtype=np.int64)
    best_flat = np.zeros((k, len(channels)), dtype=np.int64)
    with inspecting(model), no_grad():
        for start, images, _ in batches(dataset, batch_size, progress, desc=f"top patches of {name}"):
            output = extractor(Tensor(preprocess(check_pictures("top_patches", images, "the dataset's images"))))
            maps = output[name].numpy()[:, channels].reshape(len(images), len(channels), -1)
            flat = maps.argmax(axis=2)                                             # (B, M)
            strongest = np.take_along_axis(maps, flat[..., None], axis=2)[..., 0]  # (B, M)
            values = np.concatenate([best, strongest])
            index = np.concatenate([best_index, np.broadcast_to(start + np.arange(len(images))[:, None],
                                                                strongest.shape)])
            positions = np.concatenate([best_flat, flat])
            # A stable sort keeps the earlier image first among equal values (the kept ones
            # come from earlier batches, and each batch is in dataset order).
            order = np.argsort(-values, axis=0, kind="stable")[:k]
            best = np.take_along_axis(values, order, axis=0)
            best_index = np.take_along_axis(index, order, axis=0)
            best_flat = np.take_along_axis(positions, order, axis=0)
    return best.T, best_index.T, best_flat.T


def field_boxes(field, positions, image_size, shape):
    """The crops (..., 4) = (top, bottom, left, right) of the units at ``positions`` (..., 2):
    rows [t - r/2 + i s, t - r/2 + i s + r) clipped to [0, H), likewise for the columns. A full
    field (or ``positions`` None) is the whole image; ``shape`` is the leading shape then."""
    height, width = image_size
    if field.is_full or positions is None:
        return np.broadcast_to(np.array([0, height, 0, width]), (*shape, 4)).copy()
    boxes = []
    for axis, limit in ((0, height), (1, width)):
        # t - r/2 is a whole number for fields built from windows (each adds -p*s to it).
        low = int(round(field.start[axis] - field.size[axis] / 2))
        first = low + positions[..., axis] * field.jump[axis]
        boxes += [np.clip(first, 0, limit), np.clip(first + field.size[axis], 0, limit)]
    return np.stack(boxes, axis=-1)


def _crop(image, box):
    top, bottom, left, right = (int(v) for v in box)
    return image[:, top:bottom, left:right]


def project_unit(model, x, name, channel, positions, how="deconv_reconstruct"):
    """The deconvnet projections of A[n, channel, i_n, j_n] for each image of ``x`` (B, C, H, W),
    ``positions`` one (i, j) per image (None for a fully connected layer): a (B, C, H, W) array
    and the way it was made (module docstring, step 4)."""
    if how == "deconv_reconstruct":
        try:
            return _reconstruct(model, x, name, channel, positions), how
        except ValueError:   # not a chain of the layers it undoes (a residual sum, another module)
            pass
    return _deconvnet_backward(model, x, name, channel, positions), "deconvnet backward"


def _reconstruct(model, x, name, channel, positions):
    """``deconv_reconstruct`` of the whole batch at each image's strongest position (one call);
    an image whose strongest position in that call is not the scan's (a tie broken otherwise by
    rounding) is redone alone at the scan's position."""
    seen = []
    handle = dict(model.named_modules())[name].register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        maps = deconv_reconstruct(model, x, name, channel).numpy()
    finally:
        handle.remove()
    if positions[0] is None:
        return maps
    activation = seen[-1].numpy()[:, channel]
    strongest = activation.reshape(len(x), -1).argmax(axis=1)
    expected = [i * activation.shape[2] + j for i, j in positions]
    for n in np.flatnonzero(strongest != expected):
        maps[n] = deconv_reconstruct(model, x[n:n + 1], name, channel, positions[n]).numpy()[0]
    return maps


def _deconvnet_backward(model, x, name, channel, positions):
    """The deconvnet as a backward pass: every ReLU of the forward pass sends back max(R, 0), and
    the seed keeps A[n, channel, i_n, j_n] (its value) alone."""
    inputs = Tensor(np.array(x), requires_grad=True)
    with inspecting(model), enable_grad():
        with relu_rule("deconvnet"):
            activation = FeatureExtractor(model, [name])(inputs)[name]
        values = activation.numpy()
        seed = np.zeros_like(values)
        for n, position in enumerate(positions):
            unit = (n, channel) if position is None else (n, channel, *position)
            seed[unit] = values[unit]
        activation.backward(seed)
    return inputs.grad.numpy()


def place_in_field(tile, box, field, image_size):
    """An RGB crop ``tile`` (h, w, 3) on a canvas the size of the field (at most the image's),
    the part cut off by the border ``OUTSIDE``-coloured: a field cut at the top or left shows its
    crop at the bottom or right of the canvas."""
    height, width = image_size
    if field.is_full:
        return tile
    size = (min(field.size[0], height), min(field.size[1], width))
    canvas = np.empty((*size, 3))
    canvas[:] = OUTSIDE
    top, bottom, left, right = (int(v) for v in box)
    row = size[0] - (bottom - top) if top == 0 else 0
    column = size[1] - (right - left) if left == 0 else 0
    canvas[row:row + bottom - top, column:column + right - left] = tile
    return canvas


def _draw(result, title):
    """One panel per channel: its k patches (left) and their projections (right), each a mosaic;
    each projection on its own scale, 0 mid-grey (Zeiler and Fergus normalise each one)."""
    count, k = result.indices.shape
    image_size = result.image_size
    rows, columns = grid_shape(count, min(4, count))
    figure = Figure(figsize=(3.4 * columns + 0.4, 2.0 * rows + 0.8), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False)
    for axes in panels.flat[count:]:
        axes.set_axis_off()
    for m, axes in enumerate(panels.flat[:count]):
        picture = mosaic([place_in_field(rgb(p), box, result.field, image_size)
                          for p, box in zip(result.patches[m], result.boxes[m])])
        if result.projections is not None:
            projected = mosaic([place_in_field(signed_rgb(p, np.abs(p).max()), box, result.field, image_size)
                                for p, box in zip(result.projections[m], result.boxes[m])])
            picture = np.hstack([picture, np.ones((picture.shape[0], 3, 3)), projected])
        show(axes, picture, f"channel {result.channels[m]}")
    what = "patches | deconvnet projections" if result.projections is not None else "patches"
    heading = (f"{result.layer}: the {k} strongest activations of each channel, one per image "
               f"({what}); receptive field {result.field}")
    figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
    return figure
