"""Resizing images on Tensors: ``interpolate``, named and specified as in ``torch.nn.functional``.

The math lives in ``minidl.layers.resize``. Here the output size is worked out from ``size`` or
``scale_factor`` exactly as PyTorch does, and the arguments are checked.
"""

import math

from minidl import kernels
from minidl.function import from_pair
from minidl.functional.checks import float_tensor
from minidl.layers.resize import (
    upsample_bilinear2d_backward,
    upsample_bilinear2d_forward,
    upsample_nearest2d_backward,
    upsample_nearest2d_forward,
)

__all__ = ["interpolate"]

UpsampleNearest2d = from_pair("UpsampleNearest2d", upsample_nearest2d_forward, upsample_nearest2d_backward)
UpsampleBilinear2d = from_pair("UpsampleBilinear2d", upsample_bilinear2d_forward, upsample_bilinear2d_backward)

MODES = ("nearest", "bilinear")


def _scale_pair(scale_factor):
    """A positive number, or a pair of them, as a pair of floats."""
    pair = tuple(scale_factor) if isinstance(scale_factor, tuple | list) else (scale_factor, scale_factor)
    if len(pair) != 2 or not all(isinstance(s, int | float) and not isinstance(s, bool) for s in pair):
        raise TypeError(f"interpolate: scale_factor must be a number or a pair of numbers (h, w), got {scale_factor!r}")
    if not all(math.isfinite(s) for s in pair):
        raise ValueError(f"interpolate: scale_factor must be finite, got {scale_factor!r}")
    return float(pair[0]), float(pair[1])


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``.

    Args:
        input: (N, C, H, W) with C, H, W >= 1 (N may be 0).
        size: H_out = W_out (an int) or (H_out, W_out). Give size or scale_factor, not both.
        scale_factor: a number or a pair (scale_h, scale_w); the output size is
            floor(H * scale_h) by floor(W * scale_w), and the scale itself (not H_out / H)
            places the source pixels, as in PyTorch.
        mode: "nearest" (PyTorch's rule: source index floor(i * H / H_out)) or "bilinear".
        align_corners: bilinear only (None means False). True aligns the centres of the corner
            pixels; False aligns the pixels' edges, PyTorch's default.
        recompute_scale_factor: True computes the output size from scale_factor, then places
            the source pixels by H / H_out as if that size had been given.
    Returns:
        a Tensor (N, C, H_out, W_out).
    """
    x = float_tensor("interpolate", input)
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if x.ndim != 4:
        raise NotImplementedError(
            f"interpolate: got {x.ndim}-D input of shape {x.shape}, but minidl resizes 4-D (N, C, H, W) "
            f"images only"
        )
    if min(x.shape[1:]) < 1:
        raise ValueError(f"interpolate: expected input (N, C, H, W) with C, H and W positive, got shape {x.shape}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with mode='bilinear' (nearest has no corners "
                         f"to align), got align_corners={align_corners!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"interpolate: give exactly one of size and scale_factor, got size={size!r} and "
                         f"scale_factor={scale_factor!r}")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor=True needs scale_factor, not size")
    height, width = x.shape[2:]
    if size is not None:
        out_size, scales = kernels.pair(size, "size", "interpolate"), (None, None)
        how = f"size={size!r}"
    else:
        scales = _scale_pair(scale_factor)
        out_size = (math.floor(height * scales[0]), math.floor(width * scales[1]))
        how = f"scale_factor={scale_factor!r}: floor({height} * {scales[0]}) x floor({width} * {scales[1]})"
        if recompute_scale_factor:
            scales = (None, None)
    if min(out_size) < 1:
        raise ValueError(f"interpolate: the output size must be positive, got {out_size[0]} x {out_size[1]} "
                         f"from input {height} x {width} and {how}")
    if mode == "nearest":
        return UpsampleNearest2d.apply(x, size=out_size, scales=scales)
    return UpsampleBilinear2d.apply(x, size=out_size, align_corners=bool(align_corners), scales=scales)
