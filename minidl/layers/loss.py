"""Loss functions as forward/backward pairs: cross entropy, negative log-likelihood, mean squared error.

Each loss is computed per element, then reduced as PyTorch does with ``reduction``:
'mean' averages over the M per-element losses, 'sum' adds them, 'none' returns them all.
The backward pass therefore scales each element's gradient by d(reduced)/d(loss_i):
1/M for 'mean', 1 for 'sum', dout_i for 'none'.

Classification losses take scores of shape (N, C), or (N, C, d1, d2, ...) for a prediction
at every position (e.g. per-pixel segmentation), with integer targets of shape (N,) or
(N, d1, d2, ...) holding a class in [0, C) for each prediction.
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


def _reduce(losses, reduction):
    """Reduce the per-element losses as asked; 'none' keeps them with their shape."""
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


def _loss_weights(dout, shape, reduction):
    """d(reduced loss)/d(loss_i) times dout, one value per element, for losses of ``shape``."""
    if reduction == "none":
        return dout
    count = int(np.prod(shape)) if reduction == "mean" else 1
    return np.broadcast_to(dout / count, shape)


def cross_entropy_forward(logits, target, label_smoothing=0.0, reduction="mean"):
    """Softmax cross entropy: loss_i = -sum_c q_ic * log softmax(logits_i)_c.

    The target distribution q_i is the one-hot vector of the class target_i, smoothed as in
    PyTorch:  q_i = (1 - label_smoothing) * onehot(target_i) + label_smoothing / C.
    Without smoothing this is loss_i = -log softmax(logits_i)[target_i]. The log-probabilities
    come from a stable log_softmax, so logits of any size give a finite loss.

    Args:
        logits: (N, C) or (N, C, d1, ...) unnormalised class scores.
        target: (N,) or (N, d1, ...) integers in [0, C).
        label_smoothing: in [0, 1].
        reduction: 'mean', 'sum' or 'none'.
    Returns:
        loss: a scalar (0-d array), or the per-element losses of target's shape for 'none'.
        cache: (softmax probabilities as (M, C) rows, q as (M, C) rows, logits shape, reduction).
    """
    rows = _classes_last(logits)
    log_probs, (probs, _) = log_softmax_forward(rows, dim=1)
    classes = rows.shape[1]
    q = np.zeros_like(rows)
    q[np.arange(len(rows)), target.reshape(-1)] = 1 - label_smoothing
    q += label_smoothing / classes
    losses = -np.sum(q * log_probs, axis=1).reshape(target.shape)
    return _reduce(losses, reduction), (probs, q, logits.shape, reduction)


def cross_entropy_backward(dout, cache):
    """dlogits_i = (softmax(logits_i) - q_i) * w_i, with w_i = 1/M ('mean'), 1 ('sum') or dout_i ('none').

    Since q_i sums to 1, d/dlogits of -sum_c q_c (logits_c - log sum_k exp(logits_k)) is
    -q + softmax(logits) * sum_c q_c = softmax - q.

    Returns:
        (dlogits, None): no gradient for the integer target.
    """
    probs, q, shape, reduction = cache
    weights = _loss_weights(dout, (len(probs),), reduction).reshape(-1, 1)
    return _classes_back((probs - q) * weights, shape), None


def nll_loss_forward(log_probs, target, reduction="mean"):
    """Negative log-likelihood: loss_i = -log_probs[i, target_i].

    Applied to log_softmax outputs this is cross entropy: F.nll_loss(F.log_softmax(x, 1), y).

    Args:
        log_probs: (N, C) or (N, C, d1, ...) log-probabilities (any scores are accepted).
        target: (N,) or (N, d1, ...) integers in [0, C).
        reduction: 'mean', 'sum' or 'none'.
    Returns:
        loss: a scalar (0-d array), or the per-element losses of target's shape for 'none'.
        cache: (the flat target, log_probs shape, log_probs dtype, reduction).
    """
    rows = _classes_last(log_probs)
    picked = target.reshape(-1)
    losses = -rows[np.arange(len(rows)), picked].reshape(target.shape)
    return _reduce(losses, reduction), (picked, log_probs.shape, log_probs.dtype, reduction)


def nll_loss_backward(dout, cache):
    """dlog_probs is 0 except at each element's target class, where it is -w_i
    (w_i = 1/M for 'mean', 1 for 'sum', dout_i for 'none').

    Returns:
        (dlog_probs, None): no gradient for the integer target.
    """
    picked, shape, dtype, reduction = cache
    rows = np.zeros((len(picked), shape[1]), dtype=dtype)
    rows[np.arange(len(picked)), picked] = -_loss_weights(dout, (len(picked),), reduction).reshape(-1)
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
