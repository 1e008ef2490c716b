"""Adversarial examples: imperceptible perturbations that change a classifier's answer.

    from minidl.explain.adversarial import fgsm, pgd
    model = minidl.zoo.load_pretrained("lenet5-mnist")
    x_adv = pgd(model, images, labels, eps=0.3, alpha=0.01, steps=40)     # images: pixels in [0, 1]

Szegedy et al. (2014, "Intriguing properties of neural networks") found that for almost every
correctly classified image x a tiny r exists with f(x + r) != f(x). Goodfellow et al. (2015,
"Explaining and harnessing adversarial examples") explained it by the networks' near-linearity
and gave a one-step attack, the fast gradient sign method (FGSM); Madry et al. (2018, "Towards
deep learning models resistant to adversarial attacks") iterate it with a projection onto the
allowed set (projected gradient descent, PGD), the standard first-order attack.

**Pixel space.** Every attack here works on images whose pixels lie in [0, 1], and both the size
of the perturbation (ε, measured by the L∞ or L2 norm of r) and the box x + r in [0, 1] are in
those pixel units: ε = 0.3 on MNIST means 30% of the white level, whatever normalisation the
model was trained with. The normalisation x -> (x - mean) / std is applied inside the model by
``PixelModel``, which every attack builds from ``model`` (with ``normalize=(mean, std)``, else
the ``model.weights_metadata["normalize"]`` that pretrained models record, else none).

Arrays: images are (N, C, H, W) ndarrays or Tensors of pixels in [0, 1]; labels and targets are
integer class indices, one per image (an int stands for the same class for every image). The
attacks compute in float64 and return the input's type and dtype (a Tensor for a Tensor); the
model runs in its own dtype (float32 for the shipped weights; ``model.double()`` for float64
gradients). The model is put in evaluation mode for the attack (dropout off, batch norm with its
running statistics) and its parameters receive no gradient; both are restored afterwards
(``minidl.explain.attribution.inspecting``).

``minidl.explain.adversarial_fooling`` reaches a chosen class (CS231n's fooling images, Szegedy's
minimal perturbation, Nguyen's images from noise); ``minidl.explain.adversarial_report`` measures
attacks over a test set.
"""

import math

import numpy as np

from minidl import functional as F
from minidl import nn
from minidl.explain.attribution import inspecting
from minidl.functional.checks import check_int, check_number
from minidl.grad_mode import no_grad
from minidl.random import get_generator
from minidl.tensor import Tensor

__all__ = ["PixelModel", "pixel_model", "fgsm", "pgd", "random_targets", "predict", "NORMS"]

# The two perturbation norms the iterative attacks bound: the largest change of any pixel
# (L∞, Madry et al.'s MNIST and CIFAR-10 threat model) or the Euclidean length of r (L2).
NORMS = ("linf", "l2")


