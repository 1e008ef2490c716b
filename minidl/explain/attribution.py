"""What every attribution method shares: the inputs, the target class, the model's state, and
the gradient of the target's score.

An attribution method answers "which parts of the input made the model give this score?" with a
map of the input's shape. Every method here is called as in Captum,

    attributions = Saliency(model).attribute(inputs, target=3)      # (N, C, H, W) -> (N, C, H, W)

and follows the same rules:

- ``inputs`` is a batch, (N, C, H, W) for a convolutional network: a Tensor or an ndarray of
  floats. The result is a Tensor of the same shape and dtype (float64 in, float64 out), outside
  the graph. The caller's tensor is never changed: its ``requires_grad`` and ``grad`` stay as
  they were, because the gradient is taken with respect to a fresh copy.
- ``target`` picks the score S_n = f(x_n)[target_n] to explain: an int (the same class for every
  example), a list, ndarray or Tensor of one class per example, or a one-element Tensor. The
  score is the *logit*, the model's output before any softmax (Simonyan et al. 2014: the softmax
  of a class can rise because the other classes fall). ``target=None`` is allowed only for a
  model with one output per example, as in Captum.
- The model runs in evaluation mode (dropout off, batch norm on its running statistics) and is
  put back in the modes it had; its parameters' ``grad`` are left untouched.
- A target out of range, a layer the model does not have, images with the wrong channels or
  size: a one-line ValueError naming the method, what was expected and what came.
"""

import contextlib
import difflib
from collections import namedtuple

import numpy as np

from minidl.functional.checks import float_tensor
from minidl.grad_mode import enable_grad, no_grad
from minidl.nn import Conv2d, Module
from minidl.relu_rules import relu_rule
from minidl.tensor import Tensor

__all__ = ["Attribution", "inspecting", "check_inputs", "class_scores", "check_targets", "repeat_targets",
           "find_layer", "target_gradient", "target_scores", "broadcast_baselines", "input_gradient",
           "TargetGradient"]

# What ``target_gradient`` computes: dS/dx (N, *input), the scores f(x) (N, K), and, when a layer is
# watched, its output A and dS/dA (both of the layer's output shape; None otherwise).
TargetGradient = namedtuple("TargetGradient", ["input_grad", "scores", "activation", "activation_grad"])


@contextlib.contextmanager
def inspecting(model):
    """Within the block ``model`` is in evaluation mode and its parameters do not require gradients,
    so that a backward pass reaches the input without writing any parameter's ``grad``. Each
    module's mode and each parameter's ``requires_grad`` are restored afterwards, even on error.
    Any callable that is not a Module passes through unchanged."""
    if not isinstance(model, Module):
        yield
        return
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in flags:
        param.requires_grad = False
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for param, flag in flags:
            param.requires_grad = flag


def check_inputs(method, model, inputs):
    """``inputs`` as a float ndarray (a copy), checked against the model's first convolution.

    A convolutional model takes (N, C, H, W) with C its first Conv2d's ``in_channels``; other
    models take any (N, ...). Integer images are refused (scale them to floats first).
    """
    x = float_tensor(method, inputs, "inputs").numpy().copy()
    if x.ndim < 1:
        raise ValueError(f"{method}: expected a batch of inputs (N, ...), got a single number")
    first_conv = next(((name, m) for name, m in model.named_modules() if isinstance(m, Conv2d)), None) \
        if isinstance(model, Module) else None
    if first_conv is not None:
        name, conv = first_conv
        if x.ndim != 4:
            raise ValueError(f"{method}: expected a batch of images (N, C, H, W), got inputs of shape {x.shape}")
        if x.shape[1] != conv.in_channels:
            raise ValueError(f"{method}: the model's first convolution ({name}) takes {conv.in_channels}-channel "
                             f"images, got inputs of shape {x.shape}")
    return x


def class_scores(method, model, x):
    """The model's output for ``x`` as a 2-D Tensor of scores (N, K); a model with one output per
    example, shape (N,), gives (N, 1). A model that refuses the input's size is a ValueError
    naming the method."""
    try:
        output = model(x)
    except ValueError as error:
        raise ValueError(f"{method}: {error}") from error
    if not isinstance(output, Tensor) or output.ndim not in (1, 2):
        what = f"shape {tuple(output.shape)}" if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"{method}: expected the model to return scores of shape (N, classes), got {what}")
    return output.reshape(-1, 1) if output.ndim == 1 else output


def check_targets(method, target, n, classes):
    """The class index of each of the ``n`` examples, (n,) ints in [0, classes), from ``target``."""
    if target is None:
        if classes != 1:
            raise ValueError(f"{method}: target=None needs a model with one output, this one has {classes} "
                             "classes; pass target=CLASS (an int, or one per example)")
        return np.zeros(n, dtype=np.int64)
    values = _per_example(method, target, n)
    wrong = values[(values < 0) | (values >= classes)]
    if wrong.size:
        raise ValueError(f"{method}: target {wrong[0]} is out of range for a model with {classes} output "
                         f"classes (0 to {classes - 1})")
    return values


def repeat_targets(method, target, n, times):
    """``target`` for ``times`` copies of a batch of ``n`` examples stacked one batch after another
    (row k*n + i is a copy of example i): an (n * times,) array of classes, or None for None.
    Ranges are checked later, by ``check_targets``."""
    if target is None:
        return None
    return np.tile(_per_example(method, target, n), times)


