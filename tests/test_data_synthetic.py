"""SyntheticShapes: reproducible, well-formed images whose masks are exactly the painted shapes."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl.data.loader import DataLoader
from minidl.data.synthetic import BACKGROUNDS, FIRST_SHAPES, OTHER_SHAPES, SHAPES, SyntheticShapes


@pytest.fixture(scope="module")
def shapes():
    return SyntheticShapes(500, seed=3)


@pytest.fixture(scope="module")
def clean_shapes():
    return SyntheticShapes(500, seed=4, noise=0)


def test_same_arguments_give_the_same_data():
    a, b = SyntheticShapes(64, seed=7), SyntheticShapes(64, seed=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.masks, b.masks)


@pytest.mark.parametrize("other", [dict(seed=8), dict(seed=7, train=False)])
def test_another_seed_or_split_gives_other_data(other):
    a, b = SyntheticShapes(64, seed=7), SyntheticShapes(64, **other)
    assert not np.array_equal(a.masks, b.masks)
    assert np.abs(a.images - b.images).mean() > 0.1


@settings(max_examples=8)
@given(size=st.integers(16, 40), n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_shapes_dtypes_and_range(size, n, seed):
    ds = SyntheticShapes(n, image_size=size, seed=seed)
    assert len(ds) == n
    assert ds.images.shape == (n, 3, size, size) and ds.images.dtype == np.float32
    assert ds.masks.shape == (n, size, size) and ds.masks.dtype == bool
    assert ds.targets.shape == (n,) and ds.targets.dtype == np.int64
    assert ds.images.min() >= 0 and ds.images.max() <= 1
    image, label = ds[n - 1]
    assert image.shape == (3, size, size) and isinstance(label, int) and 0 <= label < 5


def test_masks_are_whole_shapes_inside_the_image(shapes):
    area = shapes.masks.sum(axis=(1, 2))
    # The smallest shape, a triangle of circumradius 0.2 * 32 = 6.4 pixels, covers ~53 pixels.
    assert area.min() >= 40 and area.max() <= np.pi * (0.45 * 32) ** 2
    border = np.zeros((32, 32), dtype=bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    assert not (shapes.masks & border).any()   # never touching the border: never cut off


def test_every_class_present_and_balanced(shapes):
    counts = np.bincount(shapes.targets, minlength=5)
    assert counts.tolist() == [100] * 5
    assert shapes.classes == ["circle", "square", "triangle", "cross", "ring"]
    uneven = SyntheticShapes(13, seed=0, classes=("ring", "cross", "circle"))
    assert sorted(np.bincount(uneven.targets).tolist()) == [4, 4, 5]
    assert uneven.classes == ["ring", "cross", "circle"]


def test_the_mask_is_exactly_where_the_shape_was_painted(clean_shapes):
    # Without noise the shape is one flat colour, and every other pixel is clearly different.
    for image, mask in zip(clean_shapes.images, clean_shapes.masks):
        colour = image[:, mask][:, :1]
        assert np.array_equal(image[:, mask], np.broadcast_to(colour, image[:, mask].shape))
        assert np.abs(image[:, ~mask] - colour).max(axis=0).min() > 0.1


def test_the_mask_matches_the_noisy_image_loosely(shapes):
    # With noise (std 0.05), pixels near the shape's colour are almost all inside the mask.
    inside_near, outside_near = [], []
    for image, mask in zip(shapes.images, shapes.masks):
        colour = np.median(image[:, mask], axis=1, keepdims=True)
        near = np.abs(image.reshape(3, -1) - colour).max(axis=0) < 0.12
        inside_near.append(near[mask.ravel()].mean())
        outside_near.append(near[~mask.ravel()].mean())
    assert np.mean(inside_near) > 0.93 and np.mean(outside_near) < 0.001


def test_each_class_draws_its_own_shape(clean_shapes):
    # Shape signatures in the mask: a ring has a hole at its centre, a circle does not; a square
    # fills its bounding box more than a triangle does.
    for k, name in enumerate(clean_shapes.classes):
        masks = clean_shapes.masks[clean_shapes.targets == k]
        fill = []
        for mask in masks:
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            box = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            fill.append(box.mean())
            centre = box[box.shape[0] // 2, box.shape[1] // 2]
            if name == "ring":
                assert not centre
            if name in ("circle", "square", "cross"):
                assert centre
        # E.g. a circle fills pi/4 = 0.785 of its box; a square, rotated, from 1/2 to all of it.
        expected_fill = {"circle": (0.75, 0.82), "square": (0.58, 0.68), "triangle": (0.46, 0.55),
                         "cross": (0.48, 0.58), "ring": (0.46, 0.55)}[name]
        assert expected_fill[0] < np.mean(fill) < expected_fill[1], (name, np.mean(fill))


def test_a_data_loader_gathers_batches_from_the_arrays(shapes):
    images, labels = next(iter(DataLoader(shapes, batch_size=16)))
    np.testing.assert_array_equal(images.numpy(), shapes.images[:16])
    np.testing.assert_array_equal(labels.numpy(), shapes.targets[:16])


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=0), "num_samples must be a positive int, got 0"),
    (dict(num_samples=2.5), "num_samples must be a positive int, got 2.5"),
    (dict(num_samples=4, image_size=8), "image_size must be an int >= 16"),
    (dict(num_samples=4, classes=("circle", "heptagon")), "classes must be distinct names among"),
    (dict(num_samples=4, classes=("circle", "circle")), "classes must be distinct names among"),
    (dict(num_samples=4, classes=()), "classes must be distinct names among"),
    (dict(num_samples=4, noise=-0.1), "noise must be >= 0, got -0.1"),
    (dict(num_samples=4, radius=(0.3, 0.5)), r"radius must be \(min, max\) with 0 < min <= max < 0.5"),
    (dict(num_samples=4, radius=(0.3, 0.2)), r"radius must be \(min, max\)"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=f"SyntheticShapes: {message}"):
        SyntheticShapes(**kwargs)


def test_shape_functions_contain_the_centre_region_and_stay_in_the_unit_circle():
    angle = np.linspace(0, 2 * np.pi, 720)
    for name, inside in SHAPES.items():
        # Nothing outside the unit circle, whatever the direction.
        for radius in (1.0001, 1.2, 2.0):
            assert not inside(radius * np.cos(angle), radius * np.sin(angle)).any(), name
        assert inside(np.array([0.0]), np.array([0.0]))[0] == (name != "ring")


# ---------------------------------------------------------------- renderings for transfer experiments
def test_the_default_draw_is_unchanged_by_the_rendering_options():
    plain = SyntheticShapes(12, seed=4)
    explicit = SyntheticShapes(12, seed=4, classes=FIRST_SHAPES, background="textured", outline=False)
    np.testing.assert_array_equal(plain.images, explicit.images)
    np.testing.assert_array_equal(plain.masks, explicit.masks)


@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize("outline", [False, True])
def test_every_rendering_keeps_the_range_masks_and_labels(background, outline):
    data = SyntheticShapes(40, seed=1, classes=OTHER_SHAPES, background=background, outline=outline)
    assert data.images.dtype == np.float32 and data.images.min() >= 0 and data.images.max() <= 1
    assert sorted(np.bincount(data.targets).tolist()) == [8] * 5
    assert (data.masks.sum(axis=(1, 2)) > 10).all()
    again = SyntheticShapes(40, seed=1, classes=OTHER_SHAPES, background=background, outline=outline)
    np.testing.assert_array_equal(data.images, again.images)


def test_an_outline_is_the_edge_band_of_the_filled_shape():
    filled = SyntheticShapes(30, seed=2, outline=False)
    outline = SyntheticShapes(30, seed=2, outline=True)
    assert not (outline.masks & ~filled.masks).any()                       # inside the shape
    # Thin shapes (a small ring or cross) may be all edge; the large ones keep an inside.
    assert (outline.masks.sum(axis=(1, 2)) <= filled.masks.sum(axis=(1, 2))).all()
    assert outline.masks.sum() < 0.7 * filled.masks.sum()
    ring = outline.targets == FIRST_SHAPES.index("ring")
    circle = outline.targets == FIRST_SHAPES.index("circle")
    # A ring's outline has its inner edge too: relative to the filled area, more of it is edge.
    edge_share = outline.masks.sum(axis=(1, 2)) / filled.masks.sum(axis=(1, 2))
    assert edge_share[ring].mean() > edge_share[circle].mean()


def test_plain_and_checker_backgrounds():
    noiseless = dict(num_samples=10, seed=3, noise=0.0)
    plain = SyntheticShapes(background="plain", **noiseless)
    for image, mask in zip(plain.images, plain.masks):
        outside = image[:, ~mask]
        np.testing.assert_allclose(outside, outside[:, :1].repeat(outside.shape[1], axis=1), atol=1e-6)
    checker = SyntheticShapes(background="checker", **noiseless)
    for image, mask in zip(checker.images, checker.masks):
        colours = np.unique(image[:, ~mask].round(5), axis=1)
        assert colours.shape[1] == 2  # the two colours of the squares


def test_an_unknown_background_is_refused():
    with pytest.raises(ValueError, match="background must be one of"):
        SyntheticShapes(4, background="stripes")