class PixelModel(nn.Module):
    """A classifier of pixel images: ``PixelModel(model, normalize)(x) = model((x - mean) / std)``.

    Args:
        model: a Module mapping normalised images (N, C, H, W) to class scores (N, K).
        normalize: ``(mean, std)`` or ``{"mean": ..., "std": ...}``, each a number or one value
            per channel; None takes ``model.weights_metadata["normalize"]`` when the model has
            it (pretrained models do) and feeds the pixels unchanged otherwise.
        image_shape: the (C, H, W) the model takes, to refuse other images with a clear error;
            None takes it from the pretrained metadata (``in_channels``, ``image_size``), else
            the channels of the model's first Conv2d (the size is then left to the model).

    ``forward(x)``: x (N, C, H, W) pixels -> logits (N, K). The mean and std are cast to x's
    dtype, so a float64 model (``model.double()``) computes in float64 throughout.
    """

    def __init__(self, model, normalize=None, image_shape=None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"PixelModel: model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        metadata = getattr(model, "weights_metadata", None) or {}
        if normalize is None:
            normalize = metadata.get("normalize")
        self.mean, self.std = _normalization(normalize)
        self.image_shape = _expected_shape(model, metadata, image_shape)
        if self.mean is not None and self.image_shape is not None and len(self.mean) not in (1, self.image_shape[0]):
            raise ValueError(f"PixelModel: normalize has {len(self.mean)} values per statistic but the model takes "
                             f"{self.image_shape[0]}-channel images")

    def forward(self, x):
        if self.mean is None:
            return self.model(x)
        shape = (1, len(self.mean), 1, 1)
        mean = self.mean.reshape(shape).astype(x.dtype)
        std = self.std.reshape(shape).astype(x.dtype)
        return self.model((x - mean) / std)

    def check_images(self, where, x):
        """``x`` as a float64 ndarray (N, C, H, W), refusing anything that is not a batch of
        pixel images in [0, 1] of the shape the model takes; ``where`` names the caller."""
        images = np.asarray(x.detach() if isinstance(x, Tensor) else x)
        if images.dtype.kind != "f":
            raise TypeError(f"{where}: images must be floating point pixels in [0, 1], got dtype {images.dtype}")
        if images.ndim != 4:
            raise ValueError(f"{where}: expected a batch of images (N, C, H, W), got shape {images.shape}")
        expected = self.image_shape
        if expected is not None and any(e is not None and e != n for e, n in zip(expected, images.shape[1:])):
            wanted = "x".join("?" if e is None else str(e) for e in expected)
            raise ValueError(f"{where}: {type(self.model).__name__} takes images of {wanted} (C x H x W), got "
                             f"{'x'.join(map(str, images.shape[1:]))}")
        if images.size and not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
            raise ValueError(f"{where}: images must be pixels in [0, 1] (normalisation is applied inside the model), "
                             f"got values from {np.nanmin(images):.4g} to {np.nanmax(images):.4g}")
        return images.astype(np.float64)

    def compute_dtype(self):
        """The dtype the model's parameters hold (its inputs must have it), float32 without any."""
        parameter = next(iter(self.model.parameters()), None)
        return np.float32 if parameter is None else parameter.dtype


def _normalization(normalize):
    """(mean, std) as float64 arrays of one value per channel (or one for all), or (None, None)."""
    if normalize is None:
        return None, None
    if isinstance(normalize, dict):
        normalize = (normalize.get("mean"), normalize.get("std"))
    if not isinstance(normalize, tuple | list) or len(normalize) != 2:
        raise ValueError(f"PixelModel: normalize must be (mean, std) or {{'mean': ..., 'std': ...}}, got {normalize!r}")
    mean, std = (np.atleast_1d(np.asarray(value, dtype=np.float64)) for value in normalize)
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(f"PixelModel: normalize's mean and std must be numbers or equal-length lists, got "
                         f"{normalize!r}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"PixelModel: normalize needs finite means and positive stds, got {normalize!r}")
    return mean, std


def _expected_shape(model, metadata, image_shape):
    """(C, H, W) with None for what is unknown, or None when nothing is known (see PixelModel)."""
    if image_shape is not None:
        if len(image_shape) != 3:
            raise ValueError(f"PixelModel: image_shape must be (C, H, W), got {image_shape!r}")
        return tuple(check_int("PixelModel", "image_shape", side, 1) for side in image_shape)
    kwargs = metadata.get("architecture_kwargs", {})
    if "in_channels" in kwargs and "image_size" in kwargs:
        return kwargs["in_channels"], kwargs["image_size"], kwargs["image_size"]
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first_conv is None else (first_conv.in_channels, None, None)


def pixel_model(model, normalize=None, where="pixel_model"):
    """``model`` as a ``PixelModel``: itself when it already is one, else wrapped with ``normalize``
    (see PixelModel). A PixelModel given a second normalisation is refused, as doubly normalised
    pixels are a silent mistake."""
    if isinstance(model, PixelModel):
        if normalize is not None:
            raise ValueError(f"{where}: the model is a PixelModel, which normalises already; leave normalize=None")
        return model
    return PixelModel(model, normalize)


def objective_gradient(net, images, objective):
    """The gradient of ``objective(logits)`` with respect to the pixels, and the logits.

    Args:
        net: a PixelModel, inside ``inspecting(net)`` (evaluation mode, no parameter gradients).
        images: float64 (N, C, H, W) pixels.
        objective: logits Tensor (N, K) -> a scalar Tensor that is a *sum* over the images, so the
            gradient of image i is that of its own term alone.
    Returns (gradient float64 (N, C, H, W), logits float64 (N, K)).
    """
    inputs = Tensor(images.astype(net.compute_dtype()), requires_grad=True)
    logits = net(inputs)
    objective(logits).backward()
    return np.asarray(inputs.grad, dtype=np.float64), np.asarray(logits.detach(), dtype=np.float64)


def cross_entropy_gradient(net, images, labels):
    """∇_x Σ_i J(θ, x_i, y_i), J the softmax cross-entropy; shapes as ``objective_gradient``."""
    return objective_gradient(net, images, lambda logits: F.cross_entropy(logits, labels, reduction="sum"))


def predict(model, x, normalize=None, batch_size=256):
    """The model's class and confidence for pixel images x (N, C, H, W).

    Returns (predictions int64 (N,), confidences float64 (N,)), the confidence being the softmax
    probability of the predicted class, max_k exp(s_k) / Σ_j exp(s_j).
    """
    net = pixel_model(model, normalize, "predict")
    images = net.check_images("predict", x)
    with inspecting(net), no_grad():
        chunks = [np.asarray(F.softmax(net(Tensor(images[i:i + batch_size].astype(net.compute_dtype()))), dim=1),
                  dtype=np.float64) for i in range(0, len(images), batch_size)]
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, 1))
    return probabilities.argmax(axis=1), probabilities.max(axis=1)


