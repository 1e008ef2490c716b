"""The side of the feature map a stack of convolutions and pools makes of an image.

Networks that end in fully connected layers without an adaptive pool (the 2012 AlexNet, ZFNet)
must know it to size their first fully connected layer: C * side * side inputs.
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
