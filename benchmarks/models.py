"""LeNet-5, a CIFAR ResNet-20 and the small VGG, written once for both minidl.nn and torch.nn.

minidl.nn follows torch.nn name for name, so each builder takes the ``nn`` module to build
with: ``lenet5(minidl.nn)`` and ``lenet5(torch.nn)`` are the same network, with the same
parameter names, so one's ``state_dict`` loads into the other. ResNet-20 and the small VGG
are the model zoo's for minidl, with PyTorch twins written here under the same names.
"""

from collections import OrderedDict

from minidl import nn as minidl_nn
from minidl.zoo import cifar_resnet
from minidl.zoo.small_vgg import small_vgg as zoo_small_vgg


def lenet5(nn, activation="relu", pool="max"):
    """LeNet-5 for (N, 1, 28, 28) digits -> (N, 10) class scores.

    conv 6@5x5 pad 2 -> act -> pool 2 -> conv 16@5x5 -> act -> pool 2 -> flatten (16*5*5)
    -> fc 120 -> act -> fc 84 -> act -> fc 10. LeCun's original used tanh and average pooling
    (``activation="tanh", pool="avg"``); ReLU and max pooling are today's choice.
    """
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    pooling = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), act(), pooling(2),
        nn.Conv2d(6, 16, 5), act(), pooling(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), act(),
        nn.Linear(120, 84), act(),
        nn.Linear(84, 10),
    )


def resnet20(nn, num_classes=10):
    """ResNet-20 of He et al. (2016, section 4.2) for (N, 3, 32, 32) images -> (N, 10) scores.

    With ``minidl.nn`` this is the zoo's model (``minidl.zoo.cifar_resnet.resnet20``); with any
    other ``nn`` (``torch.nn``) it is ``resnet20_twin``, the same network under the same names.
    """
    if nn is minidl_nn:
        return cifar_resnet.resnet20(num_classes=num_classes)
    return resnet20_twin(nn, num_classes)


def resnet20_twin(nn, num_classes=10):
    """The zoo's CIFAR ResNet-20 written with the modules of ``nn`` (for ``torch.nn``), with the
    zoo's parameter names (``conv1``, ``layer2.0.downsample.0``, ``fc``), so a state dict moves
    from one to the other.

    conv 16@3x3 -> BN -> ReLU, then 3 stages of 3 basic blocks with 16, 32 and 64 channels (the
    first block of stages 2 and 3 halves H and W with stride 2), global average pooling and a
    linear layer: 1 + 3*3*2 + 1 = 20 weight layers. Where a block changes the shape, its
    shortcut (``downsample``) is a 1x1 convolution with stride 2 and BN (the paper's option B).
    """

    class BasicBlock(nn.Module):
        """out = ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x))."""

        def __init__(self, in_channels, out_channels, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            if stride != 1 or in_channels != out_channels:
                self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(out_channels))
            else:
                self.downsample = nn.Identity()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.downsample(x))

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.relu = nn.ReLU()
            self.layer1 = stage(16, 16, 1)
            self.layer2 = stage(16, 32, 2)
            self.layer3 = stage(32, 64, 2)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(self.avgpool(x).flatten(1))

    def stage(in_channels, out_channels, stride):
        return nn.Sequential(BasicBlock(in_channels, out_channels, stride),
                             BasicBlock(out_channels, out_channels, 1),
                             BasicBlock(out_channels, out_channels, 1))

    return ResNet20()


def small_vgg(nn, num_classes=10, in_channels=1, widths=(16, 32, 64)):
    """The zoo's small VGG (``minidl.zoo.small_vgg``) for (N, 1, 28, 28) digits -> (N, 10) scores.

    With ``minidl.nn`` this is the zoo's model; with ``torch.nn`` the same network under the same
    names: stages of conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN -> ReLU -> max pool 2 (16, 32, 64
    channels), then global average pooling, dropout 0.2 and a linear layer.
    """
    if nn is minidl_nn:
        return zoo_small_vgg(num_classes=num_classes, in_channels=in_channels, widths=widths)
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

    class SmallVGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(OrderedDict(stages))
            self.classifier = nn.Sequential(OrderedDict([
                ("pool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", nn.Flatten()),
                ("dropout", nn.Dropout(0.2)),
                ("fc", nn.Linear(channels, num_classes)),
            ]))

        def forward(self, x):
            return self.classifier(self.features(x))

    return SmallVGG()
