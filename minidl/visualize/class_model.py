"""Class model images: the picture a network scores highest for a class (Simonyan et al. 2014).

    result = class_model(model, target=None, image_shape=(1, 28, 28),
                         normalize=model.weights_metadata["normalize"], path="classes.png")
    result.pictures[3]          # (1, 28, 28) in [0, 1]: what LeNet-5 finds most "3"

Simonyan, Vedaldi and Zisserman (2014, section 2) look for

    I* = argmax_I  S_c(I) - lambda ||I||^2

where S_c is the class's score before the softmax (the logit: the softmax can rise because the
other classes fall) and the L2 penalty keeps the image from growing without bound. They climb
the gradient from the mean image (zero, once the mean is subtracted). Left alone, the climb
finds high-frequency patterns that no photograph has; CS231n's version adds three priors, and
this function follows its loop:

    for t in 1..iterations:
        shift I by (dy, dx), each drawn from 0..jitter, wrapping around (np.roll)
        g = dS_c/dI - 2 lambda I                      (at the shifted image)
        I = I + step * g / ||g||                       (a step of fixed length)
        shift back; clip every pixel to [0, 1] (in the model's normalised units)
        every blur_every iterations: blur I with a Gaussian of sigma blur_sigma pixels

CS231n's defaults are for 224x224 colour images: lambda 1e-3, step 25, 100 iterations, blur every
10 with sigma 0.5, jitter 16. For another image size they are rescaled:

- jitter is a length, so it scales with the side: jitter = round(16 * H / 224)
  (2 pixels for 28x28 and 32x32);
- a step of length 25 (the L2 norm of the whole update) moves each of the 3*224*224 values by
  25 / sqrt(3*224*224) = 0.064 on average; keeping that change per value on C*H*W values gives
  step = 25 * sqrt(C*H*W / (3*224*224)) (1.80 for 1x28x28, 3.57 for 3x32x32);
- lambda, the iterations and the blur (half a pixel: it removes pixel-level noise, which
  exists at every size) are kept.
"""

from collections import namedtuple

import numpy as np
from matplotlib.figure import Figure

from minidl.data.transforms import GaussianBlur
from minidl.explain.attribution import class_scores, inspecting, target_gradient
from minidl.functional.checks import check_int, check_number
from minidl.grad_mode import no_grad
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.inputs import Preprocess, check_pictures, model_dtype
from minidl.visualize.pictures import grid_shape, rgb, show

__all__ = ["ClassModel", "class_model", "scaled_settings", "CS231N"]

# CS231n's settings for 224x224 colour images (the 2017 network-visualisation assignment).
CS231N = {"l2": 1e-3, "step": 25.0, "iterations": 100, "blur_every": 10, "blur_sigma": 0.5, "jitter": 16}
REFERENCE_SIDE, REFERENCE_VALUES = 224, 3 * 224 * 224

# pictures: (K, C, H, W) in [0, 1]; inputs: the same in the model's normalised units; targets: (K,);
# start_logits, logits: (K, classes) before and after the ascent; history: (iterations + 1, K)
# the target logit at each iteration (at the unshifted image); settings: what was used; figure.
ClassModel = namedtuple("ClassModel", ["pictures", "inputs", "targets", "start_logits", "logits", "history",
                                       "settings", "figure"])


def scaled_settings(image_shape):
    """CS231n's step and jitter rescaled to images (C, H, W) (module docstring); the rest as is."""
    channels, height, width = image_shape
    return {**CS231N, "step": CS231N["step"] * float(np.sqrt(channels * height * width / REFERENCE_VALUES)),
            "jitter": int(round(CS231N["jitter"] * height / REFERENCE_SIDE))}


