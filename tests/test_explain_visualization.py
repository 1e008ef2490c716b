"""The pictures of attributions: the map of each sign, Captum's clip value, one colour scale for
maps that are compared, and the figures written as PNG."""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.explain import METHODS, plot_attributions, plot_methods, visualize_image_attr
from minidl.explain.visualization import attribution_map, clip_value

# (2, 2, 2), whose channels add up to [[2, -2], [-1.5, 0]]
ATTRIBUTION = np.array([[[1.0, -3.0], [0.5, 0.0]], [[1.0, 1.0], [-2.0, 0.0]]])


def heat_maps(figure):
    """The colour scale (vmin, vmax) of each heat map drawn (the last image of each panel that has one)."""
    return [(axes.images[-1].norm.vmin, axes.images[-1].norm.vmax) for axes in figure.axes
            if axes.images and axes.images[-1].get_cmap().name != "gray" and axes.get_label() != "<colorbar>"]


def test_each_sign_of_the_channel_sum():
    assert attribution_map(ATTRIBUTION, "all").tolist() == [[2, -2], [-1.5, 0]]
    assert attribution_map(ATTRIBUTION, "absolute_value").tolist() == [[2, 2], [1.5, 0]]
    assert attribution_map(ATTRIBUTION, "positive").tolist() == [[2, 0], [0, 0]]
    assert attribution_map(ATTRIBUTION, "negative").tolist() == [[0, 2], [1.5, 0]]
    assert attribution_map(ATTRIBUTION[None], "all").shape == (2, 2)          # a batch of one
    with pytest.raises(ValueError, match="attribution_map: sign must be one of absolute_value, positive, negative, "
                                         "all, got 'abs'"):
        attribution_map(ATTRIBUTION, "abs")


def test_the_clip_value_keeps_all_but_the_outliers_share_of_the_total():
    # Sorted |values| 1, 1, 1, 97 add up to 100; the first value whose running sum reaches 98 is 97.
    assert clip_value([np.array([97.0, 1.0, 1.0, 1.0])], outlier_perc=2) == 97.0
    assert clip_value([np.array([97.0, 1.0, 1.0, 1.0])], outlier_perc=98) == 1.0
    assert clip_value([np.ones(100)], outlier_perc=2) == 1.0
    assert clip_value([np.zeros((3, 3))]) == 1.0                       # nothing to show: any scale does
    assert clip_value([np.array([1.0, 1.0]), np.array([-98.0])], outlier_perc=2) == 98.0   # several maps together
    with pytest.raises(ValueError, match=r"clip_value: outlier_perc must lie in \[0, 100\), got 100"):
        clip_value([np.ones(3)], outlier_perc=100)


def test_one_map_over_its_image_with_a_colour_bar(tmp_path):
    image = np.random.default_rng(0).uniform(0, 1, (3, 2, 2))
    figure = visualize_image_attr(ATTRIBUTION, image, sign="all", outlier_perc=0, path=tmp_path / "one.png",
                                  title="guided")
    assert (tmp_path / "one.png").read_bytes().startswith(b"\x89PNG")
    assert heat_maps(figure) == [(-2.0, 2.0)] and len(figure.axes) == 2          # the map and its colour bar
    figure = visualize_image_attr(ATTRIBUTION, method="heat_map", clip=0.5, show_colorbar=False)
    assert heat_maps(figure) == [(0.0, 0.5)] and len(figure.axes) == 1


def test_compared_maps_share_one_colour_scale_unless_asked_otherwise(tmp_path):
    image = np.full((1, 2, 2), 0.5)
    maps = {"weak": ATTRIBUTION / 10, "strong": ATTRIBUTION}
    shared = plot_attributions(maps, image, path=tmp_path / "shared.png", outlier_perc=0)
    assert heat_maps(shared) == [(0.0, 2.0), (0.0, 2.0)]
    assert sum(axes.get_label() == "<colorbar>" for axes in shared.axes) == 1
    separate = plot_attributions(maps, image, outlier_perc=0, shared_scale=False)
    assert heat_maps(separate) == [(0.0, 0.2), (0.0, 2.0)]
    assert sum(axes.get_label() == "<colorbar>" for axes in separate.axes) == 2
    assert (tmp_path / "shared.png").read_bytes().startswith(b"\x89PNG")


def test_every_method_side_by_side(tmp_path):
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3 * 4 * 4, 2)).double()
    x = np.random.default_rng(1).standard_normal((1, 1, 8, 8))
    figure, found = plot_methods(model, x, target=1, path=tmp_path / "methods.png")
    assert list(found) == list(METHODS)
    assert found["gradcam"].shape == (1, 8, 8) and found["ig"].shape == (1, 8, 8)
    assert len(heat_maps(figure)) == len(METHODS)
    assert (tmp_path / "methods.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"plot_methods: expected one image, \(1, C, H, W\) or \(C, H, W\), got "
                                         r"shape \(2, 1, 8, 8\)"):
        plot_methods(model, np.zeros((2, 1, 8, 8)), target=0)


@pytest.mark.parametrize("options, message", [
    ({"method": "mask"}, "visualize_image_attr: method must be one of heat_map, blended_heat_map, original_image"),
    ({"sign": "both"}, "visualize_image_attr: sign must be one of absolute_value, positive, negative, all"),
    ({"image": None}, "visualize_image_attr: method 'blended_heat_map' needs the image"),
    ({"alpha_overlay": 2}, r"visualize_image_attr: alpha_overlay must lie in \[0, 1\], got 2"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        visualize_image_attr(ATTRIBUTION, **{"image": np.zeros((1, 2, 2)), **options})
