"""Functions that make new Tensors, named and typed as PyTorch's (``torch.zeros``, ``torch.randn``, ...).

Sizes are given as separate numbers or one tuple (``zeros(2, 3)`` or ``zeros((2, 3))``).
Floating results are float32 unless ``dtype`` says otherwise; integer results are int64.
Random tensors draw from minidl's generator (``minidl.manual_seed``). Every factory takes
``requires_grad`` and ``device`` (the CPU; see ``minidl.device``).
"""

import numbers

import numpy as np

from minidl.random import get_generator
from minidl.tensor import DEFAULT_DTYPE, Tensor, _np_dtype, _parse_to, tensor


def _size(name, size):
    """A tuple of non-negative ints from ``(2, 3)`` or ``((2, 3),)``, refusing anything else by name."""
    if len(size) == 1 and isinstance(size[0], tuple | list):
        size = tuple(size[0])
    for n in size:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral | Tensor):
            raise TypeError(f"{name}: size must be integers, got {size!r}")
        if int(n) < 0:
            raise ValueError(f"{name}: sizes must be non-negative, got {tuple(int(m) for m in size)}")
    return tuple(int(n) for n in size)


def _make(name, array, dtype, requires_grad, device):
    _parse_to(name, (device,), {})
    if dtype is not None:
        array = array.astype(_np_dtype(dtype), copy=False)
    return Tensor(array, requires_grad=requires_grad)


def _float(dtype):
    return DEFAULT_DTYPE if dtype is None else _np_dtype(dtype)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _make("zeros", np.zeros(_size("zeros", size), dtype=_float(dtype)), None, requires_grad, device)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _make("ones", np.ones(_size("ones", size), dtype=_float(dtype)), None, requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """Uninitialised as PyTorch's (here: zeros, so no stale memory leaks into a lesson)."""
    return _make("empty", np.zeros(_size("empty", size), dtype=_float(dtype)), None, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of ``fill_value``; its dtype follows the value (bool, int64, float32) unless given."""
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool | np.bool_)
                 else np.int64 if isinstance(fill_value, numbers.Integral) else DEFAULT_DTYPE)
    array = np.full(_size("full", (size,)), fill_value, dtype=_np_dtype(dtype))
    return _make("full", array, None, requires_grad, device)


def _like(name, factory, input, dtype, requires_grad, device, *args):
    dtype = input.dtype if dtype is None else dtype
    return factory(tuple(input.shape), *args, dtype=dtype, requires_grad=requires_grad, device=device)


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    return _like("zeros_like", zeros, input, dtype, requires_grad, device)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    return _like("ones_like", ones, input, dtype, requires_grad, device)


def empty_like(input, dtype=None, requires_grad=False, device=None):
    return _like("empty_like", empty, input, dtype, requires_grad, device)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    dtype = input.dtype if dtype is None else dtype
    return full(tuple(input.shape), fill_value, dtype=dtype, requires_grad=requires_grad, device=device)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform on [0, 1)."""
    array = get_generator().random(_size("rand", size)).astype(_float(dtype))
    return _make("rand", array, None, requires_grad, device)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal."""
    array = get_generator().standard_normal(_size("randn", size)).astype(_float(dtype))
    return _make("randn", array, None, requires_grad, device)


def rand_like(input, dtype=None, requires_grad=False, device=None):
    return _like("rand_like", rand, input, dtype, requires_grad, device)


def randn_like(input, dtype=None, requires_grad=False, device=None):
    return _like("randn_like", randn, input, dtype, requires_grad, device)


def randint(low=0, high=None, size=None, dtype=None, requires_grad=False, device=None):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``, int64."""
    if size is None:  # randint(high, size): PyTorch's two-argument form
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: size is required, e.g. randint(10, (3,)) or randint(0, 10, (3,))")
    if not high > low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    array = get_generator().integers(low, high, _size("randint", (size,)), dtype=np.int64)
    return _make("randint", array, dtype, requires_grad, device)


def randperm(n, dtype=None, requires_grad=False, device=None):
    """A random permutation of 0 .. n-1 (int64)."""
    (n,) = _size("randperm", (n,))
    return _make("randperm", get_generator().permutation(n).astype(np.int64), dtype, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """start, start + step, ... below end; int64 when all three are integers, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    default = np.int64 if integral else DEFAULT_DTYPE
    # Computed in float64 then cast, so float32 ranges end where PyTorch's do.
    array = np.arange(start, end, step, dtype=np.int64 if integral else np.float64).astype(default)
    return _make("arange", array, dtype, requires_grad, device)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from start to end, both included (float32)."""
    (steps,) = _size("linspace", (steps,))
    array = np.linspace(start, end, steps, dtype=np.float64).astype(_float(dtype))
    return _make("linspace", array, None, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    (n,) = _size("eye", (n,))
    m = n if m is None else _size("eye", (m,))[0]
    return _make("eye", np.eye(n, m, dtype=_float(dtype)), None, requires_grad, device)


def from_numpy(array):
    """A Tensor sharing ``array``'s memory (changes show in both), as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor(array, dtype=array.dtype)


def as_tensor(data, dtype=None, device=None):
    """A Tensor sharing ``data``'s memory when it already is an array of the right dtype, else a copy."""
    _parse_to("as_tensor", (device,), {})
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        return Tensor(data, dtype=data.dtype if dtype is None else _np_dtype(dtype))
    return tensor(data, dtype=dtype)


__all__ = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "rand",
           "randn", "rand_like", "randn_like", "randint", "randperm", "arange", "linspace", "eye",
           "from_numpy", "as_tensor"]
