"""Gradient clipping, between ``loss.backward()`` and ``optimizer.step()``, as in PyTorch.

``clip_grad_norm_`` rescales all gradients together when their joint norm is too large, which
keeps the direction of the step and bounds its length (the usual cure for exploding gradients
in deep or recurrent networks). ``clip_grad_value_`` clamps each gradient entry on its own.
Both change the gradients in place (the trailing underscore) and skip parameters without one.
"""

import numpy as np

from minidl.tensor import Tensor


def _gradients(parameters):
    """The gradient arrays of ``parameters`` (one Tensor or an iterable of them) that have one.

    ``np.asarray(p.grad)`` is the gradient's own array, so changing it changes ``p.grad``.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [np.asarray(p.grad) for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients so that their total norm is at most ``max_norm``.

    The total norm is the norm of all gradients joined into one vector, computed as PyTorch does
    as the norm of the per-parameter norms: for the p-norm,

        total = (sum over parameters of ||g||_p ^ p) ^ (1/p),   total = max ||g||_inf for p = inf.

    Every gradient is then multiplied by min(1, max_norm / (total + 1e-6)): unchanged when the
    total is below max_norm, scaled down to a total of (about) max_norm otherwise.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        max_norm: the largest total norm allowed.
        norm_type: p of the p-norm, a number or ``float("inf")`` (or the string "inf").
        error_if_nonfinite: raise instead of scaling when the total norm is nan or inf (the
            gradients would all become nan or 0).
    Returns:
        the total norm of the gradients BEFORE clipping, as a 0-d Tensor (0 when no parameter
        has a gradient), e.g. to log it.
    """
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(
            f"clip_grad_norm_: norm_type must be a number (inf for the largest entry), got {norm_type!r}"
        ) from None
    grads = _gradients(parameters)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    norms = np.array([np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads])
    total = np.linalg.norm(norms, ord=norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite ({total}), so they "
            "cannot be clipped. To scale them by the non-finite norm anyway, set error_if_nonfinite=False"
        )
    scale = np.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for grad in grads:
        grad *= scale.astype(grad.dtype)
    return Tensor(np.asarray(total))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value], in place.

    Args:
        parameters: a Tensor or an iterable of Tensors.
        clip_value: the largest absolute value allowed.
    """
    clip_value = float(clip_value)
    for grad in _gradients(parameters):
        np.clip(grad, -clip_value, clip_value, out=grad)
