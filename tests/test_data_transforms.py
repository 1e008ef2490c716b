"""Batch transforms: shapes, dtypes, value ranges, determinism, and each transform's math on
small images whose answer can be worked out by hand."""

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl.data.transforms import (ColorJitter, Compose, GaussianBlur, GaussianNoise, Normalize,
                                    RandomCrop, RandomHorizontalFlip, RandomTranslation)


def uniform_images(shape, seed=0, low=0.0, high=1.0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def copies(image, count):
    """``count`` copies of one (C, H, W) image as a batch (count, C, H, W)."""
    return np.repeat(image[None], count, axis=0)


# Every transform, built for images with a given number of channels, and whether it keeps
# values inside [0, 1].
TRANSFORMS = {
    "normalize": (lambda c: Normalize([0.5] * c, [0.25] * c), False),
    "crop": (lambda c: RandomCrop(4, padding=1), True),
    "translation": (lambda c: RandomTranslation(2), True),
    "flip": (lambda c: RandomHorizontalFlip(), True),
    "jitter": (lambda c: ColorJitter(brightness=0.5, contrast=0.5), True),
    "noise": (lambda c: GaussianNoise(0.2), True),
    "blur": (lambda c: GaussianBlur(3, sigma=(0.5, 1.5)), True),
    "compose": (lambda c: Compose([RandomCrop(4, padding=2), RandomHorizontalFlip(),
                                   GaussianBlur(3, 1.0)]), True),
}
NAMES = sorted(TRANSFORMS)


def expected_shape(name, shape):
    return shape[:2] + (4, 4) if name in ("crop", "compose") else shape


@pytest.mark.parametrize("name", NAMES)
@given(batch=st.integers(1, 4), channels=st.integers(1, 3), height=st.integers(4, 9),
       width=st.integers(4, 9), dtype=st.sampled_from([np.float32, np.float64]))
def test_shape_dtype_and_range(name, batch, channels, height, width, dtype):
    make, keeps_unit_range = TRANSFORMS[name]
    images = uniform_images((batch, channels, height, width), dtype=dtype)
    out = make(channels)(images, np.random.default_rng(1))
    assert out.shape == expected_shape(name, images.shape)
    assert out.dtype == dtype
    assert np.isfinite(out).all()
    if keeps_unit_range:
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(name):
    images = uniform_images((16, 3, 8, 8))
    t = TRANSFORMS[name][0](3)
    first = t(images, np.random.default_rng(5))
    np.testing.assert_array_equal(first, t(images, np.random.default_rng(5)))
    md.manual_seed(3)
    from_minidl = t(images)
    md.manual_seed(3)
    np.testing.assert_array_equal(from_minidl, t(images))
    if name != "normalize":   # the only transform that draws nothing
        assert not np.array_equal(first, t(images, np.random.default_rng(6)))


@pytest.mark.parametrize("name", NAMES)
def test_input_is_not_modified(name):
    images = uniform_images((8, 3, 6, 6))
    before = images.copy()
    TRANSFORMS[name][0](3)(images, np.random.default_rng(0))
    np.testing.assert_array_equal(images, before)


def python_calls(transform, images):
    """How many Python and C functions run while ``transform`` processes ``images``."""
    count = 0

    def profiler(frame, event, arg):
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(profiler)
    try:
        transform(images, np.random.default_rng(0))
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("name", NAMES)
def test_vectorised_over_the_batch(name):
    # A loop over the images would make more calls for a bigger batch; array code makes the same.
    t = TRANSFORMS[name][0](3)
    python_calls(t, uniform_images((2, 3, 8, 8)))  # warm-up: the first call fills caches (e.g. abc's)
    assert python_calls(t, uniform_images((1, 3, 8, 8))) == python_calls(t, uniform_images((1000, 3, 8, 8)))


def test_ten_thousand_images_in_one_call():
    images = uniform_images((10_000, 1, 28, 28))
    augment = Compose([RandomCrop(28, padding=2), RandomHorizontalFlip(), ColorJitter(0.3, 0.3),
                       GaussianNoise(0.05), GaussianBlur(3), Normalize([0.13], [0.31])])
    out = augment(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32


# ---------------------------------------------------------------- Normalize
def test_normalize_by_hand():
    images = np.array([[[[1.0, 3.0]], [[0.0, 4.0]]]], dtype=np.float32)   # (1, 2, 1, 2)
    out = Normalize(mean=[1.0, 2.0], std=[2.0, 4.0])(images)
    np.testing.assert_array_equal(out, [[[[0.0, 1.0]], [[-0.5, 0.5]]]])


def test_normalize_with_batch_statistics_gives_zero_mean_unit_std():
    images = uniform_images((64, 3, 5, 5), low=0.2, high=0.9).astype(np.float64)
    images[:, 1] *= 0.3
    mean, std = images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))
    out = Normalize(mean, std)(images)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, rtol=1e-12)


