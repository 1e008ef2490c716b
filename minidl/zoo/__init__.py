"""Ready-made models, built by name, and their weights.

    from minidl.zoo import get_model, resnet18, load_pretrained
    model = resnet18()                                     # the same as get_model("resnet18")
    model = get_model("lenet5", in_channels=3, image_size=32, num_classes=10)
    model = load_pretrained("lenet5-mnist")                # trained by minidl, shipped with it

Every builder takes the keywords ``num_classes``, ``in_channels`` and ``image_size``, so that
``minidl train --model NAME`` can fit any model to any dataset; other keywords are the model's own.

The models, in the order of the history of CNNs (one file each, ``minidl/zoo/<file>.py``; the
package exports the builders, so ``minidl.zoo.alexnet`` is the function: import a file's other
names from the file itself, ``from minidl.zoo.googlenet import Inception``):

- ``lenet.py``: LeNet-5 (LeCun et al. 1998)
- ``alexnet.py``: AlexNet (Krizhevsky et al. 2012), torchvision's layout and the original one
- ``zfnet.py``: ZFNet (Zeiler and Fergus 2013)
- ``vgg.py``: VGG-11/13/16/19 with and without batch norm (Simonyan and Zisserman 2014)
- ``googlenet.py``: GoogLeNet / Inception v1 with auxiliary classifiers (Szegedy et al. 2014)
- ``allconv.py``: the all-convolutional net All-CNN-C (Springenberg et al. 2015)
- ``resnet.py``: ResNet-18/34/50/101/152 (He et al. 2015); ``cifar_resnet.py``: ResNet-20/32/44/56/110
- ``densenet.py``: DenseNet-121 (Huang et al. 2017)
- ``mobilenet.py``: MobileNet v1 (Howard et al. 2017)
- ``small_vgg.py``: a small VGG-style net with batch norm that trains on a laptop CPU

Where torchvision has the same model, module names and parameter shapes are torchvision's, so
its weights load with ``load_torchvision_state_dict`` (``torchvision_weights.py``). Weights:
``weights.py`` (save and load with metadata), ``pretrained.py`` (the registry of weights shipped
with minidl).
"""

from minidl.zoo.alexnet import AlexNet, AlexNetOriginal, alexnet, alexnet_original
from minidl.zoo.allconv import AllConvNet, all_cnn_c
from minidl.zoo.cifar_resnet import CifarResNet, resnet20, resnet32, resnet44, resnet56, resnet110
from minidl.zoo.densenet import DenseNet, densenet121
from minidl.zoo.googlenet import GoogLeNet, Inception, InceptionAux, NaiveInception, googlenet, googlenet_loss
from minidl.zoo.lenet import LeNet5, lenet5
from minidl.zoo.mobilenet import MobileNetV1, mobilenet_v1
from minidl.zoo.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from minidl.zoo.small_vgg import SmallVGG, small_vgg
from minidl.zoo.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from minidl.zoo.zfnet import ZFNet, zfnet

# name -> builder; ``minidl train --model`` and ``minidl summary`` offer these names.
MODELS = {
    "lenet5": lenet5,
    "small_vgg": small_vgg,
    "alexnet": alexnet,
    "alexnet_original": alexnet_original,
    "zfnet": zfnet,
    "vgg11": vgg11, "vgg11_bn": vgg11_bn,
    "vgg13": vgg13, "vgg13_bn": vgg13_bn,
    "vgg16": vgg16, "vgg16_bn": vgg16_bn,
    "vgg19": vgg19, "vgg19_bn": vgg19_bn,
    "googlenet": googlenet,
    "all_cnn_c": all_cnn_c,
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
    "resnet101": resnet101, "resnet152": resnet152,
    "resnet20": resnet20, "resnet32": resnet32, "resnet44": resnet44,
    "resnet56": resnet56, "resnet110": resnet110,
    "densenet121": densenet121,
    "mobilenet_v1": mobilenet_v1,
}


def get_model(name, **kwargs):
    """Build the model registered as ``name`` with the builder's keyword arguments."""
    if name not in MODELS:
        raise KeyError(f"get_model: unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)


# The weights modules look architectures up in MODELS when they load a file.
from minidl.zoo.weights import WeightsError, load_weights, read_weights, save_weights  # noqa: E402
from minidl.zoo.pretrained import PRETRAINED, evaluate_pretrained, load_pretrained  # noqa: E402
from minidl.zoo.torchvision_weights import load_torchvision_state_dict  # noqa: E402

__all__ = [
    "MODELS", "get_model",
    *MODELS,
    "LeNet5", "SmallVGG", "AlexNet", "AlexNetOriginal", "ZFNet", "VGG", "GoogLeNet", "Inception",
    "NaiveInception", "InceptionAux", "googlenet_loss", "AllConvNet", "ResNet", "CifarResNet",
    "DenseNet", "MobileNetV1",
    "save_weights", "load_weights", "read_weights", "WeightsError", "PRETRAINED", "load_pretrained",
    "evaluate_pretrained", "load_torchvision_state_dict",
]
