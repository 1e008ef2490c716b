"""Task 5.6: fooling images."""

import numpy as np
import pytest

import minidl
from fooling import make_fooling_image
from minidl.explain.adversarial_fooling import make_fooling_image as answer_key
from tiny_models import tiny_cnn


def _prediction(model, x):
    return int(model(minidl.tensor(x)).numpy()[0].argmax())


@pytest.mark.task("5.6", points=2)
@pytest.mark.parametrize("target", [0, 4])
def test_the_model_is_fooled_by_a_small_change(target):
    model = tiny_cnn()
    x = np.random.default_rng(0).uniform(0.2, 0.8, (1, 3, 8, 8))
    assert _prediction(model, x) != target
    fooling = make_fooling_image(model, x, target, lr=0.05, max_iter=300)
    assert _prediction(model, fooling) == target
    assert 0 <= fooling.min() and fooling.max() <= 1 and fooling.dtype == x.dtype
    np.testing.assert_allclose(fooling, answer_key(model, x, target, lr=0.05, max_iter=300), rtol=1e-12, atol=1e-14)


@pytest.mark.task("5.6")
def test_an_image_already_of_the_target_class_is_returned_as_it_is():
    model = tiny_cnn()
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 8, 8))
    np.testing.assert_array_equal(make_fooling_image(model, x, _prediction(model, x)), x)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.6", points=2)
def test_the_hidden_fooling_image():
    fooling = make_fooling_image(tiny_cnn(5), EXPECTED["x"][1:2], 3, lr=0.05, max_iter=200)
    np.testing.assert_allclose(fooling, EXPECTED["fooling"], rtol=1e-12, atol=1e-14)
### END HIDDEN TESTS
