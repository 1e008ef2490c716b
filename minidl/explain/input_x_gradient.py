"""Input x gradient (Shrikumar et al. 2016): each input times the gradient of the score.

For a linear model S = w^T x + b, x_i * w_i is exactly how much input i adds to the score; for a
network it is the first-order term of that contribution: A_i = x_i * dS/dx_i.
"""

from minidl.explain.attribution import Attribution, check_inputs, target_gradient
from minidl.tensor import Tensor

__all__ = ["InputXGradient"]


class InputXGradient(Attribution):
    """attribute(inputs, target) = x * dS/dx, S = f(x)[target] (the logit).

    Args of ``attribute``: inputs (N, C, H, W) (or (N, ...)), target as for every method.
    Returns: a Tensor of the inputs' shape and dtype.
    """

    def attribute(self, inputs, target=None):
        x = check_inputs(self.name, self.forward_func, inputs)
        return Tensor(x * target_gradient(self.name, self.forward_func, x, target).input_grad)
