"""Pooling on Tensors with PyTorch's names and arguments: max (with switches), unpool, average.

The math lives in ``minidl.layers.pool``; these functions check what they are given, turn ints
into (vertical, horizontal) pairs and call the autograd wrappers of the layer pairs.
"""

import numpy as np

from minidl import kernels
from minidl.function import from_pair
from minidl.layers.pool import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    max_pool2d_inference,
    max_unpool2d_backward,
    max_unpool2d_forward,
)
from minidl.tensor import Tensor

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d", "adaptive_avg_pool2d", "global_avg_pool2d"]


class MaxPool2d(from_pair("MaxPool2d", max_pool2d_forward, max_pool2d_backward)):
    """Autograd wrapper of ``max_pool2d_forward/backward`` that also hands back the switches.

    ``apply(x, return_indices=..., **options)`` returns (out, switches) when the switches were
    asked for: an int64 Tensor without gradient, as PyTorch's ``return_indices=True`` gives.
    When nothing will be differentiated (``minidl.no_grad()``, or an input that does not
    require a gradient) and the switches were not asked for, the forward pass does not look
    for them at all (``max_pool2d_inference``) and ``apply`` returns out alone.
    """

    @classmethod
    def forward(cls, ctx, x, return_indices=False, **options):
        if not return_indices and not any(ctx.needs_input_grad):
            return max_pool2d_inference(x, **options)
        out = super().forward(ctx, x, **options)
        switches, _ = ctx.cache
        return (out, switches) if return_indices else out


MaxUnpool2d = from_pair("MaxUnpool2d", max_unpool2d_forward, max_unpool2d_backward)
AvgPool2d = from_pair("AvgPool2d", avg_pool2d_forward, avg_pool2d_backward)
AdaptiveAvgPool2d = from_pair("AdaptiveAvgPool2d", adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward)


def _check_input(layer, input):
    """``input`` is a 4-D floating point Tensor (N, C, H, W)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim != 4:
        raise ValueError(f"{layer}: input must be 4-D (N, C, H, W), got a {input.ndim}-D input of shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{layer}: input must have a floating point dtype, got {input.dtype}")


def _window_args(layer, kernel_size, stride, padding, dilation=1):
    """Kernel, stride (defaulting to the kernel, as in PyTorch), padding and dilation as checked pairs."""
    kernel = kernels.pair(kernel_size, "kernel_size", layer)
    stride = kernel if stride is None else kernels.pair(stride, "stride", layer)
    padding = kernels.pair(padding, "padding", layer)
    dilation = kernels.pair(dilation, "dilation", layer)
    kernels.check_positive(kernel, "kernel_size", layer)
    kernels.check_positive(stride, "stride", layer)
    kernels.check_positive(dilation, "dilation", layer)
    kernels.check_non_negative(padding, "padding", layer)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"{layer}: padding must be at most half of the kernel size (PyTorch's rule for pooling), "
            f"got padding {padding} for kernel_size {kernel}"
        )
    return kernel, stride, padding, dilation


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling, like ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W) float Tensor.
        kernel_size: int or pair, >= 1.
        stride: int or pair, >= 1; None means kernel_size (non-overlapping windows).
        padding: int or pair, at most half the kernel; the padding never wins a maximum.
        dilation: int or pair, >= 1: spacing between the taps of a window.
        ceil_mode: round the output size up, keeping a last window that may run past the
            padding (its taps there are ignored), as long as it starts inside the input or the
            left padding.
        return_indices: also return the switches.
    Returns:
        (N, C, H', W') Tensor with H' = floor((H + 2P - D*(K-1) - 1)/S) + 1, or with ceil_mode
        H' = ceil((H + 2P - D*(K-1) - 1)/S) + 1, less 1 if (H' - 1)*S >= H + P; with
        return_indices, (output, indices) where indices is an int64 Tensor of the output's shape
        holding the flat index h*W + w of each maximum in its input plane (first maximum on ties).
    """
    _check_input("max_pool2d", input)
    kernel, stride, padding, dilation = _window_args("max_pool2d", kernel_size, stride, padding, dilation)
    return MaxPool2d.apply(input, return_indices=bool(return_indices), kernel_size=kernel, stride=stride,
                           padding=padding, dilation=dilation, ceil_mode=bool(ceil_mode))


