"""Every attribution method runs on a model of every zoo family, at the smallest image it takes.
(``explain``'s settings by name are tested on small networks in test_explain.py.)"""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.explain import (Deconvolution, GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,
                            LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion, Saliency, last_conv_layer)
from minidl.zoo import (all_cnn_c, alexnet, alexnet_original, densenet121, googlenet, lenet5, mobilenet_v1, resnet18,
                        resnet20, small_vgg, zfnet)
from minidl.zoo.vgg import CONFIGS, make_layers


def small_head(model, in_features):
    """The model with its 4096-wide fully connected layers replaced by one small Linear: the
    convolutional part, the one attribution methods go through, is the family's own."""
    model.classifier = nn.Sequential(nn.Flatten(), nn.Linear(in_features, 3))
    return model


def vgg_features():
    """VGG-11's convolutions with batch norm (``make_layers``), pooled to one value per map."""
    return nn.Sequential(make_layers(CONFIGS["A"], batch_norm=True, in_channels=1), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(512, 3))


FAMILIES = {
    "lenet5": (lambda: lenet5(num_classes=3, in_channels=1, image_size=28), 28),
    "small_vgg": (lambda: small_vgg(num_classes=3, in_channels=1, image_size=8), 8),
    "alexnet": (lambda: small_head(alexnet(num_classes=3, in_channels=1, image_size=63), 256 * 6 * 6), 63),
    "alexnet_original": (lambda: small_head(alexnet_original(num_classes=3, in_channels=1, image_size=67), 256), 67),
    "zfnet": (lambda: small_head(zfnet(num_classes=3, in_channels=1, image_size=47), 256), 47),
    "vgg11_bn": (vgg_features, 32),
    "googlenet": (lambda: googlenet(num_classes=3, in_channels=1, image_size=15), 15),
    "all_cnn_c": (lambda: all_cnn_c(num_classes=3, in_channels=1, image_size=9), 9),
    "resnet18": (lambda: resnet18(num_classes=3, in_channels=1, image_size=8), 8),
    "resnet20": (lambda: resnet20(num_classes=3, in_channels=1, image_size=8), 8),
    "densenet121": (lambda: densenet121(num_classes=3, in_channels=1, image_size=29), 29),
    "mobilenet_v1": (lambda: mobilenet_v1(num_classes=3, in_channels=1, image_size=8), 8),
}


def every_method(model, x, target):
    """Each method once, with few steps, windows and samples: what matters here is that it runs."""
    layer = last_conv_layer(model, x)
    size = x.shape[2]
    window = (1, (size + 1) // 2, (size + 1) // 2)
    cam = LayerGradCam(model, layer).attribute(x, target=target)
    return {
        "Saliency": Saliency(model).attribute(x, target=target),
        "InputXGradient": InputXGradient(model).attribute(x, target=target),
        "IntegratedGradients": IntegratedGradients(model).attribute(x, target=target, n_steps=3),
        "GuidedBackprop": GuidedBackprop(model).attribute(x, target=target),
        "Deconvolution": Deconvolution(model).attribute(x, target=target),
        "Occlusion": Occlusion(model).attribute(x, window, strides=window, target=target, perturbations_per_eval=9),
        "NoiseTunnel": NoiseTunnel(Saliency(model)).attribute(x, nt_samples=2, stdevs=0.1, target=target),
        "LayerGradCam": LayerAttribution.interpolate(cam, (size, size)),
        "GuidedGradCam": GuidedGradCam(model, layer).attribute(x, target=target),
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_runs_on_every_family(family):
    md.manual_seed(0)
    build, size = FAMILIES[family]
    model = build()
    model.train()
    x = np.random.default_rng(0).standard_normal((1, 1, size, size)).astype(np.float32)
    for method, maps in every_method(model, x, target=2).items():
        assert maps.shape == (1, 1, size, size), (family, method)
        assert np.all(np.isfinite(maps.numpy())), (family, method)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_grad_cams_default_layer_is_the_last_convolution_that_runs():
    model = googlenet(num_classes=3, in_channels=1, image_size=15)
    x = np.zeros((1, 1, 15, 15), np.float32)
    assert last_conv_layer(model).startswith("aux2.")           # last in the order of the modules ...
    assert last_conv_layer(model, x) == "inception5b.branch4.1.conv"   # ... but not run in evaluation mode
