"""Activation functions on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.activation``; these functions check their arguments and run
the forward/backward pairs as autograd Functions.
"""

from minidl.function import LayerFunction, from_pair
from minidl.functional.checks import dim_index, float_tensor
from minidl.layers.activation import (
    gelu_backward,
    gelu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    log_softmax_backward,
    log_softmax_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from minidl.relu_rules import current_relu_rule, relu_backward_with_rule

__all__ = ["relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax"]


class ReLU(LayerFunction):
    """``layers.activation``'s relu pair as a Function, whose backward pass follows the ReLU rule
    (``minidl.relu_rules``: the gradient, or the guided or deconvnet rule) in force at forward time."""

    layer_forward = staticmethod(relu_forward)
    layer_backward = staticmethod(relu_backward)

    @classmethod
    def forward(cls, ctx, x):
        ctx.relu_rule = current_relu_rule()
        return super().forward(ctx, x)

    @classmethod
    def backward(cls, ctx, dout):
        return (relu_backward_with_rule(ctx.relu_rule, dout, lambda g: relu_backward(g, ctx.cache)),)


LeakyReLU = from_pair("LeakyReLU", leaky_relu_forward, leaky_relu_backward)
GELU = from_pair("GELU", gelu_forward, gelu_backward)
Sigmoid = from_pair("Sigmoid", sigmoid_forward, sigmoid_backward)
Tanh = from_pair("Tanh", tanh_forward, tanh_backward)
Softmax = from_pair("Softmax", softmax_forward, softmax_backward)
LogSoftmax = from_pair("LogSoftmax", log_softmax_forward, log_softmax_backward)


def relu(input, inplace=False):
    """max(input, 0) elementwise; the gradient at 0 is 0. ``inplace`` is accepted for PyTorch
    code; the result is always a new tensor (``x = F.relu(x, inplace=True)`` works the same)."""
    return ReLU.apply(float_tensor("relu", input))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where input > 0, else negative_slope * input (``inplace`` accepted, as for relu)."""
    return LeakyReLU.apply(float_tensor("leaky_relu", input), negative_slope=negative_slope)


def gelu(input, approximate="none"):
    """input * Phi(input), Phi the standard normal CDF; approximate="tanh" uses
    input/2 * (1 + tanh(sqrt(2/pi) * (input + 0.044715 input^3))), as in PyTorch."""
    check_gelu_approximation("gelu", approximate)
    return GELU.apply(float_tensor("gelu", input), approximate=approximate)


def check_gelu_approximation(layer, approximate):
    """``approximate`` must be "none" or "tanh" (``nn.GELU`` checks it when built)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{layer}: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(input):
    """1 / (1 + exp(-input)) elementwise, computed without overflow."""
    return Sigmoid.apply(float_tensor("sigmoid", input))


def tanh(input):
    """tanh(input) elementwise."""
    return Tanh.apply(float_tensor("tanh", input))


def softmax(input, dim):
    """exp(input) / sum(exp(input)) along ``dim`` (the values along dim become probabilities)."""
    x = float_tensor("softmax", input)
    return Softmax.apply(x, dim=dim_index("softmax", dim, x.ndim))


def log_softmax(input, dim):
    """log(softmax(input, dim)), computed stably as input - logsumexp(input) along ``dim``."""
    x = float_tensor("log_softmax", input)
    return LogSoftmax.apply(x, dim=dim_index("log_softmax", dim, x.ndim))
