"""Containers: ``Sequential`` chains modules, ``ModuleList`` holds them for a custom ``forward``.

Sub-modules are named by position ("0", "1", ...) unless an OrderedDict gives names, so a
parameter of the first layer of ``model.features`` is ``features.0.weight``, as in torchvision.
"""

import operator
from collections import OrderedDict

from minidl.nn.module import Module


def _index(idx, length, container):
    """A non-negative position from an int index (negative counts from the end), checked."""
    idx = operator.index(idx)
    if not -length <= idx < length:
        raise IndexError(f"{container}: index {idx} is out of range for {length} modules")
    return idx % length


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: a length, iteration in order, and ``append``."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class Sequential(_ModuleSequence):
    """Modules applied one after another: ``Sequential(a, b, c)(x) = c(b(a(x)))``.

    Built from modules (named "0", "1", ...) or from one OrderedDict of ``name -> module``.
    Indexing gives a module, slicing gives a Sequential (names kept), ``len`` and iteration work
    as on a list, ``append`` adds a module at the end, and ``seq[i] = m`` replaces one (e.g. a
    new classifier head).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module):
        name = list(self._modules)[_index(idx, len(self), "Sequential")]
        setattr(self, name, module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain Python list would hide them).

    It has no ``forward``: the owning module decides how to call its entries.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self
