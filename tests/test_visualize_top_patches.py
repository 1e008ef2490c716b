"""minidl.visualize.top_patches: planted patterns found at their place, crops equal to the receptive
field, projections equal to deconv_reconstruct's, memory bounded, one-line errors."""

import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest

from minidl import nn
from minidl.data import TensorDataset
from minidl.explain import deconv_reconstruct
from minidl.visualize import top_patches
from minidl.visualize.top_patches import project_unit
from minidl.zoo import resnet20


def planted_model(dtype=np.float32):
    """conv 3x3 -> ReLU -> max pool 2 -> conv 3x3 -> ReLU whose channel 0 copies the red plane and
    channel 1 the green plane. Receptive field of the output: r = 3 + 1 = 4 after the pool,
    8 after the second conv, jump 2, first centre 1.0: unit (i, j) sees rows [2i - 3, 2i + 5)."""
    first, second = nn.Conv2d(3, 2, 3, padding=1, bias=False), nn.Conv2d(2, 2, 3, padding=1, bias=False)
    for conv in (first, second):
        weight = np.zeros(conv.weight.shape, dtype=dtype)
        weight[0, 0, 1, 1] = weight[1, 1, 1, 1] = 1.0
        conv.weight.data.copy_(weight)
    model = nn.Sequential(OrderedDict([("conv1", first), ("relu1", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
                                       ("conv2", second), ("relu2", nn.ReLU())]))
    return model.double() if dtype == np.float64 else model


def planted_images(count=20):
    """Faint noise in [0, 0.1]; image 7 holds a red block at pool cell (3, 5) (1.0) and (3, 6) (0.9),
    image 12 a green block at the corner cell (0, 0)."""
    images = np.random.default_rng(0).uniform(0, 0.1, (count, 3, 16, 16)).astype(np.float32)
    images[7, 0, 6:8, 10:12] = 1.0
    images[7, 0, 6:8, 12:14] = 0.9
    images[12, 1, 0:2, 0:2] = 1.0
    return images


def test_the_planted_maxima_are_found_at_their_place_with_crops_equal_to_the_receptive_field(tmp_path):
    images = planted_images()
    dataset = TensorDataset(images, np.zeros(len(images), dtype=np.int64))
    result = top_patches(planted_model(), dataset, "relu2", k=3, progress=False, path=tmp_path / "top.png")
    assert (result.field.size, result.field.jump, result.field.start) == ((8, 8), (2, 2), (1.0, 1.0))
    assert result.indices[0, 0] == 7 and result.indices[1, 0] == 12
    assert tuple(result.positions[0, 0]) == (3, 5) and tuple(result.positions[1, 0]) == (0, 0)
    assert result.values[0, 0] == pytest.approx(1.0) and result.values[1, 0] == pytest.approx(1.0)
    # At most one position per image: image 7's second-best unit (0.9) is not the runner-up.
    assert 7 not in result.indices[0, 1:] and len(set(result.indices[0])) == 3
    assert np.all(result.values[:, 1:] <= 0.1)
    # Unit (3, 5) sees rows [2*3 - 3, 2*3 + 5) = [3, 11) and columns [7, 15); unit (0, 0) sees
    # [-3, 5), clipped at the border to [0, 5).
    assert tuple(result.boxes[0, 0]) == (3, 11, 7, 15) and tuple(result.boxes[1, 0]) == (0, 5, 0, 5)
    assert np.array_equal(result.patches[0][0], images[7][:, 3:11, 7:15])
    assert np.array_equal(result.patches[1][0], images[12][:, 0:5, 0:5])
    expected = deconv_reconstruct(planted_model(), images[7:8], "relu2", 0, (3, 5)).numpy()[0]
    assert np.array_equal(result.projections[0][0], expected[:, 3:11, 7:15])
    assert np.abs(expected).sum() == pytest.approx(np.abs(result.projections[0][0]).sum())   # nothing outside
    assert result.projection == "deconv_reconstruct"
    assert (tmp_path / "top.png").stat().st_size > 0 and len(result.figure.axes) == 2


def test_the_result_does_not_depend_on_the_batch_size():
    images = planted_images(30)
    dataset = TensorDataset(images, np.zeros(len(images), dtype=np.int64))
    results = [top_patches(planted_model(), dataset, "relu2", k=5, batch_size=size, project=False, plot=False,
                           progress=False) for size in (1, 7, 256)]
    for other in results[1:]:
        assert np.array_equal(other.indices, results[0].indices)
        assert np.array_equal(other.positions, results[0].positions)
        assert np.array_equal(other.values, results[0].values)


def test_ties_go_to_the_earlier_image_and_a_fully_connected_unit_sees_the_whole_image():
    images = np.zeros((6, 1, 4, 4), dtype=np.float32)
    images[[1, 3, 4], 0, 2, 2] = 1.0   # three equal maxima
    layer = nn.Linear(16, 2, bias=False)
    weight = np.zeros((2, 16), dtype=np.float32)
    weight[0, 10] = 1.0   # unit 0 reads pixel (2, 2)
    layer.weight.data.copy_(weight)
    model = nn.Sequential(OrderedDict([("flatten", nn.Flatten()), ("fc", layer)]))
    result = top_patches(model, TensorDataset(images, np.zeros(6, dtype=np.int64)), "fc", channels=0, k=2,
                         project=False, plot=False, progress=False)
    assert result.indices.tolist() == [[1, 3]] and result.positions is None
    assert tuple(result.boxes[0, 0]) == (0, 4, 0, 4) and result.field.is_full


def test_memory_stays_bounded_whatever_the_dataset_size():
    model = planted_model()
    peaks = []
    for count in (400, 3200):
        images = np.random.default_rng(1).uniform(0, 1, (count, 3, 16, 16)).astype(np.float32)
        dataset = TensorDataset(images, np.zeros(count, dtype=np.int64))
        tracemalloc.start()
        top_patches(model, dataset, "relu2", k=9, batch_size=100, project=False, plot=False, progress=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # Eight times the images: the activations of all of them (3200 x 2 x 8 x 8 floats = 1.6 MB)
    # would show; one batch at a time, the peak stays the same.
    assert peaks[1] < 1.2 * peaks[0]


def test_the_deconvnet_backward_equals_deconv_reconstruct_on_a_chain():
    model = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("bn1", nn.BatchNorm2d(4)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)), ("conv2", nn.Conv2d(4, 5, 3)), ("relu2", nn.ReLU())])).double()
    model.eval()
    model.bn1.running_var.data.copy_(np.array([0.5, 2.0, 1.0, 3.0]))
    x = np.random.default_rng(2).standard_normal((3, 3, 12, 12))
    positions = [(0, 1), (2, 3), (3, 3)]
    chain, how = project_unit(model, x, "relu2", 2, positions)
    backward, other = project_unit(model, x, "relu2", 2, positions, how="deconvnet backward")
    assert (how, other) == ("deconv_reconstruct", "deconvnet backward")
    for n, position in enumerate(positions):
        alone = deconv_reconstruct(model, x[n:n + 1], "relu2", 2, position).numpy()[0]
        assert np.allclose(chain[n], alone, rtol=1e-12, atol=1e-12)
    assert np.allclose(backward, chain, rtol=1e-10, atol=1e-12)


