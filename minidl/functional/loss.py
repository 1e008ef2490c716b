"""Loss functions on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.loss``. Class targets may be given as an integer ndarray, a
list or an integer Tensor; they are checked here (dtype, shape, range) because a wrong target
would otherwise index the wrong score, or wrap around, without any error.
"""

import numpy as np

from minidl.function import from_pair
from minidl.functional.checks import check_fraction, float_tensor
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


def _class_scores_and_targets(layer, input, target):
    """Check (N, C, d1, ...) scores against targets of shape (N, d1, ...) holding classes in [0, C)."""
    scores = float_tensor(layer, input)
    if scores.ndim < 2:
        raise ValueError(
            f"{layer}: expected input of shape (N, C) or (N, C, d1, ...) with one row of class "
            f"scores per example, got shape {scores.shape}"
        )
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
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
    classes = scores.shape[1]
    outside = labels[(labels < 0) | (labels >= classes)]
    if outside.size:
        raise IndexError(
            f"{layer}: target holds class {outside.flat[0]}, outside [0, {classes}) for an input "
            f"with C={classes} classes"
        )
    return scores, labels.astype(np.intp, copy=False)


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross entropy of class scores ``input`` (N, C) or (N, C, d1, ...) against integer
    class ``target`` (N,) or (N, d1, ...).

    ``label_smoothing`` in [0, 1] mixes the one-hot target with the uniform distribution, as in
    PyTorch: q = (1 - label_smoothing) * onehot + label_smoothing / C.
    Returns a scalar Tensor, or the per-prediction losses of target's shape for reduction='none'.
    """
    scores, labels = _class_scores_and_targets("cross_entropy", input, target)
    _check_reduction("cross_entropy", reduction)
    check_fraction("cross_entropy", "label_smoothing", label_smoothing)
    return CrossEntropy.apply(scores, labels, label_smoothing=float(label_smoothing), reduction=reduction)


def nll_loss(input, target, reduction="mean"):
    """Negative log-likelihood -input[i, target_i] of log-probabilities ``input`` (N, C) or
    (N, C, d1, ...); ``nll_loss(log_softmax(x, 1), y)`` equals ``cross_entropy(x, y)``."""
    log_probs, labels = _class_scores_and_targets("nll_loss", input, target)
    _check_reduction("nll_loss", reduction)
    return NLLLoss.apply(log_probs, labels, reduction=reduction)


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
