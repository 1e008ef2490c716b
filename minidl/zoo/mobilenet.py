"""MobileNet (Howard et al., 2017): convolutions factored into a depthwise and a pointwise part.

    model = mobilenet_v1()                              # (N, 3, 224, 224) -> (N, 1000)
    model = mobilenet_v1(width_mult=0.5, image_size=160, num_classes=10)

The idea: a standard K x K convolution from M to N channels does two jobs at once, filtering
space and mixing channels, at a cost of K^2 * M * N weights. MobileNet splits them:

    depthwise  K x K convolution with groups = M: each channel filtered by its own kernel,
               K^2 * M weights (spatial filtering, no mixing)
    pointwise  1 x 1 convolution: M -> N channels mixed at each pixel, M * N weights

For an output map of D x D pixels (each weight is used once per output pixel when there is no
bias), the costs compare as

    standard:              K^2 * M * N * D^2  multiply-adds
    depthwise separable:   K^2 * M * D^2 + M * N * D^2
    ratio:                 (K^2 M + M N) / (K^2 M N) = 1/N + 1/K^2

For example, 5x5 filters on a 14x14x512 map making 512 channels (padding 2, stride 1):

                             parameters    multiply-adds
    standard 5x5 conv         6,553,600    1,284,505,600
    depthwise 5x5             12,800        2,508,800
    pointwise 1x1             262,144       51,380,224
    depthwise separable       274,944       53,889,024      ratio 1/512 + 1/25 = 0.04195

about 24 times fewer of both. With 3x3 filters, as MobileNet uses, the saving is 8 to 9 times,
and 94.86% of MobileNet's multiply-adds end up in its 1x1 convolutions, which are plain matrix
products (the paper's Table 2).

The network (the paper's Table 1), one 224x224 image, C x H x W:

    conv1     3x3 conv 32, stride 2, BN, ReLU      3x224x224 -> 32x112x112
    block1    depthwise separable 64, stride 1     -> 64x112x112
    block2    128, stride 2                        -> 128x56x56
    block3    128, stride 1                        -> 128x56x56
    block4    256, stride 2                        -> 256x28x28
    block5    256, stride 1                        -> 256x28x28
    block6    512, stride 2                        -> 512x14x14
    block7-11 512, stride 1 (five blocks)          -> 512x14x14
    block12   1024, stride 2                       -> 1024x7x7
    block13   1024, stride 1                       -> 1024x7x7
    classifier  global average pool -> 1024, fc 1024 -> 1000

where each block is depthwise 3x3 (padding 1, the block's stride) -> BN -> ReLU -> pointwise
1x1 -> BN -> ReLU; the convolutions have no bias (the batch norm's shift replaces it), and
downsampling is done by strided depthwise convolutions, not pooling.

Two knobs trade accuracy for size: the width multiplier alpha (``width_mult``) scales every
layer's channels (int(alpha * channels)), which scales parameters and multiply-adds by about
alpha^2; the resolution (``image_size``) scales the multiply-adds by about its square and leaves
the parameters alone. With 1000 classes (the paper's rounded numbers in brackets):

    width_mult   parameters            multiply-adds at 224x224
    1.0          4,231,976  (4.2M)     568,740,352  (569M)
    0.75         2,585,560  (2.6M)     325,400,448  (325M)
    0.5          1,331,592  (1.3M)     149,497,088  (149M)
    0.25           470,072  (0.5M)      41,030,272  (41M)

and with width_mult 1 at 192, 160 and 128 pixels, 418,121,728 (418M), 290,675,200 (290M) and
186,400,768 (186M) multiply-adds. The parameters count the batch norms' scales and shifts; the
multiply-adds count the convolutions and the fully connected layer.
"""

from collections import OrderedDict

from minidl import nn

# (output channels, stride) of the 13 depthwise separable blocks, the paper's Table 1.
BLOCKS = [
    (64, 1),
    (128, 2), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
]


class DepthwiseSeparableBlock(nn.Module):
    """Depthwise 3x3 conv -> BN -> ReLU -> pointwise 1x1 conv -> BN -> ReLU.

    Input (N, in_channels, H, W) -> output (N, out_channels, H', W'), H' = (H - 1)//stride + 1
    (3x3 with padding 1). Parameters: 9*in + 2*in (depthwise, its BN) + in*out + 2*out.
    """

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1,
                                   groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.pointwise = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        x = self.relu1(self.bn1(self.depthwise(x)))
        return self.relu2(self.bn2(self.pointwise(x)))


class MobileNetV1(nn.Module):
    """MobileNet v1: ``features`` (a strided 3x3 convolution and 13 depthwise separable blocks)
    and ``classifier`` (global average pool and one linear layer).

    Args:
        num_classes: number of class scores out.
        in_channels: 3 for colour images.
        width_mult: alpha, the factor on every layer's channels (at least 1/32, so that the first
            layer keeps a channel).

    Input (N, in_channels, H, W), any size (the pool is global) -> output (N, num_classes).
    """

    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0):
        super().__init__()
        if isinstance(width_mult, bool) or not isinstance(width_mult, int | float) or int(32 * width_mult) < 1:
            raise ValueError(
                f"mobilenet_v1: width_mult must be a number of at least 1/32 (the first layer's 32 "
                f"channels times width_mult must leave one), got {width_mult!r}"
            )
        channels = int(32 * width_mult)
        layers = [
            ("conv1", nn.Conv2d(in_channels, channels, kernel_size=3, stride=2, padding=1, bias=False)),
            ("bn1", nn.BatchNorm2d(channels)),
            ("relu1", nn.ReLU()),
        ]
        for i, (width, stride) in enumerate(BLOCKS, start=1):
            layers.append((f"block{i}", DepthwiseSeparableBlock(channels, int(width * width_mult), stride)))
            channels = int(width * width_mult)
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(OrderedDict([
            ("pool", nn.GlobalAvgPool2d()),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(channels, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.features(x))


def mobilenet_v1(num_classes=1000, in_channels=3, image_size=224, width_mult=1.0):
    """MobileNet v1, 4,231,976 parameters with 1000 classes and width_mult 1 (see
    ``MobileNetV1``). ``image_size`` (the paper's resolution: 224, 192, 160 or 128) does not
    change the layers; it must be a positive int."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"mobilenet_v1: image_size must be a positive int, got {image_size!r}")
    return MobileNetV1(num_classes=num_classes, in_channels=in_channels, width_mult=width_mult)
