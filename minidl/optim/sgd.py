"""Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay."""

import numpy as np

from minidl.optim.optimizer import Optimizer, check_range


class SGD(Optimizer):
    """Stochastic gradient descent, step for step as ``torch.optim.SGD``.

    For each parameter p with gradient g (``maximize=True`` uses -g instead):

        g   <- g + weight_decay * p                     (L2 penalty weight_decay/2 * |p|^2)
        buf <- g                                        on the first step
        buf <- momentum * buf + (1 - dampening) * g     afterwards
        g   <- g + momentum * buf   if nesterov,  else  g <- buf
        p   <- p - lr * g

    With ``momentum=0`` this is plain gradient descent p <- p - lr * g. Momentum makes ``buf`` a
    running sum of past gradients, a velocity that keeps moving along consistent directions and
    averages out directions that flip sign. Nesterov's variant steps with the gradient plus the
    look-ahead ``momentum * buf``.

    State per parameter: ``momentum_buffer`` (shape of p), only when momentum != 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        check_range("SGD", "lr", group["lr"], 0)
        check_range("SGD", "momentum", group["momentum"], 0)
        check_range("SGD", "dampening", group["dampening"], 0)
        check_range("SGD", "weight_decay", group["weight_decay"], 0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, param, grad, state, group):
        momentum = group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # np.array copies, and keeps the buffer of a 0-d parameter an array (updated in place).
                buf = state["momentum_buffer"] = np.array(grad)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad
