"""``minidl.utils.data``: PyTorch's import path for datasets and loading, and a training loop
written for PyTorch running on it with ``torch`` changed to ``minidl``."""

import importlib

import numpy as np
import pytest

import minidl
import minidl.data
import minidl.nn.functional as F
from minidl import nn, optim
from minidl.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split

NAMES = ["DataLoader", "Dataset", "TensorDataset", "random_split", "Subset"]


@pytest.mark.parametrize("name", NAMES)
def test_the_names_are_minidl_datas(name):
    module = importlib.import_module("minidl.utils.data")
    assert getattr(module, name) is getattr(minidl.data, name)
    assert name in module.__all__
    assert importlib.import_module("minidl.utils").data is module


@pytest.mark.parametrize("name", NAMES)
def test_pytorch_has_the_same_names_at_the_same_path(name):
    torch = pytest.importorskip("torch")
    assert hasattr(torch.utils.data, name)


class Squares(Dataset):
    """A map-style dataset written as for PyTorch: items are Tensors."""

    def __init__(self, n):
        self.x = minidl.randn(n, 4)
        self.y = (self.x.numpy().sum(axis=1) > 0).astype(np.int64)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, index):
        return self.x[index], minidl.tensor(self.y[index])


def test_a_pytorch_training_loop_runs_unchanged():
    minidl.manual_seed(0)
    inputs = minidl.randn(64, 4)
    targets = minidl.tensor((inputs.numpy() @ np.array([1.0, -1.0, 0.5, 0.0]) > 0).astype(np.int64))
    train_set, val_set = random_split(TensorDataset(inputs, targets), [0.75, 0.25])
    assert isinstance(train_set, Subset) and (len(train_set), len(val_set)) == (48, 16)
    train_loader = DataLoader(train_set, batch_size=16, shuffle=True, num_workers=2, pin_memory=True)
    model = nn.Linear(4, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    for _ in range(30):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
    correct = 0
    with minidl.no_grad():
        for x, y in DataLoader(val_set, batch_size=8):
            _, predicted = minidl.max(model(x), 1)
            correct += (predicted == y).sum().item()  # elementwise, as in PyTorch
    assert correct >= 15  # a linear boundary: all but at most one validation sample


def test_items_that_are_tensors_are_stacked_into_tensors():
    batches = list(DataLoader(Squares(10), batch_size=4))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 4), (4, 4), (2, 4)]
    x, y = batches[0]
    assert isinstance(x, minidl.Tensor) and isinstance(y, minidl.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
