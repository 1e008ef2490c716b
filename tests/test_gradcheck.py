"""The gradient checker itself: central differences on known derivatives, the relative error,
and above all that a wrong backward pass is caught and reported precisely.
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import minidl as md
from minidl.function import Function, from_pair
from minidl.gradcheck import (
    GradcheckError,
    compare_gradients,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    gradcheck,
    numerical_grad,
    rel_error,
)


# ---------------------------------------------------------------- numerical_grad
@given(shape=array_shapes(min_dims=0, max_dims=2, max_side=4), seed=st.integers(0, 2**16))
def test_numerical_grad_of_cube_is_three_x_squared(shape, seed):
    x = np.random.default_rng(seed).uniform(-2, 2, shape)
    original = x.copy()
    grad = numerical_grad(lambda v: np.sum(v**3), x, eps=1e-5)
    # Central differences are exact up to eps^2 * f'''/6 = 1e-10 here, plus rounding.
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(x, original)  # every perturbation was undone


def test_numerical_grad_with_upstream_gradient():
    # f(x) = sin(x) elementwise, loss = sum(df * f):  d loss / dx = df * cos(x)
    rng = np.random.default_rng(0)
    x, df = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    grad = numerical_grad(np.sin, x, df=df)
    np.testing.assert_allclose(grad, df * np.cos(x), rtol=1e-8, atol=1e-9)


def test_numerical_grad_needs_a_contiguous_array():
    x = np.ones((3, 4)).T  # flattening a transposed array copies it
    with pytest.raises(ValueError, match="numerical_grad: x must be a contiguous array"):
        numerical_grad(np.sum, x)


def test_numerical_grad_refuses_a_tensor():
    with pytest.raises(TypeError, match=r"numerical_grad: x must be an ndarray.*got Tensor; pass t.numpy\(\)"):
        numerical_grad(np.sum, md.tensor(np.ones(3)))


# ---------------------------------------------------------------- CS231n's helpers
def _cube_sum(x):
    return np.sum(x**3)


def _log_sum_exp(x):
    return np.log(np.sum(np.exp(x)))


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


CLASSES = np.array([2, 0, 1, 1])


def _cross_entropy_of_scores(x):
    """A minidl loss (a Tensor) of the scores x (4, 3), as an assignment's f often is."""
    return md.functional.cross_entropy(md.tensor(x), CLASSES)


def _cross_entropy_gradient(x):
    probabilities = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    return (probabilities - np.eye(3)[CLASSES]) / len(CLASSES)


SCALAR_FUNCTIONS = [
    (_cube_sum, lambda x: 3 * x**2),
    (_log_sum_exp, _softmax),
    (_cross_entropy_of_scores, _cross_entropy_gradient),
]


@pytest.mark.parametrize("f, derivative", SCALAR_FUNCTIONS, ids=["cube", "logsumexp", "cross_entropy"])
@given(seed=st.integers(0, 2**16))
def test_eval_numerical_gradient_is_numerical_grad_with_cs231ns_step(f, derivative, seed):
    x = np.random.default_rng(seed).uniform(-2, 2, (4, 3))
    original = x.copy()
    grad = eval_numerical_gradient(f, x, verbose=False)
    np.testing.assert_array_equal(grad, numerical_grad(f, x, eps=1e-5))
    np.testing.assert_array_equal(x, original)  # modified in place and restored
    np.testing.assert_allclose(grad, derivative(x), rtol=1e-7, atol=1e-9)
    assert grad.shape == x.shape and grad.dtype == np.float64


def test_eval_numerical_gradient_prints_each_element_as_cs231n(capsys):
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient(_cube_sum, x, h=1e-4)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(") ")[0] + ")" for line in lines] == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]
    printed = [float(line.split(") ")[1]) for line in lines]
    np.testing.assert_allclose(printed, grad.ravel(), rtol=1e-12)
    np.testing.assert_allclose(printed, 3 * x.ravel() ** 2, rtol=1e-7)  # off by h^2 f'''/6 = 1e-8


