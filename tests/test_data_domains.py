"""The transfer experiments' domains: class splits of a dataset and the SyntheticShapes variants."""

from pathlib import Path

import numpy as np
import pytest

from minidl.data import ImageDataset, load_dataset, select_classes
from minidl.data.synthetic import FIRST_SHAPES, OTHER_SHAPES

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def small_dataset():
    data = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2)
    return ImageDataset(data, np.array([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])


def test_select_classes_keeps_those_classes_relabelled_in_the_order_given():
    subset = select_classes(small_dataset(), ["c", 0])
    assert subset.classes == ["c", "a"]
    np.testing.assert_array_equal(subset.targets, [1, 0, 1, 0])
    np.testing.assert_array_equal(subset.data[:, 0, 0], [0, 8, 12, 20])


@pytest.mark.parametrize("classes, message", [([0, 0], "distinct"), ([3], "out of range"), (["d"], "no class named 'd'"),
                                              ([], "distinct")])
def test_select_classes_refuses_bad_classes(classes, message):
    with pytest.raises(ValueError, match=message):
        select_classes(small_dataset(), classes)


def test_synthetic_domains_share_no_shape_with_the_source():
    source = load_dataset("synthetic-shapes", train=False)
    new = load_dataset("synthetic-shapes-new", train=False)
    outline = load_dataset("synthetic-shapes-outline", train=False)
    assert source.classes == list(FIRST_SHAPES) and new.classes == outline.classes == list(OTHER_SHAPES)
    assert outline.outline and outline.background == "checker" and not new.outline
    assert len(new) == len(outline) == 2000


@pytest.mark.skipif(not (SHARED_DATA / "fashion-mnist").is_dir(),
                    reason="the original Fashion-MNIST files are not beside the project (../shared/data)")
def test_fashion_mnist_splits_are_disjoint_halves():
    a = load_dataset("fashion-mnist-a", train=False, root=SHARED_DATA)
    b = load_dataset("fashion-mnist-b", train=False, root=SHARED_DATA)
    assert a.classes[0] == "T-shirt/top" and b.classes[0] == "Sandal"
    assert len(a) == len(b) == 5000 and sorted(set(a.targets.tolist())) == [0, 1, 2, 3, 4]
