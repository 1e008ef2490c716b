"""Task 1.6: im2col, col2im and the convolution as a matrix product."""

import numpy as np
import pytest

from fast_conv import col2im, conv_backward_im2col, conv_forward_im2col, im2col
from minidl.layers.conv import conv2d_backward, conv2d_forward


@pytest.mark.task("1.6", points=2)
def test_im2col_rows_are_the_windows():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    cols = im2col(x, 3, 2, stride=2, pad=1)
    out_h, out_w = (5 + 2 - 3) // 2 + 1, (6 + 2 - 2) // 2 + 1
    assert cols.shape == (2 * out_h * out_w, 3 * 3 * 2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for n, i, j in [(0, 0, 0), (1, 2, 3), (0, 1, 2)]:
        window = xp[n, :, 2 * i:2 * i + 3, 2 * j:2 * j + 2]
        np.testing.assert_array_equal(cols[(n * out_h + i) * out_w + j], window.reshape(-1))


@pytest.mark.task("1.6", points=2)
def test_col2im_is_the_transpose_of_im2col():
    # <im2col(x), c> = <x, col2im(c)> for every x and c: the dot-product test of an adjoint.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = im2col(x, 3, 3, stride=2, pad=1)
    c = rng.standard_normal(cols.shape)
    back = col2im(c, x.shape, 3, 3, stride=2, pad=1)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


@pytest.mark.task("1.6", points=2)
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0)])
def test_the_vectorised_convolution_matches_the_reference(stride, pad):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 2, 8, 7)), rng.standard_normal((5, 2, 3, 3)), rng.standard_normal(5)
    out, cache = conv_forward_im2col(x, w, b, {"stride": stride, "pad": pad})
    expected, reference_cache = conv2d_forward(x, w, b, stride=(stride, stride), padding=(pad, pad))
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, want, name in zip(conv_backward_im2col(dout, cache), conv2d_backward(dout, reference_cache),
                               ("dx", "dw", "db")):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("1.6")
def test_im2col_on_the_hidden_case():
    np.testing.assert_array_equal(im2col(EXPECTED["im2col/x"], 3, 3, stride=2, pad=1), EXPECTED["im2col/cols"])


@pytest.mark.task("1.6")
@pytest.mark.parametrize("case", [f"conv{i}" for i in range(3)])
def test_the_vectorised_convolution_on_the_hidden_cases(case):
    conv_param = {"stride": int(EXPECTED[f"{case}/stride"]), "pad": int(EXPECTED[f"{case}/pad"])}
    out, cache = conv_forward_im2col(EXPECTED[f"{case}/x"], EXPECTED[f"{case}/w"], EXPECTED[f"{case}/b"], conv_param)
    np.testing.assert_allclose(out, EXPECTED[f"{case}/out"], rtol=1e-10, atol=1e-12)
    dx, dw, db = conv_backward_im2col(EXPECTED[f"{case}/dout"], cache)
    for name, value in (("dx", dx), ("dw", dw), ("db", db)):
        np.testing.assert_allclose(value, EXPECTED[f"{case}/{name}"], rtol=1e-10, atol=1e-12, err_msg=name)
### END HIDDEN TESTS