@given(seed=st.integers(0, 2**16))
def test_eval_numerical_gradient_array_is_numerical_grad_with_df(seed):
    rng = np.random.default_rng(seed)
    x, w, dout = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    buffer = np.empty((2, 4))

    def affine_into_a_buffer(a):
        np.matmul(a, w, out=buffer)  # the same array every call: the helper must copy it
        return buffer

    dx = eval_numerical_gradient_array(affine_into_a_buffer, x, dout)
    np.testing.assert_array_equal(dx, numerical_grad(affine_into_a_buffer, x, eps=1e-5, df=dout))
    np.testing.assert_allclose(dx, dout @ w.T, rtol=1e-7, atol=1e-9)
    dw = eval_numerical_gradient_array(lambda b: x @ b, w, dout, h=1e-6)
    np.testing.assert_allclose(dw, x.T @ dout, rtol=1e-7, atol=1e-9)
    dtanh = eval_numerical_gradient_array(np.tanh, x, dout[:, :3])
    np.testing.assert_allclose(dtanh, dout[:, :3] * (1 - np.tanh(x) ** 2), rtol=1e-7, atol=1e-9)


LINE = re.compile(r"numerical: (-?\d+\.\d{6}) analytic: (-?\d+\.\d{6}), relative error: (\d\.\d{6}e[+-]\d\d)")


def test_grad_check_sparse_prints_and_returns_the_relative_errors(capsys):
    x = np.random.default_rng(0).uniform(-2, 2, (5, 4))
    original = x.copy()
    md.manual_seed(0)
    errors = grad_check_sparse(_log_sum_exp, x, _softmax(x), num_checks=6)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all(LINE.fullmatch(line) for line in lines)
    assert errors.shape == (6,) and errors.dtype == np.float64 and np.all(errors < 1e-8)
    for line, error in zip(lines, errors):
        numeric, analytic, printed = (float(v) for v in LINE.fullmatch(line).groups())
        assert numeric == pytest.approx(analytic, abs=1e-6)
        assert printed == pytest.approx(error, rel=1e-6)
    np.testing.assert_array_equal(x, original)

    md.manual_seed(0)  # the same elements again
    np.testing.assert_array_equal(grad_check_sparse(_log_sum_exp, x, _softmax(x), num_checks=6), errors)
    doubled = grad_check_sparse(_cube_sum, x, 2 * 3 * x**2, num_checks=4)
    np.testing.assert_allclose(doubled, 1 / 3, rtol=1e-7)  # 2g against g
    np.testing.assert_allclose(doubled, rel_error(2.0, 1.0), rtol=1e-7)


def test_grad_check_sparse_with_a_zero_gradient_reports_zero_not_nan(capsys):
    errors = grad_check_sparse(lambda v: 0.0 * np.sum(v), np.ones(3), np.zeros(3), num_checks=2)
    np.testing.assert_array_equal(errors, [0.0, 0.0])
    assert "relative error: 0.000000e+00" in capsys.readouterr().out


def test_cs231n_helpers_refuse_bad_input():
    with pytest.raises(ValueError, match=r"grad_check_sparse: analytic_grad has shape \(3,\) but x has shape \(2,\)"):
        grad_check_sparse(np.sum, np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="grad_check_sparse: num_checks must be an int >= 1, got 0"):
        grad_check_sparse(np.sum, np.ones(2), np.ones(2), num_checks=0)
    with pytest.raises(ValueError, match=r"grad_check_sparse: x of shape \(0,\) has no element to check"):
        grad_check_sparse(np.sum, np.ones(0), np.ones(0))
    with pytest.raises(TypeError, match="grad_check_sparse: x must be an ndarray"):
        grad_check_sparse(np.sum, md.tensor(np.ones(2)), np.ones(2))
    with pytest.raises(TypeError, match="numerical_grad: x must be an ndarray"):
        eval_numerical_gradient(np.sum, [1.0, 2.0])


# ---------------------------------------------------------------- rel_error
def test_rel_error_values():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(1.0, 1.1) == pytest.approx(0.1 / 2.1, rel=1e-12)
    assert rel_error(-1.0, 1.0) == 1.0  # opposite signs: the largest possible error
    assert rel_error([1.0, 10.0], [1.0, 11.0]) == pytest.approx(1 / 21, rel=1e-12)  # the worst element
    assert rel_error(0.0, 0.0) == 0.0  # the denominator is floored at 1e-8, not zero
    assert rel_error(0.0, 1e-9) == pytest.approx(0.1, rel=1e-12)
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_rel_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"rel_error: shapes differ: \(3,\) and \(1, 3\)"):
        rel_error(np.ones(3), np.ones((1, 3)))


# ---------------------------------------------------------------- correct gradients pass
def test_gradcheck_passes_on_correct_ops():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    assert gradcheck(lambda a, b: ((a @ b).exp() * 0.1).sum(1), [x, w]) is True
    results = compare_gradients(lambda a, b: (a @ b) ** 2 / (a.abs().sum() + 1), [x, w])
    assert [r.name for r in results] == ["input 0", "input 1"]
    assert all(r.passed and r.max_rel_error < 1e-7 for r in results)


