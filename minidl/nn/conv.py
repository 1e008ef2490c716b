"""Convolution layers: Conv2d, ConvTranspose2d and the depthwise separable block of MobileNet."""

import numpy as np

from minidl import functional as F
from minidl import kernels
from minidl.functional.checks import check_int
from minidl.nn.linear import reset_weight_and_bias
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: argument checks, parameters, init and repr."""

    def __init__(self, layer, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, transposed, output_padding=0):
        super().__init__()
        in_channels = check_int(layer, "in_channels", in_channels, minimum=1)
        out_channels = check_int(layer, "out_channels", out_channels, minimum=1)
        groups = check_int(layer, "groups", groups, minimum=1)
        if in_channels % groups:
            raise ValueError(f"{layer}: groups={groups} must divide in_channels={in_channels}")
        if out_channels % groups:
            raise ValueError(f"{layer}: groups={groups} must divide out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = kernels.pair(kernel_size, "kernel_size", layer)
        self.stride = kernels.pair(stride, "stride", layer)
        self.dilation = kernels.pair(dilation, "dilation", layer)
        self.output_padding = kernels.pair(output_padding, "output_padding", layer)
        kernels.check_positive(self.kernel_size, "kernel_size", layer)
        kernels.check_positive(self.stride, "stride", layer)
        kernels.check_positive(self.dilation, "dilation", layer)
        if isinstance(padding, str) and not transposed:
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{layer}: padding='same' needs stride 1, got stride={self.stride}")
            self.padding = padding
        else:
            self.padding = kernels.pair(padding, "padding", layer)
            kernels.check_non_negative(self.padding, "padding", layer)

        # Conv2d weights are (out, in/groups, kH, kW): filter f sees in/groups channels.
        # ConvTranspose2d weights are (in, out/groups, kH, kW): input channel c spreads a
        # kH x kW stamp onto out/groups output channels.
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1]*kH*kW,
        and the bias from the same range."""
        reset_weight_and_bias(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer (``F.conv2d``).

    Input (N, in_channels, H, W), output (N, out_channels, H', W') with
    H' = floor((H + 2P - D*(K-1) - 1)/S) + 1 (likewise W').
    Parameters: ``weight`` (out_channels, in_channels/groups, kH, kW), ``bias`` (out_channels,)
    or None. ``padding`` is an int, a pair, ``'valid'`` (0) or ``'same'`` (H' = H, stride 1).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        super().__init__("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, transposed=False)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution ("deconvolution") layer (``F.conv_transpose2d``): the backward
    pass of Conv2d with respect to its input, used to upsample.

    Input (N, in_channels, H, W), output (N, out_channels, H_out, W_out) with
    H_out = (H - 1)*S - 2P + D*(K - 1) + output_padding + 1 (likewise W_out).
    Parameters: ``weight`` (in_channels, out_channels/groups, kH, kW), ``bias`` (out_channels,)
    or None.

    Several output sizes convolve down to the same H with stride S > 1; ``forward(x,
    output_size=(H_out, W_out))`` picks one (it sets output_padding for that call), e.g. to undo
    exactly the Conv2d whose input had that size.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1):
        super().__init__("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, transposed=True, output_padding=output_padding)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output (H_out, W_out) = ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        if not isinstance(output_size, tuple | list) or not all(kernels.is_int(v) for v in output_size):
            raise TypeError(
                f"ConvTranspose2d: output_size must be a tuple or list of ints, (H_out, W_out) or "
                f"(N, C, H_out, W_out), got {output_size!r}"
            )
        size = tuple(output_size)[-2:] if len(output_size) == 4 else tuple(output_size)
        if len(size) != 2:
            raise ValueError(
                f"ConvTranspose2d: output_size must be (H_out, W_out) or (N, C, H_out, W_out), got {output_size!r}"
            )
        padding = []
        for axis, want, n, k, s, p, d in zip(("height", "width"), size, input.shape[-2:], self.kernel_size,
                                             self.stride, self.padding, self.dilation):
            smallest = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want <= smallest + s - 1:
                raise ValueError(
                    f"ConvTranspose2d: requested output {axis} {want}, but for an input {axis} of {n} the "
                    f"valid sizes are {smallest} to {smallest + s - 1} ((H-1)*S - 2P + D*(K-1) + 1 "
                    f"plus an output_padding below the stride {s})"
                )
            padding.append(want - smallest)
        return tuple(padding)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)


class DepthwiseSeparableConv2d(Module):
    """A depthwise convolution followed by a 1x1 pointwise one (MobileNet's building block).

    ``depthwise``: Conv2d(C, C, k, groups=C): each channel filtered by its own k x k kernel
    (spatial mixing only). ``pointwise``: Conv2d(C, F, 1): mixes channels at each pixel. Together
    they approximate a full k x k convolution with C*k*k + C*F weights instead of C*F*k*k.

    Input (N, C, H, W), output (N, F, H', W') with H' as for Conv2d with this kernel, stride,
    padding and dilation. Parameters (with bias): C*k*k + C + C*F + F.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.depthwise = Conv2d(in_channels, in_channels, kernel_size, stride, padding, dilation,
                                groups=in_channels, bias=bias)
        self.pointwise = Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, input):
        return self.pointwise(self.depthwise(input))
