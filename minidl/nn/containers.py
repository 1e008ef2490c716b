"""Containers: ``Sequential`` chains modules, ``ModuleList`` holds them for a custom ``forward``,
``ModuleDict`` holds them by name.

Sub-modules are named by position ("0", "1", ...) unless an OrderedDict gives names, so a
parameter of the first layer of ``model.features`` is ``features.0.weight``, as in torchvision.
A ModuleDict's keys are its sub-modules' names: ``heads["digits"].weight`` is saved as
``heads.digits.weight``.
"""

import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

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


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered (a plain dict would hide them).

    Built from a mapping (its order kept) or an iterable of (name, module) pairs. Keys are the
    sub-modules' names, so they must be strings without "." that no attribute of the ModuleDict
    already has ("keys", "training", ...). Indexing, assignment (replacing a module keeps its
    place), ``del``, ``in``, ``len``, iteration over the keys, ``keys()``, ``values()``,
    ``items()``, ``update``, ``pop`` and ``clear`` work as on a dict. It has no ``forward``:
    the owning module decides which entries to call, e.g. one output head per task.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        """Remove the module under ``key`` and return it (KeyError if there is none)."""
        module = self[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        """Add (or replace) the modules of a mapping, a ModuleDict or an iterable of (key, module) pairs, in order."""
        if isinstance(modules, Mapping | ModuleDict):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, Iterable):
            raise TypeError(
                f"ModuleDict.update should be called with an iterable of key/value pairs, but got "
                f"{type(modules).__name__}"
            )
        for i, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{i} should be Iterable; is {type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{i} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]
