"""Pooling layers: thin Modules that store the window settings and call ``minidl.functional``.

Arguments are checked by the functions on the first call (errors name ``max_pool2d`` etc.).
"""

from minidl import functional as F
from minidl.nn.module import Module


class MaxPool2d(Module):
    """Max over each kH x kW window (``F.max_pool2d``).

    Input (N, C, H, W), output (N, C, H', W') with H' = floor((H + 2P - D*(K-1) - 1)/S) + 1;
    ``stride`` defaults to ``kernel_size``. With ``ceil_mode=True`` the division rounds up,
    H' = ceil((H + 2P - D*(K-1) - 1)/S) + 1, less 1 if the last window would start at or past
    H + P (in the right padding); that last window may run past the padding, whose taps are
    ignored. With ``return_indices=True`` the call returns ``(output, indices)``, the flat
    per-plane index h*W + w of each maximum, for MaxUnpool2d.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """Partial inverse of MaxPool2d (``F.max_unpool2d``): each value goes back to the position
    its maximum came from, zeros elsewhere.

    ``forward(input, indices, output_size=None)``: input and indices (N, C, H, W) from
    ``MaxPool2d(..., return_indices=True)``; output (N, C, H_out, W_out), by default
    H_out = (H - 1)*S - 2P + K, or the size given (e.g. the pooled input's shape).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over each kH x kW window (``F.avg_pool2d``).

    Input (N, C, H, W), output (N, C, H', W') with H' = floor((H + 2P - K)/S) + 1, or with
    ``ceil_mode=True`` H' = ceil((H + 2P - K)/S) + 1, less 1 if the last window would start at
    or past H + P; the part of that window past the padding never counts towards its mean. With
    ``count_include_pad=False`` padded zeros are left out of each mean's denominator too.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode,
                            count_include_pad=self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``F.adaptive_avg_pool2d``), whatever the input size.

    Input (N, C, H, W), output (N, C, OH, OW); window i spans rows floor(i*H/OH) to
    ceil((i+1)*H/OH) - 1 (likewise columns). ``output_size`` is an int or a pair (None keeps that
    input dimension).
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """The mean of each channel plane (``F.global_avg_pool2d``): (N, C, H, W) -> (N, C, 1, 1).

    The same as ``AdaptiveAvgPool2d(1)``; networks such as ResNet use it to turn a feature map
    of any size into one vector per image (follow it with ``Flatten()``).
    """

    def forward(self, input):
        return F.global_avg_pool2d(input)
