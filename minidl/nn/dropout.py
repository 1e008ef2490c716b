"""Dropout layer."""

from minidl import functional as F
from minidl.functional.checks import check_fraction
from minidl.nn.module import Module


class Dropout(Module):
    """In training, zero each value with probability ``p`` and scale the others by 1/(1 - p)
    (inverted dropout, so nothing changes at test time); in evaluation, the identity
    (``F.dropout``). Output: the input's shape. ``inplace`` is accepted for PyTorch code; the
    result is always a new tensor.
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        check_fraction("Dropout", "probability p", p)
        self.p = p
        self.inplace = bool(inplace)

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
