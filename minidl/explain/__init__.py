"""Explaining a prediction: which parts of the input made the model give its score.

    from minidl.explain import Saliency, GuidedBackprop, Occlusion, LayerGradCam, LayerAttribution
    maps = Saliency(model).attribute(images, target=labels)                  # |d logit / d x|
    cam = LayerGradCam(model, "features.conv2").attribute(images, target=3)  # (N, 1, h, w)
    cam = LayerAttribution.interpolate(cam, images.shape[2:])                # (N, 1, H, W)

The methods have Captum's names and call shape, ``Method(model).attribute(inputs, target=...)``,
and its semantics (``attribution.py`` gives the rules they share), one file each:

- ``saliency.py``: Saliency, saliency_map (Simonyan et al. 2014)
- ``input_x_gradient.py``: InputXGradient
- ``integrated_gradients.py``: IntegratedGradients (Sundararajan et al. 2017)
- ``guided_backprop.py``: GuidedBackprop (Springenberg et al. 2015)
- ``deconvolution.py``: Deconvolution and deconv_reconstruct (Zeiler and Fergus 2014)
- ``occlusion.py``: Occlusion (Zeiler and Fergus 2014)
- ``noise_tunnel.py``: NoiseTunnel: SmoothGrad, SmoothGrad-squared, VarGrad
- ``gradcam.py``: LayerGradCam, GuidedGradCam, LayerAttribution.interpolate (Selvaraju et al. 2017)
- ``methods.py``: every method by its short name, with defaults for images ("saliency", ...)
- ``visualization.py``: the pictures: heat maps, blended over the image, side by side
- ``adversarial.py``, ``adversarial_fooling.py``, ``adversarial_report.py``: FGSM, PGD, fooling
  images, the minimal perturbation, fooling images from noise, and their success rates
- ``scores.py``, ``sanity.py``: localisation against object masks; Adebayo et al.'s sanity checks

The guided and deconvnet rules hold for every ReLU the model computes (``minidl.relu_rules``).
"""

from minidl.explain.adversarial import PixelModel, fgsm, pgd, pixel_model, predict, random_targets
from minidl.explain.adversarial_fooling import fooling_from_noise, make_fooling_image, minimal_perturbation
from minidl.explain.adversarial_report import ATTACKS, attack_report, evaluate_attack, format_attack_table, \
    plot_attack_examples
from minidl.explain.attribution import Attribution, input_gradient
from minidl.explain.deconvolution import Deconvolution, deconv_reconstruct
from minidl.explain.gradcam import GuidedGradCam, LayerAttribution, LayerGradCam, last_conv_layer
from minidl.explain.guided_backprop import GuidedBackprop
from minidl.explain.input_x_gradient import InputXGradient
from minidl.explain.integrated_gradients import IntegratedGradients
from minidl.explain.methods import METHODS, explain
from minidl.explain.noise_tunnel import NoiseTunnel
from minidl.explain.occlusion import Occlusion
from minidl.explain.saliency import Saliency, saliency_map
from minidl.explain.sanity import cascading_randomization, cascading_randomization_scores, rank_correlations, \
    randomization_order, spearman
from minidl.explain.scores import CHANNEL_REDUCTION, bbox_iou, centre_maps, edge_maps, fraction_inside, \
    localisation_scores, method_maps, pointing_game, random_maps, reduce_channels
from minidl.explain.visualization import plot_attributions, plot_methods, visualize_image_attr

__all__ = ["Attribution", "Saliency", "InputXGradient", "IntegratedGradients", "GuidedBackprop", "Deconvolution",
           "Occlusion", "NoiseTunnel", "LayerGradCam", "LayerAttribution", "GuidedGradCam", "last_conv_layer",
           "saliency_map", "input_gradient", "deconv_reconstruct", "METHODS", "explain", "visualize_image_attr",
           "plot_attributions", "plot_methods", "PixelModel", "pixel_model", "fgsm", "pgd", "predict", "random_targets",
           "make_fooling_image", "minimal_perturbation", "fooling_from_noise", "attack_report", "evaluate_attack",
           "format_attack_table", "plot_attack_examples", "ATTACKS", "localisation_scores", "pointing_game",
           "fraction_inside", "bbox_iou", "method_maps", "reduce_channels", "random_maps", "centre_maps", "edge_maps",
           "CHANNEL_REDUCTION", "spearman", "rank_correlations", "randomization_order", "cascading_randomization",
           "cascading_randomization_scores"]
