"""minidl.visualize.corrupt: every corruption deterministic under a seed, in [0, 1], the identity at
severity 0; the formulas and the rescaling rule; one-line errors."""

import numpy as np
import pytest

from minidl.visualize import BENCHMARK, CORRUPTIONS, EXTRA, corrupt, plot_corruptions
from minidl.visualize.corruptions import disk_kernel


def images(channels=3, side=16, count=4, seed=0):
    """Random pictures with exact 0s and 1s in them, the edges of the range."""
    x = np.random.default_rng(seed).uniform(0, 1, (count, channels, side, side)).astype(np.float32)
    x[:, :, 0, :3], x[:, :, 1, :3] = 0.0, 1.0
    return x


@pytest.mark.parametrize("kind", CORRUPTIONS)
@pytest.mark.parametrize("channels", [1, 3])
def test_each_corruption_is_deterministic_keeps_the_range_and_is_the_identity_at_severity_0(kind, channels):
    x = images(channels)
    before = x.copy()
    unchanged = corrupt(x, kind, 0, seed=5)
    assert np.array_equal(unchanged, x) and unchanged is not x
    for severity in (1, 3, 5):
        first, again = corrupt(x, kind, severity, seed=7), corrupt(x, kind, severity, seed=7)
        assert np.array_equal(first, again)
        assert first.dtype == x.dtype and first.shape == x.shape
        assert first.min() >= 0 and first.max() <= 1
    assert not np.array_equal(corrupt(x, kind, 5, seed=7), x)   # the worst severity changes the images
    assert np.array_equal(x, before)                            # the input is left alone


@pytest.mark.parametrize("kind", ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"])
def test_the_noises_follow_their_formulas_and_the_seed(kind):
    x = images(1).astype(np.float64)
    rng = np.random.default_rng(11)
    c = {"gaussian_noise": .18, "shot_noise": 12, "impulse_noise": .09, "speckle_noise": .35}[kind]
    if kind == "gaussian_noise":
        expected = x + rng.normal(scale=c, size=x.shape)
    elif kind == "shot_noise":
        expected = rng.poisson(x * c) / c
    elif kind == "impulse_noise":
        hit, salt = rng.random(x.shape) < c, rng.random(x.shape) < 0.5
        expected = np.where(hit, salt.astype(float), x)
    else:
        expected = x + x * rng.normal(scale=c, size=x.shape)
    assert np.array_equal(corrupt(x, kind, 3, seed=11), np.clip(expected, 0, 1))
    assert not np.array_equal(corrupt(x, kind, 3, seed=12), corrupt(x, kind, 3, seed=11))


def test_contrast_brightness_and_pixelate_by_hand():
    x = images(1, side=28).astype(np.float64)
    means = x.mean(axis=(2, 3), keepdims=True)
    assert np.allclose(corrupt(x, "contrast", 2), (x - means) * 0.3 + means, rtol=0, atol=1e-15)
    assert np.array_equal(corrupt(x, "brightness", 4), np.clip(x + 0.4, 0, 1))   # grey: the value is the level
    colour = images(3)
    hsv_brighter = corrupt(colour, "brightness", 1)
    # In HSV, V = max(R, G, B): brightness raises the largest channel by c.
    assert np.allclose(hsv_brighter.max(axis=1), np.minimum(colour.max(axis=1) + 0.1, 1), atol=1e-6)
    blocks = corrupt(x, "pixelate", 2)   # 28 -> int(28 * 0.5) = 14: 2x2 blocks of their mean
    expected = x.reshape(4, 1, 14, 2, 14, 2).mean(axis=(3, 5)).repeat(2, axis=2).repeat(2, axis=3)
    assert np.allclose(blocks, expected, rtol=0, atol=1e-12)


def test_blurs_keep_a_constant_image_and_lengths_scale_with_the_side():
    flat = np.full((2, 3, 28, 28), 0.3)
    for kind in ("defocus_blur", "gaussian_blur", "zoom_blur"):
        assert np.allclose(corrupt(flat, kind, 5), flat, rtol=0, atol=1e-12)
    # Defocus radius 3 pixels at 224 is 3 * 28 / 224 = 0.375 of a pixel at 28: the disk covers only
    # its own pixel, and severity 1 changes nothing; radius 10 (severity 5) becomes 1.25 pixels.
    x = images(1, side=28)
    assert np.array_equal(corrupt(x, "defocus_blur", 1), x)
    assert disk_kernel(0.375, 0.1 * 28 / 224).shape == (1, 1)
    kernel = disk_kernel(1.25, 0.5 * 28 / 224)
    assert kernel.shape == (5, 5) and kernel.sum() == pytest.approx(1.0) and np.allclose(kernel, kernel.T)
    assert np.allclose(kernel, kernel[::-1, ::-1]) and kernel[2, 2] == kernel.max()
    big = disk_kernel(3, 0)   # at 224 pixels: a disk of area pi r^2 (supersampled)
    coverage = big / big.max()
    assert coverage.sum() == pytest.approx(np.pi * 9, rel=0.01)


def test_the_grid_shows_every_kind_at_every_severity(tmp_path):
    grid = plot_corruptions(images(3)[0], path=tmp_path / "c.png")
    assert grid.pictures.shape == (len(CORRUPTIONS), 6, 3, 16, 16) and grid.kinds == CORRUPTIONS
    assert np.array_equal(grid.pictures[2, 3], corrupt(images(3)[:1], CORRUPTIONS[2], 3, seed=0)[0])
    assert (tmp_path / "c.png").stat().st_size > 0
    assert set(BENCHMARK) | set(EXTRA) == set(CORRUPTIONS) and len(BENCHMARK) == 9


@pytest.mark.parametrize("arguments, message", [
    ((images(), "gaussian_noise", 6), "corrupt: severity must be an integer from 0 to 5, got 6"),
    ((images(), "gaussian_noise", -1), "corrupt: severity must be an integer from 0 to 5, got -1"),
    ((images(), "gaussian_noise", 2.5), "corrupt: severity must be an integer from 0 to 5, got 2.5"),
    ((images(), "fog", 1), "corrupt: unknown corruption 'fog'; the corruptions: gaussian_noise, shot_noise"),
    ((images() * 255, "contrast", 1), r"corrupt: expected images in \[0, 1\] \(before normalisation\), got values "),
    ((images(channels=2), "contrast", 1), r"corrupt: expected grey \(1 channel\) or colour \(3 channels\) images"),
    ((np.zeros((4, 4)), "contrast", 1), r"corrupt: expected images of shape \(N, C, H, W\), got shape \(4, 4\)"),
])
def test_mistakes_are_one_line_errors(arguments, message):
    with pytest.raises(ValueError, match=message) as error:
        corrupt(*arguments)
    assert "\n" not in str(error.value)