def class_model(model, target=None, image_shape=None, normalize=None, start="mean", iterations=None, step=None,
                l2=None, blur_every=None, blur_sigma=None, jitter=None, seed=0, classes=None, path=None, title=None):
    """Gradient ascent on S_c(I) - lambda ||I||^2 for each target class (module docstring).

    Args:
        model: a classifier of images (run in evaluation mode; its modes and gradients are left as
            they were).
        target: a class, a list of classes, or None for every class of the model (the grid).
        image_shape: (C, H, W) of the model's input.
        normalize: the model's normalisation (``minidl.visualize.inputs``); the pixels stay in [0, 1].
        start: pictures (C, H, W) or (K, C, H, W) in [0, 1], such as the training set's mean image
            ``train_set.images.mean(axis=0)`` (Simonyan's start: the zero input once the mean
            image is subtracted); "mean": the normalised zero image, the mean colour everywhere;
            or "noise": N(0, 1) in normalised units (CS231n's start), clipped to the range. A flat
            start can leave every ReLU of a small network off, so that the gradient is zero and
            the image cannot move: the figure then says "stuck".
        iterations, step, l2, blur_every, blur_sigma, jitter: None takes ``scaled_settings``.
        seed: the jitter's and the noise's random generator.
        classes: class names for the figure; path: where to write the PNG; title: heads it.
    Returns:
        a ``ClassModel``.
    """
    if image_shape is None or len(image_shape) != 3:
        raise ValueError(f"class_model: image_shape must be (C, H, W), got {image_shape!r}")
    image_shape = tuple(int(n) for n in image_shape)
    settings = scaled_settings(image_shape)
    given = dict(iterations=iterations, step=step, l2=l2, blur_every=blur_every, blur_sigma=blur_sigma, jitter=jitter)
    settings.update({key: value for key, value in given.items() if value is not None})
    for key in ("iterations", "blur_every"):
        check_int("class_model", key, settings[key], 1)
    check_int("class_model", "jitter", settings["jitter"], 0)
    for key in ("step", "l2", "blur_sigma"):
        check_number("class_model", key, settings[key], 0)
    dtype = model_dtype(model)
    preprocess = Preprocess("class_model", None, normalize, dtype)
    rng = np.random.default_rng(seed)
    with inspecting(model), no_grad():
        probe = class_scores("class_model", model, Tensor(np.zeros((1, *image_shape), dtype))).numpy()
    targets = np.arange(probe.shape[1]) if target is None else np.atleast_1d(np.asarray(target))
    if targets.dtype.kind not in "iu" or targets.ndim != 1 or ((targets < 0) | (targets >= probe.shape[1])).any():
        raise ValueError(f"class_model: target must be a class from 0 to {probe.shape[1] - 1} (or a list of them), "
                         f"got {target!r}")
    low, high = preprocess.bounds(image_shape[0])
    x = _start(start, len(targets), image_shape, preprocess, rng, low, high, dtype)
    blur = GaussianBlur(_kernel_size(settings["blur_sigma"], image_shape[1:]), sigma=settings["blur_sigma"]) \
        if settings["blur_sigma"] > 0 else None
    start_logits = _logits(model, x)
    history = [start_logits[np.arange(len(targets)), targets]]
    moved = np.zeros(len(targets), dtype=bool)
    for t in range(settings["iterations"]):
        dy, dx = rng.integers(0, settings["jitter"] + 1, size=2)
        shifted = np.roll(x, (dy, dx), axis=(2, 3))
        gradient = target_gradient("class_model", model, shifted, targets).input_grad - 2 * settings["l2"] * shifted
        norms = np.sqrt((gradient ** 2).reshape(len(x), -1).sum(axis=1)).reshape(-1, 1, 1, 1)
        moved |= norms.reshape(-1) > 0
        shifted = shifted + settings["step"] * gradient / np.maximum(norms, 1e-12)
        x = np.clip(np.roll(shifted, (-dy, -dx), axis=(2, 3)), low, high).astype(dtype)
        if blur is not None and (t + 1) % settings["blur_every"] == 0:
            x = np.clip(blur(x), low, high)
        history.append(_logits(model, x)[np.arange(len(targets)), targets])
    logits = _logits(model, x)
    pictures = np.clip(preprocess.to_pixels(x), 0, 1)
    figure = _draw(pictures, targets, logits, start_logits, moved, classes, title)
    if path is not None:
        save_figure(figure, path)
    return ClassModel(pictures, x, targets, start_logits, logits, np.array(history), settings, figure)


def _start(start, count, image_shape, preprocess, rng, low, high, dtype):
    """The starting images (count, C, H, W) in the model's units (``class_model``'s ``start``)."""
    if isinstance(start, str):
        if start == "mean":
            return np.clip(np.zeros((count, *image_shape), dtype), low, high)
        if start == "noise":
            return np.clip(rng.standard_normal((count, *image_shape)), low, high).astype(dtype)
        raise ValueError(f"class_model: start must be 'mean', 'noise' or pictures in [0, 1], got {start!r}")
    pictures = np.asarray(start)
    pictures = check_pictures("class_model", pictures[None] if pictures.ndim == 3 else pictures, "start")
    if pictures.shape[1:] != image_shape or len(pictures) not in (1, count):
        raise ValueError(f"class_model: start pictures of shape {pictures.shape} do not fit {count} images of "
                         f"{image_shape}")
    return np.broadcast_to(preprocess.from_pixels(pictures), (count, *image_shape)).copy()


def _kernel_size(sigma, size):
    """An odd Gaussian kernel covering +-4 sigma (as scipy's), at most the image allows."""
    radius = max(1, int(np.ceil(4 * sigma)))
    return 2 * min(radius, min(size) - 1) + 1


def _logits(model, x):
    with inspecting(model), no_grad():
        return class_scores("class_model", model, Tensor(x)).numpy()


def _draw(pictures, targets, logits, start_logits, moved, classes, title):
    """A grid of the class images, each titled with its class and its logit (start -> end)."""
    rows, columns = grid_shape(len(targets), min(5, len(targets)))
    figure = Figure(figsize=(2.0 * columns + 0.4, 2.2 * rows + 0.7), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.flat[len(targets):]:
        axes.set_axis_off()
    for n, (axes, target) in enumerate(zip(grid.flat, targets)):
        name = classes[target] if classes is not None else f"class {target}"
        top = "" if logits[n].argmax() == target else f", top: {logits[n].argmax()}"
        top += "" if moved[n] else " (stuck: zero gradient)"
        show(axes, rgb(pictures[n]), f"{name}\nlogit {start_logits[n, target]:.1f} -> {logits[n, target]:.1f}{top}")
    heading = "class model images: argmax_I S_c(I) - lambda ||I||^2 (Simonyan et al. 2014)"
    figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
    return figure
