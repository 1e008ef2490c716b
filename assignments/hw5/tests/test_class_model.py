"""Task 5.5: class model images by normalised gradient ascent, against minidl.visualize's loop."""

import numpy as np
import pytest

import minidl
from class_model import class_model_image
from minidl import nn
from tiny_models import tiny_cnn


@pytest.mark.task("5.5", points=2)
def test_a_linear_score_lights_up_exactly_its_positive_weights():
    # S = sum(w * I): the gradient is w - 2 l2 I, so the pixels with w > 0 climb (to 1 at most)
    # and those with w < 0 stay clipped at 0.
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2, bias=False)).double()
    weight = np.where(np.arange(16) % 3 == 0, 1.0, -1.0)
    model[1].weight.data.copy_(minidl.tensor(np.stack([weight, -weight])))
    image = class_model_image(model, 0, (1, 4, 4), iterations=40, step=0.5, l2=1e-2)
    assert image.shape == (1, 4, 4) and image.dtype == np.float64
    assert np.all(image.reshape(-1)[weight > 0] > 0.9) and np.all(image.reshape(-1)[weight < 0] == 0)


@pytest.mark.task("5.5", points=2)
def test_the_target_score_rises_and_the_pixels_stay_in_range():
    model = tiny_cnn()
    start = model(minidl.tensor(np.zeros((1, 3, 8, 8)))).numpy()[0, 2]
    image = class_model_image(model, 2, (3, 8, 8), iterations=25, step=0.5, l2=1e-3)
    assert 0 <= image.min() and image.max() <= 1
    scores = model(minidl.tensor(image[None])).numpy()[0]
    # The reference climbs from -0.05 to 0.27, to the top of the five scores.
    assert scores.argmax() == 2 and scores[2] > start + 0.25
    np.testing.assert_array_equal(image, class_model_image(model, 2, (3, 8, 8), iterations=25, step=0.5, l2=1e-3))
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.5", points=2)
def test_the_hidden_class_model_is_minidl_visualize_s():
    image = class_model_image(tiny_cnn(5), 3, (3, 8, 8), iterations=30, step=0.5, l2=1e-2)
    np.testing.assert_allclose(image, EXPECTED["class_model"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
