"""Images that a network labels as a class of our choosing.

    from minidl.explain.adversarial_fooling import make_fooling_image, minimal_perturbation, fooling_from_noise
    fooled = make_fooling_image(model, images, target=3)          # CS231n: step until the model says 3
    smallest = minimal_perturbation(model, images, target=3)      # Szegedy et al.: the least ||r||² that does it
    noise = fooling_from_noise(model, target=[0, 1, 2])           # Nguyen et al.: >= 99% sure of noise

Three ways to make the model answer a class l:

- ``make_fooling_image`` (CS231n's assignment): climb the score of l from a real image, in
  normalised gradient steps, and stop at the first step where the model says l. The image then
  sits just over the decision boundary, usually still looking like what it was.
- ``minimal_perturbation`` (Szegedy et al., 2014, "Intriguing properties of neural networks"):
  the smallest r, in ||r||², with f(x + r) = l and x + r in the box, found by a penalty method
  and a search on the penalty's weight.
- ``fooling_from_noise`` (Nguyen et al., 2015, "Deep neural networks are easily fooled"): start
  from uniform noise and climb log p(l) until the model gives l a probability of 99% or more: an
  image that means nothing to a person, classified with high confidence.

Pixels, the box [0, 1], normalisation, types and the model's mode are handled as in
``minidl.explain.adversarial`` (see its module docstring): every step ends with a projection
x <- clip(x, 0, 1).
"""

import numpy as np

from minidl import functional as F
from minidl import optim
from minidl.explain.adversarial import (as_input_type, check_classes, check_positive, count_classes,
                                        objective_gradient, pixel_model, steepest_direction)
from minidl.explain.attribution import inspecting
from minidl.functional.checks import check_int
from minidl.grad_mode import no_grad
from minidl.random import get_generator
from minidl.tensor import Tensor

__all__ = ["make_fooling_image", "minimal_perturbation", "fooling_from_noise"]


def _target_scores(targets):
    """The objective Σ_i s_{t_i}(x_i): each image's logit of its target; logits (N, K) -> scalar."""
    index = Tensor(targets.reshape(-1, 1))
    return lambda logits: logits.gather(1, index).sum()


def _target_log_probabilities(targets):
    """The objective Σ_i log p_{t_i}(x_i), p = softmax(logits); logits (N, K) -> scalar."""
    index = Tensor(targets.reshape(-1, 1))
    return lambda logits: F.log_softmax(logits, dim=1).gather(1, index).sum()


def _check_step(where, lr, steps, name="max_iter"):
    """The step length ``lr`` (> 0) and the number of steps (>= 1, called ``name``); returns the steps."""
    check_positive(where, "lr", lr)
    return check_int(where, name, steps, 1)


def make_fooling_image(model, x, target, lr=0.1, max_iter=200, normalize=None):
    """CS231n's fooling image: normalised gradient ascent on the target's score until the model says it.

        repeat until argmax_k s_k(x) = t (or max_iter steps):
            g = ∂ s_t(x) / ∂x                         the target's logit (unnormalised score)
            x <- clip(x + lr · g / ||g||₂, 0, 1)

    Each image stops as soon as the model predicts its target, so the result is close to the
    decision boundary (the predicted class wins by a small margin).

    Args:
        model: a classifier Module (or a PixelModel).
        x: (N, C, H, W) pixels in [0, 1], ndarray or Tensor.
        target: the class to reach, an int or (N,) ints.
        lr: the L2 length of each step, in pixel units (> 0).
        max_iter: the most steps per image (>= 1).
        normalize: (mean, std) of the model's inputs (default: the model's metadata).
    Returns the fooling images (N, C, H, W), of x's type and dtype; an image that did not reach its
    target within max_iter steps is the last iterate.
    """
    net = pixel_model(model, normalize, "make_fooling_image")
    images = net.check_images("make_fooling_image", x)
    max_iter = _check_step("make_fooling_image", lr, max_iter)
    targets = check_classes("make_fooling_image", "target", target, len(images),
                            count_classes(net, images) if len(images) else 0)
    fooling = images.copy()
    with inspecting(net):
        for _ in range(max_iter):
            active = _predictions(net, fooling) != targets
            if not active.any():
                break
            gradient, _ = objective_gradient(net, fooling[active], _target_scores(targets[active]))
            fooling[active] = np.clip(fooling[active] + lr * steepest_direction(gradient, "l2"), 0.0, 1.0)
    return as_input_type(fooling, x)


