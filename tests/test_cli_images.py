"""Fitting images to the zoo's models: the sizes each model takes (held equal to what the
builders refuse), the default size for a dataset, and a bilinear resize equal to PyTorch's."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidl.cli.images import (
    FIXED_IMAGE_SIZES, SMALLEST_IMAGE_SIZE, accepts_image_size, default_image_size, describe_image_sizes,
    image_sizes_help, resize_transforms,
)
from minidl.data.transforms import Resize
from minidl.zoo import MODELS


def test_every_zoo_model_has_its_sizes():
    assert set(SMALLEST_IMAGE_SIZE) == set(MODELS)
    for model, sizes in FIXED_IMAGE_SIZES.items():
        assert SMALLEST_IMAGE_SIZE[model] == min(sizes)


@pytest.mark.parametrize("model", sorted(name for name, size in SMALLEST_IMAGE_SIZE.items() if size > 1))
def test_the_builder_refuses_the_size_below_the_smallest(model):
    # The smallest size itself is built and trained in test_cli_zoo_training (one model a family).
    with pytest.raises(ValueError, match=f"image_size must be .*{SMALLEST_IMAGE_SIZE[model]}.*got "
                                         f"{SMALLEST_IMAGE_SIZE[model] - 1}"):
        MODELS[model](num_classes=10, in_channels=1, image_size=SMALLEST_IMAGE_SIZE[model] - 1)


def test_models_ending_in_a_global_pool_take_a_single_pixel():
    from minidl.analysis import summary

    for model in ("resnet18", "resnet20", "mobilenet_v1"):
        assert SMALLEST_IMAGE_SIZE[model] == 1
        result = summary(MODELS[model](num_classes=3, in_channels=1, image_size=1), (1, 1, 1), print_table=False)
        assert result.output_shape == (3,)


def test_lenet5_takes_three_sizes_and_refuses_the_others():
    assert [size for size in range(20, 40) if accepts_image_size("lenet5", size)] == [28, 30, 32]
    for size in (29, 31, 33):
        with pytest.raises(ValueError, match="LeNet5: image_size must be 28, 30 or 32"):
            MODELS["lenet5"](image_size=size)


@pytest.mark.parametrize("model, dataset_size, expected", [
    ("lenet5", 28, 28), ("lenet5", 32, 32), ("lenet5", 29, 28), ("lenet5", 64, 32), ("lenet5", 8, 28),
    ("resnet18", 28, 28), ("resnet20", 32, 32), ("small_vgg", 28, 28), ("vgg11", 28, 32), ("densenet121", 28, 29),
    ("googlenet", 28, 28), ("zfnet", 32, 47), ("alexnet", 28, 63), ("alexnet_original", 32, 67),
])
def test_the_default_size_is_the_datasets_own_or_the_nearest_the_model_takes(model, dataset_size, expected):
    assert default_image_size(model, dataset_size) == expected
    assert accepts_image_size(model, expected)


def test_the_sizes_are_described_for_messages_and_help():
    assert [describe_image_sizes(m) for m in ("lenet5", "alexnet", "resnet50")] == ["28, 30 or 32", "at least 63", "any"]
    text = image_sizes_help()
    assert text.startswith("resnet18, resnet34, resnet50, resnet101, resnet152, resnet20, resnet32, resnet44, "
                           "resnet56, resnet110, mobilenet_v1: any; small_vgg: at least 8; ")
    assert "; lenet5: 28, 30 or 32; " in text and text.endswith("; alexnet: at least 63; alexnet_original: at least 67")
    assert all(model in text for model in MODELS)


# ---------------------------------------------------------------------------- Resize
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 12), st.integers(1, 12), st.integers(1, 20))
def test_resize_matches_pytorchs_bilinear_interpolation(batch, channels, height, width, size):
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(height * 100 + width * 10 + size).random((batch, channels, height, width))
    resized = Resize(size)(images)
    expected = torch.nn.functional.interpolate(torch.from_numpy(images), size=(size, size), mode="bilinear",
                                               align_corners=False, antialias=False).numpy()
    assert resized.shape == (batch, channels, size, size) and resized.dtype == np.float64
    np.testing.assert_allclose(resized, expected, rtol=1e-12, atol=1e-12)


def test_resize_keeps_float32_and_constant_images():
    images = np.full((2, 3, 7, 5), 0.25, np.float32)
    resized = Resize(11)(images)
    assert resized.dtype == np.float32 and resized.shape == (2, 3, 11, 11)
    assert np.array_equal(resized, np.full((2, 3, 11, 11), 0.25, np.float32))


def test_resize_doubling_interpolates_between_neighbours():
    # 2 -> 4 pixels: output centres at input positions -0.25 (held at 0), 0.25, 0.75, 1.25 (held at 1).
    row = Resize(4)(np.array([[[[0.0, 4.0], [0.0, 4.0]]]]))[0, 0, 0]
    assert row.tolist() == [0.0, 1.0, 3.0, 4.0]


def test_resize_refuses_bad_sizes_and_is_skipped_when_not_needed():
    for size in (0, 2.5, True):
        with pytest.raises(ValueError, match=f"Resize: size must be a positive int, got {size!r}"):
            Resize(size)
    assert resize_transforms((28, 28), 28) == []
    assert [t.size for t in resize_transforms((28, 28), 63)] == [63]
