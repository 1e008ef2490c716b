"""Task 2.3: receptive fields of stacked layers."""

import pytest

from receptive_fields import receptive_fields


@pytest.mark.task("2.3")
def test_three_3x3_convolutions_see_7x7():
    assert receptive_fields([(3, 1, 1)] * 3) == [(3, 1), (5, 1), (7, 1)]


@pytest.mark.task("2.3", points=2)
def test_vgg16_pool5_sees_212_pixels():
    block = lambda convs: [(3, 1, 1)] * convs + [(2, 2, 1)]   # noqa: E731
    fields = receptive_fields(block(2) + block(2) + block(3) + block(3) + block(3))
    assert fields[-1] == (212, 32)
    assert fields[1] == (5, 1) and fields[2] == (6, 2)   # conv1_2 sees 5x5; pool1 doubles the jump


@pytest.mark.task("2.3")
def test_dilations_1_2_4_8_grow_the_field_exponentially():
    assert [field for field, _ in receptive_fields([(3, 1, d) for d in (1, 2, 4, 8)])] == [3, 7, 15, 31]
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

import numpy as np  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("2.3", points=2)
@pytest.mark.parametrize("stack", range(3))
def test_hidden_stacks(stack):
    layers = [tuple(layer) for layer in EXPECTED[f"fields{stack}/layers"].tolist()]
    assert [list(row) for row in receptive_fields(layers)] == EXPECTED[f"fields{stack}/expected"].tolist()
### END HIDDEN TESTS
