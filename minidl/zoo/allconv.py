"""The all-convolutional net (Springenberg, Dosovitskiy, Brox and Riedmiller, 2015).

    model = all_cnn_c()                 # (N, 3, 32, 32) CIFAR images -> (N, 10) class scores

"Striving for simplicity": a network needs nothing but convolutions. Max pooling is replaced
by a convolution with stride 2, which downsamples just as well but learns how to, and the
fully connected classifier is replaced by a 1x1 convolution with one output channel per class,
averaged over the whole map (global average pooling, as in Network in Network). The model
All-CNN-C reached about 9% test error on CIFAR-10 without data augmentation, as good as the
max-pooling networks of its day, with 1.37 million parameters (the paper's "1.3 M").

Layer by layer, for a 32x32 colour image (C x H x W; padding 1 on every 3x3 convolution except
conv7, which the paper makes "valid" so that the last map is 6x6):

    dropout 20%                          3x32x32
    conv1   3x3, 96, ReLU                -> 96x32x32
    conv2   3x3, 96, ReLU                -> 96x32x32
    conv3   3x3, 96, stride 2, ReLU      -> 96x16x16     (32 + 2 - 3)//2 + 1 = 16, in place of a pool
    dropout 50%
    conv4   3x3, 192, ReLU               -> 192x16x16
    conv5   3x3, 192, ReLU               -> 192x16x16
    conv6   3x3, 192, stride 2, ReLU     -> 192x8x8      (16 + 2 - 3)//2 + 1 = 8, in place of a pool
    dropout 50%
    conv7   3x3, 192, no padding, ReLU   -> 192x6x6      8 - 3 + 1 = 6
    conv8   1x1, 192, ReLU               -> 192x6x6
    conv9   1x1, num_classes             -> 10x6x6       a map of scores per class
    global average pool, flatten         -> 10           the class scores

1,369,738 parameters with 10 classes and 270,798,336 multiply-adds per 32x32 image. No layer
is a Linear: the network takes any image of at least 9x9 pixels (the two strided convolutions
leave ceil(ceil(9/2)/2) = 3, and conv7 needs 3), and on a larger image conv9 paints a larger map
of class scores before the average.

One difference from the paper's Table 1: it puts a ReLU after conv9 too. That makes every score
the mean of non-negative numbers, and a class whose conv9 filter starts out negative on every
pixel of every image would get a score of exactly 0 and no gradient, for good; here the scores
are left linear, as a classifier's output layer usually is.
"""

from collections import OrderedDict

from minidl import nn

# conv3 and conv6 halve the image (rounding up) and conv7 takes 2 pixels: 9 -> 5 -> 3 -> 1.
MIN_IMAGE_SIZE = 9


class AllConvNet(nn.Module):
    """All-CNN-C: nine convolutions (``features``, dropout on the input and after each
    downsampling) and a global average pool (``classifier``), no linear layer.

    Args:
        num_classes: number of class scores out (the channels of conv9).
        in_channels: 3 for colour images, 1 for greyscale.
        image_size: side of the input images, 32 for CIFAR (any size of at least 9 works).
        widths: channels of the first three convolutions and of the next four, (96, 192) in the
            paper; smaller widths make a quick model to try things on.
        input_dropout: dropout probability on the input image.
        dropout: dropout probability after each downsampling convolution.

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=10, in_channels=3, image_size=32, widths=(96, 192), input_dropout=0.2,
                 dropout=0.5):
        super().__init__()
        if image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"all_cnn_c: image_size must be at least {MIN_IMAGE_SIZE} (two stride-2 convolutions "
                f"must leave a 3x3 map for the unpadded conv7), got {image_size}"
            )
        if len(widths) != 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ValueError(f"all_cnn_c: widths must be two positive ints, got {widths!r}")
        narrow, wide = widths
        self.features = nn.Sequential(OrderedDict([
            ("dropout0", nn.Dropout(input_dropout)),
            ("conv1", nn.Conv2d(in_channels, narrow, kernel_size=3, padding=1)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(narrow, narrow, kernel_size=3, padding=1)),
            ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(narrow, narrow, kernel_size=3, stride=2, padding=1)),
            ("relu3", nn.ReLU()),
            ("dropout3", nn.Dropout(dropout)),
            ("conv4", nn.Conv2d(narrow, wide, kernel_size=3, padding=1)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(wide, wide, kernel_size=3, padding=1)),
            ("relu5", nn.ReLU()),
            ("conv6", nn.Conv2d(wide, wide, kernel_size=3, stride=2, padding=1)),
            ("relu6", nn.ReLU()),
            ("dropout6", nn.Dropout(dropout)),
            ("conv7", nn.Conv2d(wide, wide, kernel_size=3)),
            ("relu7", nn.ReLU()),
            ("conv8", nn.Conv2d(wide, wide, kernel_size=1)),
            ("relu8", nn.ReLU()),
            ("conv9", nn.Conv2d(wide, num_classes, kernel_size=1)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("pool", nn.GlobalAvgPool2d()),
            ("flatten", nn.Flatten()),
        ]))

    def forward(self, x):
        return self.classifier(self.features(x))


def all_cnn_c(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """All-CNN-C, 1,369,738 parameters with 10 classes (see ``AllConvNet`` for ``widths`` and
    the dropout probabilities)."""
    return AllConvNet(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs)