def _predictions(net, images):
    """argmax_k s_k(x) for float64 pixels (N, C, H, W); (N,) int64."""
    with no_grad():
        return np.asarray(net(Tensor(images.astype(net.compute_dtype())))).argmax(axis=1)


def minimal_perturbation(model, x, target, c=1.0, search_steps=6, steps=100, lr=0.01, normalize=None):
    """Szegedy et al.'s minimal adversarial perturbation, by a penalty method with a search on c.

    The problem, for each image x and target class l:

        minimise ||r||₂²   subject to   f(x + r) = l,   x + r in [0, 1]^m

    is replaced by the penalty problem (Szegedy et al., section 4.1, with ||r||² for |r|)

        minimise  c · ||r||₂² + loss_f(x + r, l)   subject to   x + r in [0, 1]^m

    with loss_f the softmax cross-entropy. A large c keeps r small but may not reach l; a small
    c reaches l with a larger r. The minimiser for a given c is found by projected gradient
    descent (Adam steps on r, then r <- clip(x + r, 0, 1) - x), instead of the paper's
    box-constrained L-BFGS; the search looks for the largest c whose solution still reaches l
    (bisection between the largest c that reached and the smallest that did not, multiplying
    or dividing by 10 until both are known). Every iterate that the model classifies as l is a
    candidate; the one with the smallest ||r||₂² is returned.

    Args:
        model: a classifier Module (or a PixelModel).
        x: (N, C, H, W) pixels in [0, 1], ndarray or Tensor.
        target: the class l to reach, an int or (N,) ints (searched independently per image).
        c: the penalty weight to start the search from (> 0).
        search_steps: how many values of c to try per image (>= 1).
        steps, lr: Adam's steps per value of c and its learning rate (pixel units).
        normalize: (mean, std) of the model's inputs (default: the model's metadata).
    Returns x + r (N, C, H, W), of x's type and dtype: the smallest successful perturbation found,
    or x itself (r = 0) for an image that never reached its target.
    """
    where = "minimal_perturbation"
    net = pixel_model(model, normalize, where)
    images = net.check_images(where, x)
    check_positive(where, "c", c)
    search_steps = check_int(where, "search_steps", search_steps, 1)
    steps = _check_step(where, lr, steps, "steps")
    targets = check_classes(where, "target", target, len(images), count_classes(net, images) if len(images) else 0)
    weight = np.full(len(images), float(c))
    lower, upper = np.zeros(len(images)), np.full(len(images), np.inf)   # c that reached l / that did not
    best, best_size = images.copy(), np.full(len(images), np.inf)
    with inspecting(net):
        for _ in range(search_steps):
            reached = _penalty_descent(net, images, targets, weight, steps, lr, best, best_size)
            lower[reached], upper[~reached] = weight[reached], weight[~reached]
            both = np.isfinite(upper) & (lower > 0)
            weight = np.where(both, (lower + upper) / 2, np.where(reached, weight * 10, weight / 10))
    return as_input_type(best, x)