def count_classes(net, images):
    """K, the number of class scores the model gives (a forward pass of one image)."""
    with inspecting(net), no_grad():
        return net(Tensor(images[:1].astype(net.compute_dtype()))).shape[1]


def check_classes(where, name, classes, count, num_classes):
    """``classes`` (an int, or one int per image) as an int64 array (count,) of indices in [0, K)."""
    values = np.asarray(classes.detach() if isinstance(classes, Tensor) else classes)
    if values.dtype.kind not in "iu" or values.ndim > 1:
        raise TypeError(f"{where}: {name} must be a class index or an array of them, got {classes!r}")
    values = np.broadcast_to(values, (count,)).astype(np.int64) if values.ndim == 0 else values.astype(np.int64)
    if values.shape != (count,):
        raise ValueError(f"{where}: {name} must hold one class per image ({count}), got {values.shape[0]}")
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        bad = values[(values < 0) | (values >= num_classes)][0]
        raise ValueError(f"{where}: {name} {bad} is out of range for a model of {num_classes} classes "
                         f"(expected 0 to {num_classes - 1})")
    return values


def check_radius(where, eps):
    """ε, the size of the perturbation: a finite number >= 0 (ε = 0 leaves the images as they are)."""
    check_number(where, "eps", eps, minimum=0)
    if not math.isfinite(eps):
        raise ValueError(f"{where}: eps must be finite (pixels lie in [0, 1], so eps = 1 already allows any image), "
                         f"got {eps}")


def check_positive(where, name, value):
    """A step size or weight: a finite number > 0."""
    check_number(where, name, value, minimum=0)
    if not 0 < value < math.inf:
        raise ValueError(f"{where}: {name} must be a positive finite number, got {value}")


