"""``Upsample``: resizing (N, C, H, W) images as a layer (``F.interpolate``), e.g. the decoder of
a segmentation network, or a class-activation map brought up to the input's size."""

from minidl import functional as F
from minidl.nn.module import Module


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor`` with ``mode`` "nearest" or "bilinear".

    Args: as ``F.interpolate``; give size or scale_factor. A scale factor is kept as a float
    (or a tuple of floats), as in PyTorch.
    Input: (N, C, H, W). Output: (N, C, H_out, W_out).
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        shape = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{shape}, mode={self.mode!r}"