def _penalty_descent(net, images, targets, weight, steps, lr, best, best_size):
    """Minimise c_i ||r_i||² + CE(f(x_i + r_i), l_i) over r in the box by projected Adam, from r = 0.

    Updates ``best`` (N, C, H, W) and ``best_size`` (N,) in place with every iterate classified as
    its target whose ||r||² is the smallest yet; returns (N,) bool, whether each image reached it.
    """
    dtype = net.compute_dtype()
    base = Tensor(images.astype(dtype))
    penalty = Tensor(weight.reshape(-1, 1, 1, 1).astype(dtype))
    perturbation = Tensor(np.zeros(images.shape, dtype=dtype), requires_grad=True)
    optimizer = optim.Adam([perturbation], lr=lr)
    reached = np.zeros(len(images), dtype=bool)
    for _ in range(steps):
        logits = net(base + perturbation)
        loss = (penalty * perturbation * perturbation).sum() + F.cross_entropy(logits, targets, reduction="sum")
        r = np.asarray(perturbation.detach(), dtype=np.float64)
        size = (r ** 2).sum(axis=(1, 2, 3))
        hit = np.asarray(logits.detach()).argmax(axis=1) == targets
        better = hit & (size < best_size)
        best[better] = np.clip(images[better] + r[better], 0.0, 1.0)
        best_size[better] = size[better]
        reached |= hit
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with no_grad():   # the projection onto the box x + r in [0, 1]
            r = np.asarray(perturbation.detach(), dtype=np.float64)
            perturbation.copy_(Tensor((np.clip(images + r, 0.0, 1.0) - images).astype(dtype)))
    return reached


def fooling_from_noise(model, target, image_shape=None, confidence=0.99, lr=0.5, max_iter=200, seed=None,
                       normalize=None):
    """Nguyen et al.'s fooling images: noise that the model assigns to a class with >= 99% confidence.

        x^0 ~ U(0, 1)^{C×H×W}                                 one noise image per target
        repeat until p_t(x) >= confidence (or max_iter steps):
            g = ∂ log p_t(x) / ∂x,   p = softmax(s(x))         the class's posterior, as in their
            x <- clip(x + lr · g / ||g||₂, 0, 1)                section on gradient ascent

    Args:
        model: a classifier Module (or a PixelModel).
        target: the class of each image to make, an int (one image) or (N,) ints.
        image_shape: (C, H, W) of the images; default the model's (``PixelModel.image_shape``).
        confidence: the probability to reach, in (0, 1).
        lr: the L2 length of each step in pixel units (> 0); max_iter: the most steps (>= 1).
        seed: an int or np.random.Generator for the noise (default: minidl's generator).
        normalize: (mean, std) of the model's inputs (default: the model's metadata).
    Returns float64 images (N, C, H, W) in [0, 1]; those that did not reach the confidence within
    max_iter steps are the last iterate (``attack_report`` counts them as failures).
    """
    where = "fooling_from_noise"
    net = pixel_model(model, normalize, where)
    shape = tuple(image_shape) if image_shape is not None else net.image_shape
    if shape is None or len(shape) != 3 or any(side is None for side in shape):
        raise ValueError(f"{where}: the model does not record its image size; pass image_shape=(C, H, W)")
    if not 0 < confidence < 1:
        raise ValueError(f"{where}: confidence must lie strictly between 0 and 1, got {confidence!r}")
    max_iter = _check_step(where, lr, max_iter)
    count = np.size(target.detach() if isinstance(target, Tensor) else target)
    blank = net.check_images(where, np.zeros((1, *shape)))
    targets = check_classes(where, "target", np.atleast_1d(target), count, count_classes(net, blank))
    rng = get_generator() if seed is None else np.random.default_rng(seed)
    fooling = rng.uniform(0.0, 1.0, size=(count, *shape))
    with inspecting(net):
        for _ in range(max_iter):
            active = _target_probabilities(net, fooling, targets) < confidence
            if not active.any():
                break
            gradient, _ = objective_gradient(net, fooling[active], _target_log_probabilities(targets[active]))
            fooling[active] = np.clip(fooling[active] + lr * steepest_direction(gradient, "l2"), 0.0, 1.0)
    return fooling


def _target_probabilities(net, images, targets):
    """p_{t_i}(x_i), the softmax probability of each image's target; (N,) float64."""
    with no_grad():
        probabilities = F.softmax(net(Tensor(images.astype(net.compute_dtype()))), dim=1)
    return np.asarray(probabilities, dtype=np.float64)[np.arange(len(images)), targets]
