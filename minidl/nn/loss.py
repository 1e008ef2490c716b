"""Loss layers: ``criterion = nn.CrossEntropyLoss(); loss = criterion(scores, labels)``.

As in PyTorch, the class weights of the classification losses are their first argument and a
buffer (``criterion.weight``, saved in ``state_dict`` when given); the other options are
keyword-only, since PyTorch's deprecated size_average and reduce sit between them. A loss
prints without its options: ``CrossEntropyLoss()``.
"""

from minidl import functional as F
from minidl.nn.module import Module


class CrossEntropyLoss(Module):
    """Softmax cross entropy (``F.cross_entropy``).

    ``forward(input, target)``: scores (N, C) or (N, C, d1, ...), integer classes (N,) or
    (N, d1, ...). Output: a scalar for reduction 'mean'/'sum', target's shape for 'none'.
    ``weight`` (C,) scales each class's losses ('mean' divides by the summed weight of the
    targets), targets equal to ``ignore_index`` are skipped, and ``label_smoothing`` in [0, 1]
    mixes the one-hot target with the uniform distribution.
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``); LogSoftmax + NLLLoss is
    CrossEntropyLoss. Shapes, ``weight`` and ``ignore_index`` as for CrossEntropyLoss."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(Module):
    """Mean squared error (``F.mse_loss``); input and target have the same shape. Output: a
    scalar, or the input's shape for reduction='none'."""

    def __init__(self, *, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)