def test_a_residual_network_is_projected_by_the_deconvnet_backward_pass():
    model = resnet20(num_classes=3, in_channels=3, image_size=8)
    images = np.random.default_rng(3).uniform(0, 1, (4, 3, 8, 8)).astype(np.float32)
    result = top_patches(model, TensorDataset(images, np.zeros(4, dtype=np.int64)), "layer1", channels=[0, 5], k=2,
                         plot=False, progress=False)
    assert result.projection == "deconvnet backward"
    assert result.projections[1][0].shape == result.patches[1][0].shape


def test_a_module_that_runs_twice_is_refused_with_the_way_out():
    model = resnet20(num_classes=3, in_channels=3, image_size=8)
    images = np.random.default_rng(3).uniform(0, 1, (4, 3, 8, 8)).astype(np.float32)
    with pytest.raises(ValueError, match=r"top_patches: the layer 'layer1.0.relu' runs 2 times in one forward pass, "
                                         r"each output with its own receptive field; choose the module around it "
                                         r"\('layer1.0'\)"):
        top_patches(model, TensorDataset(images, np.zeros(4, dtype=np.int64)), "layer1.0.relu", k=2, progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(layer="relu2", channels=[0, 2]), r"top_patches: channel 2 is out of range for layer 'relu2' with 2 "
                                           r"channels \(0 to 1\)"),
    (dict(layer="relu2", k=21), r"top_patches: k=21 is larger than the dataset \(20 images\); choose k <= 20"),
    (dict(layer="relu2", k=0), "top_patches: k must be a positive int, got 0"),
    (dict(layer="relu3"), "top_patches: the model has no layer 'relu3'; did you mean relu2 or relu1"),
    (dict(layer="relu2", channels=[0.5]), r"top_patches: channels must be an int or a list of ints"),
])
def test_mistakes_are_one_line_errors(kwargs, message):
    dataset = TensorDataset(planted_images(), np.zeros(20, dtype=np.int64))
    with pytest.raises(ValueError, match=message) as error:
        top_patches(planted_model(), dataset, progress=False, **kwargs)
    assert "\n" not in str(error.value)


def test_images_outside_zero_to_one_are_refused():
    dataset = TensorDataset(planted_images() * 255, np.zeros(20, dtype=np.int64))
    with pytest.raises(ValueError, match=r"top_patches: expected the dataset's images in \[0, 1\] \(before "
                                         r"normalisation\), got values from"):
        top_patches(planted_model(), dataset, "relu2", progress=False)
