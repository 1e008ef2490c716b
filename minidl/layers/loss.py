"""Loss functions as forward/backward pairs: cross entropy, negative log-likelihood, mean squared error.

Each loss is computed per element, then reduced as PyTorch does with ``reduction``:
'mean' averages over the M per-element losses, 'sum' adds them, 'none' returns them all.
The backward pass therefore scales each element's gradient by d(reduced)/d(loss_i):
1/M for 'mean', 1 for 'sum', dout_i for 'none'. The classification losses may weight the
classes and skip targets equal to ``ignore_index``; their 'mean' then divides by the summed
weight of the kept targets instead of M, as PyTorch does.

Classification losses take scores of shape (N, C), or (N, C, d1, d2, ...) for a prediction
at every position (e.g. per-pixel segmentation), with integer targets of shape (N,) or
(N, d1, d2, ...) holding a class in [0, C) (or ignore_index) for each prediction.
Arguments are assumed valid: ``minidl.functional`` checks them.
"""

import numpy as np

from minidl.layers.activation import log_softmax_forward


def _classes_last(scores):
    """(N, C, d1, ...) -> (M, C): one row of C class scores per prediction, M = N * d1 * ..."""
    return np.moveaxis(scores, 1, -1).reshape(-1, scores.shape[1])


def _classes_back(rows, shape):
    """Inverse of ``_classes_last``: (M, C) rows back to ``shape`` = (N, C, d1, ...)."""
    return np.moveaxis(rows.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _reduce(losses, reduction, total=None):
    """Reduce the per-element losses as asked; 'none' keeps them with their shape.

    'mean' divides the sum by ``total``: the number of losses by default, the summed weight of
    the targets for weighted classification losses.
    """
    if reduction == "none":
        return losses
    if reduction == "sum":
        return np.asarray(losses.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        # No losses (an empty batch, every target ignored) means 0/0: nan, as in PyTorch, silently.
        return np.asarray(losses.sum() / (losses.size if total is None else total))


def _loss_weights(dout, shape, reduction, total=None):
    """d(reduced loss)/d(loss_i) times dout, one value per element, for losses of ``shape``:
    dout / total for 'mean' (``total`` as in ``_reduce``), dout for 'sum', dout_i for 'none'."""
    if reduction == "none":
        return dout
    if reduction == "sum":
        return np.broadcast_to(dout, shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.broadcast_to(dout / (int(np.prod(shape)) if total is None else total), shape)


def _target_weights(target, weight, ignore_index, dtype):
    """Per prediction: its class (0 where ignored, so it can index), its weight w_i = weight[class]
    (1 without class weights, 0 where target == ignore_index) and the mask of kept predictions."""
    classes = target.reshape(-1)
    kept = classes != ignore_index
    classes = np.where(kept, classes, 0)
    weights = np.ones(len(classes), dtype) if weight is None else weight[classes].astype(dtype, copy=False)
    return classes, np.where(kept, weights, 0).astype(dtype, copy=False), kept


def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    """Softmax cross entropy: loss_i = -sum_c q_ic * log softmax(logits_i)_c.

    The target distribution q_i is the one-hot vector of the class y_i = target_i, smoothed and
    weighted as in PyTorch, with w the class weights (all 1 when ``weight`` is None):

        q_ic = (1 - label_smoothing) * w_{y_i} * [c = y_i] + label_smoothing * w_c / C

    Without smoothing this is loss_i = -w_{y_i} * log softmax(logits_i)[y_i]. A prediction
    whose target is ``ignore_index`` has q_i = 0: it costs nothing and gets no gradient. The
    log-probabilities come from a stable log_softmax, so logits of any size give a finite loss.

    'mean' divides the summed loss by the summed weight of the kept targets, sum_i w_{y_i}, not
    by their number: with class weights this is PyTorch's weighted mean, and ignored targets
    count for nothing (all ignored: 0/0 = nan, as in PyTorch).

    Args:
        logits: (N, C) or (N, C, d1, ...) unnormalised class scores.
        target: (N,) or (N, d1, ...) integers in [0, C), or ignore_index.
        weight: (C,) class weights, or None.
        ignore_index: the target value that marks a prediction to skip.
        label_smoothing: in [0, 1].
        reduction: 'mean', 'sum' or 'none'.
    Returns:
        loss: a scalar (0-d array), or the per-element losses of target's shape for 'none'.
        cache: (softmax probabilities and q as (M, C) rows, the kept mask, logits shape,
            reduction, the summed weight).
    """
    rows = _classes_last(logits)
    log_probs, (probs, _) = log_softmax_forward(rows, dim=1)
    count, classes = rows.shape
    picked, target_weight, kept = _target_weights(target, weight, ignore_index, rows.dtype)
    q = np.zeros_like(rows)
    q[np.arange(count), picked] = (1 - label_smoothing) * target_weight
    if label_smoothing:
        class_weight = np.ones(classes, rows.dtype) if weight is None else weight
        q += np.where(kept[:, None], label_smoothing / classes * class_weight, 0).astype(rows.dtype, copy=False)
    losses = np.sum(q * -log_probs, axis=1).reshape(target.shape)  # ignored rows: +0, not -0
    total = target_weight.sum()
    return _reduce(losses, reduction, total), (probs, q, kept, logits.shape, reduction, total)


def cross_entropy_backward(dout, cache):
    """dlogits_i = (softmax(logits_i) * sum_c q_ic - q_i) * g_i, with g_i = dout / sum_k w_{y_k}
    ('mean'), dout ('sum') or dout_i ('none'), and 0 for ignored predictions.

    d/dlogits of -sum_c q_c (logits_c - log sum_k exp(logits_k)) is -q + softmax * sum_c q_c.
    Without class weights q_i sums to 1 and this is the familiar softmax - onehot.

    Returns:
        (dlogits, None): no gradient for the integer target.
    """
    probs, q, kept, shape, reduction, total = cache
    scale = np.where(kept, _loss_weights(dout, kept.shape, reduction, total).reshape(-1), 0)
    rows = (probs * q.sum(axis=1, keepdims=True) - q) * scale[:, None]
    return _classes_back(rows.astype(probs.dtype, copy=False), shape), None


def nll_loss_forward(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: loss_i = -w_{y_i} * log_probs[i, y_i], 0 where y_i = ignore_index.

    Applied to log_softmax outputs this is cross entropy: F.nll_loss(F.log_softmax(x, 1), y).
    'mean' divides by the summed weight of the kept targets, as cross entropy does.

    Args:
        log_probs: (N, C) or (N, C, d1, ...) log-probabilities (any scores are accepted).
        target: (N,) or (N, d1, ...) integers in [0, C), or ignore_index.
        weight: (C,) class weights, or None (all 1).
        ignore_index: the target value that marks a prediction to skip.
        reduction: 'mean', 'sum' or 'none'.
    Returns:
        loss: a scalar (0-d array), or the per-element losses of target's shape for 'none'.
        cache: (the flat classes, their weights, the kept mask, log_probs shape and dtype,
            reduction, the summed weight).
    """
    rows = _classes_last(log_probs)
    picked, target_weight, kept = _target_weights(target, weight, ignore_index, rows.dtype)
    losses = np.where(kept, -target_weight * rows[np.arange(len(rows)), picked], 0).reshape(target.shape)
    total = target_weight.sum()
    return (_reduce(losses.astype(rows.dtype, copy=False), reduction, total),
            (picked, target_weight, kept, log_probs.shape, log_probs.dtype, reduction, total))


def nll_loss_backward(dout, cache):
    """dlog_probs is 0 except at each kept element's target class, where it is -w_{y_i} * g_i
    (g_i = dout / sum_k w_{y_k} for 'mean', dout for 'sum', dout_i for 'none').

    Returns:
        (dlog_probs, None): no gradient for the integer target.
    """
    picked, target_weight, kept, shape, dtype, reduction, total = cache
    rows = np.zeros((len(picked), shape[1]), dtype=dtype)
    scale = np.where(kept, _loss_weights(dout, kept.shape, reduction, total).reshape(-1), 0)
    rows[np.arange(len(picked)), picked] = -target_weight * scale
    return _classes_back(rows, shape), None


def mse_loss_forward(input, target, reduction="mean"):
    """Mean squared error: loss_i = (input_i - target_i)^2 elementwise.

    Args:
        input, target: arrays of the same shape.
        reduction: 'mean', 'sum' or 'none'.
    Returns:
        loss: a scalar (0-d array), or the elementwise losses of input's shape for 'none'.
        cache: (input - target, reduction).
    """
    diff = input - target
    return _reduce(diff * diff, reduction), (diff, reduction)


def mse_loss_backward(dout, cache):
    """dinput = 2 * (input - target) * w_i and dtarget = -dinput
    (w_i = 1/M for 'mean', 1 for 'sum', dout_i for 'none')."""
    diff, reduction = cache
    dinput = 2 * diff * _loss_weights(dout, diff.shape, reduction)
    return dinput, -dinput
