"""Fully connected layer and the two shape helpers a classifier head needs."""

import math

import numpy as np

from minidl import functional as F
from minidl.functional.checks import check_int
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class Linear(Module):
    """y = x W^T + b (``F.linear``), the fully connected layer.

    Input (..., in_features), output (..., out_features).
    Parameters: ``weight`` (out_features, in_features) and ``bias`` (out_features,) or None,
    initialised as in PyTorch: W ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (that is
    ``kaiming_uniform_`` with a=sqrt(5)), and b from the same range.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = check_int("Linear", "in_features", in_features, minimum=0)
        self.out_features = check_int("Linear", "out_features", out_features, minimum=0)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def reset_weight_and_bias(weight, bias):
    """PyTorch's default init of Linear and Conv layers.

    kaiming_uniform_ with a=sqrt(5) gives gain = sqrt(2 / (1 + 5)) = sqrt(1/3), so
    bound = sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in); the bias uses the same bound.
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer: ``model.fc = Identity()``).
    Any constructor arguments are ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (``F.flatten``); by default keeps the batch
    axis: (N, C, H, W) -> (N, C*H*W), the step between convolutional features and a Linear."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
