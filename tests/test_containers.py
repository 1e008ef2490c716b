"""ModuleDict: an ordered dict of registered sub-modules, side by side with PyTorch's.

Each test runs the same operations on minidl and on PyTorch and compares keys, order,
state_dict names, repr and errors.
"""

from collections import OrderedDict

import numpy as np
import pytest

import minidl as md
from minidl import nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def both(torch, build):
    """``build(lib.nn)`` with minidl's nn and with PyTorch's."""
    return build(nn), build(torch.nn)


def test_module_dict_keeps_order_and_registers_its_modules(torch):
    ours, theirs = both(torch, lambda lib: lib.ModuleDict({"conv": lib.Conv2d(1, 2, 3), "act": lib.ReLU(),
                                                          "head": lib.Linear(4, 2)}))
    assert list(ours) == list(theirs) == ["conv", "act", "head"]
    assert list(ours.keys()) == list(theirs.keys())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    assert [type(m).__name__ for m in ours.values()] == [type(m).__name__ for m in theirs.values()]
    assert [(k, type(m).__name__) for k, m in ours.items()] == [(k, type(m).__name__) for k, m in theirs.items()]
    assert isinstance(ours["head"], nn.Linear) and ours.head is ours["head"]


def test_module_dict_behaves_like_a_dict(torch):
    def edit(lib):
        d = lib.ModuleDict(OrderedDict([("b", lib.ReLU()), ("a", lib.Tanh())]))
        d["c"] = lib.Sigmoid()
        d["b"] = lib.Linear(2, 2)  # replacing keeps the place
        d.update([("d", lib.ReLU()), ("a", lib.ReLU())])
        d.update(lib.ModuleDict({"e": lib.Tanh()}))
        del d["c"]
        popped = d.pop("d")
        return d, type(popped).__name__

    (ours, popped), (theirs, expected) = both(torch, edit)
    assert popped == expected == "ReLU"
    assert list(ours) == list(theirs) == ["b", "a", "e"]
    assert repr(ours) == repr(theirs)
    assert len(ours) == len(theirs) == 3
    assert "a" in ours and "a" in theirs
    assert "d" not in ours and "d" not in theirs
    ours.clear()
    theirs.clear()
    assert len(ours) == len(theirs) == 0 and list(ours.parameters()) == []


def test_module_dict_inside_a_model_trains_its_entries():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"digits": nn.Linear(3, 10), "parity": nn.Linear(3, 2)})

        def forward(self, x, task):
            return self.heads[task](x)

    model = TwoHeads()
    assert list(model.state_dict()) == ["heads.digits.weight", "heads.digits.bias",
                                        "heads.parity.weight", "heads.parity.bias"]
    model(md.tensor(np.ones((4, 3), dtype=np.float32)), "parity").sum().backward()
    assert model.heads["parity"].weight.grad is not None and model.heads["digits"].weight.grad is None
    model.eval()
    assert not model.heads["digits"].training


@pytest.mark.parametrize("call", [
    lambda lib: lib.ModuleDict({"keys": lib.ReLU()}),           # would hide the method
    lambda lib: lib.ModuleDict({"a.b": lib.ReLU()}),
    lambda lib: lib.ModuleDict({1: lib.ReLU()}),
    lambda lib: lib.ModuleDict({"a": 3}),
    lambda lib: lib.ModuleDict().update(5),
    lambda lib: lib.ModuleDict().update([5]),
    lambda lib: lib.ModuleDict().update([("a", lib.ReLU(), 3)]),
    lambda lib: lib.ModuleDict()["missing"],
    lambda lib: lib.ModuleDict().pop("missing"),
])
def test_module_dict_refuses_what_pytorch_refuses(torch, call):
    with pytest.raises(Exception) as theirs:
        call(torch.nn)
    with pytest.raises(type(theirs.value)):
        call(nn)


def test_module_dict_update_errors_name_the_problem():
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable of key/value pairs, "
                                        "but got int"):
        nn.ModuleDict().update(5)
    with pytest.raises(TypeError, match="ModuleDict update sequence element #0 should be Iterable; is int"):
        nn.ModuleDict().update([5])
    with pytest.raises(ValueError, match="ModuleDict update sequence element #1 has length 3; 2 is required"):
        nn.ModuleDict().update([("a", nn.ReLU()), ("b", nn.ReLU(), 3)])
    with pytest.raises(KeyError, match="attribute 'keys' already exists on ModuleDict"):
        nn.ModuleDict({"keys": nn.ReLU()})