def _per_example(method, target, n):
    """``target`` as (n,) ints: an int or a one-element Tensor for every example, else one each."""
    values = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
    if values.dtype.kind not in "iu" and values.size:
        raise ValueError(f"{method}: target must be a class index (an int) or one per example, got {target!r}")
    if values.size == 1 and (values.ndim == 0 or isinstance(target, Tensor)):
        values = np.full(n, values.reshape(()))
    if values.shape != (n,):
        raise ValueError(f"{method}: expected one target for each of the {n} examples, got {values.size}")
    return values.astype(np.int64)


def find_layer(method, model, layer):
    """The sub-module ``layer`` of ``model``: a module of it, or its dotted name ("features.3")."""
    names = dict(model.named_modules())
    if isinstance(layer, Module):
        if not any(module is layer for module in names.values()):
            raise ValueError(f"{method}: the layer {type(layer).__name__} is not a module of the model")
        return layer
    if not isinstance(layer, str) or layer not in names or layer == "":
        known = [name for name in names if name]
        close = difflib.get_close_matches(str(layer), known, n=3)
        hint = (f"did you mean {' or '.join(close)}?" if close else
                f"its layers are {', '.join(known[:8])}{', ...' if len(known) > 8 else ''}")
        raise ValueError(f"{method}: the model has no layer {layer!r}; {hint} "
                         "(model.named_modules() lists their names)")
    return names[layer]


def target_gradient(method, model, inputs, target, rule="backprop", layer=None):
    """dS/dx for the scores S_n = f(x_n)[target_n] of a batch, with every ReLU using ``rule``.

    Args:
        inputs: the ndarray that ``check_inputs`` returned, (N, ...).
        target: as described in the module docstring.
        rule: "backprop" (the gradient), "guided" or "deconvnet" (``minidl.relu_rules``).
        layer: a module (or its name) whose output A to keep, with dS/dA (for Grad-CAM).
    Returns:
        TargetGradient(input_grad (N, ...) ndarray, scores (N, K) ndarray, activation, activation_grad).
        Since each S_n depends on x_n alone (evaluation mode), one backward pass of sum_n S_n gives
        every example's gradient at once.
    """
    watched = find_layer(method, model, layer) if layer is not None else None
    recorded = []

    def keep_output(module, args, output):
        output.retain_grad()
        recorded.append(output)

    x = Tensor(inputs.copy(), requires_grad=True)
    handle = watched.register_forward_hook(keep_output) if watched is not None else None
    try:
        with inspecting(model), enable_grad():
            with relu_rule(rule):
                scores = class_scores(method, model, x)
            targets = check_targets(method, target, len(inputs), scores.shape[1])
            seed = np.zeros(scores.shape, dtype=scores.dtype)
            seed[np.arange(len(inputs)), targets] = 1
            scores.backward(seed)
    finally:
        if handle is not None:
            handle.remove()
    input_grad = x.grad.numpy() if x.grad is not None else np.zeros_like(inputs)
    if watched is None:
        return TargetGradient(input_grad, scores.numpy(), None, None)
    if not recorded:
        raise ValueError(f"{method}: the layer {layer!r} was not used by the model's forward pass")
    # A module used several times (a shared ReLU) is watched at its last use.
    activation = recorded[-1]
    activation_grad = activation.grad.numpy() if activation.grad is not None else np.zeros(activation.shape)
    return TargetGradient(input_grad, scores.numpy(), activation.numpy(), activation_grad)


def target_scores(method, model, inputs, target, batch_size=None):
    """S_n = f(x_n)[target_n] for each example, an (N,) ndarray, without recording a graph.
    ``batch_size`` bounds how many examples go through the model at once (default: all)."""
    step = batch_size or max(len(inputs), 1)
    targets = None if target is None else _per_example(method, target, len(inputs))
    chosen = []
    with inspecting(model), no_grad():
        for start in range(0, len(inputs), step):
            scores = class_scores(method, model, Tensor(inputs[start:start + step])).numpy()
            picked = check_targets(method, None if targets is None else targets[start:start + step],
                                   len(scores), scores.shape[1])
            chosen.append(scores[np.arange(len(scores)), picked])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=inputs.dtype)


def broadcast_baselines(method, baselines, x):
    """The baselines x' (None: zeros; a number; one input's shape; the inputs' shape) as an array of
    the inputs' shape (N, ...) and dtype."""
    if baselines is None:
        return np.zeros_like(x)
    values = np.asarray(baselines.numpy() if isinstance(baselines, Tensor) else baselines, dtype=x.dtype)
    if values.ndim not in (0, x.ndim - 1, x.ndim) or values.shape != x.shape[x.ndim - values.ndim:]:
        raise ValueError(f"{method}: baselines must be a number or an array of shape {x.shape} or {x.shape[1:]}, "
                         f"got shape {values.shape}")
    return np.broadcast_to(values, x.shape)


class Attribution:
    """The base of the attribution methods: ``Method(model).attribute(inputs, target=...)``.

    ``forward_func`` (Captum's name) is the model: a Module, or any function from a batch of
    inputs to scores (N, K).
    """

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError(f"{type(self).__name__}: expected a model (a callable), got {type(forward_func).__name__}")
        self.forward_func = forward_func

    @property
    def name(self):
        return type(self).__name__

    def attribute(self, inputs, target=None):
        raise NotImplementedError(f"{self.name} must define attribute")


def input_gradient(model, x, target):
    """d f(x)[target] / dx, the gradient of the target's logit with respect to the input.

    Args:
        x: (N, C, H, W) (or (N, ...) for a model without convolutions).
        target: a class, or one per example.
    Returns:
        a Tensor of x's shape: dS_n/dx_n with S_n = f(x_n)[target_n], the logit.
    """
    inputs = check_inputs("input_gradient", model, x)
    return Tensor(target_gradient("input_gradient", model, inputs, target).input_grad)
