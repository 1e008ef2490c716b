"""Fitting a dataset's images to a zoo model: the image sizes each model takes, and when to resize.

Every zoo builder takes ``in_channels`` and ``image_size``, so a model is built for the
dataset's channels (grey MNIST gives a LeNet-5 or a ResNet-18 with one input channel) and for
one image size. The size must be one the model can take: networks whose fully connected layers
are sized for one input (LeNet-5) take only that size, and every stride and pool needs an image
large enough to leave at least one pixel (AlexNet's stride-4 11x11 convolution and three 3x3
stride-2 pools need 63x63). Images of another size are resized, bilinearly, on the fly, batch
by batch: training on MNIST's 28x28 digits at 63x63 never holds the whole set at 63x63.
"""


from minidl.cli.common import UsageError, load_dataset
from minidl.data.transforms import Compose, Resize
from minidl.zoo import MODELS

__all__ = ["FIXED_IMAGE_SIZES", "SMALLEST_IMAGE_SIZE", "accepts_image_size", "default_image_size",
           "describe_image_sizes", "image_sizes_help", "Resize", "resize_transforms", "source_images"]

# Models that take only these image sides (their first fully connected layer is sized for them).
FIXED_IMAGE_SIZES = {"lenet5": (28, 30, 32)}

# The smallest image side each model takes: below it some convolution or pool would leave no
# pixel, and the builder refuses the size (the ResNets and MobileNet end in a global average
# pool and take any size). tests/test_cli_images.py holds these equal to what the builders refuse.
SMALLEST_IMAGE_SIZE = {
    "lenet5": 28,
    "small_vgg": 8,
    "alexnet": 63,
    "alexnet_original": 67,
    "zfnet": 47,
    **dict.fromkeys(["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"], 32),
    "googlenet": 15,
    "all_cnn_c": 9,
    **dict.fromkeys(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"], 1),
    **dict.fromkeys(["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"], 1),
    "densenet121": 29,
    "mobilenet_v1": 1,
}


def accepts_image_size(model, size):
    """Whether the zoo model called ``model`` takes square images of side ``size``."""
    if model in FIXED_IMAGE_SIZES:
        return size in FIXED_IMAGE_SIZES[model]
    return size >= SMALLEST_IMAGE_SIZE[model]


def default_image_size(model, dataset_size):
    """The dataset's own image side if the model takes it, else the nearest side it takes: the
    images are resized as little as possible."""
    if model in FIXED_IMAGE_SIZES:
        return min(FIXED_IMAGE_SIZES[model], key=lambda size: (abs(size - dataset_size), size))
    return max(dataset_size, SMALLEST_IMAGE_SIZE[model])


def describe_image_sizes(model):
    """ "28, 30 or 32", "at least 63", "any": the sides ``model`` takes, for messages."""
    if model in FIXED_IMAGE_SIZES:
        *first, last = FIXED_IMAGE_SIZES[model]
        return f"{', '.join(map(str, first))} or {last}"
    smallest = SMALLEST_IMAGE_SIZE[model]
    return "any" if smallest == 1 else f"at least {smallest}"


def image_sizes_help():
    """One sentence listing the sides every model takes, grouped, for ``minidl train --help``."""
    groups = {}
    for model in MODELS:
        groups.setdefault(describe_image_sizes(model), []).append(model)
    order = sorted(groups, key=lambda text: SMALLEST_IMAGE_SIZE[groups[text][0]])
    return "; ".join(f"{', '.join(groups[text])}: {text}" for text in order)


def resize_transforms(image_shape, size):
    """``[Resize(size)]`` when images of ``image_shape`` (H, W) are not ``size`` x ``size``, else []."""
    return [] if tuple(image_shape) == (size, size) else [Resize(size)]


def source_images(source, source_name, dataset=None, train=False, data_root=None, download=False):
    """The split of a dataset that a trained source is looked at on, and how to fit its images.

    Args:
        source: a ``minidl.cli.common.Source``; source_name: how the user named it (for errors).
        dataset: a name in ``minidl.data.DATASETS``; default the source's own dataset (the
            built-in MNIST subset for a model trained on MNIST: it needs no files).
        train: the training split instead of the test split.

    Returns:
        (dataset name, the split, a transform resizing its images to the source's size or None
        when they have it already). A split of another channel count is a UsageError.
    """
    name = dataset or ("builtin" if source.dataset == "mnist" else source.dataset)
    split = load_dataset(name, train, data_root, download)
    channels = source.kwargs["in_channels"]
    if split.images.shape[1] != channels:
        raise UsageError(f"{source_name} takes {channels}-channel images but {name}'s have {split.images.shape[1]}")
    resize = resize_transforms(split.images.shape[2:], source.kwargs["image_size"])
    return name, split, (Compose(resize) if resize else None)
