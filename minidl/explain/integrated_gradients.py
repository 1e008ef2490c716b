"""Integrated gradients (Sundararajan, Taly and Yan 2017).

A gradient only says what happens near x. Integrated gradients add the gradients up along the
straight path from a baseline x' (an image that means "nothing", e.g. all zeros) to x:

    IG_i(x) = (x_i - x'_i) * integral_0^1 dS/dx_i (x' + alpha (x - x')) d(alpha)

By the fundamental theorem of calculus along that path, the attributions add up to the change
of the score ("completeness"):

    sum_i IG_i(x) = S(x) - S(x')

The integral is computed by a quadrature rule with ``n_steps`` points alpha_k and weights w_k,
IG_i ~ (x_i - x'_i) * sum_k w_k dS/dx_i (x' + alpha_k (x - x')), with Captum's rules:

    "gausslegendre"     Gauss-Legendre nodes and weights on [0, 1] (exact for polynomials of
                        degree < 2 n_steps; Captum's default)
    "riemann_left"      alpha_k = k/n,          k = 0..n-1, w_k = 1/n
    "riemann_right"     alpha_k = k/n,          k = 1..n,   w_k = 1/n
    "riemann_middle"    alpha_k = (k + 1/2)/n,  k = 0..n-1, w_k = 1/n
    "riemann_trapezoid" alpha_k = k/(n-1),      k = 0..n-1, w_k = 1/(n-1), halved at both ends

The trapezoid rule here is the textbook one. Captum's (0.8) takes the weights 1/n with nodes
1/(n-1) apart, so its weights add up to (n-1)/n and its attributions are (n-1)/n of these.
"""

import numpy as np

from minidl.explain.attribution import (Attribution, broadcast_baselines, check_inputs, repeat_targets, target_gradient,
                                        target_scores)
from minidl.functional.checks import check_int
from minidl.tensor import Tensor

__all__ = ["IntegratedGradients", "QUADRATURE_METHODS", "quadrature"]

QUADRATURE_METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def quadrature(method, n_steps):
    """(alphas, weights), two (n_steps,) arrays: sum_k w_k g(alpha_k) ~ integral_0^1 g."""
    if method not in QUADRATURE_METHODS:
        raise ValueError(f"IntegratedGradients: method must be one of {', '.join(QUADRATURE_METHODS)}, "
                         f"got {method!r}")
    check_int("IntegratedGradients", "n_steps", n_steps, minimum=1 if method == "gausslegendre" else 2)
    n = n_steps
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)   # on [-1, 1]
        return (nodes + 1) / 2, weights / 2
    if method == "riemann_trapezoid":
        weights = np.full(n, 1 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, n), weights
    first = {"riemann_left": 0, "riemann_right": 1, "riemann_middle": 0.5}[method]
    return (np.arange(n) + first) / n, np.full(n, 1 / n)


class IntegratedGradients(Attribution):
    """attribute(inputs, baselines, target) = (x - x') * sum_k w_k dS/dx (x' + alpha_k (x - x')).

    Args of ``attribute``:
        inputs: (N, C, H, W) (or (N, ...)).
        baselines: x', None (zeros), a number, or an array of the inputs' shape or of one input's.
        target: as for every method.
        n_steps, method: the quadrature rule (module docstring).
        internal_batch_size: how many path points go through the model at once (default: all
            N * n_steps; smaller bounds the memory).
        return_convergence_delta: also return delta_n = sum_i IG_i(x_n) - (S(x_n) - S(x'_n)), (N,):
            how far the rule is from completeness.
    Returns:
        a Tensor of the inputs' shape and dtype, or (attributions, delta).
    """

    def attribute(self, inputs, baselines=None, target=None, n_steps=50, method="gausslegendre",
                  internal_batch_size=None, return_convergence_delta=False):
        x = check_inputs(self.name, self.forward_func, inputs)
        baseline = broadcast_baselines(self.name, baselines, x)
        alphas, weights = quadrature(method, n_steps)
        if internal_batch_size is not None:
            check_int(self.name, "internal_batch_size", internal_batch_size, minimum=1)
        n = len(x)
        # The path points, alpha-major as in Captum: row k*N + n is x'_n + alpha_k (x_n - x'_n).
        path = np.concatenate([baseline + alpha * (x - baseline) for alpha in alphas]).astype(x.dtype)
        targets = repeat_targets(self.name, target, n, len(alphas))
        step = internal_batch_size or len(path)
        gradients = np.concatenate([
            target_gradient(self.name, self.forward_func, path[start:start + step], _rows(targets, start, step)
                            ).input_grad for start in range(0, len(path), step)])
        weighted = np.tensordot(weights, gradients.reshape(len(alphas), *x.shape), axes=1)
        attributions = ((x - baseline) * weighted).astype(x.dtype)
        if not return_convergence_delta:
            return Tensor(attributions)
        change = (target_scores(self.name, self.forward_func, x, target)
                  - target_scores(self.name, self.forward_func, np.ascontiguousarray(baseline), target))
        delta = attributions.reshape(n, -1).sum(axis=1) - change
        return Tensor(attributions), Tensor(delta)


def _rows(targets, start, step):
    """The targets of the path points start..start+step (None for a model with one output)."""
    return None if targets is None else targets[start:start + step]
