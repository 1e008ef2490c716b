"""``Tensor``: an ndarray that remembers how it was made, and ``backward`` that walks that record.

Every operation on Tensors is a ``Function`` (see ``function.py``). When any input requires a
gradient, the result keeps a ``Context`` in ``_ctx``: the Function, its inputs and whatever the
Function saved for its backward pass. Those links form a directed acyclic graph from the result
back to the leaves (tensors the user created). ``backward`` visits that graph in reverse
topological order and applies the chain rule one Function at a time:

    dL/d(input) = Function.backward(ctx, dL/d(output))

summing the contributions when a tensor feeds several operations (gradient accumulation).
This file is the one place where the graph is walked; the math of each operation lives in its
own Function.

Three rules keep a wrong answer from passing silently, as in PyTorch:
- ``backward`` frees what each Function saved as soon as it has used it, so a second
  ``backward`` through the same graph is an error (``retain_graph=True`` keeps the graph).
- every Tensor has a version counter that each in-place change (``zero_``, ``copy_``, an
  optimiser step, ...) increments. A Function records its inputs' versions; ``backward`` refuses
  to use an input that changed since, because the gradient would be that of other numbers.
- ``==`` and ``!=`` compare elementwise; a Tensor is hashed by identity (it can be a dict key).
"""

import numbers
import sys
from collections import namedtuple

import numpy as np

from minidl import kernels
from minidl.grad_mode import is_grad_enabled
from minidl.random import get_generator

DEFAULT_DTYPE = np.float32


def _as_array(data, dtype=None):
    """Turn ``data`` into an ndarray: floats become float32 unless they already are float64."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype == np.float64 and not isinstance(data, np.ndarray | np.floating):
        # Python floats and lists of floats: the working precision is float32.
        return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind in "OUSV":
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} of dtype {array.dtype}")
    return array


class Size(tuple):
    """The shape of a Tensor, as ``torch.Size``: a tuple that also knows its element count."""

    def numel(self):
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"minidl.Size({list(self)})"

    def __str__(self):
        # In messages a shape reads as the tuple it is: "input of shape (2, 3)".
        return tuple.__repr__(self)


class _Version:
    """How many times a tensor's array was changed in place; shared by every alias of the array
    (``t.data``, ``t.detach()``), so a change through any of them is seen by the graph."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Attributes:
        data: a Tensor sharing this tensor's values but outside the graph (PyTorch's ``.data``);
            the raw ndarray is ``numpy()`` or ``np.asarray(t)``.
        grad: ``None`` until ``backward`` reaches this tensor, then a Tensor of this tensor's
            shape holding d(loss)/d(self). Gradients accumulate: call ``zero_grad`` between steps.
        requires_grad: whether ``backward`` should compute ``grad`` for this tensor.
        grad_fn: the record of the operation that made this tensor (None for a leaf).
    """

    # Make ``ndarray + Tensor`` call Tensor.__radd__ instead of broadcasting elementwise.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self._data = _as_array(data, dtype)
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"Tensor: only floating point tensors can require gradients, got dtype {self._data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self._grad = None
        self._ctx = None  # the Context of the Function that produced this tensor, if recorded
        self._version = _Version()
        self._hooks = []
        self._retains_grad = False

    def _alias(self):
        """A leaf sharing this tensor's array and version counter (``data``, ``detach``)."""
        alias = Tensor(self._data)
        alias._version = self._version
        return alias

    # ------------------------------------------------------------------ basics
    @property
    def data(self):
        """The values as a Tensor outside the graph, sharing memory (changes show in both)."""
        return self._alias()

    @data.setter
    def data(self, value):
        self._data = _as_array(value) if not isinstance(value, np.ndarray) else value
        self._version.value += 1

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        """``p.grad = None``, a Tensor, or (a convenience) an ndarray of the tensor's shape."""
        if value is not None:
            value = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
            if value.shape != self.shape:
                raise ValueError(f"grad: assigned a gradient of shape {value.shape} to a tensor of shape {self.shape}")
            if value.dtype.kind != "f" or value.dtype != self.dtype:
                value = Tensor(value._data.astype(self.dtype))
        self._grad = value

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape (``dim=None``) or the length of dimension ``dim``, as PyTorch's ``size``."""
        if dim is None:
            return self.shape
        return self.shape[_checked_dim("size", dim, self.ndim)]

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    @property
    def is_leaf(self):
        """A leaf was created by the user, not computed by a recorded operation."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Context of the operation that made this tensor, or None for a leaf."""
        return self._ctx

    @property
    def device(self):
        return _CPU

    @property
    def is_cuda(self):
        return False

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ conversion to Python
    def _scalar(self, kind, error=ValueError):
        if self._data.size != 1:
            raise error(
                f"{kind}: only a one-element tensor can be converted to a Python scalar, "
                f"this one has shape {tuple(self.shape)} ({self._data.size} elements)"
            )
        return self._data.reshape(()).item()

    def item(self):
        return self._scalar("item()", RuntimeError)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"bool(): the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all() (or compare a one-element tensor)"
            )
        return bool(self._scalar("bool()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(
                f"only integer tensors of a single element can be converted to an index, got a "
                f"{self.dtype} tensor of shape {tuple(self.shape)}"
            )
        return int(self._scalar("index"))

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    def __array__(self, dtype=None, copy=None):
        """Let ``np.asarray(t)`` and NumPy's testing helpers see the values (no graph is kept)."""
        array = self._data if dtype is None else self._data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def numpy(self):
        """The values as an ndarray (shared with the tensor, not a copy)."""
        return self._data

    def tolist(self):
        return self._data.tolist()

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self._ctx is not None:
            grad = f", grad_fn={self._ctx!r}"
        body = np.array2string(self._data, prefix="tensor(", separator=", ")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    # ------------------------------------------------------------------ graph
    def detach(self):
        """A tensor with the same values (shared memory) that is cut from the graph."""
        return self._alias()

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating point tensors can require gradients, got {self.dtype}")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError(
                "requires_grad_(False): this tensor was computed by a recorded operation; "
                "use detach() to cut it from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep ``grad`` on this non-leaf tensor too (leaves always keep theirs)."""
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` with the gradient (a Tensor) when it is complete during ``backward``.

        If the hook returns a Tensor (or an ndarray), it replaces the gradient that flows on to
        earlier operations (and that a leaf stores). Returns a handle whose ``remove()`` unregisters it.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires a gradient and add it to ``leaf.grad``.

        ``gradient`` is d(loss)/d(self); it may be omitted only when ``self`` holds one element
        (a scalar loss), in which case it is 1. Every gradient has the dtype of its tensor.
        Each Function's saved arrays are freed once used, unless ``retain_graph=True``.
        """
        if create_graph:
            raise NotImplementedError("backward: minidl does not record the backward pass (create_graph=True)")
        if not self.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and has no grad_fn; did you "
                "create it under no_grad() or from inputs without requires_grad=True?"
            )
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this tensor "
                    f"has shape {tuple(self.shape)}. Pass gradient=, a tensor of shape {tuple(self.shape)}."
                )
            gradient = np.ones_like(self._data)
        else:
            gradient = np.asarray(_value(gradient), dtype=self.dtype)
            if gradient.shape != self.shape:
                raise ValueError(f"backward: gradient has shape {gradient.shape}, expected {tuple(self.shape)}")

        order = _reverse_topological_order(self)
        grads = {id(self): gradient}
        for tensor in order:
            g = grads.pop(id(tensor), None)
            if g is None:
                continue  # no gradient reached this tensor (e.g. an unused branch)
            for hook in tensor._hooks:
                replaced = hook(Tensor(g))
                if replaced is not None:
                    g = np.asarray(_value(replaced), dtype=tensor.dtype)
                    if g.shape != tensor.shape:
                        raise RuntimeError(
                            f"backward: a hook returned a gradient of shape {g.shape} "
                            f"for a tensor of shape {tuple(tensor.shape)}"
                        )
            if tensor._ctx is None or tensor._retains_grad:
                if tensor._grad is None:
                    tensor._grad = Tensor(_unshared(g))
                else:
                    tensor._grad = Tensor(tensor._grad._data + g)
            ctx = tensor._ctx
            if ctx is None:
                continue
            ctx.check_versions(tensor)
            _pass_back(ctx, g, grads)
            if not retain_graph:
                ctx.release()

    # ------------------------------------------------------------------ in-place changes
    def _changing(self, name):
        """Check that ``name`` may change this tensor in place, and count the change."""
        if is_grad_enabled() and self.requires_grad:
            kind = "a leaf that requires grad" if self.is_leaf else "a tensor computed by a recorded operation"
            raise RuntimeError(
                f"{name}: {kind} cannot be changed in place while the graph is recorded; "
                "wrap the change in `with minidl.no_grad():` (as an optimiser does) or use the "
                "out-of-place operation"
            )
        if not self._data.flags.writeable:
            raise ValueError(
                f"{name}: this tensor's array is read-only (it shares memory with a read-only NumPy "
                "array, e.g. from np.broadcast_to or a memory-mapped file); change a clone() instead"
            )
        self._version.value += 1

    def _set(self, name, values):
        self._changing(name)
        # Broadcasting into the tensor, never out of it: same rule as NumPy's out= arrays.
        np.copyto(self._data, values, casting="unsafe")
        return self

    def zero_(self):
        return self._set("zero_", 0)

    def fill_(self, value):
        return self._set("fill_", _value(value))

    def copy_(self, src):
        src = np.asarray(_value(src))
        try:
            np.broadcast_to(src, self.shape)
        except ValueError:
            raise ValueError(f"copy_: a source of shape {src.shape} does not broadcast to {tuple(self.shape)}") from None
        return self._set("copy_", src)

    def add_(self, other, alpha=1):
        return self._set("add_", self._data + alpha * np.asarray(_value(other)))

    def sub_(self, other, alpha=1):
        return self._set("sub_", self._data - alpha * np.asarray(_value(other)))

    def mul_(self, other):
        return self._set("mul_", self._data * np.asarray(_value(other)))

    def div_(self, other):
        return self._set("div_", self._data / np.asarray(_value(other)))

    def clamp_(self, min=None, max=None):
        return self._set("clamp_", np.clip(self._data, min, max))

    clip_ = clamp_

    def __setitem__(self, index, value):
        self._changing("__setitem__")
        self._data[_index_value(index)] = np.asarray(_value(value))

    # ------------------------------------------------------------------ dtype and device
    def astype(self, dtype):
        return ops.cast(self, _np_dtype(dtype))

    def type(self, dtype=None):
        """The type name (``"minidl.FloatTensor"``) without an argument, else a cast to ``dtype``."""
        if dtype is None:
            return f"minidl.{_TYPE_NAMES.get(self.dtype, str(self.dtype))}"
        return self.to(dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; returns self when nothing changes.

        minidl computes on the CPU: ``"cpu"`` (or ``minidl.device("cpu")``) is accepted, so code
        written for a device runs unchanged; another device is a clear error.
        """
        device, dtype = _parse_to("Tensor.to", args, kwargs)
        del device  # checked by _parse_to: always the CPU
        if dtype is None or self.dtype == dtype:
            return self
        return ops.cast(self, dtype)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("cuda(): minidl runs on the CPU only; minidl.cuda.is_available() is False")

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __pow__(self, exponent):
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        return ops.pow(base, self)

    def __neg__(self):
        return ops.neg(self)

    def __abs__(self):
        return ops.abs(self)

    # ``t += x``: in place, as in PyTorch, so every alias (``w = model.weight.data``) sees the
    # change. A tensor inside a recorded graph cannot be changed in place here; for it ``+=``
    # makes a new tensor (the same values and gradients as PyTorch's in-place op).
    def _in_place(self, method, operator, other):
        if is_grad_enabled() and self.requires_grad and not self.is_leaf:
            return operator(self, other)
        return method(other)

    def __iadd__(self, other):
        return self._in_place(self.add_, Tensor.__add__, other)

    def __isub__(self, other):
        return self._in_place(self.sub_, Tensor.__sub__, other)

    def __imul__(self, other):
        return self._in_place(self.mul_, Tensor.__mul__, other)

    def __itruediv__(self, other):
        return self._in_place(self.div_, Tensor.__truediv__, other)

    # Integer division and remainder carry no gradient (as in PyTorch, whose derivative is 0 a.e.).
    def __floordiv__(self, other):
        return Tensor(self._data // np.asarray(_value(other)))

    def __rfloordiv__(self, other):
        return Tensor(np.asarray(_value(other)) // self._data)

    def __mod__(self, other):
        return Tensor(self._data % np.asarray(_value(other)))

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons give boolean tensors that carry no gradient, elementwise as in PyTorch.
    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError(f"~: bitwise not needs a bool or integer tensor, got {self.dtype}")
        return Tensor(~self._data)

    def __and__(self, other):
        return Tensor(self._data & np.asarray(_value(other)))

    def __or__(self, other):
        return Tensor(self._data | np.asarray(_value(other)))

    def __xor__(self, other):
        return Tensor(self._data ^ np.asarray(_value(other)))

    # ``out`` and ``keepdims`` let NumPy's np.any(t) / np.all(t), which call these methods, work.
    def any(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
        return Tensor(np.any(self._data, axis=_dim(dim, axis), keepdims=_keep(keepdim, keepdims), out=out))

    def all(self, dim=None, keepdim=False, *, axis=None, out=None, keepdims=None):
        return Tensor(np.all(self._data, axis=_dim(dim, axis), keepdims=_keep(keepdim, keepdims), out=out))

    # ------------------------------------------------------------------ methods
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        source = self if dtype is None else self.to(dtype)
        if source.dtype.kind in "biu":
            source = source.to(np.int64)  # as PyTorch: integer and bool sums are int64
        return ops.sum(source, _dim(dim, axis), _keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        if self.dtype.kind not in "fc":
            raise RuntimeError(f"mean: needs a floating point tensor, got {self.dtype}; use .float().mean()")
        return ops.mean(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest value; with ``dim``, the named tuple ``(values, indices)`` along it; with a
        Tensor, the elementwise maximum."""
        return ops.max(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The smallest value; with ``dim``, the named tuple ``(values, indices)`` along it; with a
        Tensor, the elementwise minimum."""
        return ops.min(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        """The variance over ``dim``, divided by n - correction (PyTorch's default: n - 1)."""
        if unbiased is not None:
            correction = int(unbiased)
        mean = self.mean(dim, keepdim=True)
        count = self.numel() // max(mean.numel(), 1)
        return ((self - mean) ** 2).sum(dim, keepdim) / max(count - correction, 0)

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased).sqrt()

    def amax(self, dim=(), keepdim=False, *, axis=None):
        return ops.amax(self, axis if dim == () else dim, keepdim)

    def amin(self, dim=(), keepdim=False, *, axis=None):
        return ops.amin(self, axis if dim == () else dim, keepdim)

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        return ops.argmax(self, _dim(dim, axis), keepdim)

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return ops.argmin(self, _dim(dim, axis), keepdim)

    def reshape(self, *shape):
        return ops.reshape(self, _shape_args(shape))

    def view(self, *shape):
        return ops.reshape(self, _shape_args(shape))

    def view_as(self, other):
        return ops.reshape(self, other.shape)

    reshape_as = view_as

    def clone(self):
        """A copy of the values that stays in the graph (the gradient passes through unchanged)."""
        return ops.clone(self)

    def contiguous(self):
        return self

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def t(self):
        """The transpose of a tensor of at most 2 dimensions, as ``torch.Tensor.t``."""
        if self.ndim > 2:
            raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, got {self.ndim}; use transpose(dim0, dim1)")
        return ops.transpose(self, 0, -1)

    def permute(self, *dims):
        return ops.permute(self, _shape_args(dims))

    @property
    def T(self):
        return ops.permute(self, tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def gather(self, dim, index):
        return ops.gather(self, dim, index)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def clip(self, min=None, max=None):
        return ops.clip(self, min, max)

    clamp = clip

    def relu(self):
        return ops.relu(self)

    def norm(self, p="fro", dim=None, keepdim=False):
        return ops.norm(self, p, dim, keepdim)

    # The operators' method forms, as PyTorch code often writes them.
    def add(self, other, alpha=1):
        return ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other):
        return ops.div(self, other)

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def softmax(self, dim):
        return F.softmax(self, dim)

    def log_softmax(self, dim):
        return F.log_softmax(self, dim)

    def sigmoid(self):
        return F.sigmoid(self)

    def tanh(self):
        return F.tanh(self)

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def type_as(self, other):
        return self.to(other.dtype)

    def expand(self, *sizes):
        """The tensor broadcast to ``sizes`` (-1 keeps a dimension); the gradient sums back over them."""
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: {len(sizes)} sizes for a tensor of {self.ndim} dimensions")
        target = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        try:
            np.broadcast_shapes(self.shape, target)
        except ValueError:
            raise RuntimeError(f"expand: a tensor of shape {tuple(self.shape)} cannot expand to {target}") from None
        return self + Tensor(np.zeros(target, dtype=self.dtype))

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` is True, the tensor elsewhere (no gradient flows to filled places)."""
        mask = np.asarray(_value(mask))
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
        return ops.where(mask, Tensor(np.asarray(_value(value), dtype=self.dtype)), self)

    def new_zeros(self, *size, dtype=None):
        return Tensor(np.zeros(_shape_args(size), dtype=dtype or self.dtype))

    def new_ones(self, *size, dtype=None):
        return Tensor(np.ones(_shape_args(size), dtype=dtype or self.dtype))

    def new_full(self, size, fill_value, dtype=None):
        return Tensor(np.full(_shape_args((size,)), fill_value, dtype=dtype or self.dtype))

    def new_tensor(self, data, dtype=None):
        return Tensor(np.array(_value(data), dtype=dtype or self.dtype))

    # In-place random fills, as ``nn.init`` does them (``m.weight.data.normal_(0, 0.02)``).
    def normal_(self, mean=0.0, std=1.0):
        return self._set("normal_", get_generator().normal(mean, std, self.shape))

    def uniform_(self, a=0.0, b=1.0):
        return self._set("uniform_", get_generator().uniform(a, b, self.shape))


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class device:
    """Where a tensor lives. minidl computes on the CPU only, so this is always ``device("cpu")``."""

    def __init__(self, type="cpu", index=None):
        name = str(type)
        if name.split(":")[0] != "cpu":
            raise RuntimeError(
                f"device: minidl runs on the CPU only, got {name!r}; write "
                "`device = minidl.device('cuda' if minidl.cuda.is_available() else 'cpu')` to run anywhere"
            )
        self.type, self.index = "cpu", index

    def __eq__(self, other):
        return str(other) == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __str__(self):
        return "cpu"

    def __repr__(self):
        return "device(type='cpu')"


_CPU = device("cpu")

_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
               np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
               np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
               np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
               np.dtype(np.bool_): "BoolTensor"}


def _np_dtype(dtype):
    """A NumPy dtype from a dtype, a dtype name ("float32") or a type name ("minidl.FloatTensor")."""
    if isinstance(dtype, str):
        for array_dtype, name in _TYPE_NAMES.items():
            if dtype.split(".")[-1] == name:
                return array_dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def _parse_to(where, args, kwargs):
    """(device, dtype) from the arguments of ``to``: a device, a dtype, both, or a tensor to copy them from."""
    kwargs = {k: v for k, v in kwargs.items() if k not in ("non_blocking", "copy", "memory_format")}
    device_arg, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{where}: unexpected arguments {sorted(kwargs)}")
    for arg in args:
        if arg is None:
            continue
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif _is_device(arg):
            device_arg = arg
        else:
            dtype = arg
    if device_arg is not None:
        device(device_arg)  # refuses anything but the CPU, with the reason
    if dtype is None:
        return _CPU, None
    try:
        return _CPU, _np_dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: expected a dtype or a device, got {dtype!r}") from None


def _is_device(arg):
    """A device: minidl's, a device name ("cpu", "cuda:0"), or another library's (torch.device("cpu"))."""
    if isinstance(arg, device):
        return True
    if isinstance(arg, str):
        return not _is_dtype_name(arg)
    return type(arg).__name__ == "device" and hasattr(arg, "type")


def _is_dtype_name(name):
    if name.split(".")[-1] in _TYPE_NAMES.values():  # "minidl.DoubleTensor", "torch.FloatTensor"
        return True
    try:
        np.dtype(name)
        return True
    except TypeError:
        return False


def _compare(ufunc, tensor, other):
    if other is None:
        # ``t == None`` is an identity question in Python; answer it as such, not elementwise.
        return ufunc is np.not_equal
    if not isinstance(other, Tensor | np.ndarray | numbers.Number | np.generic):
        return NotImplemented  # a list or a string: Python then compares identities, as PyTorch does
    return Tensor(ufunc(tensor._data, np.asarray(_value(other))))


def _value(x):
    return x._data if isinstance(x, Tensor) else x


def _index_value(index):
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)


def _checked_dim(name, dim, ndim):
    limit = max(ndim, 1)
    if not -limit <= dim < limit:
        raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % limit


def _dim(dim, axis):
    return axis if dim is None else dim


def _keep(keepdim, keepdims):
    return keepdim if keepdims is None else keepdims


def _shape_args(args):
    """Accept ``t.reshape(2, 3)`` as well as ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def _pass_back(ctx, g, grads):
    """Apply the chain rule through one Function: add ``ctx.function.backward(ctx, g)``, the
    gradients of its inputs, to ``grads`` (a dict from id(tensor) to its gradient so far).

    A function of its own so that its local names, which hold the gradients it hands on, are
    gone when ``_unshared`` counts the references to one of them."""
    input_grads = ctx.function.backward(ctx, g)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(ctx.inputs):
        raise RuntimeError(
            f"{ctx.function.__name__}.backward returned {len(input_grads)} gradients "
            f"for {len(ctx.inputs)} inputs"
        )
    for parent, parent_grad in zip(ctx.inputs, input_grads):
        if parent_grad is None or not isinstance(parent, Tensor) or not parent.requires_grad:
            continue
        # A gradient has its tensor's dtype: a float64 constant inside some backward must
        # not turn the gradients of float32 parameters into float64.
        parent_grad = np.asarray(parent_grad, dtype=parent.dtype)
        if parent_grad.shape != parent.shape:
            raise RuntimeError(
                f"{ctx.function.__name__}.backward returned a gradient of shape "
                f"{parent_grad.shape} for an input of shape {tuple(parent.shape)}"
            )
        key = id(parent)
        # A tensor read by several operations (a residual block's input) adds their gradients.
        grads[key] = parent_grad if key not in grads else kernels.add(grads[key], parent_grad)


def _unshared(grad):
    """``grad`` itself when nothing but the caller's variable refers to it and it owns its
    memory, else a copy. A leaf's ``.grad`` is changed in place (by an optimiser, or a student's
    ``p.grad *= 0.5``) and must not be an array that another leaf's gradient, a saved value or
    the caller's ``gradient=`` argument also is: Add's backward hands the same array to both
    inputs. PyTorch's AccumulateGrad keeps a gradient without copying on the same condition.
    Copying always would cost a pass over every leaf's gradient (a large input's, in a saliency
    map or a benchmark).
    """
    # References: the caller's variable, this function's argument, and getrefcount's own.
    if grad.flags.owndata and sys.getrefcount(grad) <= 3:
        return grad
    return grad.copy()


def _reverse_topological_order(root):
    """Tensors reachable from ``root`` through recorded Functions, each after all its consumers.

    Refuses a graph whose saved arrays a previous ``backward`` already freed, before any
    gradient is computed, so nothing is half accumulated.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:  # iterative depth-first search: deep networks would overflow Python's recursion
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._ctx is not None:
            tensor._ctx.check_not_released()
            for parent in tensor._ctx.inputs:
                if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return list(reversed(order))


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Create a leaf Tensor holding a copy of ``data`` (PyTorch's ``torch.tensor``).

    Python floats become float32, float64 arrays stay float64, Python integers become int64.
    """
    _parse_to("tensor", (device,), {})
    array = np.array(_as_array(data, None if dtype is None else _np_dtype(dtype)), copy=True)
    return Tensor(array, requires_grad=requires_grad)


# ``max(dim)`` and ``min(dim)`` return these, as ``torch.return_types.max``: unpack or use the names.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])

# The operations are Functions that themselves build Tensors, so they load after the class.
from minidl import ops  # noqa: E402
from minidl import functional as F  # noqa: E402
