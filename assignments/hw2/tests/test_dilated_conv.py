"""Task 2.4: dilated convolution."""

import numpy as np
import pytest

from dilated_conv import dilate_kernel, dilated_conv_forward
from minidl.layers.conv import conv2d_forward


@pytest.mark.task("2.4")
def test_the_dilated_kernel_has_its_taps_d_apart():
    w = np.arange(1, 5, dtype=np.float64).reshape(1, 1, 2, 2)
    assert dilate_kernel(w, 3).tolist() == [[[[1, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]]]


@pytest.mark.task("2.4", points=2)
@pytest.mark.parametrize("stride, pad, dilation", [(1, 2, 2), (2, 1, 3)])
def test_dilated_convolution_matches_the_reference(stride, pad, dilation):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 10, 9)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out = dilated_conv_forward(x, w, b, {"stride": stride, "pad": pad, "dilation": dilation})
    expected, _ = conv2d_forward(x, w, b, stride=(stride, stride), padding=(pad, pad), dilation=(dilation, dilation))
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.task("2.4")
def test_it_is_a_plain_convolution_with_the_dilated_kernel():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)
    out = dilated_conv_forward(x, w, b, {"stride": 1, "pad": 0, "dilation": 2})
    plain, _ = conv2d_forward(x, dilate_kernel(w, 2), b)
    np.testing.assert_allclose(out, plain, rtol=1e-10, atol=1e-12)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("2.4", points=2)
def test_the_hidden_dilated_convolution():
    out = dilated_conv_forward(EXPECTED["dilated/x"], EXPECTED["dilated/w"], EXPECTED["dilated/b"],
                               {"stride": 2, "pad": 3, "dilation": 3})
    np.testing.assert_allclose(out, EXPECTED["dilated/out"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
