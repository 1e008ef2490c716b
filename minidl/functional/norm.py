"""Batch, group and layer normalization on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.norm``. Batch norm's running statistics are plain arrays
(buffers, not parameters): they receive no gradient and are updated in place during training.
"""

import numpy as np

from minidl.function import from_pair
from minidl.functional.checks import check_fraction, check_int, float_tensor
from minidl.kernels import is_int
from minidl.layers.norm import (
    batch_norm_backward,
    batch_norm_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from minidl.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm"]


class BatchNorm(from_pair("BatchNorm", batch_norm_forward, batch_norm_backward)):
    """Autograd wrapper of ``batch_norm_forward/backward``: when nothing will be differentiated
    (``minidl.no_grad()``, or no input that requires a gradient) the forward pass computes
    the output alone, without the normalised input that backward would need."""

    @classmethod
    def forward(cls, ctx, *arrays, **options):
        return super().forward(ctx, *arrays, for_backward=any(ctx.needs_input_grad), **options)


GroupNorm = from_pair("GroupNorm", group_norm_forward, group_norm_backward)
LayerNorm = from_pair("LayerNorm", layer_norm_forward, layer_norm_backward)


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


def _affine_parameter(layer, name, value, x, shape, what):
    """``weight`` or ``bias`` as a Tensor of ``shape`` and x's dtype, or None; ``what`` says
    where the expected shape comes from, for the error message."""
    if value is None:
        return None
    value = float_tensor(layer, value, name, like=x)
    if value.shape != shape:
        raise ValueError(f"{layer}: {name} has shape {value.shape} but {what}; expected shape {shape}")
    return value


def _channel_parameter(layer, name, value, x):
    """A per-channel ``weight`` or ``bias``: shape (C,) for C = x.shape[1]."""
    return _affine_parameter(layer, name, value, x, (x.shape[1],), f"the input has C={x.shape[1]} channels")


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
    if training and x.shape[0] * int(np.prod(x.shape[2:])) == 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training (the batch variance "
            f"of a single value is 0), got input of shape {x.shape}"
        )
    check_fraction("batch_norm", "momentum", momentum)
    running_mean = _running_statistic("running_mean", running_mean, channels)
    running_var = _running_statistic("running_var", running_var, channels)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    weight = _channel_parameter("batch_norm", "weight", weight, x)
    bias = _channel_parameter("batch_norm", "bias", bias, x)
    if training and x.numel() == 0:
        # An empty batch has no statistics: as in PyTorch, the output is empty and the running
        # statistics stay as they are (normalising with them touches no value).
        training = False
        running_mean = np.zeros(channels, x.dtype) if running_mean is None else running_mean
        running_var = np.ones(channels, x.dtype) if running_var is None else running_var
    return BatchNorm.apply(x, weight, bias, running_mean=running_mean, running_var=running_var,
                           training=bool(training), momentum=momentum, eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each example over groups of channels, then scale by ``weight`` and shift by ``bias``.

    Args:
        input: (N, C) or (N, C, *spatial), e.g. (N, C, H, W), with C divisible by num_groups.
        num_groups: G; each example's C channels form G groups of C/G consecutive channels, each
            normalised with its own mean and variance (over its channels and positions).
        weight, bias: (C,) or None, a scale and a shift per channel.
        eps: added to the variance.
    Returns:
        a Tensor of the input's shape. The same in training and evaluation: no batch statistics.
    """
    x = float_tensor("group_norm", input)
    if x.ndim < 2:
        raise ValueError(
            f"group_norm: expected input of shape (N, C, *) with at least 2 dimensions, got shape {x.shape}"
        )
    num_groups = check_int("group_norm", "num_groups", num_groups, minimum=1)
    if x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: the input's C={x.shape[1]} channels are not divisible by num_groups={num_groups} "
            f"(input of shape {x.shape})"
        )
    if x.shape[0] * (x.shape[1] // num_groups) * int(np.prod(x.shape[2:])) == 1:
        # PyTorch's check: one example whose groups hold a single value each (they normalise to 0).
        raise ValueError(
            f"group_norm: expected more than 1 value per group, got input of shape {x.shape} with "
            f"num_groups={num_groups} (a single value normalises to 0)"
        )
    weight = _channel_parameter("group_norm", "weight", weight, x)
    bias = _channel_parameter("group_norm", "bias", bias, x)
    return GroupNorm.apply(x, weight, bias, num_groups=num_groups, eps=eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dimensions ``normalized_shape``, then scale and shift elementwise.

    Args:
        input: (*, *normalized_shape), e.g. (N, L, D) tokens with normalized_shape (D,), or
            (N, C, H, W) images with normalized_shape (C, H, W).
        normalized_shape: a tuple or list of ints (as in PyTorch, a bare int is refused here;
            ``nn.LayerNorm`` accepts one).
        weight, bias: Tensors of shape normalized_shape, or None.
        eps: added to the variance.
    Returns:
        a Tensor of the input's shape.
    """
    x = float_tensor("layer_norm", input)
    if not isinstance(normalized_shape, tuple | list) or not all(is_int(d) for d in normalized_shape):
        raise TypeError(
            f"layer_norm: normalized_shape must be a tuple or list of ints, e.g. (D,), got {normalized_shape!r}"
        )
    shape = tuple(int(d) for d in normalized_shape)
    if not shape:
        raise ValueError("layer_norm: normalized_shape must name at least one dimension, got ()")
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(
            f"layer_norm: normalized_shape={shape} expects input of shape (*, {', '.join(map(str, shape))}), "
            f"got input of shape {x.shape}"
        )
    what = f"normalized_shape is {shape}"
    weight = _affine_parameter("layer_norm", "weight", weight, x, shape, what)
    bias = _affine_parameter("layer_norm", "bias", bias, x, shape, what)
    return LayerNorm.apply(x, weight, bias, normalized_shape=shape, eps=eps)
