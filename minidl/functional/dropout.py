"""Dropout on Tensors, named as in ``torch.nn.functional``.

The math lives in ``minidl.layers.dropout``; the mask is drawn from minidl's generator, so
``minidl.manual_seed`` makes it reproducible.
"""

from minidl.function import from_pair
from minidl.functional.checks import check_fraction, float_tensor
from minidl.layers.dropout import dropout_backward, dropout_forward

__all__ = ["dropout"]

Dropout = from_pair("Dropout", dropout_forward, dropout_backward)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each value with probability ``p`` and scale the kept ones by 1 / (1 - p) (training only).

    With ``training=False`` the input passes unchanged. Note that the default is
    ``training=True``, as in PyTorch: inside a model, ``nn.Dropout`` passes the module's mode.
    ``inplace`` is accepted for PyTorch code; the result is always a new tensor.
    """
    x = float_tensor("dropout", input)
    check_fraction("dropout", "probability p", p)
    return Dropout.apply(x, p=p, training=bool(training))
