"""The Tensor operations: one Function per operation, grouped by kind.

- ``arith``: elementwise + - * / ** neg, exp, log, sqrt, abs, clip, relu, cast, and the matrix product
- ``reduce``: sum, mean, max, min over axes
- ``shape``: reshape, permute, transpose, flatten, squeeze/unsqueeze, indexing, cat, stack
"""

from minidl.ops.arith import (abs, add, cast, clip, div, exp, log, matmul, mul, neg, pow, relu, sqrt, sub,
                              unbroadcast)
from minidl.ops.reduce import max, mean, min, sum
from minidl.ops.shape import cat, flatten, getitem, permute, reshape, squeeze, stack, transpose, unsqueeze

__all__ = [
    "abs", "add", "cast", "clip", "div", "exp", "log", "matmul", "mul", "neg", "pow", "relu", "sqrt", "sub",
    "unbroadcast", "max", "mean", "min", "sum", "cat", "flatten", "getitem", "permute", "reshape",
    "squeeze", "stack", "transpose", "unsqueeze",
]
