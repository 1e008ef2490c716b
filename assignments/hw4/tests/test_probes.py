"""Task 4.3: per-layer features and the closed-form ridge probe."""

import numpy as np
import pytest

from minidl.data import load_dataset
from minidl.zoo import load_pretrained
from probes import layer_features, ridge_probe


def _shapes(start, stop):
    """Normalised SyntheticShapes test images (the source model's own classes) and labels."""
    model = load_pretrained("lenet5-synthetic-shapes")
    normalize = model.weights_metadata["normalize"]
    mean = np.array(normalize["mean"], dtype=np.float32)[:, None, None]
    std = np.array(normalize["std"], dtype=np.float32)[:, None, None]
    data = load_dataset("synthetic-shapes", train=False)
    return model, ((data.images[start:stop] - mean) / std).astype(np.float32), np.asarray(data.targets[start:stop])


@pytest.mark.task("4.3", points=2)
def test_features_are_one_row_per_image_with_maps_averaged():
    model, images, _ = _shapes(0, 10)
    assert layer_features(model, images, "features.conv1").shape == (10, 6)
    assert layer_features(model, images, "features.pool2").shape == (10, 16)
    fc1 = layer_features(model, images, "classifier.fc1")
    assert fc1.shape == (10, 120) and fc1.dtype == np.float64
    model.train()
    layer_features(model, images, "classifier.fc1")
    assert model.training      # the model's mode is given back


@pytest.mark.task("4.3", points=2)
def test_the_probe_separates_separable_classes_and_not_random_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    features = np.eye(3)[labels] * 5 + rng.standard_normal((200, 3)) * 0.1
    assert ridge_probe(features[:100], labels[:100], features[100:], labels[100:]) == 1.0
    noise, coin = rng.standard_normal((400, 20)), rng.integers(0, 2, 400)
    assert ridge_probe(noise[:200], coin[:200], noise[200:], coin[200:]) < 0.65   # chance: 0.5 +- 0.035


@pytest.mark.task("4.3")
def test_later_layers_separate_the_source_classes_better():
    model, images, labels = _shapes(0, 400)
    accuracy = {layer: ridge_probe(layer_features(model, images[:200], layer), labels[:200],
                                   layer_features(model, images[200:], layer), labels[200:])
                for layer in ("features.pool1", "classifier.act4")}
    assert accuracy["classifier.act4"] > 0.9 > accuracy["features.pool1"]
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("4.3", points=2)
def test_the_hidden_features_match_minidl_transfer():
    model = load_pretrained("lenet5-synthetic-shapes")
    for layer in ("features.conv2", "classifier.fc1"):
        np.testing.assert_allclose(layer_features(model, EXPECTED["features/images"], layer),
                                   EXPECTED[f"features/{layer}"], rtol=1e-5, atol=1e-6)


@pytest.mark.task("4.3", points=2)
@pytest.mark.parametrize("reg", [0.1, 300.0])
def test_the_hidden_probe(reg):
    accuracy = ridge_probe(EXPECTED["probe/train_x"], EXPECTED["probe/train_y"], EXPECTED["probe/test_x"],
                           EXPECTED["probe/test_y"], reg=reg)
    assert accuracy == pytest.approx(float(EXPECTED[f"probe/accuracy_{reg}"]), abs=1e-12)
### END HIDDEN TESTS
