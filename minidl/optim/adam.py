"""Adam and AdamW: per-coordinate step sizes from running moments of the gradient."""

import numpy as np

from minidl.optim.optimizer import Optimizer, check_range


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), step for step as ``torch.optim.Adam``.

    For each parameter p with gradient g, at step t = 1, 2, ... (``maximize=True`` uses -g):

        g     <- g + weight_decay * p                 (L2 penalty, folded into the gradient)
        m     <- beta1 * m + (1 - beta1) * g          first moment: a running mean of g
        v     <- beta2 * v + (1 - beta2) * g^2        second moment: a running mean of g^2
        m_hat =  m / (1 - beta1^t)                    bias corrections: m and v start at 0, so
        v_hat =  v / (1 - beta2^t)                    early averages are too small by these factors
        p     <- p - lr * m_hat / (sqrt(v_hat) + eps)

    Dividing by sqrt(v_hat) gives every coordinate a step of about ``lr`` whatever the scale of
    its gradient. ``amsgrad=True`` divides by the largest v seen so far instead of the current
    one, so a coordinate's step size can only shrink. As in PyTorch the bias correction is
    applied as ``step_size = lr / (1 - beta1^t)`` and ``sqrt(v) / sqrt(1 - beta2^t) + eps``.

    ``decoupled_weight_decay=True`` (what ``AdamW`` sets) shrinks the weights directly,
    p <- p * (1 - lr * weight_decay), instead of adding weight_decay * p to the gradient.

    State per parameter: ``step`` (int), ``exp_avg`` (m) and ``exp_avg_sq`` (v) with the shape
    of p, and ``max_exp_avg_sq`` when amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        name = self._name
        check_range(name, "lr", group["lr"], 0)
        check_range(name, "eps", group["eps"], 0)
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_range(name, "betas[0]", betas[0], 0, 1)
        check_range(name, "betas[1]", betas[1], 0, 1)
        check_range(name, "weight_decay", group["weight_decay"], 0)

    def _update(self, param, grad, state, group):
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step = state["step"]

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad

        if group["amsgrad"]:
            # Normalise by the largest second moment seen so far.
            exp_avg_sq = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        denom = np.sqrt(exp_avg_sq) / bias_correction2**0.5 + eps
        param -= step_size * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Each step first shrinks the weights, p <- p * (1 - lr * weight_decay), then takes a plain Adam
    step. With L2 decay inside Adam (``Adam(weight_decay=...)``) the penalty's gradient is divided
    by sqrt(v_hat) like every other gradient, so weights with large gradients are barely decayed;
    decoupling makes the decay the same for every weight.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
