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
"""

import numpy as np

DEFAULT_DTYPE = np.float32


def _as_array(data, dtype=None):
    """Turn ``data`` into an ndarray: floats become float32 unless they already are float64."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype == np.float64 and not isinstance(data, np.ndarray | np.floating):
        # Python floats and lists of floats: the working precision is float32.
        return array.astype(DEFAULT_DTYPE)
    if array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64):
        return array.astype(DEFAULT_DTYPE)
    return array


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Attributes:
        data: the values, an ``np.ndarray`` (float32 by default; float64 is kept when given).
        grad: ``None`` until ``backward`` reaches this tensor, then an ndarray of ``data``'s shape
            holding d(loss)/d(self). Gradients accumulate: call ``zero_grad`` between steps.
        requires_grad: whether ``backward`` should compute ``grad`` for this tensor.
    """

    # Make ``ndarray + Tensor`` call Tensor.__radd__ instead of broadcasting elementwise.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None  # the Context of the Function that produced this tensor, if recorded
        self._hooks = []
        self._retains_grad = False

    # ------------------------------------------------------------------ basics
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        """A leaf was created by the user, not computed by a recorded operation."""
        return self._ctx is None

    def numel(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        # As NumPy: a one-element tensor is its value, a larger one is ambiguous (raises).
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        """Let ``np.asarray(t)`` and NumPy's testing helpers see the values (no graph is kept)."""
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def numpy(self):
        """The values as an ndarray (shared with the tensor, not a copy)."""
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """A tensor with the same values that is cut from the graph (no gradient flows back)."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep ``grad`` on this non-leaf tensor too (leaves always keep theirs)."""
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is complete during ``backward``.

        If the hook returns an ndarray, it replaces the gradient that flows on to earlier
        operations (and that a leaf stores). Returns a handle whose ``remove()`` unregisters it.
        """
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def astype(self, dtype):
        return ops.cast(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, prefix="tensor(", separator=", ")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None):
        """Compute d(self)/d(leaf) for every leaf that requires a gradient and add it to ``leaf.grad``.

        ``grad`` is d(loss)/d(self); it may be omitted only when ``self`` holds one element
        (a scalar loss), in which case it is 1. Every gradient has the dtype of its tensor.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; "
                "did you create it under no_grad() or from inputs without requires_grad=True?"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this tensor "
                    f"has shape {self.shape}. Pass grad=, an array of shape {self.shape}."
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, expected {self.shape}")

        grads = {id(self): grad}
        for tensor in _reverse_topological_order(self):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue  # no gradient reached this tensor (e.g. an unused branch)
            for hook in tensor._hooks:
                replaced = hook(g)
                if replaced is not None:
                    g = np.asarray(_value(replaced), dtype=tensor.dtype)
                    if g.shape != tensor.shape:
                        raise RuntimeError(
                            f"backward: a hook returned a gradient of shape {g.shape} "
                            f"for a tensor of shape {tensor.shape}"
                        )
            if tensor._ctx is None or tensor._retains_grad:
                tensor.grad = g.copy() if tensor.grad is None else tensor.grad + g
            ctx = tensor._ctx
            if ctx is None:
                continue
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
                        f"{parent_grad.shape} for an input of shape {parent.shape}"
                    )
                key = id(parent)
                grads[key] = parent_grad if key not in grads else grads[key] + parent_grad

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

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons give boolean tensors that carry no gradient.
    def __lt__(self, other):
        return Tensor(self.data < _value(other))

    def __le__(self, other):
        return Tensor(self.data <= _value(other))

    def __gt__(self, other):
        return Tensor(self.data > _value(other))

    def __ge__(self, other):
        return Tensor(self.data >= _value(other))

    def eq(self, other):
        return Tensor(self.data == _value(other))

    # ------------------------------------------------------------------ methods
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.sum(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.mean(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.max(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.min(self, _dim(dim, axis), _keep(keepdim, keepdims))

    def argmax(self, dim=None, keepdim=False):
        return Tensor(np.argmax(self.data, axis=dim, keepdims=keepdim))

    def argmin(self, dim=None, keepdim=False):
        return Tensor(np.argmin(self.data, axis=dim, keepdims=keepdim))

    def reshape(self, *shape):
        return ops.reshape(self, _shape_args(shape))

    def view(self, *shape):
        return ops.reshape(self, _shape_args(shape))

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

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

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def clip(self, min=None, max=None):
        return ops.clip(self, min, max)

    clamp = clip

    def relu(self):
        return ops.relu(self)


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _value(x):
    return x.data if isinstance(x, Tensor) else x


def _dim(dim, axis):
    return axis if dim is None else dim


def _keep(keepdim, keepdims):
    return keepdim if keepdims is None else keepdims


def _shape_args(args):
    """Accept ``t.reshape(2, 3)`` as well as ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def _reverse_topological_order(root):
    """Tensors reachable from ``root`` through recorded Functions, each after all its consumers."""
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
            for parent in tensor._ctx.inputs:
                if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return reversed(order)


def tensor(data, requires_grad=False, dtype=None):
    """Create a leaf Tensor (PyTorch's ``torch.tensor``). float64 input stays float64."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# The operations are Functions that themselves build Tensors, so they load after the class.
from minidl import ops  # noqa: E402