def attack_labels(where, net, images, y, targeted, target):
    """The classes an attack's loss refers to: the true labels ``y`` (untargeted: the loss is
    raised) or ``target`` (targeted: it is lowered), checked; (N,) int64."""
    if target is not None and not targeted:
        raise ValueError(f"{where}: a target was given with targeted=False; pass targeted=True for a targeted attack")
    if targeted and target is None:
        raise ValueError(f"{where}: targeted=True needs target, the class (or one class per image) to reach")
    classes = count_classes(net, images) if len(images) else 0
    if targeted:
        if y is not None:
            check_classes(where, "y", y, len(images), classes)
        return check_classes(where, "target", target, len(images), classes)
    if y is None:
        raise ValueError(f"{where}: an untargeted attack needs y, the true class of each image")
    return check_classes(where, "y", y, len(images), classes)


def as_input_type(result, x):
    """``result`` (float64 ndarray) in the type and dtype of the attack's input ``x``."""
    if isinstance(x, Tensor):
        return Tensor(result.astype(x.dtype))
    return result.astype(np.asarray(x).dtype)


def project(images, adversarial, eps, norm):
    """``adversarial`` brought back into the allowed set: ||x' - x|| <= ε and x' in [0, 1].

    L∞: r = clip(x' - x, -ε, ε), then the box (together the exact projection onto the
    intersection of the two boxes). L2:
    r <- r · min(1, ε / ||r||₂) per image, then the box; clipping to [0, 1] only shrinks each
    |r_i| (it moves x + r towards x, which lies in the box), so the result stays in the ball.
    Shapes: images and adversarial (N, C, H, W) float64; returns (N, C, H, W).
    """
    perturbation = adversarial - images
    if norm == "linf":
        perturbation = np.clip(perturbation, -eps, eps)
    else:
        lengths = np.sqrt((perturbation ** 2).sum(axis=(1, 2, 3), keepdims=True))
        perturbation = perturbation * np.minimum(1.0, eps / np.maximum(lengths, np.finfo(np.float64).tiny))
    return np.clip(images + perturbation, 0.0, 1.0)


def steepest_direction(gradient, norm):
    """The unit step that raises a linear function of slope ``gradient`` most, per image.

    L∞: sign(g) (every pixel moves by the step size); L2: g / ||g||₂ (zero where g = 0).
    Shapes: (N, C, H, W) -> (N, C, H, W).
    """
    if norm == "linf":
        return np.sign(gradient)
    lengths = np.sqrt((gradient ** 2).sum(axis=(1, 2, 3), keepdims=True))
    return np.divide(gradient, lengths, out=np.zeros_like(gradient), where=lengths > 0)


def fgsm(model, x, y, eps, targeted=False, target=None, normalize=None):
    """The fast gradient sign method (Goodfellow et al., 2015), in pixel space.

        x_adv = clip(x + ε · sign(∇_x J(θ, x, y)), 0, 1)            untargeted: raise the loss of y
        x_adv = clip(x - ε · sign(∇_x J(θ, x, t)), 0, 1)            targeted: lower the loss of t

    J is the softmax cross-entropy of the logits. One gradient, one step of size ε in every
    pixel: the best L∞-bounded step for a model that is linear around x.

    Args:
        model: a classifier Module (or a PixelModel); see the module docstring for normalisation.
        x: (N, C, H, W) pixels in [0, 1], ndarray or Tensor.
        y: (N,) true classes (or one int); may be None for a targeted attack.
        eps: ε >= 0, the L∞ size of the perturbation in pixel units.
        targeted, target: reach ``target`` (an int or (N,) classes) instead of leaving ``y``.
        normalize: (mean, std) of the model's inputs (default: the model's metadata).
    Returns x_adv (N, C, H, W), of x's type and dtype, with |x_adv - x| <= ε and x_adv in [0, 1].
    """
    net = pixel_model(model, normalize, "fgsm")
    images = net.check_images("fgsm", x)
    check_radius("fgsm", eps)
    labels = attack_labels("fgsm", net, images, y, targeted, target)
    with inspecting(net):
        gradient, _ = cross_entropy_gradient(net, images, labels)
    direction = -1.0 if targeted else 1.0
    return as_input_type(np.clip(images + direction * eps * np.sign(gradient), 0.0, 1.0), x)


