"""Activation functions as forward/backward pairs: relu, leaky_relu, gelu, sigmoid, tanh, softmax,
log_softmax.

All of them keep the input's shape. The elementwise ones have a local derivative f'(x), so their
backward pass is dx = dout * f'(x); softmax and log_softmax mix the values along ``dim``, so
their backward passes contract dout with the Jacobian along that axis.
Arguments are assumed valid: ``minidl.functional`` checks them.
"""

import math

import numpy as np

from minidl import kernels


def relu_forward(x):
    """out = max(x, 0).

    Shapes: x any shape; out the same shape.
    Cache: out itself (out > 0 exactly where x > 0, so no separate mask is kept).

    Like PyTorch, a NaN passes through instead of being hidden as 0. ``kernels.relu`` is
    ``np.maximum(x, 0)``, or its compiled twin.
    """
    out = kernels.relu(x)
    return out, out


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0. At x = 0 the gradient is taken as 0, as in PyTorch.

    That is dout * (out > 0), a product with the 0/1 mask (``kernels.relu_grad``).
    """
    out = cache
    return kernels.relu_grad(dout, out)


def leaky_relu_forward(x, negative_slope=0.01):
    """out = x where x > 0, else negative_slope * x.

    Shapes: x any shape; out the same shape.
    Cache: (mask x > 0, negative_slope).
    """
    positive = x > 0
    return np.where(positive, x, negative_slope * x), (positive, negative_slope)


def leaky_relu_backward(dout, cache):
    """dx = dout where x > 0, else negative_slope * dout (x = 0 takes the slope, as in PyTorch)."""
    positive, negative_slope = cache
    return np.where(positive, dout, negative_slope * dout)


# erf elementwise, with the C library's precision (NumPy has no erf); the result is float64.
_erf = np.vectorize(math.erf, otypes=[np.float64])

# Constants of GELU's tanh approximation: sqrt(2 / pi) and the cubic coefficient.
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def gelu_forward(x, approximate="none"):
    """Gaussian error linear unit (Hendrycks & Gimpel, 2016): out = x * Phi(x).

    Phi is the standard normal CDF, Phi(x) = (1 + erf(x / sqrt(2))) / 2: each input is
    weighted by the probability that a standard normal variable lies below it, a smooth ReLU
    (about x for large x, about 0 for very negative x, slightly negative in between).
    approximate="tanh" uses the approximation of the paper, as in PyTorch:

        out = x/2 * (1 + tanh(u)),    u = sqrt(2/pi) * (x + 0.044715 x^3)

    Shapes: x any shape; out the same shape.
    Cache: (x, approximate, Phi(x)) for "none"; (x, approximate, tanh(u)) for "tanh".
    """
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
        return 0.5 * x * (1 + t), (x, approximate, t)
    cdf = (0.5 * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)
    return x * cdf, (x, approximate, cdf)


def gelu_backward(dout, cache):
    """Exact GELU: d/dx [x Phi(x)] = Phi(x) + x phi(x), with phi(x) = exp(-x^2/2) / sqrt(2 pi)
    the standard normal density, so dx = dout * (Phi(x) + x phi(x)).

    tanh approximation: with t = tanh(u), d/dx [x/2 (1 + t)] = (1 + t)/2 + x/2 (1 - t^2) u',
    u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2), and dx = dout times that.
    """
    x, approximate, value = cache
    if approximate == "tanh":
        t = value
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
        return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return dout * (value + x * pdf)


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)).

    Computed from e = exp(-|x|), which lies in (0, 1] and never overflows:
    sigma(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
    Shapes: x any shape; out the same shape.
    Cache: out.
    """
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * sigma(x) * (1 - sigma(x)), written with the saved output."""
    out = cache
    return dout * out * (1 - out)


def tanh_forward(x):
    """out = tanh(x).

    Shapes: x any shape; out the same shape.
    Cache: out.
    """
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - tanh(x)^2), written with the saved output."""
    out = cache
    return dout * (1 - out * out)


def softmax_forward(x, dim):
    """out = exp(x) / sum(exp(x)) along ``dim``.

    Subtracting the maximum along ``dim`` first leaves the result unchanged (the factor
    exp(-max) cancels) and keeps every exponent <= 0, so exp never overflows.
    Shapes: x any shape; out the same shape, summing to 1 along ``dim``.
    Cache: (out, dim).
    """
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    out = e / e.sum(axis=dim, keepdims=True)
    return out, (out, dim)


def softmax_backward(dout, cache):
    """dx = y * (dout - sum(dout * y)) along ``dim``, with y = softmax(x).

    The Jacobian is dy_i/dx_j = y_i * (delta_ij - y_j), so
    dx_j = sum_i dout_i * y_i * (delta_ij - y_j) = y_j * (dout_j - sum_i dout_i * y_i).
    """
    out, dim = cache
    return out * (dout - np.sum(dout * out, axis=dim, keepdims=True))


def log_softmax_forward(x, dim):
    """out = x - log(sum(exp(x))) along ``dim``: the log of softmax, without computing log(softmax).

    With m = max(x) along ``dim``: out = (x - m) - log(sum(exp(x - m))). The sum holds a term
    exp(0) = 1, so the log never sees 0 even when softmax would underflow.
    Shapes: x any shape; out the same shape.
    Cache: (softmax(x) = exp(out), dim).
    """
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
    return out, (np.exp(out), dim)


def log_softmax_backward(dout, cache):
    """dx = dout - softmax(x) * sum(dout) along ``dim``.

    From out_i = x_i - log(sum_k exp(x_k)): d out_i / d x_j = delta_ij - softmax_j, so
    dx_j = dout_j - softmax_j * sum_i dout_i.
    """
    probs, dim = cache
    return dout - probs * np.sum(dout, axis=dim, keepdims=True)
