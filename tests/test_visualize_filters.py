"""minidl.visualize.filters and linear_templates: weights drawn where they are, on one zero-centred scale."""

import numpy as np
import pytest
from matplotlib import colormaps

import minidl.visualize
from minidl import nn
from minidl.cli import main
from minidl.visualize import filters, linear_templates

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def drawn(figure):
    """The images of every panel but the colour bar's, in panel order."""
    return [image for axes in figure.axes[:-1] for image in axes.get_images()]


def test_filters_share_one_colour_scale_symmetric_around_zero_with_a_colour_bar(tmp_path):
    weight = np.random.default_rng(0).standard_normal((6, 1, 5, 5))
    weight[2] *= 0.01   # a weak filter must look weak, not stretched to the full range
    weight[4, 0, 1, 1] = -7.5   # the largest absolute weight sets the scale: -7.5 .. 7.5
    result = filters(weight, tmp_path / "grey.png", title="conv1.weight")
    images = drawn(result.figure)
    assert len(images) == 6 and all(image.get_clim() == (-7.5, 7.5) for image in images)
    assert {image.get_cmap().name for image in images} == {"RdBu_r"}
    assert np.array_equal(images[2].get_array(), weight[2, 0])   # drawn as they are: no per-filter stretch
    assert np.array_equal(result.limits, np.full(6, 7.5)) and np.array_equal(result.weight, weight)
    colour_bar = result.figure.axes[-1]
    assert colour_bar.get_ylabel() == "weight" and colour_bar.get_ylim() == (-7.5, 7.5)
    assert result.figure.get_suptitle() == "conv1.weight: 6 filters of 1x5x5\none colour scale, 0 is white"
    assert (tmp_path / "grey.png").read_bytes()[:8] == PNG_MAGIC


def test_a_known_edge_filter_draws_blue_white_red_where_its_weights_are(tmp_path):
    weight = np.zeros((2, 1, 3, 3))
    weight[0, 0, :, 0], weight[0, 0, :, 2] = -1.0, 1.0   # a vertical edge detector: dark | light
    weight[1, 0, 1, 1] = 0.5                              # a weak centre spot
    image = drawn(filters(weight).figure)
    colours = [im.to_rgba(im.get_array())[..., :3] for im in image]
    diverging = colormaps["RdBu_r"]
    assert np.allclose(colours[0][:, 0], diverging(0.0)[:3])    # -1 = -m: full blue
    assert np.allclose(colours[0][:, 1], diverging(0.5)[:3])    # 0: the middle of the map, white
    assert np.allclose(colours[0][:, 2], diverging(1.0)[:3])    # +1 = +m: full red
    assert np.allclose(colours[1][1, 1], diverging(0.75)[:3])   # 0.5 on the shared scale: half-way to red
    assert np.allclose(colours[1][0, 0], diverging(0.5)[:3])


def test_colour_filters_are_rgb_with_zero_at_mid_grey():
    weight = np.zeros((2, 3, 3, 3))
    weight[0, 0] = 2.0    # red channel at the largest weight: full red over mid-grey green and blue
    weight[1, 2] = -1.0   # blue channel at half the largest weight below 0
    figure = filters(weight).figure
    tiles = [axes.get_images()[0].get_array() for axes in figure.axes[:2]]
    assert np.array_equal(tiles[0][0, 0], [1.0, 0.5, 0.5]) and np.array_equal(tiles[1][0, 0], [0.5, 0.5, 0.25])
    colour_bar = figure.axes[-1]
    assert colour_bar.get_ylabel() == "weight (each of R, G, B)" and colour_bar.get_ylim() == (-2.0, 2.0)
    assert figure.get_suptitle().endswith("one colour scale, 0 is mid-grey")


def test_filters_with_other_channel_counts_are_strips_of_channel_tiles():
    weight = np.arange(4 * 6 * 5 * 5, dtype=np.float64).reshape(4, 6, 5, 5) - 300
    images = drawn(filters(nn.Conv2d(6, 4, 5)).figure)
    assert len(images) == 4 and images[0].get_array().shape == (5, 6 * 6 - 1)   # 6 tiles, 5 gutters
    strip = drawn(filters(weight).figure)[1].get_array()
    assert np.array_equal(strip[:, :5], weight[1, 0]) and np.array_equal(strip[:, 6:11], weight[1, 1])
    assert np.ma.getmaskarray(strip[:, 5]).all()   # the gutter: NaN, masked and drawn blank
    constant = filters(np.zeros((4, 6, 5, 5)))   # all zero: no division by 0
    assert np.array_equal(constant.limits, np.ones(4))


def test_each_filter_on_its_own_scale_when_asked():
    weight = np.zeros((2, 1, 3, 3))
    weight[0, 0, 0, 0], weight[1, 0, 2, 2] = 4.0, -0.25
    result = filters(weight, shared_scale=False)
    assert np.array_equal(result.limits, [4.0, 0.25])
    assert [image.get_clim() for image in drawn(result.figure)] == [(-4.0, 4.0), (-0.25, 0.25)]
    assert result.figure.axes[-1].get_ylabel() == "weight / largest |weight| of its filter"
    assert "each filter on its own scale" in result.figure.get_suptitle()


def test_linear_templates_reshape_each_row_to_the_image():
    layer = nn.Linear(2 * 3 * 4, 3)
    result = linear_templates(layer, (2, 3, 4), labels=["cat", "dog", "ship"])
    weight = layer.weight.numpy().astype(np.float64)
    images = drawn(result.figure)
    assert result.weight.shape == (3, 2, 3, 4)
    assert np.array_equal(images[1].get_array()[:, :4], weight[1, :12].reshape(3, 4))      # channel 0
    assert np.array_equal(images[1].get_array()[:, 5:], weight[1, 12:].reshape(3, 4))      # channel 1
    assert [axes.get_title() for axes in result.figure.axes[:3]] == ["cat", "dog", "ship"]
    grey = linear_templates(np.eye(4), (2, 2))   # (H, W): one channel
    assert np.array_equal(drawn(grey.figure)[3].get_array(), [[0, 0], [0, 1]])


def test_mistakes_are_one_line_errors(tmp_path):
    cases = [
        (lambda: filters(nn.Linear(4, 2)), r"filters: expected a Conv2d layer or its weight \(F, C, kh, kw\), got "
                                           r"Linear; for a fully connected layer's rows use linear_templates"),
        (lambda: filters(nn.ReLU()), r"filters: expected a Conv2d layer or its weight \(F, C, kh, kw\), got ReLU$"),
        (lambda: filters(np.zeros((6, 25))), r"filters: expected a conv weight of shape \(F, C, kh, kw\), "
                                             r"got shape \(6, 25\)"),
        (lambda: linear_templates(nn.Linear(10, 2), (1, 3, 3)), r"linear_templates: image_shape \(1, 3, 3\) has 9 "
                                                                r"values but the layer takes 10 inputs"),
        (lambda: linear_templates(nn.Conv2d(1, 2, 3), (1, 3, 3)), "linear_templates: expected a Linear layer"),
        (lambda: linear_templates(nn.Linear(4, 2), (2, 2), labels=["a"]), "1 labels for a layer with 2 outputs"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def test_minidl_train_draws_its_filters_with_the_visualize_function(tmp_path, monkeypatch):
    calls = []
    original = minidl.visualize.filters
    monkeypatch.setattr(minidl.visualize, "filters", lambda *args, **kwargs: calls.append(args) or original(*args,
                                                                                                           **kwargs))
    assert main(["train", "--limit", "40", "--epochs", "1", "--test-limit", "10", "--val-fraction", "0",
                 "--no-progress", "--out", str(tmp_path / "run")]) == 0
    assert len(calls) == 1 and calls[0][0].shape == (6, 1, 5, 5)
    assert (tmp_path / "run" / "filters.png").read_bytes()[:8] == PNG_MAGIC
