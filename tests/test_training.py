"""End to end: a small CNN must be able to memorise a small training set.

Overfitting 50 fixed images is the classic sanity check of a network, its gradients and its
optimiser working together: if any backward pass were wrong, the loss would stall.
"""

import numpy as np
import pytest

import minidl as md
from minidl import functional as F
from minidl import nn, optim


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 3 * 3, 10),
    )


def fixed_images():
    rng = np.random.default_rng(7)
    images = rng.standard_normal((50, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 10, size=50)
    return md.tensor(images), labels


@pytest.mark.parametrize("make_optimizer", [
    lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
    lambda params: optim.Adam(params, lr=0.01),
], ids=["sgd-momentum", "adam"])
def test_small_cnn_overfits_50_images(make_optimizer):
    md.manual_seed(0)
    model = small_cnn()
    optimizer = make_optimizer(model.parameters())
    images, labels = fixed_images()
    first_loss = None
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        first_loss = loss.item() if first_loss is None else first_loss
        with md.no_grad():
            accuracy = (model(images).numpy().argmax(axis=1) == labels).mean()
        if accuracy == 1.0:
            break
    assert accuracy == 1.0, f"training accuracy stalled at {accuracy:.2f}"
    assert loss.item() < first_loss / 2
    assert all(p.dtype == np.float32 for p in model.parameters())
