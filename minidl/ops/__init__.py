"""The Tensor operations: one Function per operation, grouped by kind.

- ``arith``: elementwise + - * / ** neg, exp, log, sqrt, abs, clip, relu, cast, and the matrix product
- ``reduce``: sum, mean, max, min (with indices along a dim), amax, amin, argmax, argmin, norm
- ``shape``: reshape, permute, transpose, flatten, squeeze/unsqueeze, indexing, gather, cat, stack, clone
"""

from minidl.ops.arith import (abs, add, cast, clip, div, exp, log, matmul, mul, neg, pow, relu, sqrt, sub,
                              unbroadcast, where)
from minidl.ops.reduce import amax, amin, argmax, argmin, max, maximum, mean, min, minimum, norm, sum
from minidl.ops.shape import (cat, clone, flatten, gather, getitem, permute, reshape, squeeze, stack, transpose,
                              unsqueeze)

__all__ = [
    "abs", "add", "cast", "clip", "div", "exp", "log", "matmul", "mul", "neg", "pow", "relu", "sqrt", "sub",
    "unbroadcast", "where", "amax", "amin", "argmax", "argmin", "max", "maximum", "mean", "min", "minimum", "norm",
    "sum", "cat",
    "clone", "flatten", "gather", "getitem", "permute", "reshape", "squeeze", "stack", "transpose", "unsqueeze",
]
