"""Saliency (Simonyan, Vedaldi and Zisserman 2014): the gradient of the class score.

Near an image x0 the class score S_c (the logit) is approximately linear,

    S_c(x) ~ w^T x + b,        w = dS_c/dx at x0,

so |w| says which pixels would change the score most if they changed a little. ``Saliency`` is
that gradient (its absolute value by default, as Captum's); ``saliency_map`` is the paper's
picture, the largest |w| over the colour channels of each pixel: M_ij = max_c |w_{c,i,j}|.
"""

import numpy as np

from minidl.explain.attribution import Attribution, check_inputs, target_gradient
from minidl.tensor import Tensor

__all__ = ["Saliency", "saliency_map"]


class Saliency(Attribution):
    """attribute(inputs, target) = |dS/dx| (or dS/dx with ``abs=False``), S = f(x)[target].

    Args of ``attribute``:
        inputs: (N, C, H, W) images (or (N, ...) for a model without convolutions).
        target: the class to explain, one for all or one per example (see ``attribution``).
        abs: True (Captum's default) for |dS/dx|, False for the signed gradient.
    Returns:
        a Tensor of the inputs' shape and dtype.
    """

    def attribute(self, inputs, target=None, abs=True):
        x = check_inputs(self.name, self.forward_func, inputs)
        gradient = target_gradient(self.name, self.forward_func, x, target).input_grad
        return Tensor(np.abs(gradient) if abs else gradient)


def saliency_map(model, x, target):
    """The class saliency map of Simonyan et al.: M_ij = max_c |dS/dx_{c,i,j}|, S the target's logit.

    Args:
        x: (N, C, H, W) images; target: a class, or one per image.
    Returns:
        a Tensor (N, H, W): one map per image, the strongest channel of each pixel.
    """
    return Tensor(Saliency(model).attribute(x, target=target).numpy().max(axis=1))
