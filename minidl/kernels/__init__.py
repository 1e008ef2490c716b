"""Array kernels: NumPy in, NumPy out, no autograd. The layers in ``minidl.layers`` call these.

- ``shapes``: argument checks and the output-size formula of sliding-window layers
- ``im2col``: patch extraction (im2col), its adjoint (col2im), padding and window views
"""

from minidl.kernels.im2col import col2im, im2col, pad2d, sliding_windows
from minidl.kernels.shapes import check_non_negative, check_positive, output_size, pair

__all__ = ["col2im", "im2col", "pad2d", "sliding_windows", "check_non_negative", "check_positive",
           "output_size", "pair"]
