"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), the network that won ImageNet with a GPU.

    model = alexnet()                   # (N, 3, 224, 224) -> (N, 1000), the usual PyTorch layout
    model = alexnet_original()          # (N, 3, 227, 227) -> (N, 1000), the 2012 paper's sizes

What it changed: a network five convolutions deep trained on 1.2 million images, made possible
by ReLU (which trains several times faster than tanh because it does not saturate), dropout in
the large fully connected layers (against overfitting), overlapping max pooling (3x3 windows
with stride 2), data augmentation, and two GPUs. It cut the top-5 error from 26% to 15.3%.

``alexnet_original``: the paper's layer sizes, for 227x227 images (the paper says 224, but
(224 - 11)/4 + 1 is not a whole number; 227 makes the first layer's 55x55 output come out
exactly). One image, C x H x W:

    conv1  96@11x11, stride 4          3x227x227 -> 96x55x55    (227 - 11)/4 + 1 = 55
           ReLU, max pool 3x3 stride 2 -> 96x27x27              (55 - 3)/2 + 1 = 27
    conv2  256@5x5, padding 2          -> 256x27x27
           ReLU, max pool 3x3 stride 2 -> 256x13x13             (27 - 3)/2 + 1 = 13
    conv3  384@3x3, padding 1, ReLU    -> 384x13x13
    conv4  384@3x3, padding 1, ReLU    -> 384x13x13
    conv5  256@3x3, padding 1          -> 256x13x13
           ReLU, max pool 3x3 stride 2 -> 256x6x6               (13 - 3)/2 + 1 = 6
    fc6    9216 -> 4096, ReLU, dropout
    fc7    4096 -> 4096, ReLU, dropout
    fc8    4096 -> 1000

conv1 alone has 96 * (3*11*11 + 1) = 34,944 parameters and produces 55 * 55 * 96 = 290,400
numbers per image. The whole network has 62,378,344 parameters, 58.6 million of them in the
three fully connected layers, and costs 1.135 G multiply-adds per image. Two things of the paper
are left out: local response normalisation after conv1 and conv2 (a "brightness normalisation"
across neighbouring channels, credited with 1.2% of top-5 error in the paper; VGG found it did
not help, and batch normalisation replaced it in practice), and the split over two GPUs, in
which conv2, conv4 and conv5 saw only the half of the previous layer's channels on their own
GPU (groups=2; that grouping brings the count down to 60,965,224, the paper's "60 million", and
the cost to 0.724 G multiply-adds). The classifier's input size follows from the image size
(256 * 6 * 6 at 227x227), so this network takes images of exactly the size it was built for.
The weights start with the layers' default initialisation, not the paper's N(0, 0.01^2) with
some biases set to 1.

``alexnet``: the layout that PyTorch's model zoo uses (after Krizhevsky's 2014 "one weird
trick" single-GPU version): 64, 192, 384, 256 and 256 filters, padding 2 on conv1, and an
adaptive average pool that turns the last feature map into 6x6 whatever the image size (at
least 63x63), so the classifier always sees 9216 numbers. One 224x224 image:

    features    conv 64@11x11 s4 p2    3x224x224 -> 64x55x55    (224 - 11 + 4)//4 + 1 = 55
                ReLU, max pool 3x3 s2  -> 64x27x27
                conv 192@5x5 p2, ReLU  -> 192x27x27, max pool -> 192x13x13
                conv 384@3x3 p1, ReLU  -> 384x13x13
                conv 256@3x3 p1, ReLU  -> 256x13x13
                conv 256@3x3 p1, ReLU  -> 256x13x13, max pool -> 256x6x6
    avgpool     adaptive average 6x6   -> 256x6x6
    classifier  dropout, fc 9216 -> 4096, ReLU, dropout, fc 4096 -> 4096, ReLU, fc 4096 -> 1000

61,100,840 parameters and 0.714 G multiply-adds per image with 1000 classes. Module names and
indices are PyTorch's (``features.0.weight``, ``classifier.6.bias``), so its weights load here.
"""

from collections import OrderedDict

from minidl import nn
from minidl.zoo.sizes import check_image_shape, feature_map_side

# The smallest image each layout takes: the three 3x3 stride-2 pools need their inputs to be at
# least 15, 7 and 3 pixels across, so conv1's output must be 15: (63 + 4 - 11)//4 + 1 = 15 with
# padding 2, (67 - 11)//4 + 1 = 15 without.
MIN_IMAGE_SIZE = 63
MIN_IMAGE_SIZE_ORIGINAL = 67


class AlexNet(nn.Module):
    """AlexNet in PyTorch's layout: ``features`` (five convolutions, three max pools), ``avgpool``
    (adaptive, to 6x6) and ``classifier`` (three linear layers with dropout before the first two).

    Args:
        num_classes: number of class scores out.
        in_channels: 3 for colour images.
        dropout: dropout probability before each of the first two linear layers.

    Input (N, in_channels, H, W) with H, W >= 63 -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


class AlexNetOriginal(nn.Module):
    """AlexNet with the 2012 paper's layer sizes on one tower (no response normalisation).

    Args:
        num_classes: number of class scores out.
        in_channels: 3 for colour images.
        image_size: side of the square input images, 227 in the paper (at least 67); it sets
            the size of the last feature map, hence fc6's input.
        dropout: dropout probability after fc6 and after fc7.

    Input (N, in_channels, image_size, image_size) -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=1000, in_channels=3, image_size=227, dropout=0.5):
        super().__init__()
        if image_size < MIN_IMAGE_SIZE_ORIGINAL:
            raise ValueError(
                f"alexnet_original: image_size must be at least {MIN_IMAGE_SIZE_ORIGINAL} (conv1 must "
                f"leave a 15x15 map for the three 3x3 stride-2 max pools), got {image_size}"
            )
        self.in_channels, self.image_size = in_channels, image_size
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, kernel_size=11, stride=4)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ]))
        side = feature_map_side(self.features, image_size, "alexnet_original")
        self.classifier = fully_connected_head(256 * side * side, num_classes, dropout)

    def forward(self, x):
        check_image_shape(x, "AlexNetOriginal", self.in_channels, self.image_size)
        return self.classifier(self.features(x))


def fully_connected_head(in_features, num_classes, dropout):
    """The 2012 paper's classifier, kept by ZFNet: flatten -> fc6 4096 -> ReLU -> dropout ->
    fc7 4096 -> ReLU -> dropout -> fc8 num_classes."""
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(in_features, 4096)),
        ("relu6", nn.ReLU()),
        ("drop6", nn.Dropout(dropout)),
        ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU()),
        ("drop7", nn.Dropout(dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


def alexnet(num_classes=1000, in_channels=3, image_size=224, dropout=0.5):
    """AlexNet in PyTorch's layout, 61,100,840 parameters with 1000 classes (see ``AlexNet``).
    ``image_size`` only has to be at least 63: the adaptive pool adjusts to any larger size."""
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"alexnet: image_size must be at least {MIN_IMAGE_SIZE} (conv1 must leave a 15x15 map for "
            f"the three 3x3 stride-2 max pools), got {image_size}"
        )
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout)


def alexnet_original(num_classes=1000, in_channels=3, image_size=227, dropout=0.5):
    """AlexNet with the 2012 paper's layers on one GPU, 62,378,344 parameters with 1000 classes
    at 227x227 (see ``AlexNetOriginal`` and the module docstring)."""
    return AlexNetOriginal(num_classes=num_classes, in_channels=in_channels, image_size=image_size,
                           dropout=dropout)
