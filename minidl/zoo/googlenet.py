"""GoogLeNet, or Inception v1 (Szegedy et al., "Going Deeper with Convolutions", 2014).

The idea: instead of choosing one filter size per layer, an *Inception module* runs a 1x1, a 3x3
and a 5x5 convolution and a 3x3 max pool side by side on the same input and stacks their
outputs along the channels, letting the next layer pick the scale it needs. Done naively this
is ruinously expensive; the trick is a 1x1 "bottleneck" convolution that cuts the channels
before each large filter (and after the pool, which otherwise passes all its channels on).

The cost lesson, in multiply-adds (MACs), on a 28x28x256 input with 128 1x1, 192 3x3 and 96 5x5
filters (every branch keeps 28x28 by padding):

    naive module (``NaiveInception``)
        1x1 conv, 128     28*28*128 * 1*1*256 =  25,690,112
        3x3 conv, 192     28*28*192 * 3*3*256 = 346,816,512
        5x5 conv, 96      28*28*96  * 5*5*256 = 481,689,600
        total                                   854,196,224   (854M)
      and the output has 128 + 192 + 96 + 256 = 672 channels: the pool keeps all 256, so
      stacking such modules only grows the channels.

    with 1x1 bottlenecks (``Inception``, 64 before the 3x3, 64 before the 5x5, 64 after the pool)
        1x1 conv, 128             28*28*128 * 1*1*256 =  25,690,112
        1x1 conv, 64 (3x3 red.)   28*28*64  * 1*1*256 =  12,845,056
        3x3 conv, 192             28*28*192 * 3*3*64  =  86,704,128
        1x1 conv, 64 (5x5 red.)   28*28*64  * 1*1*256 =  12,845,056
        5x5 conv, 96              28*28*96  * 5*5*64  = 120,422,400
        1x1 conv, 64 (pool proj.) 28*28*64  * 1*1*256 =  12,845,056
        total                                           271,351,808   (271M)
      for 128 + 192 + 96 + 64 = 480 output channels. (A much-copied lecture slide prints 358M
      for this module, which is not the sum of its own list above.)

The network stacks nine such modules (3a, 3b, 4a..4e, 5a, 5b) with max pools between the
groups, after a conventional stem, and ends with global average pooling and one linear layer.
Without AlexNet's big fully connected layers it needs 6.6M parameters at test time against
AlexNet's 61M (the paper says 12 times fewer), for about twice AlexNet's
multiply-adds. For one 224x224 image (C x H x W):

    conv1        7x7, 64, stride 2, pad 3     3x224x224 -> 64x112x112
    maxpool1     3x3, stride 2 (ceil)         64x112x112 -> 64x56x56
    conv2        1x1, 64                      64x56x56 -> 64x56x56
    conv3        3x3, 192, pad 1              64x56x56 -> 192x56x56
    maxpool2     3x3, stride 2 (ceil)         192x56x56 -> 192x28x28
    inception3a  64 + 128 + 32 + 32           192x28x28 -> 256x28x28
    inception3b  128 + 192 + 96 + 64          256x28x28 -> 480x28x28
    maxpool3     3x3, stride 2 (ceil)         480x28x28 -> 480x14x14
    inception4a  192 + 208 + 48 + 64          480x14x14 -> 512x14x14    -> aux1 in training
    inception4b  160 + 224 + 64 + 64          512x14x14 -> 512x14x14
    inception4c  128 + 256 + 64 + 64          512x14x14 -> 512x14x14
    inception4d  112 + 288 + 64 + 64          512x14x14 -> 528x14x14    -> aux2 in training
    inception4e  256 + 320 + 128 + 128        528x14x14 -> 832x14x14
    maxpool4     2x2, stride 2 (ceil)         832x14x14 -> 832x7x7
    inception5a  256 + 320 + 128 + 128        832x7x7 -> 832x7x7
    inception5b  384 + 384 + 128 + 128        832x7x7 -> 1024x7x7
    avgpool      global average               1024x7x7 -> 1024x1x1, flatten -> 1024
    dropout, fc  1024 -> num_classes

(1.50G multiply-adds at 224x224.) A 22-layer network was hard to train in 2014, so two
*auxiliary classifiers* (``InceptionAux``) branch off after 4a and 4d during training; their
losses, weighted by 0.3, are added to the main loss (``googlenet_loss``) to push gradient into
the middle of the network. At test time they are dropped. With 1000 classes the model has
13,004,888 parameters with the auxiliary classifiers and 6,624,904 without.

Where this follows torchvision rather than the paper, so that torchvision's names, shapes and
weights fit: every convolution is a ``BasicConv2d`` (conv without bias, batch norm, ReLU; batch
norm came a year after the paper) and there is no local response normalisation; the "5x5"
branch uses a 3x3 kernel (torchvision's weights were trained that way; ``Inception`` takes
``ch5x5_kernel=5`` for the paper's module); the auxiliary classifiers pool adaptively to 4x4
(the paper: 5x5 average pool, stride 3, which gives 4x4 at 14x14); ``maxpool4`` is 2x2 with
stride 2 (the paper: 3x3, stride 2); and the final dropout is 0.2 (the paper: 0.4).
"""

