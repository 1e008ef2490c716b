"""Encodings of class labels on Tensors: ``one_hot``, named and specified as in ``torch.nn.functional``.

A one-hot encoding is a lookup, not a differentiable map: the result is an int64 Tensor that
carries no gradient (convert it with ``.float()`` to use it as a target distribution).
"""

import numpy as np

from minidl.kernels import is_int
from minidl.tensor import Tensor

__all__ = ["one_hot"]


def one_hot(tensor, num_classes=-1):
    """Replace each class index c by a vector of ``num_classes`` zeros with a 1 at position c.

    Args:
        tensor: int64 class indices of any shape (an int64 Tensor, or an array or list of ints).
        num_classes: the length of each vector; -1 (the default) takes the largest index + 1.
    Returns:
        an int64 Tensor of shape tensor.shape + (num_classes,), e.g. (N,) -> (N, C).
    """
    labels = tensor if isinstance(tensor, Tensor) else Tensor(tensor)
    if labels.dtype != np.int64:
        raise TypeError(
            f"one_hot: expected int64 class indices (PyTorch's LongTensor), got dtype {labels.dtype}; convert "
            f"them first, e.g. labels.long()"
        )
    if not is_int(num_classes) or (num_classes < 1 and num_classes != -1):
        raise ValueError(f"one_hot: num_classes must be a positive int, or -1 to infer it, got {num_classes!r}")
    values = labels.numpy()
    if num_classes == -1:
        if values.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(values.max()) + 1
    num_classes = int(num_classes)
    if values.size and values.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {values.min()}")
    if values.size and values.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {values.max()}")
    encoded = np.zeros(values.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(encoded, values[..., None], 1, axis=-1)
    return Tensor(encoded)
