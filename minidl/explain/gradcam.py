"""Grad-CAM (Selvaraju et al. 2017): where in a convolutional layer's maps the class is.

The last convolutional layer still knows *where* things are; the layers after it know *what*
they are. Grad-CAM weighs each feature map A^k (h x w) of a layer by how much the class score
S_c depends on it on average,

    alpha_k^c = (1/Z) sum_ij dS_c / dA^k_ij          (Z = h w: global average pooling of the gradient)

and adds the weighted maps up:

    L^c = sum_k alpha_k^c A^k        (h x w; ReLU(L^c) in the paper, ``relu_attributions=True``)

For a network that ends in global average pooling and one linear layer (CAM, Zhou et al. 2016),
S_c = sum_k w_ck (1/Z) sum_ij A^k_ij + b_c, so alpha_k^c = w_ck / Z and L^c is the class
activation map divided by Z.

As in Captum, ``LayerGradCam`` returns the map at the layer's resolution, (N, 1, h, w);
``LayerAttribution.interpolate`` brings it to the image's size, a separate step, so that the
coarse map is what is measured and the upsampling is a choice made when drawing.
``GuidedGradCam`` multiplies guided backpropagation by the upsampled, rectified Grad-CAM map:
fine detail from the first, class-specific location from the second.
"""

import numpy as np

from minidl import functional as F
from minidl.explain.attribution import Attribution, check_inputs, find_layer, inspecting, target_gradient
from minidl.explain.guided_backprop import GuidedBackprop
from minidl.grad_mode import no_grad
from minidl.nn import Conv2d
from minidl.tensor import Tensor

__all__ = ["LayerGradCam", "LayerAttribution", "GuidedGradCam", "last_conv_layer"]


def last_conv_layer(model, inputs=None):
    """The dotted name of the model's last Conv2d: Grad-CAM's usual layer.

    Without ``inputs``, the last in ``named_modules`` order. With ``inputs`` (a batch the model
    takes), the last one that the forward pass runs in evaluation mode: GoogLeNet's auxiliary
    classifiers, for example, come last in the order of the modules but do not run then.
    """
    convolutions = [(name, module) for name, module in model.named_modules() if isinstance(module, Conv2d)]
    if not convolutions:
        raise ValueError(f"last_conv_layer: {type(model).__name__} has no Conv2d layer; name the layer to use")
    if inputs is None:
        return convolutions[-1][0]
    ran = []
    handles = [module.register_forward_hook(lambda m, args, output, name=name: ran.append(name))
               for name, module in convolutions]
    try:
        with inspecting(model), no_grad():
            model(Tensor(inputs))
    finally:
        for handle in handles:
            handle.remove()
    return ran[-1]


class LayerAttribution:
    """What layer attributions share (Captum's name); here, bringing a map to another size."""

    @staticmethod
    def interpolate(layer_attribution, interpolate_dims, interpolate_mode="nearest"):
        """Resize (N, C, h, w) maps to ``interpolate_dims`` (H, W) with ``F.interpolate``.

        "nearest" (Captum's default) repeats each cell of the map over the pixels it covers;
        "bilinear" blends neighbouring cells (align_corners=False, as PyTorch's default).
        Returns a Tensor (N, C, H, W).
        """
        maps = layer_attribution if isinstance(layer_attribution, Tensor) else Tensor(np.asarray(layer_attribution))
        return F.interpolate(maps, size=tuple(interpolate_dims), mode=interpolate_mode).detach()


class LayerGradCam(Attribution):
    """LayerGradCam(model, layer).attribute(inputs, target) = sum_k alpha_k A^k, (N, 1, h, w).

    Args:
        layer: the module, or its dotted name ("features.conv2"), whose output A is weighed.
    Args of ``attribute``:
        inputs: (N, C, H, W); target: as for every method.
        relu_attributions: False (Captum's default) keeps the signed map; True gives ReLU(L),
            the paper's map, which keeps the places that speak *for* the class.
    Returns:
        a Tensor (N, 1, h, w), the layer's resolution (for a layer with output (N, K): (N, 1)).
    """

    def __init__(self, forward_func, layer):
        super().__init__(forward_func)
        find_layer(self.name, forward_func, layer)
        self.layer = layer

    def attribute(self, inputs, target=None, relu_attributions=False):
        x = check_inputs(self.name, self.forward_func, inputs)
        found = target_gradient(self.name, self.forward_func, x, target, layer=self.layer)
        activation, gradient = found.activation, found.activation_grad
        spatial = tuple(range(2, activation.ndim))
        alpha = gradient.mean(axis=spatial, keepdims=True)                  # (N, K, 1, 1)
        cam = (alpha * activation).sum(axis=1, keepdims=True)               # (N, 1, h, w)
        return Tensor((np.maximum(cam, 0) if relu_attributions else cam).astype(x.dtype))


class GuidedGradCam(Attribution):
    """GuidedGradCam(model, layer).attribute(inputs, target) = guided backpropagation *
    interpolate(ReLU(Grad-CAM), (H, W)), elementwise, (N, C, H, W) (as Captum's)."""

    def __init__(self, forward_func, layer):
        super().__init__(forward_func)
        self.grad_cam = LayerGradCam(forward_func, layer)
        self.guided_backprop = GuidedBackprop(forward_func)

    def attribute(self, inputs, target=None, interpolate_mode="nearest"):
        x = check_inputs(self.name, self.forward_func, inputs)
        cam = self.grad_cam.attribute(x, target=target, relu_attributions=True)
        if cam.ndim != 4:
            raise ValueError(f"{self.name}: the layer's output must be (N, C, h, w) feature maps, got a map of "
                             f"shape {tuple(cam.shape)}")
        upsampled = LayerAttribution.interpolate(cam, x.shape[2:], interpolate_mode).numpy()
        return Tensor(self.guided_backprop.attribute(x, target=target).numpy() * upsampled)
