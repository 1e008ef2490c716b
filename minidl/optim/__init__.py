"""Optimisers and learning-rate schedules, named and behaving as in ``torch.optim``.

    from minidl import optim
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

- ``optimizer``: the ``Optimizer`` base (parameter groups, state, saving and loading)
- ``sgd``, ``adam``, ``rmsprop``, ``adadelta``: the update rules
- ``lr_scheduler``: ``StepLR``, ``CosineAnnealingLR``, ``LinearLR``, ``SequentialLR``, ``OneCycleLR``,
  ``ReduceLROnPlateau``
"""

from minidl.optim import lr_scheduler
from minidl.optim.adadelta import Adadelta
from minidl.optim.adam import Adam, AdamW
from minidl.optim.optimizer import Optimizer
from minidl.optim.rmsprop import RMSprop
from minidl.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "lr_scheduler"]
