"""RMSprop: divide each coordinate's step by a running root-mean-square of its gradients."""

import numpy as np

from minidl.optim.optimizer import Optimizer, check_range


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), step for step as ``torch.optim.RMSprop``.

    For each parameter p with gradient g (``maximize=True`` uses -g):

        g    <- g + weight_decay * p
        v    <- alpha * v + (1 - alpha) * g^2           running mean of g^2
        avg  =  sqrt(v) + eps
        p    <- p - lr * g / avg                         (momentum = 0)

    ``centered=True`` also keeps the running mean of g, g_avg <- alpha * g_avg + (1 - alpha) * g,
    and uses the variance instead of the raw second moment: avg = sqrt(v - g_avg^2) + eps.
    With ``momentum > 0`` the normalised gradient feeds a velocity:

        buf <- momentum * buf + g / avg,   p <- p - lr * buf

    Unlike Adam there is no bias correction: v starts at 0, so the first steps are large
    (about lr / sqrt(1 - alpha) per coordinate).

    State per parameter: ``step`` (int), ``square_avg`` (v), ``momentum_buffer`` when
    momentum > 0 and ``grad_avg`` when centered, each with the shape of p.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_range("RMSprop", name, group[name], 0)

    def _update(self, param, grad, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1

        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param

        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = np.sqrt(square_avg) + group["eps"]

        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / avg)
