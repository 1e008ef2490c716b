"""VGG (Simonyan and Zisserman, 2014): depth from nothing but 3x3 convolutions.

    model = vgg16()                       # (N, 3, 224, 224) images -> (N, 1000) class scores
    model.features[0].weight.shape        # (64, 3, 3, 3)
    model.classifier[0].weight.shape      # (4096, 25088): 512 * 7 * 7 features in

The idea: use one small filter everywhere and get the large receptive fields from depth. Two
stacked 3x3 convolutions see a 5x5 patch and three see a 7x7 patch, with fewer weights than one
large filter (3 * 9 * C^2 = 27 C^2 against 49 C^2 for 7x7) and a ReLU after each, so the
stack is also more non-linear. Every convolution is 3x3 with padding 1 (the spatial size is
kept), every pooling is a 2x2 max pool with stride 2 (the size is halved), and after each pool
the width doubles, 64 -> 128 -> 256 -> 512, until it stops at 512.

The paper's configurations A, B, D and E (11, 13, 16 and 19 weight layers: the convolutions
plus three fully connected layers) differ only in how many convolutions each of the five
stages holds; ``CONFIGS`` below is the paper's Table 1. The ``_bn`` variants put a batch norm
after every convolution, which was not in the paper (it came a few months later) but lets the
deep stacks train from scratch without the paper's trick of initialising from a shallower net.

Shape walk of one 224x224 image through VGG-16 (configuration D), C x H x W:

    stage 1   conv 64, conv 64                   3x224x224 -> 64x224x224, pool -> 64x112x112
    stage 2   conv 128, conv 128                 -> 128x112x112, pool -> 128x56x56
    stage 3   conv 256 x3                        -> 256x56x56, pool -> 256x28x28
    stage 4   conv 512 x3                        -> 512x28x28, pool -> 512x14x14
    stage 5   conv 512 x3                        -> 512x14x14, pool -> 512x7x7
    avgpool   adaptive average pool to 7x7       512x7x7 -> 512x7x7 (nothing to do at 224)
    classifier  flatten 25088, fc 4096, ReLU, dropout, fc 4096, ReLU, dropout, fc 1000

The numbers (1000 classes): VGG-16 has 138,357,544 parameters, of which 102,764,544 (25088 x
4096 weights and 4096 biases) are in the first fully connected layer, the price of flattening a
7x7 map, and only 14,714,688 in the 13 convolutions; it costs 15.47 G multiply-adds per 224x224
image, almost all in the convolutions. All variants:

    vgg11 132,863,336   vgg13 133,047,848   vgg16 138,357,544   vgg19 143,667,240
    vgg11_bn 132,868,840   vgg13_bn 133,053,736   vgg16_bn 138,365,992   vgg19_bn 143,678,248

The adaptive average pool makes the classifier's input 512x7x7 whatever the image size: larger
images are averaged down to 7x7, and small ones (32x32 leaves a 1x1 map) are copied up to 7x7.
Module names and shapes are those of the common PyTorch layout, so ``state_dict()`` keys are
``features.0.weight``, ..., ``classifier.6.bias``, and weights trained there load here.
"""

from minidl import nn

# The paper's Table 1: output channels of each 3x3 convolution, "M" for a 2x2 max pool.
#        stage 1       stage 2         stage 3                 stage 4                 stage 5
CONFIGS = {
    "A": [64, "M",     128, "M",       256, 256, "M",          512, 512, "M",          512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M",  256, 256, "M",          512, 512, "M",          512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M",  256, 256, 256, "M",     512, 512, 512, "M",     512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M",  256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

# Five 2x2 pools halve the image five times: it must be at least 2**5 pixels across.
MIN_IMAGE_SIZE = 32


class VGG(nn.Module):
    """The VGG network: ``features`` (convolutions and pools, from ``make_layers``), an adaptive
    average pool to 7x7 and a three-layer ``classifier``.

    Args:
        features: the convolutional part, a Sequential whose output has 512 channels.
        num_classes: number of class scores out.
        init_weights: re-initialise as is usual for VGG (see ``reset_parameters``).
        dropout: dropout probability after each of the two hidden fully connected layers.

    Input (N, C, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self):
        """He initialisation for the convolutions, small Gaussians for the linear layers.

        Each 3x3 convolution followed by a ReLU gets W ~ N(0, 2 / fan_out), fan_out =
        out_channels * 9 (He et al., 2015: the variance of the gradients is kept through the
        ReLUs on the way back), and zero bias; batch norms start as the identity (scale 1,
        shift 0); the linear layers get W ~ N(0, 0.01^2) and zero bias.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def make_layers(config, batch_norm=False, in_channels=3):
    """The ``features`` Sequential of a configuration: each number becomes a 3x3 convolution
    with padding 1 (then a batch norm if asked) and a ReLU, each "M" a 2x2 max pool, stride 2.
    Layers are numbered from 0 in order, as in PyTorch (``features.0``, ``features.1``, ...)."""
    layers, channels = [], in_channels
    for entry in config:
        if entry == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(channels, entry, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(entry))
        layers.append(nn.ReLU())
        channels = entry
    return nn.Sequential(*layers)


def _vgg(name, config, batch_norm, num_classes, in_channels, image_size, **kwargs):
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"{name}: five 2x2 max pools halve the image five times, so image_size must be at least "
            f"{MIN_IMAGE_SIZE}, got {image_size}"
        )
    return VGG(make_layers(CONFIGS[config], batch_norm, in_channels), num_classes=num_classes, **kwargs)


def vgg11(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-11 (configuration A): 8 convolutions and 3 fully connected layers, 132,863,336
    parameters with 1000 classes. Other keywords (``init_weights``, ``dropout``) go to ``VGG``."""
    return _vgg("vgg11", "A", False, num_classes, in_channels, image_size, **kwargs)


def vgg11_bn(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-11 with batch normalisation: 132,868,840 parameters with 1000 classes."""
    return _vgg("vgg11_bn", "A", True, num_classes, in_channels, image_size, **kwargs)


def vgg13(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-13 (configuration B): 10 convolutions, 133,047,848 parameters with 1000 classes."""
    return _vgg("vgg13", "B", False, num_classes, in_channels, image_size, **kwargs)


def vgg13_bn(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-13 with batch normalisation: 133,053,736 parameters with 1000 classes."""
    return _vgg("vgg13_bn", "B", True, num_classes, in_channels, image_size, **kwargs)


def vgg16(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-16 (configuration D): 13 convolutions, 138,357,544 parameters with 1000 classes."""
    return _vgg("vgg16", "D", False, num_classes, in_channels, image_size, **kwargs)


def vgg16_bn(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-16 with batch normalisation: 138,365,992 parameters with 1000 classes."""
    return _vgg("vgg16_bn", "D", True, num_classes, in_channels, image_size, **kwargs)


def vgg19(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-19 (configuration E): 16 convolutions, 143,667,240 parameters with 1000 classes."""
    return _vgg("vgg19", "E", False, num_classes, in_channels, image_size, **kwargs)


def vgg19_bn(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """VGG-19 with batch normalisation: 143,678,248 parameters with 1000 classes."""
    return _vgg("vgg19_bn", "E", True, num_classes, in_channels, image_size, **kwargs)