def pgd(model, x, y, eps, alpha, steps, norm="linf", targeted=False, target=None, random_start=True, seed=None,
        normalize=None):
    """Projected gradient descent (Madry et al., 2018): FGSM iterated, projected after each step.

        x^0     = x + U(-ε, ε)  (L∞; for L2 a uniform point of the ε-ball), or x without random_start
        x^{t+1} = Π_{B_ε(x) ∩ [0,1]} ( x^t + α · sign(∇_x J(θ, x^t, y)) )         untargeted, L∞
        x^{t+1} = Π_{B_ε(x) ∩ [0,1]} ( x^t - α · sign(∇_x J(θ, x^t, t)) )         targeted, L∞

    With ``norm="l2"`` the step is α · ∇/||∇||₂ and the ball is ||x' - x||₂ <= ε (``project``).
    Madry et al.'s MNIST attack is L∞ with ε = 0.3, 40 steps of α = 0.01 and a random start.

    Args:
        model, x, y, targeted, target, normalize: as ``fgsm``.
        eps: ε >= 0, the radius of the ball in pixel units (L∞ or L2).
        alpha: α > 0, the step size (pixel units of the same norm).
        steps: the number of steps, >= 1.
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a uniformly random point of the ball (Madry et al.) or from x.
        seed: an int or np.random.Generator for the random start (default: minidl's generator,
            see ``minidl.manual_seed``).
    Returns x_adv (N, C, H, W), of x's type and dtype: the last iterate, inside the ball and the box.
    """
    net = pixel_model(model, normalize, "pgd")
    images = net.check_images("pgd", x)
    check_radius("pgd", eps)
    check_positive("pgd", "alpha", alpha)
    steps = check_int("pgd", "steps", steps, 1)
    if norm not in NORMS:
        raise ValueError(f"pgd: norm must be one of {', '.join(NORMS)}, got {norm!r}")
    labels = attack_labels("pgd", net, images, y, targeted, target)
    rng = get_generator() if seed is None else np.random.default_rng(seed)
    adversarial = project(images, images + _random_start(rng, images.shape, eps, norm), eps, norm) \
        if random_start else images.copy()
    direction = -1.0 if targeted else 1.0
    with inspecting(net):
        for _ in range(steps):
            gradient, _ = cross_entropy_gradient(net, adversarial, labels)
            adversarial = project(images, adversarial + direction * alpha * steepest_direction(gradient, norm), eps,
                                  norm)
    return as_input_type(adversarial, x)


def _random_start(rng, shape, eps, norm):
    """A uniformly random point of the ε-ball around 0, one per image; (N, C, H, W).

    L∞: every pixel U(-ε, ε). L2: a Gaussian direction g/||g|| (uniform on the sphere) at radius
    ε · u^(1/d), u ~ U(0, 1), d = C·H·W (the radius of a uniform point of a d-dimensional ball).
    """
    if norm == "linf":
        return rng.uniform(-eps, eps, size=shape)
    direction = steepest_direction(rng.standard_normal(shape), "l2")
    dimensions = int(np.prod(shape[1:]))
    radius = eps * rng.uniform(0, 1, size=(shape[0], 1, 1, 1)) ** (1 / max(dimensions, 1))
    return direction * radius


def random_targets(y, num_classes, seed=None):
    """A random wrong class for each label: t_i uniform over {0, ..., K-1} minus {y_i}; (N,) int64.

    ``seed``: an int or np.random.Generator (default: minidl's generator). Drawn as
    t = (y + u) mod K with u uniform in {1, ..., K-1}, so every wrong class is equally likely.
    """
    num_classes = check_int("random_targets", "num_classes", num_classes, 2)
    labels = np.atleast_1d(np.asarray(y.detach() if isinstance(y, Tensor) else y))
    labels = check_classes("random_targets", "y", labels, len(labels), num_classes)
    rng = get_generator() if seed is None else np.random.default_rng(seed)
    return (labels + rng.integers(1, num_classes, size=labels.shape)) % num_classes
