"""Loss layers: ``criterion = nn.CrossEntropyLoss(); loss = criterion(scores, labels)``.

The options are keyword-only: PyTorch's first positional argument is a class ``weight``, which
minidl does not have, so ``CrossEntropyLoss(w)`` fails instead of meaning something else.
As in PyTorch, a loss prints without its options: ``CrossEntropyLoss()``.
"""

from minidl import functional as F
from minidl.nn.module import Module


class CrossEntropyLoss(Module):
    """Softmax cross entropy (``F.cross_entropy``).

    ``forward(input, target)``: scores (N, C) or (N, C, d1, ...), integer classes (N,) or
    (N, d1, ...). Output: a scalar for reduction 'mean'/'sum', target's shape for 'none'.
    ``label_smoothing`` in [0, 1] mixes the one-hot target with the uniform distribution.
    """

    def __init__(self, *, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``); LogSoftmax + NLLLoss is
    CrossEntropyLoss. Shapes as for CrossEntropyLoss."""

    def __init__(self, *, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, reduction=self.reduction)


class MSELoss(Module):
    """Mean squared error (``F.mse_loss``); input and target have the same shape. Output: a
    scalar, or the input's shape for reduction='none'."""

    def __init__(self, *, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)
