"""DenseNet (Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
Networks", 2017).

The idea: inside a dense block, every layer sees the feature maps of *all* the layers before it,
concatenated along the channels, and adds only a few new ones (the growth rate k, 32 here):

    x_l = H_l(cat(x_0, x_1, ..., x_{l-1}))

where H_l is BN-ReLU-conv 1x1 (4k "bottleneck" channels) followed by BN-ReLU-conv 3x3 (k
channels). ResNet adds a layer's output to its input; DenseNet keeps both side by side, so
features are reused instead of recomputed, each layer can stay narrow, and every layer has a
short path to the loss (the backward pass of the concatenation hands each earlier feature map
the slice of the gradient that belongs to it, from every later layer that read it). A block
that starts with c channels ends with c + layers * k. Between blocks a *transition* (BN, ReLU,
1x1 conv that halves the channels, the "compression" of DenseNet-BC, and a 2x2 average pool)
shrinks the feature maps.

DenseNet-121 (k = 32, blocks of 6, 12, 24 and 16 layers; 2*(6+12+24+16) + 1 + 3 + 1 = 121
weight layers) for one 224x224 image (C x H x W):

    conv0        7x7, 64, stride 2, pad 3    3x224x224 -> 64x112x112      then norm0, relu0
    pool0        3x3 max, stride 2, pad 1    64x112x112 -> 64x56x56
    denseblock1  6 layers, + 6*32            64x56x56 -> 256x56x56
    transition1  1x1 conv /2, 2x2 avg pool   256x56x56 -> 128x28x28
    denseblock2  12 layers, + 12*32          128x28x28 -> 512x28x28
    transition2                              512x28x28 -> 256x14x14
    denseblock3  24 layers, + 24*32          256x14x14 -> 1024x14x14
    transition3                              1024x14x14 -> 512x7x7
    denseblock4  16 layers, + 16*32          512x7x7 -> 1024x7x7
    norm5        batch norm                  then ReLU, global average pool -> 1024
    classifier   1024 -> num_classes

7,978,856 parameters with 1000 classes and 2.83G multiply-adds at 224x224 (the paper: a
DenseNet-201 with 20M parameters matches the error of a ResNet-101 with 44.5M). Names and shapes are torchvision's
(``features.denseblock2.denselayer7.conv1.weight``), so its weights load with
``load_state_dict``; the initialisation is too: He normal (fan_in) convolutions, batch norm
weight 1 and bias 0, classifier bias 0.
"""

import math
from collections import OrderedDict

import minidl
from minidl import functional as F
from minidl import nn


class DenseLayer(nn.Module):
    """One layer of a dense block: BN-ReLU-conv 1x1 (``bn_size * growth_rate`` channels), then
    BN-ReLU-conv 3x3 (``growth_rate`` channels, pad 1), then dropout if ``drop_rate`` > 0.

    Input (N, in_channels, H, W): the concatenation of every earlier feature map of the block.
    Output (N, growth_rate, H, W): only the new features (the block does the concatenating).
    """

    def __init__(self, in_channels, growth_rate, bn_size, drop_rate=0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, x):
        bottleneck = self.conv1(self.relu1(self.norm1(x)))
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, self.drop_rate, self.training)
        return new_features


class DenseBlock(nn.Module):
    """``num_layers`` dense layers (children ``denselayer1``, ``denselayer2``, ...); layer l reads
    the concatenation of the block's input and the l - 1 outputs before it.

    Input (N, in_channels, H, W) -> output (N, in_channels + num_layers * growth_rate, H, W), the
    concatenation of the input and every layer's new features.
    """

    def __init__(self, num_layers, in_channels, growth_rate, bn_size, drop_rate=0.0):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x):
        features = [x]
        for layer in self.children():
            features.append(layer(minidl.cat(features, dim=1)))
        return minidl.cat(features, dim=1)


class Transition(nn.Sequential):
    """Between dense blocks: BN, ReLU, 1x1 conv to ``out_channels``, 2x2 average pool (stride 2).

    Input (N, in_channels, H, W) -> output (N, out_channels, floor(H/2), floor(W/2)).
    """

    def __init__(self, in_channels, out_channels):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(in_channels)),
            ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False)),
            ("pool", nn.AvgPool2d(2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """DenseNet-BC: a 7x7 stem, dense blocks joined by transitions, and a linear classifier.

    Args:
        growth_rate: k, the channels each dense layer adds.
        block_config: number of layers in each dense block.
        num_init_features: channels of the stem convolution.
        bn_size: the 1x1 bottleneck of a dense layer has ``bn_size * growth_rate`` channels.
        drop_rate: dropout probability after each dense layer.
        compression: a transition keeps floor(compression * C) of its C channels.
        num_classes: number of class scores out.
        in_channels: channels of the input images.
        image_size: side of the input images: at least 2**(blocks + 1) - 3 (29 for four
            blocks), since the stem divides the size by 4 rounding up and each transition halves
            it rounding down.

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 drop_rate=0.0, compression=0.5, num_classes=1000, in_channels=3, image_size=224):
        super().__init__()
        smallest = 2 ** (len(block_config) + 1) - 3
        if image_size < smallest:
            raise ValueError(
                f"DenseNet: with {len(block_config)} dense blocks image_size must be at least {smallest} "
                f"(the stem divides it by 4, each of the {len(block_config) - 1} transitions halves it), "
                f"got {image_size}"
            )
        if not 0 < compression <= 1:
            raise ValueError(f"DenseNet: compression must be in (0, 1], got {compression!r}")
        stages = [
            ("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU()),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
        ]
        channels = num_init_features
        for i, num_layers in enumerate(block_config, start=1):
            stages.append((f"denseblock{i}", DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate)))
            channels += num_layers * growth_rate
            if i < len(block_config):
                compressed = math.floor(compression * channels)
                stages.append((f"transition{i}", Transition(channels, compressed)))
                channels = compressed
        stages.append(("norm5", nn.BatchNorm2d(channels)))
        self.features = nn.Sequential(OrderedDict(stages))
        self.classifier = nn.Linear(channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """He initialisation of the convolutions, W ~ N(0, 2 / fan_in) (fan_in = C_in * KH * KW:
        the activations' variance is kept on the way forward, through the ReLUs); batch norms
        start as the identity; the classifier keeps the Linear default with a zero bias."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        features = F.relu(self.features(x))
        return self.classifier(F.adaptive_avg_pool2d(features, (1, 1)).flatten(1))


def densenet121(num_classes=1000, in_channels=3, image_size=224, growth_rate=32, block_config=(6, 12, 24, 16),
                num_init_features=64, **kwargs):
    """Build DenseNet-121 (7,978,856 parameters with 1000 classes); ``growth_rate``,
    ``block_config`` and ``num_init_features`` give smaller DenseNets of the same design."""
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes,
                    in_channels=in_channels, image_size=image_size, **kwargs)
