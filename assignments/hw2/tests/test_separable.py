"""Task 2.6: depthwise-separable convolution and its cost ratio 1/N + 1/K^2."""

import numpy as np
import pytest

from minidl.layers.conv import conv2d_forward
from separable import depthwise_conv_forward, separable_conv_forward, separable_cost_ratio


@pytest.mark.task("2.6", points=2)
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0)])
def test_depthwise_is_a_convolution_with_one_group_per_channel(stride, pad):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 5, 8, 7)), rng.standard_normal((5, 1, 3, 3)), rng.standard_normal(5)
    expected, _ = conv2d_forward(x, w, b, stride=(stride, stride), padding=(pad, pad), groups=5)
    out = depthwise_conv_forward(x, w, b, {"stride": stride, "pad": pad})
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.task("2.6")
def test_separable_is_depthwise_then_pointwise():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6))
    w_dw, b_dw = rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    w_pw, b_pw = rng.standard_normal((4, 3)), rng.standard_normal(4)
    out = separable_conv_forward(x, w_dw, b_dw, w_pw, b_pw, {"stride": 1, "pad": 1})
    depthwise, _ = conv2d_forward(x, w_dw, b_dw, padding=(1, 1), groups=3)
    expected, _ = conv2d_forward(depthwise, w_pw[:, :, None, None], b_pw)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.task("2.6", points=2)
@pytest.mark.parametrize("out_channels, kernel", [(64, 5), (256, 3), (32, 7)])
def test_the_cost_ratio_is_one_over_n_plus_one_over_k_squared(out_channels, kernel):
    h, w, c_in = 14, 14, 48
    separable = h * w * c_in * kernel ** 2 + h * w * c_in * out_channels
    standard = h * w * c_in * out_channels * kernel ** 2
    assert separable_cost_ratio(out_channels, kernel) == pytest.approx(separable / standard, rel=1e-14)
    assert separable_cost_ratio(out_channels, kernel) == pytest.approx(1 / out_channels + 1 / kernel ** 2, rel=1e-14)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("2.6", points=2)
def test_the_hidden_depthwise_convolution():
    out = depthwise_conv_forward(EXPECTED["depthwise/x"], EXPECTED["depthwise/w"], EXPECTED["depthwise/b"],
                                 {"stride": 2, "pad": 1})
    np.testing.assert_allclose(out, EXPECTED["depthwise/out"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