def test_normalize_errors():
    with pytest.raises(ValueError, match="Normalize: mean and std have 2 values but the images have 3 channels"):
        Normalize([0.5, 0.5], [0.2, 0.2])(uniform_images((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="Normalize: std must be positive"):
        Normalize([0.5], [0.0])
    with pytest.raises(ValueError, match="2 means and 1 stds"):
        Normalize([0.5, 0.5], [0.2])


# ---------------------------------------------------------------- RandomCrop
def all_windows(image, crop_h, crop_w):
    """Every (crop_h x crop_w) window of a (C, H, W) image."""
    _, height, width = image.shape
    return [image[:, y:y + crop_h, x:x + crop_w] for y in range(height - crop_h + 1)
            for x in range(width - crop_w + 1)]


def count_matches(outputs, candidates):
    """For each candidate, how many outputs equal it; every output must equal one candidate."""
    hits = np.zeros(len(candidates), dtype=int)
    for out in outputs:
        matches = [i for i, c in enumerate(candidates) if np.array_equal(out, c)]
        assert len(matches) == 1, "an output is none of the expected images"
        hits[matches[0]] += 1
    return hits


def test_crop_offsets_cover_every_window_of_the_padded_image():
    image = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3)
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))           # 5x5: nine 3x3 windows
    out = RandomCrop(3, padding=1)(copies(image, 450), np.random.default_rng(0))
    hits = count_matches(out, all_windows(padded, 3, 3))
    assert hits.min() > 20   # uniform offsets: about 50 of each


def test_crop_uses_one_offset_for_all_channels():
    base = np.arange(36, dtype=np.float32).reshape(6, 6)
    image = np.stack([base, base + 100, base + 200])           # (3, 6, 6)
    out = RandomCrop((2, 3))(copies(image, 50), np.random.default_rng(0))
    assert out.shape == (50, 3, 2, 3)
    np.testing.assert_array_equal(out[:, 1] - out[:, 0], 100)
    np.testing.assert_array_equal(out[:, 2] - out[:, 0], 200)
    assert count_matches(out, all_windows(image, 2, 3)).sum() == 50


def test_full_size_crop_without_padding_is_the_identity():
    images = uniform_images((5, 2, 4, 4))
    np.testing.assert_array_equal(RandomCrop(4)(images), images)


def test_crop_errors():
    with pytest.raises(ValueError, match=r"RandomCrop: the crop 8x8 is larger than the padded image 7x7"):
        RandomCrop(8, padding=1)(uniform_images((2, 1, 5, 5)))
    with pytest.raises(ValueError, match="RandomCrop: size must be positive"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="RandomCrop: padding must be non-negative"):
        RandomCrop(3, padding=-1)
    with pytest.raises(TypeError, match="RandomCrop: size must be an int or a pair"):
        RandomCrop(2.5)


# ---------------------------------------------------------------- RandomTranslation
def shifted(image, dy, dx):
    """Image (C, H, W) moved down by dy and right by dx, zeros where nothing moved in."""
    out = np.zeros_like(image)
    _, height, width = image.shape
    for y in range(height):
        for x in range(width):
            if 0 <= y - dy < height and 0 <= x - dx < width:
                out[:, y, x] = image[:, y - dy, x - dx]
    return out


def test_translation_gives_every_shift_with_zero_fill():
    image = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5)
    candidates = [shifted(image, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    out = RandomTranslation(1)(copies(image, 450), np.random.default_rng(0))
    assert count_matches(out, candidates).min() > 20


def test_translation_per_axis_range():
    image = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5)
    out = RandomTranslation((0, 2))(copies(image, 200), np.random.default_rng(0))
    hits = count_matches(out, [shifted(image, 0, dx) for dx in range(-2, 3)])
    assert hits.min() > 0


def test_translation_errors():
    with pytest.raises(ValueError, match="RandomTranslation: max_shift must be non-negative"):
        RandomTranslation(-1)


# ---------------------------------------------------------------- RandomHorizontalFlip
def test_flip_of_a_known_image():
    image = np.array([[[0, 1, 2], [3, 4, 5]]], dtype=np.float32)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(image[None]), [[[[2, 1, 0], [5, 4, 3]]]])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(image[None]), image[None])


def test_flip_with_probability_one_half():
    image = uniform_images((2, 3, 4))
    out = RandomHorizontalFlip(p=0.5)(copies(image, 1000), np.random.default_rng(0))
    hits = count_matches(out, [image, image[:, :, ::-1]])
    assert 450 < hits[1] < 550


@pytest.mark.parametrize("p", [-0.1, 1.5, True, "half"])
def test_flip_errors(p):
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must be a probability in \[0, 1\]"):
        RandomHorizontalFlip(p)


# ---------------------------------------------------------------- ColorJitter
def test_brightness_scales_each_image_by_one_factor():
    images = uniform_images((100, 3, 4, 4), low=0.1, high=0.5)      # 1.5 * 0.5 < 1: no clipping
    out = ColorJitter(brightness=0.5)(images, np.random.default_rng(0))
    factors = out / images
    per_image = factors[:, :1, :1, :1]
    np.testing.assert_allclose(factors, np.broadcast_to(per_image, factors.shape), rtol=1e-6)
    assert 0.5 <= per_image.min() and per_image.max() <= 1.5
    assert per_image.std() > 0.2                                      # U[0.5, 1.5] has std 0.29


def test_contrast_scales_the_distance_from_each_image_mean():
    images = uniform_images((100, 3, 4, 4), low=0.3, high=0.7, dtype=np.float64)  # stays in [0, 1]
    out = ColorJitter(contrast=0.5)(images, np.random.default_rng(0))
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3), keepdims=True), mean, atol=1e-12)
    # out - m = f (x - m) for one f per image; f is the least-squares slope of that line.
    deviation = images - mean
    factors = ((out - mean) * deviation).sum(axis=(1, 2, 3)) / (deviation**2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out - mean, factors[:, None, None, None] * deviation, atol=1e-12)
    assert 0.5 <= factors.min() and factors.max() <= 1.5


def test_jitter_clips_to_the_unit_range_and_zero_is_the_identity():
    images = uniform_images((50, 1, 4, 4))
    out = ColorJitter(brightness=5.0, contrast=5.0)(images, np.random.default_rng(0))
    assert out.min() == 0 and out.max() == 1
    np.testing.assert_allclose(ColorJitter()(images), images, atol=1e-7)


def test_jitter_errors():
    with pytest.raises(ValueError, match="ColorJitter: brightness must be a non-negative number"):
        ColorJitter(brightness=-0.1)
    with pytest.raises(ValueError, match="ColorJitter: contrast must be a non-negative number"):
        ColorJitter(contrast="high")


# ---------------------------------------------------------------- GaussianNoise
def test_noise_has_mean_zero_and_the_given_std():
    images = np.full((200, 1, 16, 16), 0.5)                          # 51,200 draws
    noise = GaussianNoise(0.1, clip=False)(images, np.random.default_rng(0)) - images
    assert abs(noise.mean()) < 0.002                                 # 4.5 standard errors
    assert abs(noise.std() - 0.1) < 0.002
    assert noise.dtype == np.float64


def test_noise_clip_and_zero_std():
    images = uniform_images((10, 1, 8, 8))
    out = GaussianNoise(1.0)(images, np.random.default_rng(0))
    assert out.min() == 0 and out.max() == 1
    np.testing.assert_array_equal(GaussianNoise(0.0)(images), images)
    with pytest.raises(ValueError, match="GaussianNoise: std must be a non-negative number"):
        GaussianNoise(-1.0)


# ---------------------------------------------------------------- GaussianBlur
def gaussian(size, sigma):
    offsets = np.arange(size) - size // 2
    g = np.exp(-offsets**2 / (2 * sigma**2))
    return g / g.sum()


