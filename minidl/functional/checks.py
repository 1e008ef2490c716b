"""Argument checks shared by the functional layers.

Each raises an error that names the layer, what it expected and what it got.
"""

import numbers

from minidl.kernels import is_int
from minidl.tensor import Tensor


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


def check_int(layer, name, value, minimum):
    """``value`` as a Python int, refusing anything but an integer of at least ``minimum`` (1 or
    0), e.g. a layer's number of channels or features (NumPy would refuse a negative size in its
    own words, far from the argument that caused it)."""
    if not is_int(value) or value < minimum:
        kind = "a positive int" if minimum == 1 else "a non-negative int"
        raise ValueError(f"{layer}: {name} must be {kind}, got {value!r}")
    return int(value)


def check_number(layer, name, value, minimum=None):
    """``value`` must be a real number (not a bool), at least ``minimum`` if given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r} ({type(value).__name__})")
    if minimum is not None and not value >= minimum:  # "not >=" also refuses nan
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value!r}")


def check_fraction(layer, name, value):
    """``value`` must be a number in [0, 1] (a probability, a smoothing or momentum factor)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
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
