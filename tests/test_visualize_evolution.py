"""minidl.visualize.FeatureEvolution: a fit callback that records the epochs asked for, and nothing else."""

from collections import OrderedDict

import numpy as np
import pytest

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset
from minidl.train import fit
from minidl.visualize import FeatureEvolution


def data(count=48):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (count, 1, 8, 8)).astype(np.float32)
    labels = (images[:, 0, :4].mean(axis=(1, 2)) > images[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    return TensorDataset(images, labels)


def train(callbacks, epochs=4):
    minidl.manual_seed(0)
    model = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 4, 3, padding=1)), ("relu", nn.ReLU()),
                                       ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64, 2))]))
    loader = DataLoader(data(), batch_size=16, shuffle=True, seed=0)
    fit(model, optim.SGD(model.parameters(), lr=0.1), loader, epochs, progress=False, log=None, callbacks=callbacks)
    return model


def test_the_callback_records_the_epochs_asked_for_and_leaves_training_alone(tmp_path):
    evolution = FeatureEvolution(data(), "relu", channels=[0, 2], epochs=(3, 1, 7), k=2)
    model = train([evolution])
    assert sorted(evolution.records) == [1, 3]   # epoch 7 never came
    for record in evolution.records.values():
        assert record.indices.shape == (2, 2) and record.figure is None and len(record.projections) == 2
    plain = train([])
    for (name, a), (_, b) in zip(model.state_dict().items(), plain.state_dict().items()):
        assert np.array_equal(a, b), name   # the same weights as training without the callback
    figure = evolution.plot(tmp_path / "evolution.png")
    assert len(figure.axes) == 2 * 2 and [figure.axes[i].get_title() for i in (0, 1)] == ["epoch 1", "epoch 3"]
    assert (tmp_path / "evolution.png").stat().st_size > 0


def test_the_records_are_those_of_top_patches_after_that_epoch():
    from minidl.visualize import top_patches

    evolution = FeatureEvolution(data(), "relu", channels=[1], epochs=(4,), k=3)
    model = train([evolution])
    now = top_patches(model, data(), "relu", [1], k=3, plot=False, progress=False)
    assert np.array_equal(evolution.records[4].indices, now.indices)
    assert np.array_equal(evolution.records[4].values, now.values)


def test_mistakes_are_one_line_errors():
    with pytest.raises(ValueError, match=r"FeatureEvolution: epochs must be ints >= 1 \(fit counts epochs from 1\), "
                                         r"got \(0, 2\)"):
        FeatureEvolution(data(), "relu", [0], epochs=(0, 2))
    with pytest.raises(ValueError, match="FeatureEvolution.plot: nothing recorded yet; train with this callback first "
                                         r"\(it records after epochs 1, 2\)"):
        FeatureEvolution(data(), "relu", [0], epochs=(1, 2)).plot()
