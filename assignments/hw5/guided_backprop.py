"""Task 5.2: guided backpropagation (Springenberg et al. 2015).

The gradient dS/dx goes back through every ReLU as R_in = R_out * [x > 0], with x the ReLU's
input in the forward pass (its *forward mask*). The deconvnet (Zeiler and Fergus) instead keeps
only the positive part of the signal, R_in = max(R_out, 0), whatever x was. Guided
backpropagation does both:

    R_in = max(R_out, 0) * [x > 0]

so only what increased the score *and* was active on the way up reaches the image, which gives
the sharp pictures of the paper. Implement it with backward hooks: ``register_full_backward_hook``
on every ``nn.ReLU`` of the model gets (module, grad_input, grad_output), where grad_input[0] is
already R_out * [x > 0]; return the tuple that should replace grad_input. Remove the hooks
afterwards, whatever happens.
"""

import numpy as np

import minidl
from minidl import nn


def guided_backprop(model, x, target):
    """Guided backpropagation of the target scores to the images.

    Args:
        model: a classifier whose ReLUs are ``nn.ReLU`` modules (put in evaluation mode).
        x: (N, C, H, W) ndarray of the model's dtype; target: (N,) ints.
    Returns:
        (N, C, H, W) ndarray: R at the input.
    """
    ### BEGIN SOLUTION
    model.eval()
    handles = [module.register_full_backward_hook(lambda module, grad_in, grad_out: (grad_in[0].clip(min=0),))
               for module in model.modules() if isinstance(module, nn.ReLU)]
    try:
        images = minidl.tensor(x, requires_grad=True)
        model(images)[np.arange(len(x)), np.asarray(target)].sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    model.zero_grad()
    return images.grad.numpy()
    ### END SOLUTION
