"""ZFNet (Zeiler and Fergus, 2013): AlexNet retuned by looking at what its layers learned.

    model = zfnet()                     # (N, 3, 224, 224) -> (N, 1000) class scores

Zeiler and Fergus projected the activations of a trained AlexNet back to pixel space (with a
"deconvnet": unpooling with the max pool's switches, ReLU, and the transposed filters) and saw
that the 11x11 stride-4 first layer learned a mix of very high and very low frequency filters
with few in between, some of them dead, and that its large stride left aliasing artefacts in
the second layer's maps. Their fix: a smaller first filter with a smaller stride (7x7, stride
2), which keeps more of the image's detail in the first layers, and a stride of 2 on conv2 to
bring the maps back to AlexNet's 13x13. The rest is AlexNet on one tower; this design was the
basis of the ImageNet 2013 winner.

One 224x224 image, C x H x W, with W' = (W - F + 2P)/S + 1 rounded down for the convolutions
and up for the pools:

    conv1  96@7x7, stride 2, padding 1   3x224x224 -> 96x110x110    (224 - 7 + 2)/2 + 1 = 110
           ReLU, max pool 3x3 stride 2   -> 96x55x55                (110 - 3)/2 + 1 = 54.5 -> 55
    conv2  256@5x5, stride 2             -> 256x26x26               (55 - 5)/2 + 1 = 26
           ReLU, max pool 3x3 stride 2   -> 256x13x13               (26 - 3)/2 + 1 = 12.5 -> 13
    conv3  384@3x3, padding 1, ReLU      -> 384x13x13
    conv4  384@3x3, padding 1, ReLU      -> 384x13x13
    conv5  256@3x3, padding 1, ReLU      -> 256x13x13
           max pool 3x3 stride 2         -> 256x6x6                 (13 - 3)/2 + 1 = 6
    fc6    9216 -> 4096, ReLU, dropout
    fc7    4096 -> 4096, ReLU, dropout
    fc8    4096 -> 1000

The paper gives the sizes (110, 55, 26, 13, 6) but not the padding. The choices here hit all of
them: padding 1 on conv1 (without it (224 - 7)/2 + 1 = 109.5 rounds down to 109), none on conv2,
and pools that round up (``ceil_mode=True``, as Caffe's pools do; rounding down would give 54
and 12). Padding the pools by 1 instead would also give 55 and 13, but 7 at the last one.

62,357,608 parameters with 1000 classes (58.6 million of them in fc6-fc8) and 1.168 G
multiply-adds per image, against 1.135 G for ``alexnet_original``: the first layers' maps are
larger.
Left out, as in ``alexnet_original``: the contrast normalisation after the first two pools, and
the paper's renormalisation of first-layer filters whose norm grew past a fixed radius. The
classifier's input size follows from the image size, so the network takes images of exactly
the size it was built for (at least 47x47).
"""

from collections import OrderedDict

from minidl import nn
from minidl.zoo.alexnet import fully_connected_head
from minidl.zoo.sizes import check_image_shape, feature_map_side

# The smallest image the network takes: conv1 must leave (47 + 2 - 7)//2 + 1 = 22 pixels, so
# that pool1, conv2, pool2 and pool5 leave 11, 4, 2 and 1 (a pool that rounds up takes a 2x2 map:
# its one window runs a pixel past the edge); a 46x46 image leaves pool5 a single pixel.
MIN_IMAGE_SIZE = 47


class ZFNet(nn.Module):
    """ZFNet: ``features`` (five convolutions, three max pools that round up) and
    ``classifier`` (three linear layers, dropout after the first two).

    Args:
        num_classes: number of class scores out.
        in_channels: 3 for colour images.
        image_size: side of the square input images, 224 in the paper (at least 47); it sets
            the size of the last feature map, hence fc6's input.
        dropout: dropout probability after fc6 and after fc7.

    Input (N, in_channels, image_size, image_size) -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=1000, in_channels=3, image_size=224, dropout=0.5):
        super().__init__()
        if image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"zfnet: image_size must be at least {MIN_IMAGE_SIZE} (the last max pool needs a map of "
                f"at least 2x2), got {image_size}"
            )
        self.in_channels, self.image_size = in_channels, image_size
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 96, kernel_size=7, stride=2, padding=1)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, stride=2)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)),
        ]))
        side = feature_map_side(self.features, image_size, "zfnet")
        self.classifier = fully_connected_head(256 * side * side, num_classes, dropout)

    def forward(self, x):
        check_image_shape(x, "ZFNet", self.in_channels, self.image_size)
        return self.classifier(self.features(x))


def zfnet(num_classes=1000, in_channels=3, image_size=224, dropout=0.5):
    """ZFNet, 62,357,608 parameters with 1000 classes at 224x224 (see ``ZFNet``)."""
    return ZFNet(num_classes=num_classes, in_channels=in_channels, image_size=image_size, dropout=dropout)
