"""Gradient checking: compare an analytic backward pass with central differences.

For a function f and a small step h, the derivative along element x_i is approximately

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

with an error of order h^2. A vector-valued output is reduced to a scalar with a fixed random
projection L = sum(out * R), so one backward pass with dout = R gives the analytic dL/dx to
compare against. Checks run in float64: in float32, rounding error (~1e-7 relative) divided by
2h swamps the difference being measured.

Three kinds of thing can be checked with ``gradcheck``:
- a function of Tensors: ``gradcheck(lambda x, w: F.conv2d(x, w), [x, w])``
- an ``nn.Module``: its inputs and all of its parameters are checked
- a raw ``layers/`` pair: ``gradcheck((conv2d_forward, conv2d_backward), [x, w, b], options={...})``

CS231n's helpers are here too, under their names and with their arguments, so assignment code
runs unchanged: ``eval_numerical_gradient(f, x)``, ``eval_numerical_gradient_array(f, x, df)``,
``grad_check_sparse(f, x, analytic_grad)`` and ``rel_error(x, y)``. The first two are
``numerical_grad`` with CS231n's step h = 1e-5 (and its printing); the third checks a few
random elements only.
"""

from dataclasses import dataclass

import numpy as np

from minidl.grad_mode import enable_grad, no_grad
from minidl.random import get_generator
from minidl.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients of some input disagree."""


def numerical_grad(f, x, eps=1e-6, df=None):
    """Central-difference gradient of ``f`` at ``x``, changing one element of ``x`` at a time.

    Args:
        f: callable ``f(x)`` that reads the array ``x`` (which is modified in place and restored)
            and returns a scalar, or an array when ``df`` is given.
        x: float64 ndarray.
        eps: the step h.
        df: upstream gradient d(loss)/d(f(x)); the result is then sum(df * df(x)/dx_i).
    Returns:
        grad: ndarray of x's shape.
    """
    _check_perturbable("numerical_grad", x)
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_grad: x must be a contiguous array so it can be perturbed in place")
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + eps
        plus = np.array(f(x), dtype=np.float64, copy=True)
        flat_x[i] = original - eps
        minus = np.array(f(x), dtype=np.float64, copy=True)
        flat_x[i] = original
        diff = plus - minus if df is None else np.sum((plus - minus) * df)
        flat_grad[i] = np.sum(diff) / (2 * eps)
    return grad


def _check_perturbable(owner, x):
    if not isinstance(x, np.ndarray):
        hint = "; pass t.numpy(), which shares the Tensor's array" if isinstance(x, Tensor) else ""
        raise TypeError(
            f"{owner}: x must be an ndarray, changed in place one element at a time and restored, "
            f"got {type(x).__name__}{hint}"
        )


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """CS231n's numerical gradient of a scalar function: ``numerical_grad(f, x, eps=h)``.

    Args:
        f: callable ``f(x)`` returning a scalar (a number, 0-d array or one-element Tensor).
        x: float ndarray, changed in place one element at a time and restored before returning.
        verbose: print each element's index and derivative, ``(i, j) 0.123``, as CS231n's does.
        h: the step of the centred difference (f(x + h) - f(x - h)) / 2h.
    Returns:
        grad: float64 ndarray of x's shape.
    """
    grad = numerical_grad(f, x, eps=h)
    if verbose:
        for index in np.ndindex(x.shape):
            print(index, grad[index])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """CS231n's numerical gradient through an array-valued function, for a layer's backward.

    Returns sum(df * d f(x) / d x_i) for every element i, the gradient of x when ``df`` is the
    upstream gradient of ``f(x)``: ``numerical_grad(f, x, eps=h, df=df)``.

    Args:
        f: callable ``f(x)`` returning an array (copied at each evaluation, so ``f`` may reuse its
            output buffer).
        x: float ndarray, changed in place one element at a time and restored before returning.
        df: array of f(x)'s shape.
        h: the step of the centred difference.
    Returns:
        grad: float64 ndarray of x's shape.
    """
    return numerical_grad(f, x, eps=h, df=df)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """CS231n's spot check: compare ``analytic_grad`` with centred differences at random elements.

    For each of ``num_checks`` elements drawn uniformly (from minidl's generator, so
    ``minidl.manual_seed`` fixes them) it evaluates f at x +- h along that element, restores
    x, and prints, as CS231n's does,

        numerical: 0.123456 analytic: 0.123457, relative error: 1.234567e-06

    Args:
        f: callable ``f(x)`` returning a scalar.
        x: float ndarray, changed in place and restored.
        analytic_grad: array of x's shape, the gradient to check.
        num_checks: how many elements to check (the same element may come twice).
        h: the step of the centred difference.
    Returns:
        the relative errors |n - a| / max(1e-8, |n| + |a|), a float64 ndarray (num_checks,). CS231n's
        divides by |n| + |a| alone and returns nothing; the floor makes two zero gradients agree
        (error 0) instead of printing nan.
    """
    _check_perturbable("grad_check_sparse", x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"grad_check_sparse: analytic_grad has shape {analytic_grad.shape} but x has shape {x.shape}"
        )
    if x.size == 0:
        raise ValueError(f"grad_check_sparse: x of shape {x.shape} has no element to check")
    if isinstance(num_checks, bool) or not isinstance(num_checks, int | np.integer) or num_checks < 1:
        raise ValueError(f"grad_check_sparse: num_checks must be an int >= 1, got {num_checks!r}")
    rng = get_generator()
    errors = np.empty(num_checks)
    for i in range(num_checks):
        index = tuple(int(rng.integers(size)) for size in x.shape)
        original = x[index]
        x[index] = original + h
        plus = np.asarray(f(x), dtype=np.float64).item()
        x[index] = original - h
        minus = np.asarray(f(x), dtype=np.float64).item()
        x[index] = original
        numeric, analytic = (plus - minus) / (2 * h), float(analytic_grad[index])
        errors[i] = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {errors[i]:e}")
    return errors


def rel_error(a, b):
    """Largest elementwise relative error max(|a - b| / max(1e-8, |a| + |b|)) (CS231n's measure)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


@dataclass
class GradientComparison:
    """The outcome of checking one input: analytic vs numerical gradient."""

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    atol: float
    rtol: float

    @property
    def max_rel_error(self):
        return rel_error(self.analytic, self.numeric)

    @property
    def passed(self):
        return bool(np.allclose(self.analytic, self.numeric, atol=self.atol, rtol=self.rtol))

    def describe_worst(self):
        excess = np.abs(self.analytic - self.numeric) - self.rtol * np.abs(self.numeric)
        worst = np.unravel_index(int(np.argmax(excess)), self.analytic.shape) if excess.size else ()
        worst = tuple(int(i) for i in worst)
        a, n = float(self.analytic[worst]), float(self.numeric[worst])
        rel = abs(a - n) / max(1e-8, abs(a) + abs(n))
        return (
            f"gradcheck failed for {self.name} (shape {self.analytic.shape}): worst element {worst}: "
            f"analytic {a:.10g} vs numeric {n:.10g}, relative error {rel:.3g} "
            f"(tolerance atol={self.atol:g}, rtol={self.rtol:g}; max relative error over all "
            f"elements {self.max_rel_error:.3g})"
        )


def _float64(value, what):
    array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind != "f":
        return None
    if array.dtype != np.float64:
        raise TypeError(
            f"gradcheck: {what} has dtype {array.dtype}; gradient checks need float64 "
            f"(float32 rounding swamps the finite differences). Convert it with .double() "
            f"or np.float64 first."
        )
    return array


def _compare_tensor_function(fn, inputs, eps, atol, rtol, seed):
    """Check every float64 input (and, for a Module, every parameter) of a Tensor function."""
    args, checked = [], []
    for i, value in enumerate(inputs):
        if value is None or isinstance(value, int | float | str | tuple):
            args.append(value)
            continue
        array = _float64(value, f"input {i}")
        if array is None:  # integer inputs (class labels, indices) are passed through unchecked
            args.append(value if isinstance(value, Tensor) else Tensor(np.asarray(value)))
            continue
        wants_grad = value.requires_grad if isinstance(value, Tensor) else True
        t = Tensor(array.copy(), requires_grad=wants_grad)
        args.append(t)
        if wants_grad:
            checked.append((f"input {i}", t))
    parameters = getattr(fn, "named_parameters", None)
    if parameters is not None:
        for name, p in parameters():
            _float64(p, f"parameter {name!r}")
            if p.requires_grad:
                checked.append((f"parameter {name!r}", p))
    if not checked:
        raise ValueError("gradcheck: nothing to check: no input or parameter requires a gradient")

    rng = np.random.default_rng(seed)
    with enable_grad():
        out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: the function must return a Tensor, got {type(out).__name__}")
    projection = rng.standard_normal(out.shape)
    for _, t in checked:
        t.grad = None
    out.backward(projection)
    analytic = [np.zeros(t.shape) if t.grad is None else np.asarray(t.grad).copy() for _, t in checked]

    def loss(_):
        with no_grad():  # the finite differences need values only, not graphs
            return float(np.sum(fn(*args).numpy() * projection))

    results = []
    for (name, t), a in zip(checked, analytic):
        numeric = numerical_grad(loss, t.numpy(), eps)
        results.append(GradientComparison(name, a, numeric, atol, rtol))
    return results


def _compare_pair(forward, backward, inputs, options, eps, atol, rtol, seed):
    """Check a raw ``forward(*arrays, **options) -> (out, cache)`` / ``backward(dout, cache)`` pair."""
    arrays = [None if a is None else np.array(a, copy=True) for a in inputs]
    for i, a in enumerate(arrays):
        if a is not None:
            _float64(a, f"input {i}")
    out, cache = forward(*arrays, **options)
    projection = np.random.default_rng(seed).standard_normal(out.shape)
    grads = backward(projection, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(arrays):
        raise ValueError(f"gradcheck: backward returned {len(grads)} gradients for {len(arrays)} inputs")

    def loss(_):
        return float(np.sum(forward(*arrays, **options)[0] * projection))

    results = []
    for i, (a, g) in enumerate(zip(arrays, grads)):
        if a is None or a.dtype.kind != "f":
            continue
        if g is None:
            raise GradcheckError(f"gradcheck: backward returned no gradient for input {i}")
        if np.shape(g) != a.shape:  # compared as is, a (1, F) gradient would broadcast against (F,)
            raise GradcheckError(
                f"gradcheck: backward returned a gradient of shape {np.shape(g)} for input {i} of shape {a.shape}"
            )
        # A copy: the finite differences below perturb the inputs, which g might share memory with.
        analytic = np.array(g, dtype=np.float64)
        results.append(GradientComparison(f"input {i}", analytic, numerical_grad(loss, a, eps), atol, rtol))
    return results


def compare_gradients(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, options=None, seed=0):
    """Analytic vs numerical gradients of every checked input, as ``GradientComparison`` records.

    ``fn`` is a function of Tensors, an ``nn.Module``, or a ``(forward, backward)`` pair (whose
    keyword ``options`` are passed to forward). ``gradcheck`` is the pass/fail front of this.
    """
    if isinstance(fn, tuple):
        forward, backward = fn
        return _compare_pair(forward, backward, inputs, options or {}, eps, atol, rtol, seed)
    if options:
        raise ValueError("gradcheck: options= is for a (forward, backward) pair; bind them into fn instead")
    return _compare_tensor_function(fn, inputs, eps, atol, rtol, seed)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, options=None, seed=0):
    """Return True if the analytic gradients of ``fn`` match central differences at ``inputs``.

    An element passes when |analytic - numeric| <= atol + rtol * |numeric|. Otherwise raises
    ``GradcheckError`` naming the input, its worst element, both values and their relative error.
    Inputs must be float64 (integer inputs such as labels are passed through unchecked).
    """
    for result in compare_gradients(fn, inputs, eps, atol, rtol, options, seed):
        if not result.passed:
            raise GradcheckError(result.describe_worst())
    return True
