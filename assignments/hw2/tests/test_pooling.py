"""Tasks 2.1 and 2.2: max pooling with switches, average and global average pooling."""

import numpy as np
import pytest

from minidl.gradcheck import eval_numerical_gradient_array, rel_error
from minidl.layers.pool import avg_pool2d_forward, max_pool2d_forward
from pooling import (avg_pool_backward, avg_pool_forward, global_avg_pool_backward, global_avg_pool_forward,
                     max_pool_backward, max_pool_forward)

OVERLAPPING = {"pool_height": 3, "pool_width": 3, "stride": 2}   # AlexNet's overlapping pool


@pytest.mark.task("2.1", points=2)
def test_max_pool_forward_and_switches_match_the_reference():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9))
    out, (switches, x_shape) = max_pool_forward(x, OVERLAPPING)
    expected, (expected_switches, _) = max_pool2d_forward(x, (3, 3), (2, 2))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(switches, expected_switches)
    assert x_shape == x.shape


@pytest.mark.task("2.1")
def test_a_tie_goes_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 5.0, 5.0, 0.0], [5.0, 2.0, 0.0, 5.0]]]])   # both 2x2 windows hold 5 twice
    _, (switches, _) = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert switches.tolist() == [[[[1, 2]]]]   # (0, 1) and (0, 2): the first 5 of each window


@pytest.mark.task("2.1", points=2)
def test_a_pixel_that_wins_overlapping_windows_gets_the_sum_of_their_gradients():
    # The centre pixel (2, 2) of a 5x5 plane is in all four 3x3 windows of stride 2, and wins them all.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    _, cache = max_pool_forward(x, OVERLAPPING)
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool_backward(dout, cache)
    assert dx[0, 0, 2, 2] == 10.0 and np.count_nonzero(dx) == 1


@pytest.mark.task("2.1", points=2)
def test_max_pool_backward_passes_the_gradient_check():
    x = np.random.default_rng(1).permutation(2 * 2 * 9 * 9).reshape(2, 2, 9, 9) / 10.0   # no ties
    out, cache = max_pool_forward(x, OVERLAPPING)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx_num = eval_numerical_gradient_array(lambda v: max_pool2d_forward(v, (3, 3), (2, 2))[0], x, dout)
    assert rel_error(max_pool_backward(dout, cache), dx_num) < 1e-9


@pytest.mark.task("2.2", points=2)
@pytest.mark.parametrize("pool", [(2, 2, 2), (3, 2, 1)], ids=["2x2-stride-2", "3x2-stride-1-overlapping"])
def test_average_pooling_matches_the_reference_and_its_gradient_check(pool):
    height, width, stride = pool
    pool_param = {"pool_height": height, "pool_width": width, "stride": stride}
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 7))
    out, cache = avg_pool_forward(x, pool_param)
    expected, _ = avg_pool2d_forward(x, (height, width), (stride, stride))
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    dout = np.random.default_rng(4).standard_normal(out.shape)
    dx_num = eval_numerical_gradient_array(lambda v: avg_pool2d_forward(v, (height, width), (stride, stride))[0], x,
                                           dout)
    assert rel_error(avg_pool_backward(dout, cache), dx_num) < 1e-8


@pytest.mark.task("2.2")
def test_global_average_pooling_is_the_mean_of_each_plane():
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5))
    out, cache = global_avg_pool_forward(x)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)), rtol=1e-12)
    dx = global_avg_pool_backward(np.ones((2, 3)), cache)
    np.testing.assert_allclose(dx, np.full(x.shape, 1 / 20), rtol=1e-12)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("2.1", points=2)
def test_max_pooling_on_the_hidden_cases():
    out, cache = max_pool_forward(EXPECTED["max/x"], OVERLAPPING)
    np.testing.assert_array_equal(out, EXPECTED["max/out"])
    np.testing.assert_array_equal(cache[0], EXPECTED["max/switches"])
    np.testing.assert_allclose(max_pool_backward(EXPECTED["max/dout"], cache), EXPECTED["max/dx"], rtol=1e-12)
    _, (switches, _) = max_pool_forward(EXPECTED["ties/x"], {"pool_height": 2, "pool_width": 2, "stride": 1})
    np.testing.assert_array_equal(switches, EXPECTED["ties/switches"])


@pytest.mark.task("2.2")
def test_average_pooling_on_the_hidden_case():
    out, cache = avg_pool_forward(EXPECTED["avg/x"], {"pool_height": 3, "pool_width": 2, "stride": 2})
    np.testing.assert_allclose(out, EXPECTED["avg/out"], rtol=1e-12)
    np.testing.assert_allclose(avg_pool_backward(EXPECTED["avg/dout"], cache), EXPECTED["avg/dx"], rtol=1e-12)
### END HIDDEN TESTS
