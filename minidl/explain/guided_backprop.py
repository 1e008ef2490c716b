"""Guided backpropagation (Springenberg, Dosovitskiy, Brox and Riedmiller 2015).

The gradient dS/dx is sent back through the network, except that at every ReLU only the positive
signal that also passed the ReLU on the way up goes on down:

    R^l = max(R^{l+1}, 0) * [x^l > 0]       (x^l: the ReLU's input in the forward pass)

Negative signals, which say what would *lower* the score, are dropped, which gives sharper
pictures than the plain gradient. Every ReLU the model computes follows this rule
(``minidl.relu_rules``): ``nn.ReLU`` modules, ``F.relu`` calls, modules used several times.
"""

from minidl.explain.attribution import Attribution, check_inputs, target_gradient
from minidl.tensor import Tensor

__all__ = ["GuidedBackprop"]


class GuidedBackprop(Attribution):
    """attribute(inputs, target) = R^0, the signal that reaches the input under the guided rule.

    Args of ``attribute``: inputs (N, C, H, W) (or (N, ...)), target as for every method.
    Returns: a Tensor of the inputs' shape and dtype.
    """

    def attribute(self, inputs, target=None):
        x = check_inputs(self.name, self.forward_func, inputs)
        return Tensor(target_gradient(self.name, self.forward_func, x, target, rule="guided").input_grad)
