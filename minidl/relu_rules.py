"""Which backward rule the ReLUs use: the gradient, or the deconvnet or guided-backpropagation rule.

Three ways to send a signal R^{l+1} = dL/d(out) back through out = relu(x) give three pictures of
what a network saw (Springenberg et al. 2015, figure 1):

    backprop   (the chain rule, Simonyan et al.)   R^l = R^{l+1} * [x > 0]
    deconvnet  (Zeiler and Fergus)                 R^l = max(R^{l+1}, 0)
    guided     (Springenberg et al.)               R^l = max(R^{l+1}, 0) * [x > 0]

Every ReLU of minidl (``nn.ReLU``, ``F.relu``, ``Tensor.relu``; a module used twice included)
reads the rule when its forward pass runs and keeps it for its backward pass, so a rule set for
a forward pass applies to every ReLU the model computes, however the model calls it:

    with relu_rule("guided"):
        score = model(x)[0, label]
    score.backward()                 # every ReLU of that forward pass used the guided rule

Outside such a block the rule is "backprop": ReLUs give their true gradient. ``minidl.explain``'s
``GuidedBackprop`` and ``Deconvolution`` are this switch and one backward pass.
"""

import contextlib

import numpy as np

__all__ = ["RELU_RULES", "relu_rule", "current_relu_rule", "relu_backward_with_rule"]

RELU_RULES = ("backprop", "guided", "deconvnet")

_rule = "backprop"


def current_relu_rule():
    """The rule ReLUs created now will use in their backward pass ("backprop" by default)."""
    return _rule


@contextlib.contextmanager
def relu_rule(rule):
    """Within the block, every ReLU computed uses ``rule`` (one of RELU_RULES) in its backward pass."""
    global _rule
    if rule not in RELU_RULES:
        raise ValueError(f"relu_rule: rule must be one of {', '.join(RELU_RULES)}, got {rule!r}")
    previous, _rule = _rule, rule
    try:
        yield
    finally:
        _rule = previous


def relu_backward_with_rule(rule, dout, backprop):
    """R^l from R^{l+1} = ``dout`` (any shape) under ``rule``; ``backprop(g)`` is the ReLU's own
    gradient, g * [x > 0], so each ReLU keeps its own (reference or compiled) kernel for it."""
    if rule == "backprop":
        return backprop(dout)
    rectified = np.maximum(dout, 0)
    return rectified if rule == "deconvnet" else backprop(rectified)
