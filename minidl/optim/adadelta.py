"""Adadelta: steps whose size comes from the updates themselves, not from a learning rate."""

import numpy as np

from minidl.optim.optimizer import Optimizer, check_range


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), step for step as ``torch.optim.Adadelta``.

    For each parameter p with gradient g (``maximize=True`` uses -g instead):

        g      <- g + weight_decay * p                          (L2 penalty, folded into g)
        v      <- rho * v + (1 - rho) * g^2                     running mean of g^2
        delta  =  sqrt(u + eps) / sqrt(v + eps) * g             the update, before lr
        u      <- rho * u + (1 - rho) * delta^2                 running mean of delta^2
        p      <- p - lr * delta

    Like RMSprop it divides by a root-mean-square of the gradients, but it multiplies by the
    root-mean-square of its own recent updates instead of a fixed rate, so the update has the
    units of p and ``lr=1.0`` (the default, and what PyTorch's MNIST example uses) works as is.
    ``eps`` keeps the first steps moving: u starts at 0, so the first update is about
    sqrt(eps) / sqrt(eps + (1 - rho) g^2) * g.

    State per parameter: ``step`` (int), ``square_avg`` (v) and ``acc_delta`` (u), each with
    the shape of p.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        check_range("Adadelta", "lr", group["lr"], 0)
        check_range("Adadelta", "rho", group["rho"], 0)
        # rho = 1 is allowed, as in PyTorch: the averages then never change after their start.
        if not group["rho"] <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {group['rho']}")
        check_range("Adadelta", "eps", group["eps"], 0)
        check_range("Adadelta", "weight_decay", group["weight_decay"], 0)

    def _update(self, param, grad, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            state["acc_delta"] = np.zeros_like(param)
        state["step"] += 1

        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param

        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
