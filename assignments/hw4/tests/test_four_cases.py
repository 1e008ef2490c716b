"""Task 4.4: the lecture's advice, and its "little data, similar source" cell measured."""

import numpy as np
import pytest

from four_cases import advice, little_data_similar_source
from minidl.data import load_dataset
from minidl.zoo import load_pretrained


@pytest.mark.task("4.4")
def test_the_advice_of_the_four_cases():
    assert advice("little", "similar") == "a linear classifier on the top layer"
    assert advice("little", "different") == "a linear classifier on earlier features"
    assert advice("much", "similar") == "fine-tune a few layers"
    assert advice("much", "different") == "fine-tune a larger number of layers"


@pytest.mark.task("4.4", points=3)
def test_ten_labels_per_class_of_new_shapes():
    model = load_pretrained("lenet5-synthetic-shapes")
    normalize = model.weights_metadata["normalize"]
    mean = np.array(normalize["mean"], dtype=np.float32)[:, None, None]
    std = np.array(normalize["std"], dtype=np.float32)[:, None, None]
    train, test = load_dataset("synthetic-shapes-new", train=True), load_dataset("synthetic-shapes-new", train=False)
    labels = np.asarray(train.targets)
    chosen = np.concatenate([np.flatnonzero(labels == c)[:10] for c in range(5)])
    before = {name: p.numpy().copy() for name, p in model.named_parameters()}
    train_images = ((train.images[chosen] - mean) / std).astype(np.float32)
    test_images = ((test.images[:300] - mean) / std).astype(np.float32)
    result = little_data_similar_source(model, "classifier.act4", train_images, labels[chosen], test_images,
                                        np.asarray(test.targets[:300]), epochs=5)
    assert set(result) == {"probe", "fine-tune"}
    # Chance is 20%; the reference's probe gets about 58% from 50 images, its fine-tuning about 50%.
    assert result["probe"] >= 0.45 and result["fine-tune"] >= 0.3
    assert all(np.array_equal(p.numpy(), before[name]) for name, p in model.named_parameters())