def _unpool_size(input, kernel, stride, padding, output_size):
    """(OH, OW) of max_unpool2d: PyTorch's default (H-1)*S - 2P + K, or the checked ``output_size``.

    Pooling floors the output size, so several input sizes pool to the same H; those lie strictly
    between default - S and default + S, and only they are accepted (as in PyTorch).
    """
    default = tuple((size - 1) * s - 2 * p + k for size, k, s, p in zip(input.shape[2:], kernel, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)
        if not all(kernels.is_int(v) for v in size):
            raise TypeError(f"max_unpool2d: output_size must hold ints, got {output_size!r}")
        if len(size) == 4:
            if size[:2] != input.shape[:2]:
                raise ValueError(
                    f"max_unpool2d: output_size {tuple(output_size)} does not match the input's batch "
                    f"size and channels {input.shape[:2]}"
                )
            size = size[2:]
        if len(size) != 2:
            raise ValueError(f"max_unpool2d: output_size must be (H, W) or (N, C, H, W), got {tuple(output_size)}")
        size = tuple(int(v) for v in size)
        for axis, got, d, s in zip(("height", "width"), size, default, stride):
            if not d - s < got < d + s:
                raise ValueError(
                    f"max_unpool2d: output {axis} {got} cannot have been pooled to the input's "
                    f"{input.shape[2:]} with kernel_size {kernel}, stride {stride}, padding {padding}: "
                    f"it must lie strictly between {d - s} and {d + s} (default (H-1)*S - 2P + K = {d})"
                )
    if min(size) < 1:
        raise ValueError(f"max_unpool2d: the output size {size} must be positive")
    return size


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d, like ``torch.nn.functional.max_unpool2d``.

    Puts every value of ``input`` at its switch in a zero plane; everything else stays 0.

    Args:
        input: (N, C, H, W) float Tensor, typically the output of max_pool2d.
        indices: Tensor or ndarray of integers of input's shape, the switches of max_pool2d.
        kernel_size, stride, padding: those of the max_pool2d (stride None means kernel_size).
        output_size: (OH, OW) or (N, C, OH, OW); default (H-1)*S - 2P + K per axis. Give it
            when the pooled input's size was not a multiple of the stride.
    Returns:
        (N, C, OH, OW) Tensor. Gradients flow to input only.
    """
    _check_input("max_unpool2d", input)
    kernel, stride, padding, _ = _window_args("max_unpool2d", kernel_size, stride, padding)
    index_array = np.asarray(indices)
    if index_array.dtype.kind not in "iu":
        raise TypeError(f"max_unpool2d: indices must be integers (max_pool2d's switches), got dtype {index_array.dtype}")
    if index_array.shape != input.shape:
        raise ValueError(
            f"max_unpool2d: indices must have the input's shape {input.shape}, got {index_array.shape}"
        )
    oh, ow = _unpool_size(input, kernel, stride, padding, output_size)
    if index_array.size and (index_array.min() < 0 or index_array.max() >= oh * ow):
        bad = index_array.min() if index_array.min() < 0 else index_array.max()
        raise ValueError(
            f"max_unpool2d: indices must lie in [0, {oh * ow}) for an output of size {oh}x{ow}, found {bad}"
        )
    return MaxUnpool2d.apply(input, indices, output_size=(oh, ow))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling, like ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W) float Tensor.
        kernel_size: int or pair, >= 1.
        stride: int or pair, >= 1; None means kernel_size.
        padding: int or pair of zeros on each side, at most half the kernel.
        ceil_mode: round the output size up, keeping a last window that may run past the
            padding, as long as it starts inside the input or the left padding.
        count_include_pad: divide by the number of window positions inside the padded input
            (True; KH*KW but for a ceil_mode window running past the padding) or by the number
            of real input elements in the window (False).
    Returns:
        (N, C, H', W') Tensor with H' = floor((H + 2P - K)/S) + 1, or with ceil_mode
        H' = ceil((H + 2P - K)/S) + 1, less 1 if (H' - 1)*S >= H + P.
    """
    _check_input("avg_pool2d", input)
    kernel, stride, padding, _ = _window_args("avg_pool2d", kernel_size, stride, padding)
    return AvgPool2d.apply(input, kernel_size=kernel, stride=stride, padding=padding,
                           count_include_pad=bool(count_include_pad), ceil_mode=bool(ceil_mode))


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given output size, like ``torch.nn.functional.adaptive_avg_pool2d``.

    Args:
        input: (N, C, H, W) float Tensor.
        output_size: int or pair (OH, OW) of positive ints; a None entry keeps the input's size.
            Output row y averages input rows [floor(y*H/OH), ceil((y+1)*H/OH)), likewise columns.
    Returns:
        (N, C, OH, OW) Tensor.
    """
    _check_input("adaptive_avg_pool2d", input)
    size = tuple(output_size) if isinstance(output_size, tuple | list) else (output_size, output_size)
    if len(size) != 2 or not all(v is None or kernels.is_int(v) for v in size):
        raise TypeError(
            f"adaptive_avg_pool2d: output_size must be an int or a pair of ints (None keeps the "
            f"input's size), got {output_size!r}"
        )
    size = tuple(input.shape[2 + axis] if v is None else int(v) for axis, v in enumerate(size))
    if min(size) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {size}")
    return AdaptiveAvgPool2d.apply(input, output_size=size)


def global_avg_pool2d(input):
    """Mean of every channel plane: (N, C, H, W) -> (N, C, 1, 1), adaptive average pooling to 1x1."""
    _check_input("global_avg_pool2d", input)
    return AdaptiveAvgPool2d.apply(input, output_size=(1, 1))
