"""Activation functions on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.activation``; these functions check their arguments and run
the forward/backward pairs as autograd Functions. The argument checks that the other
functional modules share (``float_tensor``, ``check_fraction``) live here too.
"""

from minidl.function import from_pair
from minidl.layers.activation import (
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
from minidl.tensor import Tensor

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax"]

ReLU = from_pair("ReLU", relu_forward, relu_backward)
LeakyReLU = from_pair("LeakyReLU", leaky_relu_forward, leaky_relu_backward)
Sigmoid = from_pair("Sigmoid", sigmoid_forward, sigmoid_backward)
Tanh = from_pair("Tanh", tanh_forward, tanh_backward)
Softmax = from_pair("Softmax", softmax_forward, softmax_backward)
LogSoftmax = from_pair("LogSoftmax", log_softmax_forward, log_softmax_backward)


def float_tensor(layer, value, name="input", like=None):
    """``value`` as a Tensor, refusing non-floating data, and a dtype other than ``like``'s if given.

    Layers compute in floating point: integer images must be converted (and usually scaled)
    first, so they are refused rather than silently cast. Parameters must share the input's
    dtype, as in PyTorch, so that float32 and float64 are never mixed by accident.
    """
    tensor = value if isinstance(value, Tensor) else Tensor(value)
    if tensor.dtype.kind != "f":
        raise TypeError(
            f"{layer}: {name} must be a floating point tensor, got dtype {tensor.dtype}; "
            f"convert it first, e.g. x.float()"
        )
    if like is not None and tensor.dtype != like.dtype:
        raise TypeError(
            f"{layer}: {name} has dtype {tensor.dtype} but the input has dtype {like.dtype}; "
            f"convert one of them (.float() or .double())"
        )
    return tensor


def check_fraction(layer, name, value):
    """``value`` must be a number in [0, 1] (a probability, a smoothing or momentum factor)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: {name} must be a number between 0 and 1, got {value!r}")


def dim_index(layer, dim, ndim, name="dim"):
    """``dim`` (negative counts from the end) as a non-negative axis of an ``ndim``-dimensional
    input, with an error when no such axis exists."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{layer}: {name} must be an int, got {dim!r}")
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{layer}: {name} {dim} is out of range for an input with {ndim} dimensions "
            f"(expected a value in [{-ndim}, {ndim - 1}])"
        )
    return dim % ndim


def relu(input):
    """max(input, 0) elementwise; the gradient at 0 is 0."""
    return ReLU.apply(float_tensor("relu", input))


def leaky_relu(input, negative_slope=0.01):
    """input where input > 0, else negative_slope * input."""
    return LeakyReLU.apply(float_tensor("leaky_relu", input), negative_slope=negative_slope)


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