def _square_forward(x, scale=1.0):
    out = scale * x * x
    return out, (x, scale)


def _square_backward(dout, cache):
    x, scale = cache
    return 2 * scale * x * dout


def test_gradcheck_passes_on_a_correct_pair_with_options():
    x = np.random.default_rng(0).standard_normal((3, 2))
    assert gradcheck((_square_forward, _square_backward), [x], options={"scale": 3.0}) is True


def test_gradcheck_does_not_modify_its_inputs():
    x = np.random.default_rng(0).standard_normal(4)
    t = md.tensor(x.copy(), requires_grad=True)
    original = x.copy()
    gradcheck(lambda a: a * a, [x])
    gradcheck(lambda a: a * a, [t])
    gradcheck((_square_forward, _square_backward), [x])
    np.testing.assert_array_equal(x, original)
    np.testing.assert_array_equal(t.numpy(), original)
    assert t.grad is None


# ---------------------------------------------------------------- a wrong backward is caught
class ForgetfulSigmoid(Function):
    """out = 1 / (1 + exp(-a)), with a WRONG backward: da = dout * s, forgetting the factor (1 - s)."""

    @staticmethod
    def forward(ctx, a):
        s = 1 / (1 + np.exp(-a))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, dout):
        (s,) = ctx.saved_tensors
        return dout * s


def _expected_worst(analytic, numeric, rtol=1e-3):
    """The element gradcheck must blame: the one exceeding its tolerance by the most."""
    excess = np.abs(analytic - numeric) - rtol * np.abs(numeric)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), analytic.shape))
    a, n = float(analytic[worst]), float(numeric[worst])
    return worst, a, n, abs(a - n) / (abs(a) + abs(n))


def _reported(message, what):
    """The number that follows ``what`` in a gradcheck message."""
    return float(re.search(rf"{what} (-?[0-9.e+-]+)", message).group(1))


def test_wrong_tensor_function_backward_is_caught_and_described():
    x = np.random.default_rng(0).standard_normal((2, 3))
    projection = np.random.default_rng(0).standard_normal((2, 3))  # gradcheck's dout for seed=0
    s = 1 / (1 + np.exp(-x))
    worst, a, n, rel = _expected_worst(projection * s, projection * s * (1 - s))

    with pytest.raises(GradcheckError) as failure:
        gradcheck(ForgetfulSigmoid.apply, [x])
    message = str(failure.value)
    assert message.startswith(f"gradcheck failed for input 0 (shape (2, 3)): worst element {worst}: ")
    assert _reported(message, "analytic") == pytest.approx(a, rel=1e-9)
    assert _reported(message, "numeric") == pytest.approx(n, rel=1e-7)  # central differences ~ the truth
    assert _reported(message, "relative error") == pytest.approx(rel, rel=1e-2)


def _scale_forward(x, w):
    """out = x * w (w broadcast over rows)."""
    return x * w, (x, w)


def _scale_backward_doubled_dw(dout, cache):
    """dx is right; dw is WRONG by a factor of 2."""
    x, w = cache
    return dout * w, 2 * np.sum(dout * x, axis=0)


def test_wrong_pair_backward_is_caught_and_names_the_input():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    projection = np.random.default_rng(0).standard_normal((4, 3))
    true_dw = np.sum(projection * x, axis=0)
    worst, a, n, rel = _expected_worst(2 * true_dw, true_dw)
    assert rel == pytest.approx(1 / 3)  # 2g against g

    with pytest.raises(GradcheckError) as failure:
        gradcheck((_scale_forward, _scale_backward_doubled_dw), [x, w])
    message = str(failure.value)
    assert message.startswith(f"gradcheck failed for input 1 (shape (3,)): worst element {worst}: ")  # dx is right
    assert _reported(message, "analytic") == pytest.approx(a, rel=1e-9)
    assert _reported(message, "numeric") == pytest.approx(n, rel=1e-7)
    assert "relative error 0.333" in message


def test_wrong_pair_is_caught_through_from_pair_too():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    Scale = from_pair("Scale", _scale_forward, _scale_backward_doubled_dw)
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 1 \(shape \(3,\)\)"):
        gradcheck(lambda a, b: Scale.apply(a, b), [x, w])


