"""Image sizes in networks whose fully connected layers are built for one input size.

Networks that end in fully connected layers without an adaptive pool (LeNet-5, the 2012
AlexNet, ZFNet) size their first fully connected layer from the last feature map, C * side *
side inputs, and so take images of that one size only.
"""

from minidl import kernels, nn


def feature_map_side(features, image_size, model):
    """Side of the square map ``features`` (a Sequential) makes of an ``image_size`` square image.

    Follows W' = (W - F + 2P)/S + 1 (``kernels.output_size``, rounding up for pools with
    ``ceil_mode``) through every Conv2d and MaxPool2d in order; the other layers keep the size.
    A layer that does not fit raises the output-size error, naming ``model``.
    """
    side = (image_size, image_size)
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            side = kernels.output_size(model, side, layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        elif isinstance(layer, nn.MaxPool2d):
            window, stride, padding, dilation = (kernels.pair(value, name, model) for value, name in (
                (layer.kernel_size, "kernel_size"), (layer.stride, "stride"), (layer.padding, "padding"),
                (layer.dilation, "dilation")))
            side = kernels.output_size(model, side, window, stride, padding, dilation, ceil_mode=layer.ceil_mode)
    return side[0]


def check_image_shape(x, model, in_channels, image_size):
    """Refuse input that is not (N, in_channels, image_size, image_size), naming ``model``."""
    expected = (in_channels, image_size, image_size)
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{model}: expected images of shape (N, {', '.join(map(str, expected))}) (the size its fully "
            f"connected layers were built for), got shape {tuple(x.shape)}"
        )
