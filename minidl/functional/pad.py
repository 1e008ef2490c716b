"""Padding on Tensors: ``pad``, named and specified as in ``torch.nn.functional``.

The math lives in ``minidl.layers.pad``. PyTorch's ``pad`` tuple starts at the LAST axis:
(left, right) pads the last axis, (left, right, top, bottom) the last two, and so on, e.g.

    F.pad(x, (1, 1, 2, 0))      # (N, C, H, W) -> (N, C, H + 2, W + 2): 2 rows on top, 1 column each side

Negative amounts crop. Unlike ``conv2d``'s padding, the input may be of any dtype (constant
mode) and the result is an ordinary differentiable Tensor.
"""

from minidl.function import from_pair
from minidl.kernels import is_int
from minidl.layers.pad import border_pad_backward, border_pad_forward, constant_pad_backward, constant_pad_forward
from minidl.tensor import Tensor

__all__ = ["pad"]

ConstantPad = from_pair("ConstantPad", constant_pad_forward, constant_pad_backward)
BorderPad = from_pair("BorderPad", border_pad_forward, border_pad_backward)

MODES = ("constant", "reflect", "replicate")


def _per_axis(pad, ndim):
    """PyTorch's flat last-axis-first tuple as one (before, after) pair per axis, in axis order."""
    if not isinstance(pad, tuple | list) or not all(is_int(p) for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: pad must hold a (before, after) pair per axis, so an even number of ints, got {pad!r}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"pad: pad {tuple(pad)} pads {len(pad) // 2} axes but the input has only {ndim}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]  # last axis first -> axis order
    return [(0, 0)] * (ndim - len(pairs)) + pairs


def _check_border_mode(mode, x, pad, pairs):
    """PyTorch's rules for reflect and replicate: 1, 2 or 3 padded axes of an input with at most
    one more axis besides a batch axis, all of them non-empty but the batch, and reflect's pads
    shorter than their axis (the mirror image of an edge must exist)."""
    padded = len(pad) // 2
    if padded not in (1, 2, 3) or x.ndim not in (padded + 1, padded + 2):
        raise NotImplementedError(
            f"pad: mode {mode!r} pads 1, 2 or 3 trailing axes of an input with 1 or 2 axes more (channels, "
            f"then an optional batch), got pad of length {len(pad)} for {x.ndim}-D input of shape {x.shape}; "
            f"e.g. (left, right, top, bottom) for (N, C, H, W)"
        )
    non_batch = x.shape[x.ndim - padded - 1:]
    if 0 in non_batch:
        raise ValueError(
            f"pad: mode {mode!r} needs non-empty axes besides the batch axis, got input of shape {x.shape}"
        )
    for axis in range(x.ndim - padded, x.ndim):
        before, after = pairs[axis]
        if mode == "reflect" and (before >= x.shape[axis] or after >= x.shape[axis]):
            raise ValueError(
                f"pad: reflect padding must be smaller than the axis it pads, got ({before}, {after}) for axis "
                f"{axis} of size {x.shape[axis]} (input of shape {x.shape})"
            )


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative amounts, crop) the trailing axes of ``input``.

    Args:
        input: a Tensor; constant mode takes any shape and dtype; reflect and replicate take
            (C, W) or (N, C, W) with a pad of 2, (C, H, W) or (N, C, H, W) with a pad of 4,
            (C, D, H, W) or (N, C, D, H, W) with a pad of 6.
        pad: (left, right) for the last axis, then (top, bottom) for the one before, and so on.
        mode: "constant" (fill with ``value``, default 0), "reflect" (mirror without repeating
            the edge: 2 1 | 0 1 2 3 | 2 1) or "replicate" (repeat the edge: 0 0 | 0 1 2 3 | 3 3).
        value: the fill of constant mode; other modes take none.
    Returns:
        a Tensor whose axis d has size input.shape[d] + before_d + after_d.
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if mode not in MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'replicate', got {mode!r}")
    pairs = _per_axis(pad, x.ndim)
    # Constant mode crops first, then pads, so its crops must fit in the input on their own;
    # reflect and replicate pad first, then crop, so only the result's size must be >= 0.
    sizes = [n - max(-b, 0) - max(-a, 0) if mode == "constant" else n + b + a for n, (b, a) in zip(x.shape, pairs)]
    for axis, size in enumerate(sizes):
        if size < 0:
            raise ValueError(
                f"pad: cropping more than the input holds: axis {axis} of size {x.shape[axis]} padded by "
                f"{pairs[axis]} in {mode} mode (input of shape {x.shape}, pad {tuple(pad)})"
            )
    if mode == "constant":
        return ConstantPad.apply(x, pad=pairs, value=0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: mode {mode!r} copies values from the input and takes no value, got value={value!r}")
    _check_border_mode(mode, x, pad, pairs)
    return BorderPad.apply(x, pad=pairs, mode=mode)