def test_gradient_of_the_wrong_shape_is_caught_for_a_pair():
    # (1, 3) would silently broadcast against (3,) in an elementwise comparison.
    def backward_keeping_the_axis(dout, cache):
        x, w = cache
        return dout * w, np.sum(dout * x, axis=0, keepdims=True)

    x, w = np.ones((4, 3)), np.ones(3)
    with pytest.raises(GradcheckError, match=r"gradient of shape \(1, 3\) for input 1 of shape \(3,\)"):
        gradcheck((_scale_forward, backward_keeping_the_axis), [x, w])


def test_missing_gradient_is_caught_for_a_pair():
    with pytest.raises(GradcheckError, match="backward returned no gradient for input 1"):
        gradcheck((_scale_forward, lambda dout, cache: (dout * cache[1], None)), [np.ones((2, 3)), np.ones(3)])


def test_tolerances_decide():
    # A gradient off by 1e-4 relative passes rtol=1e-3 and fails rtol=1e-5.
    def slightly_off(dout, cache):
        return _square_backward(dout, cache) * (1 + 1e-4)

    x = np.random.default_rng(0).uniform(1, 2, 5)
    assert gradcheck((_square_forward, slightly_off), [x])
    with pytest.raises(GradcheckError, match="tolerance atol=1e-05, rtol=1e-05"):
        gradcheck((_square_forward, slightly_off), [x], rtol=1e-5)


# ---------------------------------------------------------------- what gets checked
def test_float32_inputs_are_refused():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="gradcheck: input 0 has dtype float32; gradient checks need float64"):
        gradcheck(lambda a: a * 2, [x])
    with pytest.raises(TypeError, match=r"input 0 has dtype float32.*\.double\(\)"):
        gradcheck(lambda a: a * 2, [md.tensor(x, requires_grad=True)])
    with pytest.raises(TypeError, match="gradcheck: input 1 has dtype float32"):
        gradcheck((_scale_forward, _scale_backward_doubled_dw), [np.ones((2, 3)), x])


def _pick_forward(scores, labels):
    """out[n] = scores[n, labels[n]]."""
    rows = np.arange(len(labels))
    return scores[rows, labels], (scores.shape, rows, labels)


def _pick_backward(dout, cache):
    shape, rows, labels = cache
    dscores = np.zeros(shape)
    dscores[rows, labels] = dout
    return dscores, None


def test_integer_inputs_pass_through_unchecked():
    scores = np.random.default_rng(0).standard_normal((4, 3))
    labels = np.array([2, 0, 0, 1])
    assert gradcheck((_pick_forward, _pick_backward), [scores, labels])
    assert gradcheck(lambda s, y: s[np.arange(4), y] ** 2, [scores, labels])
    assert gradcheck(lambda s, y: s[np.arange(4), y] ** 2, [scores, md.tensor(labels)])
    results = compare_gradients(lambda s, y: s[np.arange(4), y] ** 2, [scores, labels])
    assert [r.name for r in results] == ["input 0"]
    np.testing.assert_array_equal(labels, [2, 0, 0, 1])


def test_none_and_number_inputs_pass_through():
    def affine_forward(x, w, b=None):
        out = x @ w if b is None else x @ w + b
        return out, (x, w, b)

    def affine_backward(dout, cache):
        x, w, b = cache
        return dout @ w.T, x.T @ dout, None if b is None else dout.sum(0)

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    assert gradcheck((affine_forward, affine_backward), [x, w, None])
    seen = []

    def scaled_product(a, b, scale, bias):
        seen.append((scale, bias))
        return a @ b * scale

    assert gradcheck(scaled_product, [x, w, 2.5, None])
    assert set(seen) == {(2.5, None)}


def test_tensor_without_requires_grad_is_a_constant():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(3), md.tensor(rng.standard_normal(3))
    results = compare_gradients(lambda a, b: a * b, [x, w])
    assert [r.name for r in results] == ["input 0"]
    with pytest.raises(ValueError, match="nothing to check: no input or parameter requires a gradient"):
        gradcheck(lambda a: a * 2, [md.tensor(np.ones(2))])


def test_usage_errors():
    with pytest.raises(TypeError, match="the function must return a Tensor, got ndarray"):
        gradcheck(lambda a: a.numpy() * 2, [np.ones(2)])
    with pytest.raises(ValueError, match="options= is for a"):
        gradcheck(lambda a: a * 2, [np.ones(2)], options={"scale": 2})
    with pytest.raises(ValueError, match="backward returned 1 gradients for 2 inputs"):
        gradcheck((_scale_forward, lambda dout, cache: dout), [np.ones((2, 3)), np.ones(3)])
