"""A small VGG-style network with batch normalisation, sized to train on a laptop CPU.

VGG's idea (Simonyan and Zisserman, 2014) is to build everything from 3x3 convolutions: two
stacked 3x3 layers see a 5x5 patch with fewer parameters than one 5x5 layer (2*9*C^2 against
25*C^2) and an extra non-linearity between them. Each stage here is

    conv 3x3 (padding 1) -> batch norm -> ReLU -> conv 3x3 -> batch norm -> ReLU -> max pool 2x2

which keeps the spatial size through the convolutions and halves it at the pool, while the
stages double the channels (16 -> 32 -> 64 by default). Batch norm normalises each channel over
the batch, which lets a deep stack train quickly at a large learning rate; the convolutions
before it carry no bias (batch norm's own shift makes one redundant).

For a 28x28 greyscale image and the default widths, one image C x H x W goes

    stage 1   1x28x28 -> 16x28x28 -> 16x14x14
    stage 2   16x14x14 -> 32x14x14 -> 32x7x7
    stage 3   32x7x7 -> 64x7x7 -> 64x3x3
    head      global average pool 64x1x1 -> dropout -> fc num_classes

Global average pooling instead of large fully connected layers (as in the all-convolutional
net and ResNet) keeps the parameter count small (about 70 thousand) and lets any image size in.
"""

from collections import OrderedDict

from minidl import nn


class SmallVGG(nn.Module):
    """Stages of two 3x3 conv-BN-ReLU layers and a 2x2 max pool, then global average pooling and
    a linear classifier.

    Args:
        num_classes: number of class scores out.
        in_channels: 1 for greyscale, 3 for colour images.
        image_size: side of the input images (any size >= 2**len(widths)); kept for the zoo's
            common signature, the network itself adapts through global average pooling.
        widths: output channels of each stage.
        dropout: dropout probability before the classifier.

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=10, in_channels=1, image_size=28, widths=(16, 32, 64), dropout=0.2):
        super().__init__()
        if image_size < 2 ** len(widths):
            raise ValueError(
                f"SmallVGG: {len(widths)} stages halve the image {len(widths)} times, so image_size "
                f"must be at least {2 ** len(widths)}, got {image_size}"
            )
        stages, channels = [], in_channels
        for i, width in enumerate(widths, start=1):
            stages += [
                (f"conv{i}a", nn.Conv2d(channels, width, 3, padding=1, bias=False)),
                (f"bn{i}a", nn.BatchNorm2d(width)),
                (f"relu{i}a", nn.ReLU()),
                (f"conv{i}b", nn.Conv2d(width, width, 3, padding=1, bias=False)),
                (f"bn{i}b", nn.BatchNorm2d(width)),
                (f"relu{i}b", nn.ReLU()),
                (f"pool{i}", nn.MaxPool2d(2)),
            ]
            channels = width
        self.features = nn.Sequential(OrderedDict(stages))
        self.classifier = nn.Sequential(OrderedDict([
            ("pool", nn.GlobalAvgPool2d()),
            ("flatten", nn.Flatten()),
            ("dropout", nn.Dropout(dropout)),
            ("fc", nn.Linear(channels, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.features(x))


def small_vgg(num_classes=10, in_channels=1, image_size=28, **kwargs):
    """Build a ``SmallVGG`` (see the class for the arguments)."""
    return SmallVGG(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs)
