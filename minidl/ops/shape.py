"""Operations that move values without changing them: reshape, permute, indexing, gather, cat, stack, clone.

Their backward passes move dout back the same way: reshape it back, apply the inverse
permutation, scatter it into the indexed positions, or split it between the concatenated inputs.
"""

import numpy as np

from minidl.function import Function
from minidl.tensor import Tensor


class Reshape(Function):
    """out = a reshaped to ``shape`` (a view when possible);  da = dout reshaped to a's shape."""

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, dout):
        return dout.reshape(ctx.shape)


class Permute(Function):
    """out = a with its axes reordered by ``dims``;  da = dout with the inverse order."""

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, dout):
        return dout.transpose(ctx.inverse)


class GetItem(Function):
    """out = a[index] for any NumPy index (ints, slices, arrays, masks).

    da is zero except at the selected positions, which receive dout. An integer array index
    may pick an element twice (``a[[0, 0]]``); ``np.add.at`` then accumulates both gradients,
    where ``da[index] = dout`` would keep only one. Ints and slices never repeat an element,
    so plain (much faster) assignment is enough for them.
    """

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.index = a.shape, index
        out = a[index]
        if not isinstance(out, np.ndarray):
            # One element: NumPy gives a scalar (a copy); indexing with a trailing ... gives the
            # 0-d view instead, so ``w[0].zero_()`` changes w, as in PyTorch.
            out = a[(*index, Ellipsis) if isinstance(index, tuple) else (index, Ellipsis)]
        return out

    @staticmethod
    def backward(ctx, dout):
        da = np.zeros(ctx.shape, dtype=dout.dtype)
        if _is_basic(ctx.index):
            da[ctx.index] = dout
        else:
            np.add.at(da, ctx.index, dout)
        return da


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] along ``dim`` (here dim 1), as ``torch.gather``.

    ``index`` has a's number of dimensions and is no larger than a in any dimension but ``dim``.
    da is zero except where an element was gathered; an element gathered twice receives both
    gradients, so the scatter adds (``np.add.at``).
    """

    @staticmethod
    def forward(ctx, a, index, dim=0):
        ctx.shape, ctx.positions = a.shape, _gather_positions(index, dim)
        return a[ctx.positions]

    @staticmethod
    def backward(ctx, dout):
        da = np.zeros(ctx.shape, dtype=dout.dtype)
        np.add.at(da, ctx.positions, dout)
        return da, None


def _gather_positions(index, dim):
    """Full index arrays: the position along each dimension of every element of ``index``."""
    positions = list(np.indices(index.shape, sparse=True))
    positions[dim] = index
    return tuple(positions)


class Clone(Function):
    """out = a copy of a;  da = dout."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, dout):
        return dout


def _is_basic(index):
    """True for an index made only of ints, slices, None and Ellipsis (NumPy "basic indexing")."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, int | np.integer | slice) for p in parts)


class Cat(Function):
    """out = the inputs joined along ``dim``;  each input's gradient is its slice of dout."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.splits = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        ctx.dim = dim
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, dout):
        return tuple(np.split(dout, ctx.splits, axis=ctx.dim))


class Stack(Function):
    """out = the inputs stacked along a new axis ``dim``;  input i gets dout indexed at i on that axis."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, dout):
        return tuple(np.moveaxis(dout, ctx.dim, 0))


def _dim(name, dim, ndim):
    """``dim`` as an axis in range(ndim), negatives counted from the end; out of range raises."""
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{name}: dim {dim} is out of range for {ndim} dimensions (expected {-ndim} to {ndim - 1})"
        )
    return dim % ndim


def reshape(a, shape):
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ValueError(f"reshape: sizes must be >= 0 with at most one -1, got {shape}")
    known = int(np.prod([s for s in shape if s != -1]))
    if (-1 in shape and (known == 0 or a.numel() % known)) or (-1 not in shape and known != a.numel()):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} ({a.numel()} elements) into {shape}"
        )
    return Reshape.apply(a, shape=shape)


def permute(a, dims):
    if len(dims) != a.ndim:
        raise ValueError(f"permute: {tuple(dims)} does not list the {a.ndim} dimensions of shape {a.shape}")
    dims = tuple(_dim("permute", d, a.ndim) for d in dims)
    if sorted(dims) != list(range(a.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {a.ndim} dimensions of shape {a.shape}")
    return Permute.apply(a, dims=dims)


def transpose(a, dim0, dim1):
    """Swap two dimensions (a 0-d or 1-d tensor accepts dims 0 and -1 and stays as it is)."""
    ndim = max(a.ndim, 1)
    dim0, dim1 = _dim("transpose", dim0, ndim), _dim("transpose", dim1, ndim)
    order = list(range(a.ndim))
    if a.ndim:
        order[dim0], order[dim1] = order[dim1], order[dim0]
    return Permute.apply(a, dims=tuple(order))


def flatten(a, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one."""
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = _dim("flatten", start_dim, a.ndim), _dim("flatten", end_dim, a.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape}")
    merged = int(np.prod(a.shape[start:end + 1]))
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def squeeze(a, dim=None):
    if dim is None:
        return reshape(a, tuple(s for s in a.shape if s != 1))
    dim = _dim("squeeze", dim, max(a.ndim, 1))  # a 0-d tensor accepts dim 0 or -1, as PyTorch
    if a.ndim == 0 or a.shape[dim] != 1:
        return reshape(a, a.shape)  # nothing to remove, but still a new tensor, as PyTorch
    return reshape(a, a.shape[:dim] + a.shape[dim + 1:])


