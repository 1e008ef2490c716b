"""Task 3.5: random flips and random crops."""

import numpy as np
import pytest

from augment import random_crop, random_horizontal_flip


def _images(n=6, channels=2, size=5):
    return np.random.default_rng(0).standard_normal((n, channels, size, size))


@pytest.mark.task("3.5", points=2)
def test_each_image_is_itself_or_its_mirror_and_about_half_are_flipped():
    images = np.random.default_rng(1).standard_normal((1000, 1, 3, 4))
    before = images.copy()
    out = random_horizontal_flip(images, np.random.default_rng(2))
    np.testing.assert_array_equal(images, before)
    same = np.all(out == images, axis=(1, 2, 3))
    mirrored = np.all(out == images[..., ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert 400 < mirrored.sum() < 600    # Binomial(1000, 1/2): 5 standard deviations either side
    np.testing.assert_array_equal(random_horizontal_flip(images, np.random.default_rng(3), p=0.0), images)
    np.testing.assert_array_equal(random_horizontal_flip(images, np.random.default_rng(3), p=1.0), images[..., ::-1])


@pytest.mark.task("3.5", points=2)
def test_each_crop_is_a_window_of_the_padded_image_at_varying_offsets():
    images = _images(n=40)
    before = images.copy()
    out = random_crop(images, 2, np.random.default_rng(4))
    np.testing.assert_array_equal(images, before)
    assert out.shape == images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = []
    for n in range(len(images)):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(out[n], padded[n, :, dy:dy + 5, dx:dx + 5])]
        assert found, f"image {n} is not a window of its padded copy"
        offsets.append(found[0])
    assert len(set(offsets)) > 10     # 40 draws from 25 offsets
    np.testing.assert_array_equal(random_crop(images, 0, np.random.default_rng(5)), images)
