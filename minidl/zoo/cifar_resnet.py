"""The CIFAR-10 ResNets of He et al. (2015), section 4.2: 6n + 2 layers on 32x32 images.

Where the ImageNet ResNets (``minidl.zoo.resnet``) start with a 7x7 stride-2 convolution and a
max pool, a 32x32 image has no pixels to spare: the stem is one 3x3 convolution with 16 filters,
followed by three stages of n basic blocks (two 3x3 convolutions each) at 16, 32 and 64
channels. The first block of the second and third stages halves H and W with stride 2 while
doubling the channels, so each layer's cost stays about the same. For one 32x32 image
(C x H x W):

    conv1    3x3, 16, pad 1          3x32x32 -> 16x32x32      then bn1, relu
    layer1   n basic blocks, 16      16x32x32 -> 16x32x32
    layer2   n basic blocks, 32, /2  16x32x32 -> 32x16x16
    layer3   n basic blocks, 64, /2  32x16x16 -> 64x8x8
    avgpool  global average         64x8x8 -> 64x1x1, flatten -> 64
    fc       64 -> num_classes

1 + 3 * n * 2 + 1 = 6n + 2 weight layers: n = 3, 5, 7, 9, 18 give ResNet-20, 32, 44, 56, 110.
ResNet-20 costs 40.8M multiply-adds per 32x32 image, ResNet-56 125.7M.

The paper's CIFAR nets use option A for the two shortcuts that change shape: the identity on
every second pixel, padded with zero channels, which costs no parameters. Here those two
shortcuts are projections (a 1x1 stride-2 convolution and BN, option B), as in the ImageNet
nets and the blocks of ``minidl.zoo.resnet`` that these reuse: 16*32 + 2*32 = 576 and
32*64 + 2*64 = 2,176 parameters more, 2,752 in all. With 10 classes:

    model       n    option A (paper)       option B (here)    paper's CIFAR-10 test error
    resnet20    3    269,722 (0.27M)        272,474            8.75%
    resnet32    5    464,154 (0.46M)        466,906            7.51%
    resnet44    7    658,586 (0.66M)        661,338            7.17%
    resnet56    9    853,018 (0.85M)        855,770            6.97%
    resnet110   18   1,727,962 (1.7M)       1,730,714          6.43%

Names follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0``, ``fc``) and the initialisation is the same: He normal for the
convolutions, BN weight 1 and bias 0.
"""

from minidl import nn
from minidl.zoo.resnet import BasicBlock, init_resnet, make_stage


class CifarResNet(nn.Module):
    """A 6n + 2 layer ResNet for small images: 3x3 stem, three stages of n basic blocks at
    ``widths`` channels (the last two halve H and W), global average pooling and a linear layer.

    Args:
        depth: number of weight layers, 6n + 2 (20, 32, 44, 56, 110, ...).
        num_classes: number of class scores out.
        in_channels: channels of the input images.
        image_size: side of the input images; kept for the zoo's common signature: global
            average pooling lets any size in (the two stride-2 stages divide it by 4, rounding up).
        widths: channels of the three stages.
        zero_init_residual: start the last BN of every block at 0 (see ``init_resnet``).

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, depth=20, num_classes=10, in_channels=3, image_size=32, widths=(16, 32, 64),
                 zero_init_residual=False):
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110), got {depth!r}")
        if len(widths) != 3:
            raise ValueError(f"CifarResNet: widths must give the channels of 3 stages, got {widths!r}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        channels = widths[0]
        self.layer1, channels = make_stage(BasicBlock, channels, widths[0], blocks)
        self.layer2, channels = make_stage(BasicBlock, channels, widths[1], blocks, stride=2)
        self.layer3, channels = make_stage(BasicBlock, channels, widths[2], blocks, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, num_classes)
        init_resnet(self, zero_init_residual)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet20(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """CIFAR ResNet-20 (n = 3), 272,474 parameters with 10 classes."""
    return CifarResNet(20, num_classes, in_channels, image_size, **kwargs)


def resnet32(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """CIFAR ResNet-32 (n = 5), 466,906 parameters with 10 classes."""
    return CifarResNet(32, num_classes, in_channels, image_size, **kwargs)


def resnet44(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """CIFAR ResNet-44 (n = 7), 661,338 parameters with 10 classes."""
    return CifarResNet(44, num_classes, in_channels, image_size, **kwargs)


def resnet56(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """CIFAR ResNet-56 (n = 9), 855,770 parameters with 10 classes."""
    return CifarResNet(56, num_classes, in_channels, image_size, **kwargs)


def resnet110(num_classes=10, in_channels=3, image_size=32, **kwargs):
    """CIFAR ResNet-110 (n = 18), 1,730,714 parameters with 10 classes."""
    return CifarResNet(110, num_classes, in_channels, image_size, **kwargs)