from collections import namedtuple

import numpy as np

import minidl
from minidl import functional as F
from minidl import nn

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = """What GoogLeNet returns in training mode with its auxiliary classifiers:
the main class scores and those of aux2 (after 4d) and aux1 (after 4a), each (N, num_classes)."""

# conv1 and three ceil-mode 3x3 stride-2 max pools must each find at least one window:
# a 15x15 image goes 15 -> 8 -> 4 -> 2 -> 1 (then maxpool4 keeps 1x1).
MIN_IMAGE_SIZE = 15
# The ImageNet statistics torchvision's models are fed with (RGB images in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicConv2d(nn.Module):
    """Convolution without bias (the batch norm's shift replaces it), batch norm, ReLU.

    Args: ``in_channels``, ``out_channels`` and the keyword arguments of ``nn.Conv2d``
    (kernel_size, stride, padding).
    Input (N, in_channels, H, W) -> output (N, out_channels, H', W'), H' as for the Conv2d.
    """

    def __init__(self, in_channels, out_channels, **conv_options):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class NaiveInception(nn.Module):
    """The Inception module before bottlenecks: a 1x1, a 3x3 (pad 1) and a 5x5 (pad 2) convolution
    and a 3x3 stride-1 max pool (pad 1) of the same input, concatenated along the channels.

    Args:
        in_channels: channels of the input (the pool branch passes all of them on).
        ch1x1, ch3x3, ch5x5: filters of the three convolutions.
        conv_block: the convolution module of each branch (``BasicConv2d``: conv, BN, ReLU).

    Input (N, in_channels, H, W) -> output (N, ch1x1 + ch3x3 + ch5x5 + in_channels, H, W).
    The backward pass of the concatenation slices dout along the channels, each branch getting
    its own slice; the four input gradients are summed into dx (x feeds every branch).
    """

    def __init__(self, in_channels, ch1x1, ch3x3, ch5x5, conv_block=BasicConv2d):
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = conv_block(in_channels, ch3x3, kernel_size=3, padding=1)
        self.branch3 = conv_block(in_channels, ch5x5, kernel_size=5, padding=2)
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        return minidl.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class Inception(nn.Module):
    """The Inception module with 1x1 bottlenecks (the one GoogLeNet stacks): four branches of
    the same input, concatenated along the channels,

        branch1  1x1 conv, ch1x1
        branch2  1x1 conv, ch3x3red -> 3x3 conv (pad 1), ch3x3
        branch3  1x1 conv, ch5x5red -> k x k conv (pad k // 2), ch5x5    (k = ch5x5_kernel)
        branch4  3x3 max pool (stride 1, pad 1) -> 1x1 conv, pool_proj

    Args:
        in_channels: channels of the input.
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj: filters of each convolution, the
            columns of the paper's table 1.
        conv_block: the convolution module (``BasicConv2d``: conv, BN, ReLU).
        ch5x5_kernel: kernel of the third branch's large convolution: 5 in the paper; GoogLeNet
            passes 3, as torchvision's model (and its trained weights) has a 3x3 there.

    Input (N, in_channels, H, W) -> output (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=BasicConv2d,
                 ch5x5_kernel=5):
        super().__init__()
        if isinstance(ch5x5_kernel, bool) or not isinstance(ch5x5_kernel, int) or ch5x5_kernel % 2 == 0:
            raise ValueError(
                f"Inception: ch5x5_kernel must be an odd int (padding k // 2 keeps H and W), got {ch5x5_kernel!r}"
            )
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1),
            conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            conv_block(ch5x5red, ch5x5, kernel_size=ch5x5_kernel, padding=ch5x5_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return minidl.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """An auxiliary classifier: a small network on an intermediate feature map whose loss, in
    training, sends gradient straight into the middle of GoogLeNet.

    adaptive average pool to 4x4 -> 1x1 conv, 128 (``conv``, a BasicConv2d) -> flatten
    (128*4*4 = 2048) -> fc1 2048 -> 1024 -> ReLU -> dropout -> fc2 1024 -> num_classes.

    Input (N, in_channels, H, W) -> output (N, num_classes) class scores.
    """

    def __init__(self, in_channels, num_classes, dropout=0.7, conv_block=BasicConv2d):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.conv(self.avgpool(x)).flatten(1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1) with torchvision's names; see the module docstring for the layers.

    Args:
        num_classes: number of class scores out.
        aux_logits: build the two auxiliary classifiers ``aux1`` and ``aux2``.
        in_channels: channels of the input images.
        image_size: side of the input images, at least 15 (global average pooling lets any
            larger size in).
        dropout: dropout probability before ``fc``.
        dropout_aux: dropout probability inside the auxiliary classifiers.
        transform_input: first map ImageNet-normalised RGB input, (x - mean) / std, to the
            [-1, 1] scaling (x - 0.5) / 0.5 that torchvision's published GoogLeNet weights (ported
            from TensorFlow) were trained on; needed for those weights, torchvision's name.

    Input (N, in_channels, H, W). Output: in training mode with ``aux_logits``, a
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` of three (N, num_classes) scores (train
    with ``googlenet_loss``); otherwise (evaluation, or no auxiliary classifiers) the logits alone.
    """

    def __init__(self, num_classes=1000, aux_logits=True, in_channels=3, image_size=224, dropout=0.2,
                 dropout_aux=0.7, transform_input=False):
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"googlenet: transform_input maps ImageNet-normalised RGB images, so it needs "
                             f"in_channels=3, got {in_channels}")
        self.transform_input = transform_input
        if image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"googlenet: image_size must be at least {MIN_IMAGE_SIZE} (a 7x7 stride-2 convolution and "
                f"three 3x3 stride-2 max pools must fit), got {image_size}"
            )
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        # Inception(in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj): table 1 of the paper.
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, ch5x5_kernel=3)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, ch5x5_kernel=3)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, ch5x5_kernel=3)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, ch5x5_kernel=3)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, ch5x5_kernel=3)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, ch5x5_kernel=3)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, ch5x5_kernel=3)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, ch5x5_kernel=3)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, ch5x5_kernel=3)

        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """Convolution and linear weights ~ N(0, 0.01^2) (torchvision truncates at +-2, which is 200
        standard deviations: no draw ever reaches it); batch norm weight 1, bias 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _transform_input(self, x):
        """x * std/0.5 + (mean - 0.5)/0.5 per channel: undo (x - mean)/std, then apply (x - 0.5)/0.5."""
        std = np.array(IMAGENET_STD, dtype=x.dtype).reshape(1, 3, 1, 1)
        mean = np.array(IMAGENET_MEAN, dtype=x.dtype).reshape(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, x):
        auxiliary = self.training and self.aux_logits
        if self.transform_input:
            x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))

        x = self.inception4a(x)
        aux1 = self.aux1(x) if auxiliary else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if auxiliary else None
        x = self.maxpool4(self.inception4e(x))

        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if auxiliary:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def googlenet_loss(outputs, target, aux_weight=0.3):
    """GoogLeNet's training loss: cross-entropy of the main scores plus ``aux_weight`` (0.3 in the
    paper) times the cross-entropy of each auxiliary classifier,

        L = CE(logits) + 0.3 * (CE(aux_logits1) + CE(aux_logits2)).

    Its backward pass sends dL/dlogits = dCE/dlogits to the top of the network and
    0.3 * dCE/daux to each auxiliary head, whose gradients add into the middle layers.
    ``outputs`` is a ``GoogLeNetOutputs`` (training mode) or plain (N, C) scores (evaluation, or
    no auxiliary classifiers), whose loss is then just their cross-entropy; ``target`` holds (N,)
    integer classes. Returns a scalar Tensor.
    """
    if isinstance(outputs, GoogLeNetOutputs):
        auxiliary = F.cross_entropy(outputs.aux_logits1, target) + F.cross_entropy(outputs.aux_logits2, target)
        return F.cross_entropy(outputs.logits, target) + aux_weight * auxiliary
    return F.cross_entropy(outputs, target)


def googlenet(num_classes=1000, in_channels=3, image_size=224, aux_logits=True, **kwargs):
    """Build a ``GoogLeNet``: 13.0M parameters with the auxiliary classifiers, 6.6M without."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, in_channels=in_channels,
                     image_size=image_size, **kwargs)
