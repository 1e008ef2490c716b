"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), the network that read cheques.

    model = lenet5()                    # (N, 1, 28, 28) digits -> (N, 10) class scores
    model.features[0].weight.shape      # (6, 1, 5, 5): the first layer's filters

Layer by layer, for a 28x28 image (the shapes of one image, C x H x W):

    features    conv 6@5x5, padding 2   1x28x28 -> 6x28x28
                ReLU
                max pool 2x2            6x28x28 -> 6x14x14
                conv 16@5x5             6x14x14 -> 16x10x10
                ReLU
                max pool 2x2            16x10x10 -> 16x5x5
    classifier  flatten                 16x5x5 -> 400
                fc 120, ReLU            400 -> 120
                fc 84, ReLU             120 -> 84
                fc num_classes          84 -> 10

The original took 32x32 images: the 28x28 MNIST digits centred in a larger field. Padding 2 on
a 28x28 image gives the first convolution the same 32x32 input and the same 28x28 output, so
the rest of the network is the original's; 32x32 images (CIFAR-10) get no padding.

What differs from 1998, and why: the original squashed with a scaled tanh and "subsampled" by
averaging each 2x2 block, multiplying by a learned coefficient and adding a learned bias; its
second convolution connected each of the 16 maps to only some of the 6 inputs (to break
symmetry and save computation), and its output layer compared the 84 features with fixed
class prototypes (RBF units). Today's version, the one usually taught, uses ReLU (no saturation,
so gradients do not vanish and training is faster), plain max pooling (keeps the strongest
response, which also gives a little shift invariance), full connections and a linear output
trained with softmax cross-entropy. ``activation="tanh", pool="avg"`` gives the original's
squashing and averaging back, to compare.
"""

from collections import OrderedDict

from minidl import nn
from minidl.zoo.sizes import check_image_shape

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Module):
    """LeNet-5: two convolution + pooling stages (``features``) and three linear layers
    (``classifier``).

    Args:
        num_classes: number of class scores out.
        in_channels: 1 for greyscale images, 3 for colour.
        image_size: side of the square input images: 28 (padding 2, as the original's 32x32
            field) up to 32 (no padding); (32 - image_size) must be even.
        activation: "relu" (default) or "tanh" (the original's squashing).
        pool: "max" (default) or "avg" (the original's averaging subsampling).

    Input (N, in_channels, image_size, image_size) -> output (N, num_classes) class scores.
    """

    def __init__(self, num_classes=10, in_channels=1, image_size=28, activation="relu", pool="max"):
        super().__init__()
        padding = 32 - image_size
        if padding < 0 or padding > 4 or padding % 2:
            raise ValueError(
                f"LeNet5: image_size must be 28, 30 or 32 (the first convolution pads the image "
                f"to LeNet's 32x32 field), got {image_size}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if pool not in POOLS:
            raise ValueError(f"LeNet5: pool must be one of {sorted(POOLS)}, got {pool!r}")
        act, pooling = ACTIVATIONS[activation], POOLS[pool]
        self.in_channels, self.image_size = in_channels, image_size
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 6, 5, padding=padding // 2)),
            ("act1", act()),
            ("pool1", pooling(2)),
            ("conv2", nn.Conv2d(6, 16, 5)),
            ("act2", act()),
            ("pool2", pooling(2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * 5 * 5, 120)),
            ("act3", act()),
            ("fc2", nn.Linear(120, 84)),
            ("act4", act()),
            ("fc3", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x):
        check_image_shape(x, "LeNet5", self.in_channels, self.image_size)
        return self.classifier(self.features(x))


def lenet5(num_classes=10, in_channels=1, image_size=28, **kwargs):
    """Build a ``LeNet5`` (ReLU and max pooling; see the module docstring for the original)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs)
