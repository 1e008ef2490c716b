"""conv2d and conv_transpose2d on Tensors, with PyTorch's arguments and argument checks.

The math lives in ``minidl.layers.conv``; these functions check what they are given, turn ints
into (vertical, horizontal) pairs and call the autograd wrappers of the layer pairs.
"""

from minidl import kernels
from minidl.function import from_pair
from minidl.layers.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
)
from minidl.tensor import Tensor

__all__ = ["conv2d", "conv_transpose2d"]

Conv2d = from_pair("Conv2d", conv2d_forward, conv2d_backward, skips_input_grad=True)
ConvTranspose2d = from_pair("ConvTranspose2d", conv_transpose2d_forward, conv_transpose2d_backward)


def _check_tensors(layer, input, weight, bias):
    """Input and weight are 4-D float Tensors of one dtype; bias is None or a 1-D Tensor of it too."""
    for name, value in (("input", input), ("weight", weight), ("bias", bias)):
        if name == "bias" and value is None:
            continue
        if not isinstance(value, Tensor):
            raise TypeError(f"{layer}: {name} must be a Tensor, got {type(value).__name__}")
        if value.dtype.kind != "f":
            raise TypeError(f"{layer}: {name} must have a floating point dtype, got {value.dtype}")
    if input.ndim != 4:
        raise ValueError(f"{layer}: input must be 4-D (N, C, H, W), got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{layer}: weight must be 4-D, got shape {weight.shape}")
    if weight.dtype != input.dtype:
        raise TypeError(f"{layer}: input has dtype {input.dtype} but weight has dtype {weight.dtype}")
    if bias is not None and bias.dtype != input.dtype:
        raise TypeError(f"{layer}: input has dtype {input.dtype} but bias has dtype {bias.dtype}")


def _check_groups(layer, groups, channels, what):
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive int, got {groups!r}")
    if channels % groups != 0:
        raise ValueError(f"{layer}: groups={groups} must divide the number of {what}, {channels}")


def _check_bias(layer, bias, out_channels):
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(
            f"{layer}: bias must have shape ({out_channels},), one value per output channel, "
            f"got shape {bias.shape}"
        )


def _same_padding(kernel, dilation):
    """Padding that keeps H and W at stride 1, as PyTorch's padding='same' chooses it.

    The kernel spans D*(K-1)+1 pixels, so D*(K-1) pixels of padding are needed in all, half on
    each side. When that total is odd, PyTorch puts the extra pixel at the bottom/right.
    Returns ((top, left), (extra_bottom, extra_right)), the extras being 0 or 1.
    """
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of ``input`` with ``weight``, like ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W) float Tensor.
        weight: (F, C/groups, KH, KW) Tensor of the same dtype.
        bias: (F,) Tensor or None.
        stride, dilation: int or pair of ints, >= 1.
        padding: int or pair of ints >= 0 (zeros on both sides), ``'valid'`` (no padding) or
            ``'same'`` (output as large as the input; stride must be 1).
        groups: C and F are split into this many blocks, block g of the filters seeing only
            block g of the channels; groups = C is a depthwise convolution.
    Returns:
        (N, F, H', W') Tensor, H' = floor((H + 2*PH - DH*(KH-1) - 1)/SH) + 1, likewise W'.
    """
    layer = "conv2d"
    _check_tensors(layer, input, weight, bias)
    in_channels, (out_channels, channels_per_group, kh, kw) = input.shape[1], weight.shape
    _check_groups(layer, groups, in_channels, "input channels")
    _check_groups(layer, groups, out_channels, "output channels (weight.shape[0])")
    if in_channels != channels_per_group * groups:
        raise ValueError(
            f"{layer}: input has {in_channels} channels but weight of shape {weight.shape} with "
            f"groups={groups} expects weight.shape[1]*groups = {channels_per_group}*{groups} = "
            f"{channels_per_group * groups}"
        )
    _check_bias(layer, bias, out_channels)
    stride = kernels.pair(stride, "stride", layer)
    dilation = kernels.pair(dilation, "dilation", layer)
    kernels.check_positive(stride, "stride", layer)
    kernels.check_positive(dilation, "dilation", layer)

    extra = (0, 0)
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{layer}: padding='same' needs stride 1, got stride={stride}")
        padding, extra = _same_padding((kh, kw), dilation)
    elif isinstance(padding, str):
        raise ValueError(f"{layer}: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}")
    else:
        padding = kernels.pair(padding, "padding", layer)
        kernels.check_non_negative(padding, "padding", layer)

    # 'same' with an odd total padding: pad one more pixel on both sides of that axis, then drop
    # the first output row/column, the one whose window used the pixel that PyTorch does not pad.
    padding = (padding[0] + extra[0], padding[1] + extra[1])
    out = Conv2d.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if extra != (0, 0):
        out = out[:, :, extra[0]:, extra[1]:]
    return out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, like ``torch.nn.functional.conv_transpose2d`` (same argument order).

    Args:
        input: (N, C_in, H, W) float Tensor.
        weight: (C_in, C_out/groups, KH, KW) Tensor of the same dtype.
        bias: (C_out,) Tensor or None.
        stride, dilation: int or pair of ints, >= 1.
        padding: int or pair of ints >= 0, removed from both sides of the output.
        output_padding: int or pair of ints added to the bottom/right of the output; each must be
            smaller than the stride or the dilation of its axis.
        groups: C_in and C_out are split into this many blocks.
    Returns:
        (N, C_out, H_out, W_out) Tensor, H_out = (H-1)*SH - 2*PH + DH*(KH-1) + output_padding_h + 1.
    """
    layer = "conv_transpose2d"
    _check_tensors(layer, input, weight, bias)
    in_channels, (weight_in_channels, out_channels_per_group, _, _) = input.shape[1], weight.shape
    _check_groups(layer, groups, weight_in_channels, "input channels (weight.shape[0])")
    if in_channels != weight_in_channels:
        raise ValueError(
            f"{layer}: input has {in_channels} channels but weight of shape {weight.shape} expects "
            f"weight.shape[0] = {weight_in_channels}"
        )
    _check_bias(layer, bias, out_channels_per_group * groups)
    stride = kernels.pair(stride, "stride", layer)
    dilation = kernels.pair(dilation, "dilation", layer)
    padding = kernels.pair(padding, "padding", layer)
    output_padding = kernels.pair(output_padding, "output_padding", layer)
    kernels.check_positive(stride, "stride", layer)
    kernels.check_positive(dilation, "dilation", layer)
    kernels.check_non_negative(padding, "padding", layer)
    kernels.check_non_negative(output_padding, "output_padding", layer)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"{layer}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )

    return ConvTranspose2d.apply(input, weight, bias, stride=stride, padding=padding,
                                 output_padding=output_padding, dilation=dilation, groups=groups)
