"""Gradual unfreezing: fine-tune the last layer group first, then one more group every few epochs.

The lectures' order for fine-tuning with more target data: train the new head on frozen
features, then let later layers adapt before earlier ones, since the early features (edges,
colour blobs) transfer best and are the last worth disturbing.

    groups = layerwise_param_groups(model, base_lr=0.01, factor=3)   # every group, while all train
    optimizer = optim.SGD(groups, momentum=0.9)
    fit(model, optimizer, loader, epochs=6, callbacks=[GradualUnfreezing(model, every=2)])

With ``n`` groups, epochs 1..every train only the last group (the head), the next ``every``
epochs the last two, and so on until every group trains. The optimiser is built over all the
groups beforehand: a frozen parameter has no gradient, and optimisers skip parameters without
one, so its momentum and weight decay start only when it is unfrozen. Which groups train is
worked out from the epoch number alone, so a resumed run unfreezes exactly as an uninterrupted one.
"""

import numbers

from minidl.transfer.freeze import freeze, unfreeze
from minidl.transfer.layerwise import default_groups

__all__ = ["GradualUnfreezing"]


class GradualUnfreezing:
    """A ``fit`` callback that unfreezes the model's layer groups from the head down, ``every`` epochs apart.

    Args:
        model: the network (its groups are frozen at once, except the last).
        groups: a list of groups from the input to the head, each a list of module names (or one
            name); None gives ``default_groups(model)``, the top-level modules with parameters.
        every: epochs between unfreezing one group and the next (an int >= 1).
    """

    def __init__(self, model, groups=None, every=1):
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"GradualUnfreezing: every must be an int >= 1, got {every!r}")
        groups = default_groups(model) if groups is None else [[g] if isinstance(g, str) else list(g) for g in groups]
        if not groups:
            raise ValueError("GradualUnfreezing: the model has no layer group with parameters")
        known = dict(model.named_modules())
        for name in (name for group in groups for name in group):
            if name not in known:
                raise KeyError(f"GradualUnfreezing: {type(model).__name__} has no module named {name!r}; its "
                               f"top-level modules are {', '.join(n for n, _ in model.named_children())}")
        self.groups, self.every = groups, int(every)
        self.trainable = None
        self._apply(model, 1)

    def trainable_groups(self, epoch):
        """How many of the last groups train in ``epoch`` (counted from 1)."""
        return min(len(self.groups), 1 + (epoch - 1) // self.every)

    def on_epoch_start(self, model, epoch):
        self._apply(model, epoch)

    def _apply(self, model, epoch):
        count = self.trainable_groups(epoch)
        if count == self.trainable:
            return
        for k, group in enumerate(self.groups):
            change = unfreeze if k >= len(self.groups) - count else freeze
            for name in group:
                change(model.get_submodule(name))
        self.trainable = count