def test_blur_of_a_delta_is_the_gaussian_kernel():
    delta = np.zeros((1, 1, 9, 9))
    delta[0, 0, 4, 4] = 1.0
    out = GaussianBlur((5, 3), sigma=1.0)(delta)[0, 0]
    expected = np.zeros((9, 9))
    expected[2:7, 3:6] = np.outer(gaussian(5, 1.0), gaussian(3, 1.0))
    np.testing.assert_allclose(out, expected, atol=1e-15)


def test_blur_equals_a_direct_2d_convolution_with_reflect_padding():
    image = np.random.default_rng(0).random((6, 7))
    kernel = np.outer(gaussian(3, 0.8), gaussian(5, 0.8))
    padded = np.pad(image, ((1, 1), (2, 2)), mode="reflect")
    expected = np.array([[(padded[y:y + 3, x:x + 5] * kernel).sum() for x in range(7)] for y in range(6)])
    out = GaussianBlur((3, 5), sigma=0.8)(image[None, None])[0, 0]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_blur_keeps_a_constant_image_and_draws_one_sigma_per_image():
    constant = np.full((3, 2, 6, 6), 0.7, dtype=np.float32)
    np.testing.assert_allclose(GaussianBlur(5, sigma=(0.5, 3.0))(constant), 0.7, rtol=1e-6)
    delta = np.zeros((20, 1, 9, 9))
    delta[:, 0, 4, 4] = 1.0
    centres = GaussianBlur(3, sigma=(0.5, 2.0))(delta, np.random.default_rng(0))[:, 0, 4, 4]
    # The centre weight g(0)^2 falls from sigma = 0.5 to sigma = 2.0.
    assert gaussian(3, 2.0)[1] ** 2 < centres.min() and centres.max() < gaussian(3, 0.5)[1] ** 2
    assert len(np.unique(centres)) == 20


def test_blur_errors():
    with pytest.raises(ValueError, match="GaussianBlur: kernel_size must be odd"):
        GaussianBlur(4)
    with pytest.raises(ValueError, match="GaussianBlur: sigma must be positive"):
        GaussianBlur(3, sigma=0.0)
    with pytest.raises(ValueError, match="low <= high"):
        GaussianBlur(3, sigma=(2.0, 1.0))
    with pytest.raises(TypeError, match="GaussianBlur: sigma must be a number or a pair"):
        GaussianBlur(3, sigma=(0.1, 0.5, 1.0))
    with pytest.raises(ValueError, match=r"reflect padding of \(3, 3\), which must be smaller than the image size 3x3"):
        GaussianBlur(7, sigma=1.0)(uniform_images((1, 1, 3, 3)))


# ---------------------------------------------------------------- Compose, reprs, bad batches
def test_compose_applies_in_order_with_one_generator():
    images = uniform_images((8, 1, 6, 6))
    crop, noise = RandomCrop(4, padding=1), GaussianNoise(0.1)
    rng = np.random.default_rng(0)
    expected = noise(crop(images, rng), rng)
    np.testing.assert_array_equal(Compose([crop, noise])(images, np.random.default_rng(0)), expected)
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        Compose([crop, 3])


def test_reprs():
    assert repr(RandomCrop(28, padding=2)) == "RandomCrop(size=(28, 28), padding=(2, 2))"
    assert repr(Normalize(0.1307, 0.3081)) == "Normalize(mean=(0.1307,), std=(0.3081,))"
    assert repr(GaussianBlur(3, 1)) == "GaussianBlur(kernel_size=(3, 3), sigma=1.0)"
    assert repr(Compose([RandomHorizontalFlip(), GaussianNoise(0.1)])) == (
        "Compose([\n    RandomHorizontalFlip(p=0.5),\n    GaussianNoise(std=0.1, clip=True),\n])")


@pytest.mark.parametrize("name", [n for n in NAMES if n != "compose"])  # Compose passes the batch on
def test_bad_batches_are_refused(name):
    t = TRANSFORMS[name][0](1)
    label = type(t).__name__
    with pytest.raises(ValueError, match=rf"{label}: expected a batch of images \(B, C, H, W\), got a 3-D array"):
        t(uniform_images((1, 6, 6)))
    with pytest.raises(TypeError, match=f"{label}: expected float32 or float64 images, got dtype uint8"):
        t(np.zeros((2, 1, 6, 6), dtype=np.uint8))
    with pytest.raises(TypeError, match=f"{label}: expected an ndarray of images"):
        t(md.tensor(uniform_images((2, 1, 6, 6))))
