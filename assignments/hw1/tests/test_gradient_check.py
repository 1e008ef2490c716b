"""Task 1.2: the centred difference and the relative error."""

import numpy as np
import pytest

from gradient_check import eval_numerical_gradient_array, rel_error


@pytest.mark.task("1.2")
def test_rel_error_is_the_largest_elementwise_relative_difference():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5, rel=1e-15)   # 2 / 4
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1, rel=1e-12)       # 1e-9 / max(1e-8, 1e-9)


@pytest.mark.task("1.2", points=2)
def test_the_gradient_is_centred_accurate_to_order_h_squared():
    # d/dx sum(df * sin(3x)) = 3 cos(3x) df. A one-sided difference is off by about h * 9/2 relatively,
    # far above the 1e-8 the centred one reaches.
    rng = np.random.default_rng(0)
    x, df = rng.uniform(-1, 1, (3, 4)), rng.standard_normal((3, 4))
    numerical = eval_numerical_gradient_array(lambda v: np.sin(3 * v), x, df)
    assert numerical.shape == x.shape
    assert rel_error(numerical, 3 * np.cos(3 * x) * df) < 1e-8


@pytest.mark.task("1.2")
def test_x_is_left_as_it_was_given_and_every_output_counts():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    # f maps (2, 3) to (3,): the column sums; d(sum(df * colsum))/dx[i, j] = df[j]
    grad = eval_numerical_gradient_array(lambda v: v.sum(axis=0), x, np.array([1.0, -2.0, 0.5]))
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, [[1.0, -2.0, 0.5]] * 2, rtol=1e-9)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("1.2")
def test_the_hidden_function():
    weights = EXPECTED["gradient/weights"]
    x = EXPECTED["gradient/x"].copy()
    grad = eval_numerical_gradient_array(lambda v: np.tanh(v @ weights), x, EXPECTED["gradient/df"])
    np.testing.assert_allclose(grad, EXPECTED["gradient/expected"], rtol=1e-7, atol=1e-10)
### END HIDDEN TESTS
