"""Every attribution method by a short name, with settings that suit small images.

    maps = explain(model, images, "guided", target=labels)     # a Tensor (N, C, H, W)

The command line (``minidl explain --method``), ``plot_methods`` and the localisation scores
use these names. Each gives a map at the input's resolution: (N, C, H, W), except Grad-CAM,
(N, 1, H, W). The settings, for images normalised by the model's statistics (so that 0 is the
mean image):

    saliency    |dS/dx| (Saliency)
    guided      guided backpropagation (GuidedBackprop)
    deconvnet   the deconvnet rule (Deconvolution)
    occlusion   a square window of side max(2, min(H, W) // 7) over every channel, stride half
                the side, covered with 0 (the mean image) (Occlusion)
    gradcam     ReLU(Grad-CAM) at ``layer`` (default: the last Conv2d run), upsampled bilinearly to
                (H, W) as in the paper (LayerGradCam, LayerAttribution.interpolate)
    ig          integrated gradients from the 0 image, 50 Gauss-Legendre steps (IntegratedGradients)
    smoothgrad  |dS/dx| averaged over 25 copies with noise of sigma 15% of each image's own
                value range (max - min), Smilkov et al.'s choice (NoiseTunnel(Saliency)); an
                image's map does not depend on the other images of its batch
"""

import numpy as np

from minidl.explain.attribution import check_inputs, repeat_targets
from minidl.explain.deconvolution import Deconvolution
from minidl.explain.gradcam import LayerAttribution, LayerGradCam, last_conv_layer
from minidl.explain.guided_backprop import GuidedBackprop
from minidl.explain.integrated_gradients import IntegratedGradients
from minidl.explain.noise_tunnel import NoiseTunnel
from minidl.explain.occlusion import Occlusion
from minidl.explain.saliency import Saliency
from minidl.tensor import Tensor

__all__ = ["METHODS", "DESCRIPTIONS", "explain", "occlusion_window"]

DESCRIPTIONS = {
    "saliency": "|d logit / d x| (Simonyan et al. 2014)",
    "guided": "guided backpropagation (Springenberg et al. 2015)",
    "deconvnet": "deconvnet rule (Zeiler and Fergus 2014)",
    "occlusion": "drop of the logit when a window is covered (Zeiler and Fergus 2014)",
    "gradcam": "Grad-CAM, rectified, upsampled bilinearly (Selvaraju et al. 2017)",
    "ig": "integrated gradients from the mean image (Sundararajan et al. 2017)",
    "smoothgrad": "SmoothGrad of |d logit / d x| (Smilkov et al. 2017)",
}
METHODS = tuple(DESCRIPTIONS)

# Scored at once: enough to keep a small network busy, few enough for a large one's memory.
BATCH = 64


def occlusion_window(height, width):
    """(side, stride) of the occluding square for an H x W image: side max(2, min(H, W) // 7)
    (4 pixels on MNIST's 28, about a stroke's width), stride half of it."""
    side = max(2, min(height, width) // 7)
    return side, max(1, side // 2)


def explain(model, x, method, target, layer=None):
    """The ``method`` map of images ``x`` (N, C, H, W) for ``target``, as in the module docstring.

    ``layer`` (a module or its dotted name) is Grad-CAM's layer; the other methods refuse one.
    Returns a Tensor (N, C, H, W), or (N, 1, H, W) for "gradcam".
    """
    if method not in DESCRIPTIONS:
        raise ValueError(f"explain: method must be one of {', '.join(METHODS)}, got {method!r}")
    if layer is not None and method != "gradcam":
        raise ValueError(f"explain: only gradcam takes a layer, got layer={layer!r} for {method}")
    inputs = check_inputs(method, model, x)
    copies = max(1, BATCH // max(len(inputs), 1))   # occluded or noisy copies of the batch per pass
    if method == "saliency":
        return Saliency(model).attribute(inputs, target=target)
    if method == "guided":
        return GuidedBackprop(model).attribute(inputs, target=target)
    if method == "deconvnet":
        return Deconvolution(model).attribute(inputs, target=target)
    if method == "occlusion":
        side, stride = occlusion_window(*inputs.shape[2:])
        channels = inputs.shape[1]
        return Occlusion(model).attribute(inputs, (channels, side, side), strides=(channels, stride, stride),
                                          baselines=0.0, target=target, perturbations_per_eval=copies)
    if method == "gradcam":
        cam = LayerGradCam(model, last_conv_layer(model, inputs[:1]) if layer is None else layer).attribute(
            inputs, target=target, relu_attributions=True)
        return LayerAttribution.interpolate(cam, inputs.shape[2:], "bilinear")
    if method == "ig":
        return IntegratedGradients(model).attribute(inputs, target=target, n_steps=50,
                                                    internal_batch_size=max(BATCH, len(inputs)))
    if len(inputs) == 0:
        return Saliency(model).attribute(inputs, target=target)
    # One image at a time: sigma is a share of that image's range, as in the paper.
    targets = repeat_targets("smoothgrad", target, len(inputs), 1)
    maps = [NoiseTunnel(Saliency(model)).attribute(image[None], nt_type="smoothgrad", nt_samples=25,
                                                   nt_samples_batch_size=BATCH, stdevs=0.15 * float(np.ptp(image)),
                                                   target=None if targets is None else targets[i:i + 1])
            for i, image in enumerate(inputs)]
    return Tensor(np.concatenate([m.numpy() for m in maps]))
