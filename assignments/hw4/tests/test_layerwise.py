"""Task 4.2: layer-wise learning rates."""

import numpy as np
import pytest

import minidl
from layerwise import layerwise_groups
from minidl import functional as F
from minidl import optim
from minidl.zoo import lenet5

LENET_GROUPS = [["features.conv1"], ["features.conv2"], ["classifier.fc1"], ["classifier.fc2"], ["classifier.fc3"]]


@pytest.mark.task("4.2", points=2)
def test_each_earlier_group_is_factor_times_slower():
    groups = layerwise_groups(lenet5(), LENET_GROUPS, base_lr=0.01, factor=3.0)
    assert [g["lr"] for g in groups] == pytest.approx([0.01 / 81, 0.01 / 27, 0.01 / 9, 0.01 / 3, 0.01], rel=1e-12)
    assert [sum(p.numel() for p in g["params"]) for g in groups] == [156, 2416, 48120, 10164, 850]


@pytest.mark.task("4.2", points=2)
def test_sgd_moves_each_group_by_its_own_rate_and_frozen_weights_not_at_all():
    minidl.manual_seed(0)
    model = lenet5()
    model.features.conv1.weight.requires_grad = False
    groups = layerwise_groups(model, LENET_GROUPS, base_lr=0.1, factor=10.0)
    assert all(p.requires_grad for g in groups for p in g["params"])
    before = {id(p): p.numpy().copy() for p in model.parameters()}
    x = minidl.tensor(np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32))
    F.cross_entropy(model(x), np.array([0, 1, 2, 3])).backward()
    optim.SGD(groups, lr=0.1).step()
    for group in groups:
        for p in group["params"]:
            np.testing.assert_allclose(p.numpy(), before[id(p)] - group["lr"] * p.grad.numpy(), rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(model.features.conv1.weight.numpy(), before[id(model.features.conv1.weight)])
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("4.2", points=2)
def test_the_hidden_grouping_matches_minidl_transfer():
    minidl.manual_seed(0)
    model = lenet5(num_classes=5, in_channels=3, image_size=32)
    model.features.conv1.weight.requires_grad = False
    groups = layerwise_groups(model, [["features.conv1"], ["features.conv2"], ["classifier.fc1", "classifier.fc2"],
                                      ["classifier.fc3"]], base_lr=0.03, factor=2.5)
    assert [g["lr"] for g in groups] == pytest.approx([float(EXPECTED[f"layerwise/lr{i}"]) for i in range(4)],
                                                      rel=1e-12)
    assert [sum(p.numel() for p in g["params"]) for g in groups] == [int(EXPECTED[f"layerwise/size{i}"])
                                                                     for i in range(4)]
### END HIDDEN TESTS
