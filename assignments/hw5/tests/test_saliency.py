"""Task 5.1: saliency maps, against minidl.explain's answer key."""

import numpy as np
import pytest

from minidl.explain import saliency_map as answer_key
from saliency import saliency_map
from tiny_models import tiny_cnn


@pytest.mark.task("5.1", points=2)
def test_the_map_is_the_strongest_channel_of_the_score_gradient():
    model = tiny_cnn()
    x, y = np.random.default_rng(0).uniform(0, 1, (3, 3, 8, 8)), np.array([0, 3, 1])
    maps = saliency_map(model, x, y)
    assert maps.shape == (3, 8, 8)
    np.testing.assert_allclose(maps, answer_key(model, x, y).numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.task("5.1")
def test_the_model_is_evaluated_and_its_parameters_get_no_gradient():
    model = tiny_cnn().train()
    saliency_map(model, np.random.default_rng(1).uniform(0, 1, (1, 3, 8, 8)), np.array([2]))
    assert not model.training
    assert all(p.grad is None or not np.any(p.grad.numpy()) for p in model.parameters())
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("5.1", points=2)
def test_the_hidden_maps():
    np.testing.assert_allclose(saliency_map(tiny_cnn(5), EXPECTED["x"], EXPECTED["y"]), EXPECTED["saliency"],
                               rtol=1e-12, atol=1e-15)
### END HIDDEN TESTS
