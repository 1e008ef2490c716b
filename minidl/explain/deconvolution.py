"""The deconvnet of Zeiler and Fergus (2014): what in the image made a unit fire.

Zeiler and Fergus attach a "deconvnet" to each layer of a trained network. To look at one
activation, they keep it, set every other activation of its layer to zero, and send that map back
down to the pixels, undoing each layer in turn:

    max pooling   unpool: put each value back at the position its maximum came from (the
                  "switches" recorded in the forward pass), zeros elsewhere
    ReLU          rectify the signal going down: R^l = max(R^{l+1}, 0)
    convolution   filter with the transposed filters (the same weights, flipped): a
                  transposed convolution, R^l = conv_transpose2d(R^{l+1}, W)

The result, in pixel space, shows the structure of the input that the unit responds to.

Two ways here:
- ``Deconvolution(model).attribute(inputs, target)`` (Captum's name) runs the network's own
  backward pass from the target's score with the deconvnet ReLU rule at every ReLU
  (``minidl.relu_rules``): max-pool's backward pass *is* the unpooling through the switches and a
  convolution's backward pass *is* the transposed convolution.
- ``deconv_reconstruct(model, x, layer, channel)`` is the paper's procedure written out, layer by
  layer, for networks made of convolutions, ReLUs and max pools (and the batch norms, dropouts,
  flattens and fully connected layers around them). Started at the same unit, both give the same
  picture (tests/test_explain_deconvnet.py holds them equal).
"""

import numpy as np

from minidl import functional as F
from minidl.explain.attribution import Attribution, check_inputs, find_layer, inspecting, target_gradient
from minidl.grad_mode import no_grad
from minidl.nn import BatchNorm2d, Conv2d, Dropout, Flatten, Identity, Linear, MaxPool2d, ReLU
from minidl.tensor import Tensor

__all__ = ["Deconvolution", "deconv_reconstruct"]


class Deconvolution(Attribution):
    """attribute(inputs, target) = R^0, the score's signal sent back with the deconvnet ReLU rule.

    R^l = max(R^{l+1}, 0) at every ReLU (whatever the sign of its input in the forward pass);
    every other layer passes the signal back as its backward pass does (transposed filters,
    unpooling through the switches).

    Args of ``attribute``: inputs (N, C, H, W) (or (N, ...)), target as for every method.
    Returns: a Tensor of the inputs' shape and dtype.
    """

    def attribute(self, inputs, target=None):
        x = check_inputs(self.name, self.forward_func, inputs)
        return Tensor(target_gradient(self.name, self.forward_func, x, target, rule="deconvnet").input_grad)


def deconv_reconstruct(model, x, layer, channel, position=None):
    """Project one activation of ``layer`` back to pixel space, as Zeiler and Fergus do.

    Args:
        model: a network whose path from the input to ``layer`` is a chain of modules:
            Conv2d, ReLU, MaxPool2d, BatchNorm2d, Dropout, Identity, Flatten, Linear.
        x: (N, C, H, W) images.
        layer: the module (or its dotted name) whose output holds the activation.
        channel: the feature map (for a fully connected layer: the unit).
        position: (i, j) in the feature map; None takes each image's strongest activation of the
            map (the first maximum in row-major order).
    Returns:
        a Tensor (N, C, H, W): for each image, the map with only A[n, channel, i, j] kept (its
        value), sent down through the chain with unpooling, rectification and transposed filters.
    """
    name = "deconv_reconstruct"
    inputs = check_inputs(name, model, x)
    watched = find_layer(name, model, layer)
    calls, watched_outputs = [], []   # (module, its input, its output) of each call of a leaf module
    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    handles = [leaf.register_forward_hook(lambda module, args, output: calls.append((module, args[0], output)))
               for leaf in leaves]
    handles.append(watched.register_forward_hook(lambda module, args, output: watched_outputs.append(output)))
    image = Tensor(inputs)
    try:
        with inspecting(model), no_grad():
            model(image)
    finally:
        for handle in handles:
            handle.remove()
    if not watched_outputs:
        raise ValueError(f"{name}: the layer {layer!r} was not used by the model's forward pass")
    activation = watched_outputs[-1]
    signal = _keep_one_unit(name, activation.numpy(), channel, position)
    # Which call made each tensor; a call that returns its own input (Identity, Dropout in
    # evaluation) changes nothing and is skipped.
    producers = {id(output): (module, below) for module, below, output in calls if output is not below}
    current = activation
    while current is not image:
        if id(current) not in producers:
            raise ValueError(f"{name}: the path from the input to layer {layer!r} is not a chain of modules "
                             "(a residual sum or a functional call is on it); use Deconvolution(model) instead")
        module, below = producers[id(current)]
        with no_grad():
            signal = _down_through(name, module, signal, below)
        current = below
    return Tensor(signal)


