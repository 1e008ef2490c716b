"""ResNet (He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", 2015).

The idea: a stack of layers learns a *residual* F(x) that is added to its own input,

    out = ReLU(F(x) + x)

instead of the whole mapping. Plain networks get *worse* as they grow deeper, on the training
set too (the paper's 34-layer plain net ends with a higher training error than its 18-layer
one): the optimiser does not even find the identity for the extra layers. With a shortcut, the
identity is F = 0, the easiest thing to learn, and the backward pass of the sum y = F(x) + x
hands the gradient to x along two paths,

    dL/dx = dL/dy * (dF/dx + I),

one of them unchanged, so every block passes a clean copy of the gradient down, however deep
the stack. With these shortcuts 152 layers train, and won ImageNet 2015 (3.57% top-5 error, an
ensemble).

Two kinds of block:

    BasicBlock (ResNet-18/34)   3x3 conv, BN, ReLU, 3x3 conv, BN, + shortcut, ReLU
    Bottleneck (ResNet-50+)     1x1 conv down to `channels`, BN, ReLU, 3x3 conv, BN, ReLU,
                                1x1 conv up to 4 * `channels`, BN, + shortcut, ReLU

The bottleneck does its 3x3 work on 4 times fewer channels: a 256-channel block costs
256*64 + 9*64*64 + 64*256 = 69,632 weights against 2 * 9 * 256 * 256 = 1,179,648 for two 3x3
layers at 256 channels. Where a block changes the shape (stride 2 or more channels) the shortcut
is a 1x1 convolution with that stride followed by BN (``downsample``, the paper's option B);
everywhere else it is the identity. As in torchvision ("ResNet v1.5"), a bottleneck's stride sits
on its 3x3 convolution, not on the first 1x1 (which would throw away 3/4 of its input unseen).

Every model has the same stem and head, with four stages ``layer1``..``layer4`` between them;
for ResNet-50 and one 224x224 image (C x H x W):

    conv1    7x7, 64, stride 2, pad 3   3x224x224 -> 64x112x112     then bn1, relu
    maxpool  3x3, stride 2, pad 1       64x112x112 -> 64x56x56
    layer1   3 bottlenecks, 64          64x56x56 -> 256x56x56
    layer2   4 bottlenecks, 128, /2     256x56x56 -> 512x28x28
    layer3   6 bottlenecks, 256, /2     512x28x28 -> 1024x14x14
    layer4   3 bottlenecks, 512, /2     1024x14x14 -> 2048x7x7
    avgpool  global average            2048x7x7 -> 2048x1x1, flatten -> 2048
    fc       2048 -> num_classes

(ResNet-18/34 end their stages at 64, 128, 256 and 512 channels.) Global average pooling lets
any image size in. With 1000 classes (torchvision's counts; multiply-adds at 224x224):

    resnet18   [2, 2, 2, 2] basic        11,689,512 parameters   1.81G MACs
    resnet34   [3, 4, 6, 3] basic        21,797,672 parameters   3.66G MACs
    resnet50   [3, 4, 6, 3] bottleneck   25,557,032 parameters   4.09G MACs
    resnet101  [3, 4, 23, 3] bottleneck  44,549,160 parameters   7.80G MACs
    resnet152  [3, 8, 36, 3] bottleneck  60,192,808 parameters  11.51G MACs

Names and shapes are torchvision's (``layer3.5.conv2.weight``, ``layer1.0.downsample.0.weight``),
so its weights load with ``load_state_dict``. Convolutions are initialised as in He et al.
(2015b): N(0, 2/fan_out), batch norm with weight 1 and bias 0; ``zero_init_residual=True``
starts the last BN of every block at 0, so each block begins as the identity (Goyal et al.,
2017), which helps large-batch training.
"""

from minidl import nn


