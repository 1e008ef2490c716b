"""Task 4.1: what trains in a feature extractor and in fine-tuning, and frozen batch norm."""

import numpy as np
import pytest

import minidl
from minidl import functional as F
from minidl import nn, optim
from minidl.zoo import load_pretrained, resnet20
from strategies import feature_extractor, fine_tuning, set_train_mode, trainable_parameters


def _batch(channels=3, size=32, n=8):
    rng = np.random.default_rng(0)
    return minidl.tensor(rng.standard_normal((n, channels, size, size)).astype(np.float32)), rng.integers(0, 4, n)


@pytest.mark.task("4.1", points=2)
def test_a_feature_extractor_trains_its_new_head_only():
    model = feature_extractor(load_pretrained("lenet5-synthetic-shapes"), 4)
    assert isinstance(model.classifier.fc3, nn.Linear) and model.classifier.fc3.out_features == 4
    assert trainable_parameters(model) == 84 * 4 + 4
    body = {name: p.numpy().copy() for name, p in model.named_parameters() if not name.startswith("classifier.fc3")}
    head = model.classifier.fc3.weight.numpy().copy()
    optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    assert all(np.array_equal(p.numpy(), body[name]) for name, p in model.named_parameters() if name in body)
    assert not np.array_equal(model.classifier.fc3.weight.numpy(), head)


@pytest.mark.task("4.1")
def test_fine_tuning_trains_everything():
    model = load_pretrained("lenet5-synthetic-shapes")
    for p in model.parameters():
        p.requires_grad = False                 # even a model someone froze before
    model = fine_tuning(model, 7)
    expected = 3 * 6 * 25 + 6 + 6 * 16 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 7 + 7
    assert trainable_parameters(model) == expected == sum(p.numel() for p in model.parameters())


@pytest.mark.task("4.1", points=2)
def test_frozen_batch_norm_keeps_its_statistics_in_training_mode():
    minidl.manual_seed(0)
    model = feature_extractor(resnet20(num_classes=10, in_channels=3), 4)
    before = model.bn1.running_mean.numpy().copy()
    set_train_mode(model)
    assert not model.bn1.training and model.fc.training
    model(_batch()[0])
    np.testing.assert_array_equal(model.bn1.running_mean.numpy(), before)
    trainable = fine_tuning(resnet20(num_classes=10, in_channels=3), 4)
    set_train_mode(trainable)
    assert trainable.bn1.training     # batch norm that trains keeps its batch statistics