def _keep_one_unit(name, activation, channel, position):
    """A zero map of ``activation``'s shape with A[n, channel, i, j] kept for each image n."""
    kept = np.zeros_like(activation)
    rows = np.arange(len(activation))
    if not 0 <= channel < activation.shape[1]:
        raise ValueError(f"{name}: channel {channel} is out of range for a layer with {activation.shape[1]} "
                         f"channels (0 to {activation.shape[1] - 1})")
    if activation.ndim == 2:   # a fully connected layer: the unit is the channel
        if position is not None:
            raise ValueError(f"{name}: a fully connected layer has no positions; pass position=None")
        kept[rows, channel] = activation[rows, channel]
        return kept
    height, width = activation.shape[2:]
    if position is None:
        i, j = np.divmod(activation[:, channel].reshape(len(activation), -1).argmax(axis=1), width)
    else:
        i, j = position
        if not (0 <= i < height and 0 <= j < width):
            raise ValueError(f"{name}: position {tuple(position)} is outside the {height}x{width} feature map")
    kept[rows, channel, i, j] = activation[rows, channel, i, j]
    return kept


def _down_through(name, module, signal, below):
    """The signal at ``module``'s input, given the signal at its output: the deconvnet's step.
    ``below`` is the module's input in the forward pass (for the switches and the sizes)."""
    if isinstance(module, ReLU):
        return np.maximum(signal, 0)
    if isinstance(module, MaxPool2d):
        _, switches = F.max_pool2d(below, module.kernel_size, module.stride, module.padding, module.dilation,
                                   ceil_mode=module.ceil_mode, return_indices=True)
        return _unpool(signal, switches.numpy(), below.shape)
    if isinstance(module, Conv2d):
        return _transposed_convolution(name, module, signal, below.shape)
    if isinstance(module, BatchNorm2d) and module.running_var is not None:
        # In evaluation y = gamma (x - mean) / sqrt(var + eps) + beta: per channel, a scaling.
        scale = 1 / np.sqrt(module.running_var.numpy() + module.eps)
        if module.weight is not None:
            scale = scale * module.weight.numpy()
        return signal * scale.reshape(1, -1, 1, 1)
    if isinstance(module, Linear):
        return signal @ module.weight.numpy()     # the transposed weights: (N, out) @ (out, in)
    if isinstance(module, Flatten):
        return signal.reshape(below.shape)
    if isinstance(module, Dropout | Identity):   # the identity in evaluation mode
        return signal
    raise ValueError(f"{name}: cannot send the signal back through {type(module).__name__}; the deconvnet "
                     "handles Conv2d, ReLU, MaxPool2d, BatchNorm2d, Dropout, Flatten and Linear "
                     "(use Deconvolution(model) for other networks)")


def _unpool(signal, switches, size):
    """Put each pooled value back at its switch in a zero map of ``size`` (N, C, H, W).

    Overlapping windows (AlexNet's and ZFNet's 3x3 pools of stride 2) can share a switch: the
    values sent to it add up, as the transpose of pooling does (max_unpool2d would keep one).
    """
    n, c, height, width = size
    planes = np.zeros((n * c, height * width), dtype=signal.dtype)
    rows = np.repeat(np.arange(n * c), switches[0, 0].size)
    np.add.at(planes, (rows, switches.reshape(-1)), signal.reshape(-1))
    return planes.reshape(size)


def _transposed_convolution(name, conv, signal, size):
    """conv_transpose2d of ``signal`` with the convolution's own weights, to its input's ``size``.

    The convolution maps H to H' = floor((H + 2P - D(K-1) - 1)/S) + 1; the transposed one maps
    H' back to (H' - 1)S - 2P + D(K-1) + 1, and output_padding adds the rows that the floor lost.
    The bias is left out: it shifts the activations but carries nothing back to the pixels.
    """
    padding = conv.padding
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        totals = [d * (k - 1) for k, d in zip(conv.kernel_size, conv.dilation)]
        if any(total % 2 for total in totals):
            raise ValueError(f"{name}: a convolution with padding='same' and an even kernel is not supported")
        padding = tuple(total // 2 for total in totals)
    lost = [target - ((out - 1) * s - 2 * p + d * (k - 1) + 1)
            for target, out, s, p, d, k in zip(size[2:], signal.shape[2:], conv.stride, padding, conv.dilation,
                                               conv.kernel_size)]
    out = F.conv_transpose2d(Tensor(signal), conv.weight, stride=conv.stride, padding=padding,
                             output_padding=tuple(lost), groups=conv.groups, dilation=conv.dilation)
    return out.numpy()
