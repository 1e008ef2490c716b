"""Task 3.6: the small ResNet and its training loop (a sanity check; the full training run is the notebook's)."""

import numpy as np
import pytest

import minidl
from blocks import ResidualBlock
from minidl import optim
from minidl.data import load_dataset
from small_resnet import accuracy, small_resnet, train_epoch


@pytest.mark.task("3.6", points=2)
def test_the_network_has_three_residual_stages_and_77754_parameters():
    model = small_resnet()
    out = model(minidl.tensor(np.zeros((2, 1, 28, 28), dtype=np.float32)))
    assert out.shape == (2, 10)
    assert sum(isinstance(m, ResidualBlock) for m in model.modules()) == 3
    # stem 144 + 32; blocks 4,672, 14,528 + 576, 55,552 + 2,176 (with their BN); linear 650
    assert sum(p.numel() for p in model.parameters()) == 77_754


@pytest.mark.task("3.6", points=3)
def test_training_overfits_a_small_batch():
    # CS231n's sanity check: a network that cannot learn 64 images by heart has a bug.
    # (The reference gets from a loss of 2.26 to 0.02 in these 25 epochs of 4 steps.)
    data = load_dataset("builtin", train=True)
    images, labels = ((data.images[:64] - 0.13) / 0.31).astype(np.float32), np.asarray(data.targets[:64])
    model = small_resnet(widths=(16, 16, 32))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    losses = [train_epoch(model, optimizer, images, labels, 16, rng) for _ in range(25)]
    assert losses[-1] < 0.1 * losses[0]
    assert accuracy(model, images, labels) >= 0.95
    assert not model.training     # accuracy evaluates in evaluation mode
