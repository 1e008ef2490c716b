"""Loss functions on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.loss``. Class targets may be given as an integer ndarray, a
list or an integer Tensor; they are checked here (dtype, shape, range) because a wrong target
would otherwise index the wrong score, or wrap around, without any error. Class weights are
constants, passed to the layers as arrays.
"""

import numpy as np

from minidl.function import from_pair
from minidl.functional.checks import check_fraction, float_tensor
from minidl.grad_mode import is_grad_enabled
from minidl.kernels import is_int
from minidl.layers.loss import (
    cross_entropy_backward,
    cross_entropy_forward,
    mse_loss_backward,
    mse_loss_forward,
    nll_loss_backward,
    nll_loss_forward,
)
from minidl.tensor import Tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss"]

CrossEntropy = from_pair("CrossEntropy", cross_entropy_forward, cross_entropy_backward)
NLLLoss = from_pair("NLLLoss", nll_loss_forward, nll_loss_backward)
MSELoss = from_pair("MSELoss", mse_loss_forward, mse_loss_backward)

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(layer, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{layer}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _class_scores_and_targets(layer, input, target, ignore_index):
    """Check (N, C, d1, ...) scores against targets of shape (N, d1, ...) holding classes in
    [0, C) or ``ignore_index``."""
    scores = float_tensor(layer, input)
    if scores.ndim < 2:
        raise ValueError(
            f"{layer}: expected input of shape (N, C) or (N, C, d1, ...) with one row of class "
            f"scores per example, got shape {scores.shape}"
        )
    labels = np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{layer}: target must hold integer class indices, got dtype {labels.dtype} "
            f"(class-probability targets are not supported)"
        )
    expected = scores.shape[:1] + scores.shape[2:]
    if labels.shape != expected:
        raise ValueError(
            f"{layer}: input of shape {scores.shape} needs a target of shape {expected} "
            f"(one class per prediction), got shape {labels.shape}"
        )
    if not is_int(ignore_index):
        raise TypeError(f"{layer}: ignore_index must be an int, got {ignore_index!r}")
    classes = scores.shape[1]
    outside = labels[((labels < 0) | (labels >= classes)) & (labels != ignore_index)]
    if outside.size:
        raise IndexError(
            f"{layer}: target holds class {outside.flat[0]}, outside [0, {classes}) for an input "
            f"with C={classes} classes (and not ignore_index={ignore_index})"
        )
    return scores, labels.astype(np.intp, copy=False)


def _class_weights(layer, weight, scores):
    """``weight`` as an ndarray of shape (C,) in the scores' dtype, or None. Class weights are
    constants: PyTorch refuses one that requires a gradient, and so does minidl."""
    if weight is None:
        return None
    weight = float_tensor(layer, weight, "weight", like=scores)
    classes = scores.shape[1]
    if weight.shape != (classes,):
        raise ValueError(
            f"{layer}: weight must hold one weight per class, shape ({classes},) for an input with "
            f"C={classes} classes, got shape {weight.shape}"
        )
    if weight.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{layer}: weight requires a gradient, but the loss is not differentiable with respect to "
            f"its class weights; pass weight.detach()"
        )
    return weight.numpy()


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross entropy of class scores ``input`` (N, C) or (N, C, d1, ...) against integer
    class ``target`` (N,) or (N, d1, ...).

    Args:
        input, target: as above; target values equal to ``ignore_index`` are skipped.
        weight: (C,) class weights, or None. Each loss is scaled by its target class's weight,
            and 'mean' divides by the summed weight of the kept targets (PyTorch's weighted
            mean), not by their number.
        ignore_index: a target value that marks a prediction to skip (default -100): it adds
            no loss, counts for nothing in the mean and gets no gradient.
        reduction: 'mean', 'sum' or 'none' (the per-prediction losses, of target's shape).
        label_smoothing: in [0, 1]; mixes the one-hot target with the uniform distribution, as
            in PyTorch: q = (1 - label_smoothing) * onehot + label_smoothing / C.
    The options after ``weight`` are keyword-only (PyTorch's deprecated size_average and
    reduce sit between them, so a positional call cannot mean the same here).
    Returns:
        a scalar Tensor, or the per-prediction losses of target's shape for reduction='none'.
    """
    scores, labels = _class_scores_and_targets("cross_entropy", input, target, ignore_index)
    _check_reduction("cross_entropy", reduction)
    check_fraction("cross_entropy", "label_smoothing", label_smoothing)
    return CrossEntropy.apply(scores, labels, weight=_class_weights("cross_entropy", weight, scores),
                              ignore_index=ignore_index, label_smoothing=float(label_smoothing), reduction=reduction)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood -weight[y_i] * input[i, y_i] of log-probabilities ``input`` (N, C)
    or (N, C, d1, ...); ``nll_loss(log_softmax(x, 1), y)`` equals ``cross_entropy(x, y)``.
    ``weight``, ``ignore_index`` and ``reduction`` as for ``cross_entropy``."""
    log_probs, labels = _class_scores_and_targets("nll_loss", input, target, ignore_index)
    _check_reduction("nll_loss", reduction)
    return NLLLoss.apply(log_probs, labels, weight=_class_weights("nll_loss", weight, log_probs),
                         ignore_index=ignore_index, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)^2, reduced by ``reduction``.

    ``target`` must have input's shape (nothing is broadcast). A Tensor target may require a
    gradient and then receives one; an ndarray or list target is data and is converted to
    input's dtype.
    """
    x = float_tensor("mse_loss", input)
    if isinstance(target, Tensor):
        y = float_tensor("mse_loss", target, "target", like=x)
    else:
        y = float_tensor("mse_loss", np.asarray(target), "target").astype(x.dtype)
    if y.shape != x.shape:
        raise ValueError(
            f"mse_loss: input has shape {x.shape} but target has shape {y.shape}; they must match "
            f"(no broadcasting)"
        )
    _check_reduction("mse_loss", reduction)
    return MSELoss.apply(x, y, reduction=reduction)
