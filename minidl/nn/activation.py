"""Activation layers: Modules around the elementwise functions of ``minidl.functional``.

They hold no parameters. Having them as modules lets a network list them in a Sequential and
lets hooks reach them, e.g. guided backpropagation replaces the gradient through every ReLU.
Output: the input's shape.
"""

from minidl import functional as F
from minidl.functional.activation import check_gelu_approximation
from minidl.nn.module import Module


class ReLU(Module):
    """max(x, 0); gradient dout where x > 0, else 0.

    ``inplace`` is accepted so that PyTorch code runs (``nn.ReLU(inplace=True)``); minidl always
    returns a new tensor with the same values, which is what ``x = relu(x)`` uses.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x (``inplace`` accepted, as for ReLU)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = bool(inplace)

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; approximate="tanh" for the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        check_gelu_approximation("GELU", approximate)
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (e.g. dim=1 for (N, C) class scores)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably; pair it with NLLLoss."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