def unsqueeze(a, dim):
    dim = _dim("unsqueeze", dim, a.ndim + 1)
    return reshape(a, a.shape[:dim] + (1,) + a.shape[dim:])


def getitem(a, index):
    if isinstance(index, Tensor):
        index = index.numpy()
    elif isinstance(index, tuple):
        index = tuple(i.numpy() if isinstance(i, Tensor) else i for i in index)
    return GetItem.apply(a, index=index)


def gather(a, dim, index):
    """Pick values along ``dim`` at ``index`` (an int64 tensor with a's number of dimensions)."""
    index = np.asarray(index.numpy() if isinstance(index, Tensor) else index)
    dim = _dim("gather", dim, max(a.ndim, 1))
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != a.ndim:
        raise ValueError(f"gather: index has {index.ndim} dimensions but the input has {a.ndim} (shape {tuple(a.shape)})")
    for d, (n_index, n_input) in enumerate(zip(index.shape, a.shape)):
        if d != dim and n_index > n_input:
            raise ValueError(
                f"gather: index shape {index.shape} is larger than the input shape {tuple(a.shape)} in dimension {d}"
            )
    if index.size and (index.min() < 0 or index.max() >= a.shape[dim]):
        bad = index.max() if index.max() >= a.shape[dim] else index.min()
        raise IndexError(f"gather: index {bad} is out of bounds for dimension {dim} with size {a.shape[dim]}")
    return Gather.apply(a, index, dim=dim)


def clone(a):
    return Clone.apply(a)


def _check_joinable(name, tensors, dim, same_ndim_only):
    """Wrap the inputs as Tensors and check that they can be joined along ``dim``; returns (tensors, dim)."""
    if len(tensors) == 0:
        raise ValueError(f"{name}: expected a non-empty sequence of tensors")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    first = tensors[0]
    if not same_ndim_only and first.ndim == 0:
        raise ValueError(f"{name}: zero-dimensional tensors cannot be concatenated; use stack")
    dim = _dim(name, dim, first.ndim + (1 if same_ndim_only else 0))
    for i, t in enumerate(tensors[1:], start=1):
        if t.ndim != first.ndim:
            raise ValueError(f"{name}: tensor 0 has {first.ndim} dimensions but tensor {i} has {t.ndim}")
        for axis, (n0, n1) in enumerate(zip(first.shape, t.shape)):
            if n0 != n1 and (same_ndim_only or axis != dim):
                expected = f"sizes must match except in dimension {dim}"
                if same_ndim_only:
                    expected = "all sizes must match"
                raise ValueError(
                    f"{name}: {expected}; tensor 0 has shape {first.shape} but tensor {i} has shape {t.shape}"
                )
    return tensors, dim


def cat(tensors, dim=0):
    """Concatenate along an existing dimension (Inception and DenseNet join branches this way)."""
    tensors, dim = _check_joinable("cat", list(tensors), dim, same_ndim_only=False)
    return Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=0):
    """Stack equally shaped tensors along a new dimension ``dim``."""
    tensors, dim = _check_joinable("stack", list(tensors), dim, same_ndim_only=True)
    return Stack.apply(*tensors, dim=dim)