def conv3x3(in_channels, out_channels, stride=1):
    """3x3 convolution, padding 1 (keeps H and W at stride 1), no bias: BN follows it."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels, out_channels, stride=1):
    """1x1 convolution without bias: changes the channel count (and, with a stride, subsamples)."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a shortcut: out = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)).

    Args:
        in_channels: channels of the input.
        channels: channels of both convolutions and of the output (``expansion`` = 1).
        stride: stride of the first convolution (2 halves H and W).
        downsample: the shortcut module when the shape changes (1x1 conv + BN), else None for
            the identity.

    Input (N, in_channels, H, W) -> output (N, channels, H', W'), H' = ceil(H / stride).
    The backward pass of the sum sends dout to both paths: the shortcut gets it unchanged
    (identity) and the residual path gets the same dout to propagate through its layers.
    """

    expansion = 1

    def __init__(self, in_channels, channels, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand 4x), each followed by BN, ReLU after all but the last,
    then the shortcut is added and a ReLU applied.

    Args:
        in_channels: channels of the input.
        channels: width of the 1x1 and 3x3 convolutions; the output has ``4 * channels``.
        stride: stride of the 3x3 convolution (torchvision's v1.5 placement).
        downsample: the shortcut module when the shape changes, else None for the identity.

    Input (N, in_channels, H, W) -> output (N, 4 * channels, H', W'), H' = ceil(H / stride).
    """

    expansion = 4

    def __init__(self, in_channels, channels, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def make_stage(block, in_channels, channels, blocks, stride=1):
    """``blocks`` blocks in a Sequential (named "0", "1", ...): the first one takes ``stride`` and
    gets a projection shortcut when its output shape differs from its input's; the rest keep
    the shape and use the identity. Returns (stage, output channels)."""
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    layers = [block(in_channels, channels, stride, downsample)]
    layers += [block(out_channels, channels) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out_channels


def init_resnet(model, zero_init_residual=False):
    """He initialisation of every convolution (N(0, 2/fan_out), fan_out = out_channels * kH * kW),
    BN weight 1 and bias 0; with ``zero_init_residual`` the last BN of each block starts at 0, so
    the block's output is ReLU(0 + x) = x at the start."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if zero_init_residual:
        for module in model.modules():
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)
            elif isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)


class ResNet(nn.Module):
    """The ImageNet ResNet: a 7x7 stem, four stages of residual blocks and a linear classifier.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages, e.g. [3, 4, 6, 3].
        num_classes: number of class scores out.
        in_channels: channels of the input images.
        image_size: side of the input images; kept for the zoo's common signature: global
            average pooling lets any size in (the stem and the three stride-2 stages divide it
            by 32, rounding up).
        zero_init_residual: start the last BN of every block at 0 (see ``init_resnet``).

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, block, layers, num_classes=1000, in_channels=3, image_size=224, zero_init_residual=False):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the number of blocks of 4 stages, got {layers!r}")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        self.layer1, channels = make_stage(block, channels, 64, layers[0])
        self.layer2, channels = make_stage(block, channels, 128, layers[1], stride=2)
        self.layer3, channels = make_stage(block, channels, 256, layers[2], stride=2)
        self.layer4, channels = make_stage(block, channels, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, num_classes)
        init_resnet(self, zero_init_residual)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """ResNet-18: basic blocks [2, 2, 2, 2], 11.7M parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, image_size, **kwargs)


def resnet34(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """ResNet-34: basic blocks [3, 4, 6, 3], 21.8M parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, image_size, **kwargs)


def resnet50(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """ResNet-50: bottlenecks [3, 4, 6, 3], 25.6M parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, image_size, **kwargs)


def resnet101(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """ResNet-101: bottlenecks [3, 4, 23, 3], 44.5M parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, image_size, **kwargs)


def resnet152(num_classes=1000, in_channels=3, image_size=224, **kwargs):
    """ResNet-152: bottlenecks [3, 8, 36, 3], 60.2M parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, image_size, **kwargs)
