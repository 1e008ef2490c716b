"""Weight initialisation (``torch.nn.init``): fill a Tensor's array in place with random values.

Why the scale matters: a layer computes sums of ``fan_in`` products w*x. If the weights have
variance Var(w), the output variance is about ``fan_in * Var(w) * Var(x)``; unless
``fan_in * Var(w)`` is about 1, activations grow or shrink geometrically with depth. The
initialisers below pick the standard deviation that keeps it near 1:

- Xavier/Glorot (for tanh/sigmoid/linear):  std = gain * sqrt(2 / (fan_in + fan_out))
- Kaiming/He (for ReLU-like):               std = gain / sqrt(fan)    (fan = fan_in or fan_out)

where ``gain`` (``calculate_gain``) corrects for what the nonlinearity does to the variance,
e.g. ReLU zeroes half its inputs, halving the second moment, so its gain is sqrt(2). A uniform
distribution U(-bound, bound) has std = bound / sqrt(3), so the uniform variants use
``bound = sqrt(3) * std``.

Every function takes a Tensor/Parameter (or an ndarray), writes into its array in place, keeps
its dtype, draws from ``minidl.random.get_generator()`` (seeded by ``minidl.manual_seed``) unless
a ``generator`` is given, and returns its argument.
"""

import math
import warnings

import numpy as np

from minidl.functional.checks import check_number
from minidl.random import get_generator
from minidl.tensor import Tensor


def _array(tensor, name):
    """A Tensor's (or Parameter's) values, or the ndarray itself, checked to be floating point."""
    array = tensor.numpy() if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name}: expected a Tensor, Parameter or ndarray, got {type(tensor).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{name}: can only fill floating point arrays, got dtype {array.dtype}")
    return array


def _array_to_fill(tensor, name):
    """The array to fill in place. Filling a Tensor counts as an in-place change of it (its
    version goes up), as in PyTorch."""
    array = _array(tensor, name)
    if isinstance(tensor, Tensor):
        tensor._version.value += 1  # counted once the fill is sure to happen
    return array


def _is_empty(tensor, name):
    """Whether ``tensor`` has no element, warning as PyTorch does that filling it does nothing
    (its fan in or out may be 0, which the scale of an initialiser divides by)."""
    if _array(tensor, name).size:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
    return True


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's values):

    ======================  =====================================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    sqrt(2)
    leaky_relu              sqrt(2 / (1 + negative_slope^2)), negative_slope = ``param`` (default 0.01)
    selu                    3/4
    ======================  =====================================
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight: how many inputs feed one output, and vice versa.

    For a Linear weight (out, in): fan_in = in, fan_out = out. For a Conv2d weight
    (out, in/groups, kH, kW) each output sums over in/groups * kH * kW inputs:

        fan_in = shape[1] * kH * kW,   fan_out = shape[0] * kH * kW

    (PyTorch's rule, applied as-is to ConvTranspose2d weights (in, out/groups, kH, kW) too.)
    """
    shape = _array(tensor, "calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(
            f"calculate_fan_in_and_fan_out: fan in and fan out need a weight with at least 2 dimensions, "
            f"got shape {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor, mode, name):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# Both draw in the array's own precision: a float32 draw is half the work of a float64 one, which
# matters for the 100 million weights of a VGG's classifier.
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with values drawn from U(a, b), a <= b."""
    check_number("uniform_", "a", a)
    check_number("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: expects a range [a, b) with a <= b, got a={a}, b={b}")
    array = _array_to_fill(tensor, "uniform_")
    array[...] = (generator or get_generator()).random(size=array.shape, dtype=array.dtype) * (b - a) + a
    return tensor


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with values drawn from N(mean, std^2), std >= 0."""
    check_number("normal_", "mean", mean)
    check_number("normal_", "std", std, minimum=0)
    array = _array_to_fill(tensor, "normal_")
    array[...] = (generator or get_generator()).standard_normal(size=array.shape, dtype=array.dtype) * std + mean
    return tensor


def constant_(tensor, val):
    """Fill with ``val``."""
    check_number("constant_", "val", val)
    _array_to_fill(tensor, "constant_")[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): U(-bound, bound) with

        std = gain * sqrt(2 / (fan_in + fan_out)),   bound = sqrt(3) * std
    """
    if _is_empty(tensor, "xavier_uniform_"):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    if _is_empty(tensor, "xavier_normal_"):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al. (2015): U(-bound, bound) with

        gain = calculate_gain(nonlinearity, a),   std = gain / sqrt(fan),   bound = sqrt(3) * std

    ``a`` is the negative slope of the leaky ReLU that follows (0 gives plain ReLU's sqrt(2));
    ``mode="fan_in"`` preserves the variance of activations going forward, ``"fan_out"`` that
    of gradients going backward. (PyTorch's default Linear/Conv init is this with a=sqrt(5),
    i.e. bound = 1/sqrt(fan_in).)
    """
    if _is_empty(tensor, "kaiming_uniform_"):
        return tensor
    fan = _fan(tensor, mode, "kaiming_uniform_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He et al. (2015): N(0, std^2) with std = calculate_gain(nonlinearity, a) / sqrt(fan)."""
    if _is_empty(tensor, "kaiming_normal_"):
        return tensor
    fan = _fan(tensor, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)
