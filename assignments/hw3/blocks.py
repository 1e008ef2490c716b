"""Tasks 3.3 and 3.4: a residual block and an Inception module, as minidl modules.

Both are built from ``minidl.nn`` layers (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Sequential) and
follow the zoo's layouts and names, so that a state dict moves between them (the graders check
your block against the zoo's with the same weights; you may not import ``minidl.zoo``).

Residual block (He et al. 2016), out = ReLU(F(x) + shortcut(x)):

    conv1  3x3, stride s, padding 1, no bias       bn1, ReLU
    conv2  3x3, stride 1, padding 1, no bias       bn2
    downsample (the shortcut) when the shape changes (s != 1 or C_in != C_out): a 1x1 convolution
        with stride s and no bias, then batch norm, in an nn.Sequential; None (the identity) otherwise.

If F learns nothing (bn2's gamma = 0), the block passes ReLU(x) on: a deeper network can do at
least as well as a shallower one, which is why 100-layer ResNets train.

Inception module (Szegedy et al. 2014) with 1x1 bottlenecks, each convolution a ``ConvBNReLU``
(conv without bias, batch norm with eps 0.001, ReLU, as GoogLeNet's BasicConv2d):

    branch1  ConvBNReLU 1x1, n1x1
    branch2  Sequential(ConvBNReLU 1x1, r3x3;  ConvBNReLU 3x3 padding 1, n3x3)
    branch3  Sequential(ConvBNReLU 1x1, r5x5;  ConvBNReLU 5x5 padding 2, n5x5)
    branch4  Sequential(MaxPool2d(3, stride 1, padding 1);  ConvBNReLU 1x1, pool_proj)

and the four outputs concatenated along the channels (``minidl.cat``).
"""

import minidl
from minidl import nn


class ResidualBlock(nn.Module):
    """The basic residual block: (N, in_channels, H, W) -> (N, out_channels, H', W'), H' = ceil(H / stride).

    Attributes (names and layouts as above): conv1, bn1, conv2, bn2, relu, downsample.
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)
        ### END SOLUTION


class ConvBNReLU(nn.Module):
    """conv (no bias, ``conv_options`` such as kernel_size, padding) -> BatchNorm2d(eps=0.001) -> ReLU.

    Attributes: conv, bn, relu.
    """

    def __init__(self, in_channels, out_channels, **conv_options):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.relu(self.bn(self.conv(x)))
        ### END SOLUTION


class InceptionModule(nn.Module):
    """(N, in_channels, H, W) -> (N, n1x1 + n3x3 + n5x5 + pool_proj, H, W); attributes branch1 ... branch4."""

    def __init__(self, in_channels, n1x1, r3x3, n3x3, r5x5, n5x5, pool_proj):
        super().__init__()
        ### BEGIN SOLUTION
        self.branch1 = ConvBNReLU(in_channels, n1x1, kernel_size=1)
        self.branch2 = nn.Sequential(ConvBNReLU(in_channels, r3x3, kernel_size=1),
                                     ConvBNReLU(r3x3, n3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(ConvBNReLU(in_channels, r5x5, kernel_size=1),
                                     ConvBNReLU(r5x5, n5x5, kernel_size=5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     ConvBNReLU(in_channels, pool_proj, kernel_size=1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return minidl.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)
        ### END SOLUTION
