"""Tasks 1.3-1.5: the naive convolution, checked against minidl's layers and CS231n's gradient check.

The references are minidl's own convolution and its analytic backward pass, so a wrong forward
pass cannot hide a wrong backward pass. CS231n's numerical check runs where it is well
conditioned: every pixel in some window (a pixel in none has a gradient of exactly 0, and the
numerical one is rounding noise that rel_error divides by its floor of 1e-8).
"""

import numpy as np
import pytest

from minidl.gradcheck import eval_numerical_gradient_array, rel_error
from minidl.layers.conv import conv2d_backward, conv2d_forward
from naive_conv import conv_backward_flipped, conv_backward_naive, conv_forward_naive

# (H, W, kernel, stride, pad): the usual 'same' 3x3, a stride that leaves the last column out,
# and a stride larger than the kernel with wide padding.
SETTINGS = [(5, 5, 3, 1, 1), (7, 6, 3, 2, 0), (8, 7, 2, 3, 2)]
IDS = ["same-3x3", "stride-2", "stride-3-pad-2"]


def _problem(height, width, kernel, stride, pad, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, height, width))
    w = rng.standard_normal((4, 3, kernel, kernel))
    b = rng.standard_normal(4)
    return x, w, b, {"stride": stride, "pad": pad}


def _reference(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    return conv2d_forward(x, w, b, stride=(stride, stride), padding=(pad, pad))


def _reference_backward(x, w, b, conv_param, seed):
    out, cache = _reference(x, w, b, conv_param)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    return dout, conv2d_backward(dout, cache)


@pytest.mark.task("1.3", points=2)
@pytest.mark.parametrize("setting", SETTINGS[:2], ids=IDS[:2])
def test_forward_matches_the_reference(setting):
    x, w, b, conv_param = _problem(*setting)
    out, cache = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(out, _reference(x, w, b, conv_param)[0], rtol=1e-10, atol=1e-12)
    assert cache[0] is x and cache[1] is w


@pytest.mark.task("1.3")
def test_forward_shape_with_stride_and_padding():
    x, w, b, conv_param = _problem(9, 7, 3, 2, 2)
    out, _ = conv_forward_naive(x, w, b, conv_param)
    assert out.shape == (2, 4, (9 + 4 - 3) // 2 + 1, (7 + 4 - 3) // 2 + 1)


@pytest.mark.task("1.4", points=2)
def test_backward_passes_the_cs231n_gradient_check():
    x, w, b, conv_param = _problem(*SETTINGS[0])
    dout = np.random.default_rng(1).standard_normal((2, 4, 5, 5))
    dx, dw, db = conv_backward_naive(dout, (x, w, b, conv_param))   # the cache of Task 1.3's forward pass
    dx_num = eval_numerical_gradient_array(lambda v: _reference(v, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: _reference(x, v, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: _reference(x, w, v, conv_param)[0], b, dout)
    assert rel_error(dx, dx_num) < 1e-7 and rel_error(dw, dw_num) < 1e-7 and rel_error(db, db_num) < 1e-7


@pytest.mark.task("1.4")
@pytest.mark.parametrize("setting", SETTINGS[1:], ids=IDS[1:])
def test_backward_matches_the_reference_with_strides(setting):
    x, w, b, conv_param = _problem(*setting)
    dout, expected = _reference_backward(x, w, b, conv_param, seed=1)
    for got, want, name in zip(conv_backward_naive(dout, (x, w, b, conv_param)), expected, ("dx", "dw", "db")):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.task("1.5", points=2)
@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_flipped_full_convolution_is_the_input_gradient(setting):
    x, w, b, conv_param = _problem(*setting, seed=3)
    dout, (dx_expected, _, _) = _reference_backward(x, w, b, conv_param, seed=4)
    dx = conv_backward_flipped(dout, (x, w, b, conv_param))
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, dx_expected, rtol=1e-10, atol=1e-12)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")
HIDDEN = [f"conv{i}" for i in range(3)]


def _hidden(case):
    conv_param = {"stride": int(EXPECTED[f"{case}/stride"]), "pad": int(EXPECTED[f"{case}/pad"])}
    return EXPECTED[f"{case}/x"], EXPECTED[f"{case}/w"], EXPECTED[f"{case}/b"], conv_param


@pytest.mark.task("1.3", points=2)
@pytest.mark.parametrize("case", HIDDEN)
def test_forward_on_the_hidden_cases(case):
    out, _ = conv_forward_naive(*_hidden(case))
    np.testing.assert_allclose(out, EXPECTED[f"{case}/out"], rtol=1e-10, atol=1e-12)


@pytest.mark.task("1.4", points=2)
@pytest.mark.parametrize("case", HIDDEN)
def test_backward_on_the_hidden_cases(case):
    x, w, b, conv_param = _hidden(case)
    dx, dw, db = conv_backward_naive(EXPECTED[f"{case}/dout"], (x, w, b, conv_param))
    for name, value in (("dx", dx), ("dw", dw), ("db", db)):
        np.testing.assert_allclose(value, EXPECTED[f"{case}/{name}"], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.task("1.5", points=2)
@pytest.mark.parametrize("case", HIDDEN)
def test_flipped_on_the_hidden_cases(case):
    dx = conv_backward_flipped(EXPECTED[f"{case}/dout"], _hidden(case))
    np.testing.assert_allclose(dx, EXPECTED[f"{case}/dx"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
