"""The built-in MNIST subset: offline, balanced, disjoint, and what its README says it is."""

import hashlib
import importlib.resources
import re
import socket
from pathlib import Path

import numpy as np
import pytest

from minidl.data.builtin import load_builtin
from minidl.data.loader import DataLoader
from minidl.data.mnist import MNIST

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PACKAGE_FOLDER = importlib.resources.files("minidl.data").joinpath("builtin")


@pytest.fixture(scope="module")
def splits():
    return load_builtin("mnist", train=True), load_builtin("mnist", train=False)


def test_loads_offline_without_a_data_folder(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the built-in data must not touch the network")
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert len(load_builtin()) == 8000
    assert not (tmp_path / "empty").exists() and not (tmp_path / "home").exists()


def test_shapes_dtypes_and_labels(splits):
    for dataset, count in zip(splits, (8000, 2000)):
        assert dataset.data.shape == (count, 28, 28) and dataset.data.dtype == np.uint8
        assert dataset.images.shape == (count, 1, 28, 28) and dataset.images.dtype == np.float32
        assert dataset.images.min() == 0 and dataset.images.max() == 1
        assert dataset.targets.shape == (count,) and dataset.targets.dtype == np.int64
        assert dataset.classes == MNIST.class_names
        image, label = dataset[count - 1]
        assert image.shape == (1, 28, 28) and label == dataset.targets[-1]


def test_classes_are_balanced(splits):
    train, test = splits
    assert np.bincount(train.targets).tolist() == [800] * 10
    assert np.bincount(test.targets).tolist() == [200] * 10


def test_train_and_test_share_no_image(splits):
    train, test = splits
    train_hashes = {hashlib.sha256(image.tobytes()).digest() for image in train.data}
    test_hashes = {hashlib.sha256(image.tobytes()).digest() for image in test.data}
    assert len(train_hashes) == 8000 and len(test_hashes) == 2000   # no duplicates either
    assert not train_hashes & test_hashes


def test_images_are_real_digits(splits):
    # MNIST's digits are white ink (~13% of the pixels above 127) on black, placed so that their
    # centre of mass falls in pixel (14, 14) of the 28x28 frame.
    data = splits[0].data
    assert 0.1 < (data > 127).mean() < 0.17 and (data[:, 0, :] > 0).mean() < 0.001
    rows, columns = np.mgrid[0:28, 0:28]
    mass = data.astype(np.float64)
    centre_row = (mass * rows).sum((1, 2)) / mass.sum((1, 2))
    centre_column = (mass * columns).sum((1, 2)) / mass.sum((1, 2))
    assert np.abs(centre_row - 14).max() <= 0.5 and np.abs(centre_column - 14).max() <= 0.5


def test_a_data_loader_gathers_batches_from_the_arrays(splits):
    images, labels = next(iter(DataLoader(splits[1], batch_size=32)))
    np.testing.assert_array_equal(images.data, splits[1].images[:32])
    np.testing.assert_array_equal(labels, splits[1].targets[:32])


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match=r"load_builtin: no built-in dataset 'cifar10'; available: \['mnist'\]"):
        load_builtin("cifar10")


def test_the_readme_records_the_arrays_that_ship():
    readme = PACKAGE_FOLDER.joinpath("README.md").read_text()
    recorded = dict(re.findall(r"\| `(\w+)` \| \w+ \| \([\d, ]+\) \| `([0-9a-f]{64})` \|", readme))
    with PACKAGE_FOLDER.joinpath("mnist.npz").open("rb") as file, np.load(file, allow_pickle=False) as archive:
        actual = {name: hashlib.sha256(archive[name].tobytes()).hexdigest() for name in archive.files}
    assert recorded == actual and len(actual) == 6


def test_it_is_the_official_images_at_the_recorded_positions(splits):
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"no mnist files in {SHARED_DATA}")
    for dataset, train in zip(splits, (True, False)):
        official = MNIST(root=SHARED_DATA, train=train)
        assert (np.diff(dataset.source_indices) > 0).all()
        np.testing.assert_array_equal(official.data[dataset.source_indices], dataset.data)
        np.testing.assert_array_equal(official.targets[dataset.source_indices], dataset.targets)
