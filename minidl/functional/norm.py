"""Batch normalization on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.norm``. The running statistics are plain arrays (buffers, not
parameters): they receive no gradient and are updated in place during training.
"""

import numpy as np

from minidl.function import from_pair
from minidl.functional.checks import check_fraction, float_tensor
from minidl.layers.norm import batch_norm_backward, batch_norm_forward
from minidl.tensor import Tensor

__all__ = ["batch_norm"]

BatchNorm = from_pair("BatchNorm", batch_norm_forward, batch_norm_backward)


def _running_statistic(name, value, channels):
    """The ndarray behind a running statistic (so that in-place updates reach the caller's array)."""
    if value is None:
        return None
    array = value.numpy() if isinstance(value, Tensor) else value
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"batch_norm: {name} must be an ndarray or a Tensor (it is updated in place), "
            f"got {type(value).__name__}"
        )
    if array.dtype.kind != "f":
        raise TypeError(f"batch_norm: {name} must be floating point, got dtype {array.dtype}")
    if array.shape != (channels,):
        raise ValueError(
            f"batch_norm: {name} has shape {array.shape} but the input has C={channels} channels; "
            f"expected shape ({channels},)"
        )
    return array


def _affine_parameter(name, value, x):
    """``weight`` or ``bias`` as a Tensor of shape (C,) and x's dtype, or None."""
    if value is None:
        return None
    value = float_tensor("batch_norm", value, name, like=x)
    if value.shape != (x.shape[1],):
        raise ValueError(
            f"batch_norm: {name} has shape {value.shape} but the input has C={x.shape[1]} channels; "
            f"expected shape ({x.shape[1]},)"
        )
    return value


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel (axis 1) of ``input``, then scale by ``weight`` and shift by ``bias``.

    Args:
        input: (N, C), (N, C, L) or (N, C, H, W).
        running_mean, running_var: (C,) ndarrays or Tensors. With ``training=True`` the batch
            statistics are used and these are updated in place (they may be None: no tracking);
            with ``training=False`` they are the statistics used, and are required.
        weight, bias: (C,) or None, the affine gamma and beta.
        training: batch statistics (True) or running statistics (False). Default False, as in
            PyTorch; ``nn.BatchNorm2d`` passes its module's mode.
        momentum, eps: see ``minidl.layers.norm.batch_norm_forward``.
    Returns:
        a Tensor of the input's shape.
    """
    x = float_tensor("batch_norm", input)
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of shape (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}"
        )
    channels = x.shape[1]
    if training and x.shape[0] * int(np.prod(x.shape[2:])) < 2:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training (the batch variance "
            f"of a single value is 0), got input of shape {x.shape}"
        )
    check_fraction("batch_norm", "momentum", momentum)
    running_mean = _running_statistic("running_mean", running_mean, channels)
    running_var = _running_statistic("running_var", running_var, channels)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    weight = _affine_parameter("weight", weight, x)
    bias = _affine_parameter("bias", bias, x)
    return BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                           training=bool(training), momentum=momentum, eps=eps)
