"""``to_fully_convolutional``: turn a classifier's fully connected layers into convolutions, so
that it slides over images larger than those it was trained on (OverFeat, Sermanet et al. 2014;
FCN, Long et al. 2015).

A Linear layer after a flatten of a C x H x W map computes, for output o,

    y[o] = sum over c, h, w of W[o, c*H*W + h*W + w] * x[c, h, w] + b[o]

which is exactly a convolution with one H x W kernel per output, W reshaped to (out, C, H, W)
(the flatten's row-major order), evaluated at the one position where the kernel fits the map.
On a larger map the same convolution fits at more positions: the network outputs a map of
class scores, (N, classes, H', W'), one for each training-size window of the image, stepping
by the network's total stride. The Linear layers after the first one see 1-channel-per-feature
"maps" of size 1x1 and become 1x1 convolutions; ReLU and dropout act on each value and stay.

The pooling before the flatten must mean the same thing on any size. An adaptive average pool
that is the identity at the training size (VGG at 224: its 7x7 map pooled to 7x7) would squash
a larger map back to 7x7, so it becomes ``Identity``; a global average pool (to 1x1) becomes an
``AvgPool2d`` whose window is the training-size map, with stride 1 (each position averages the
window a training-size crop would have averaged). Any other adaptive pool has no sliding
equivalent and is refused.

Each score-map position equals the original network on the corresponding crop of the image
when no layer pads (padding sees zeros at a crop's border but real pixels inside the larger
image) and every crop starts at a multiple of the total stride.
"""

import copy

import numpy as np

from minidl import nn
from minidl.analysis.trace import trace
from minidl.ops.shape import Reshape
from minidl.tensor import Tensor

__all__ = ["to_fully_convolutional"]

# Layers that act on each value alone: they work unchanged on (N, C, H, W) score maps.
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Identity)


def to_fully_convolutional(model, input_shape, *, dtype=np.float32):
    """A copy of ``model`` whose Linear layers after the flatten are convolutions.

    Args:
        model: a chain of layers: each layer takes the previous one's output, possibly
            flattened in ``forward`` (an ``nn.Sequential``, LeNet-5's features + classifier,
            the AlexNet/VGG layout features -> avgpool -> flatten -> classifier). Branching
            models (ResNet, Inception) are refused.
        input_shape: the training image shape (C, H, W): it fixes the kernel size of the first
            converted layer (the map's H x W there).
        dtype: dtype of the traced input, that of the model's parameters.

    Returns:
        an ``nn.Sequential`` of copies of the layers, under their original dotted names (nested
        Sequentials for ``features``, ``classifier``, ...), so its ``state_dict`` keys are the
        original's: Linear -> Conv2d (weights reshaped), Flatten -> Identity, adaptive pooling
        -> Identity or a sliding AvgPool2d (see the module docstring). On (N, C, H, W) images of
        the training size it returns the original's scores as (N, classes, 1, 1); on larger ones
        an (N, classes, H', W') score map. The original model is not changed. The copy is in
        the mode (train/eval) of the original.
    """
    caller = "to_fully_convolutional"
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"{caller}: input_shape must be an image shape (C, H, W), got {input_shape!r}")
    traced = trace(model, input_shape, dtype, caller)
    memo = {}  # one deepcopy memo for all layers: weights tied between layers stay tied
    layers = []
    flattened_map = None  # (C, H, W) of the map the last flatten turned into vectors
    previous = traced.input
    for call in traced.leaves:
        source = _check_link(call, previous, caller)
        if source is not call.input and source.ndim == 4:  # flattened in forward (x.flatten(1))
            flattened_map = tuple(source.shape[1:])
        x = call.input
        if x.ndim == 4:
            layer, flattened_map = _convert_on_map(call, memo, flattened_map, caller)
        elif x.ndim == 2:
            layer = _convert_on_vectors(call, memo, flattened_map, caller)
            if isinstance(call.module, nn.Linear):
                flattened_map = None
        else:
            raise ValueError(f"{caller}: {call.describe()} gets an input of shape {tuple(x.shape)}; only (N, C, H, W) "
                             f"maps and (N, features) vectors are handled")
        layers.append((call.name or "0", layer))
        previous = call.output
    if traced.output is not previous:
        raise ValueError(f"{caller}: {type(model).__name__} does not return its last layer's output "
                         f"(its forward changes it after the last layer), so no chain of layers reproduces it")
    converted = _nest(layers, caller)
    return converted.train(model.training)


def _check_link(call, previous, caller):
    """The tensor that ``call`` consumes, traced back through flattens: it must be ``previous``,
    the output of the layer before (or the model's input)."""
    if len(call.inputs) != 1 or not isinstance(call.input, Tensor):
        raise ValueError(f"{caller}: {call.describe()} is called with {len(call.inputs)} arguments; only layers taking "
                         f"one tensor can be chained")
    source = call.input
    while source is not previous and _is_flatten(source):
        source = source._ctx.inputs[0]
    if source is not previous:
        raise ValueError(
            f"{caller}: {call.describe()} does not take the output of the layer before it; only chains of layers "
            f"(Sequential models, or features -> avgpool -> flatten -> classifier as in AlexNet and VGG) can be "
            f"converted, not branching models such as ResNet or Inception"
        )
    if call.call > 1:
        raise ValueError(f"{caller}: {call.describe()} is called more than once; a chain of layers uses each once")
    return source


def _is_flatten(tensor):
    """True for the result of ``x.flatten(1)`` (or a reshape to (N, features)) in a forward."""
    ctx = tensor._ctx
    return (ctx is not None and ctx.function is Reshape and tensor.ndim == 2
            and tensor.shape[0] == ctx.inputs[0].shape[0])


def _convert_on_map(call, memo, flattened_map, caller):
    """The replacement of a layer that gets an (N, C, H, W) map, and the flattened map's shape."""
    module, x, out = call.module, call.input, call.output_tensor
    if isinstance(module, nn.Flatten):
        if out.ndim != 2:
            raise ValueError(f"{caller}: {call.describe()} flattens {tuple(x.shape)} to {tuple(out.shape)}; only a "
                             f"flatten to (N, C*H*W) (start_dim=1) precedes a classifier")
        return nn.Identity(), tuple(x.shape[1:])
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.GlobalAvgPool2d):
        in_hw, out_hw = tuple(x.shape[2:]), tuple(out.shape[2:])
        if out_hw == in_hw:
            return nn.Identity(), flattened_map
        if out_hw == (1, 1):
            return nn.AvgPool2d(in_hw, stride=1), flattened_map
        raise ValueError(
            f"{caller}: {call.describe()} pools the {in_hw[0]}x{in_hw[1]} map to {out_hw[0]}x{out_hw[1]} at the "
            f"training size: that is neither the identity nor a global average, so no sliding layer does the "
            f"same on larger images; pass the input_shape whose map is already {out_hw[0]}x{out_hw[1]} "
            f"(224x224 for VGG and AlexNet)"
        )
    if isinstance(module, nn.Linear):
        raise ValueError(f"{caller}: {call.describe()} is applied to the last axis of an (N, C, H, W) map; only Linear "
                         f"layers after a flatten can be converted")
    return copy.deepcopy(module, memo), flattened_map


def _convert_on_vectors(call, memo, flattened_map, caller):
    """The replacement of a layer that gets (N, features) vectors."""
    module = call.module
    if isinstance(module, nn.Linear):
        return _linear_to_conv(module, flattened_map)
    if isinstance(module, nn.Flatten):
        return nn.Identity()  # flattening vectors changes nothing
    if isinstance(module, _ELEMENTWISE):
        return copy.deepcopy(module, memo)
    if isinstance(module, nn.Softmax | nn.LogSoftmax):
        return type(module)(dim=1)  # along the classes, which are the channels of a score map
    raise ValueError(f"{caller}: {call.describe()} acts on the flattened vectors and has no convolutional "
                     f"equivalent here (Linear, dropout, activations and softmax have one)")


def _linear_to_conv(linear, flattened_map):
    """The Conv2d that computes ``linear`` on a map: kernel = the flattened map's H x W (weights
    reshaped from (out, C*H*W) to (out, C, H, W)), or 1x1 when its input was not a flattened map."""
    out_features, in_features = linear.weight.shape
    channels, height, width = flattened_map if flattened_map is not None else (in_features, 1, 1)
    conv = nn.Conv2d(channels, out_features, (height, width), bias=linear.bias is not None)
    conv.weight.data = linear.weight.numpy().reshape(out_features, channels, height, width).copy()
    conv.weight.requires_grad = linear.weight.requires_grad
    if linear.bias is not None:
        conv.bias.data = linear.bias.numpy().copy()
        conv.bias.requires_grad = linear.bias.requires_grad
    return conv


def _nest(layers, caller):
    """An nn.Sequential holding each (dotted name, layer) at its name: "features.0" goes into a
    Sequential "features" as "0". Layers must come container by container, in execution order."""
    root, finished, open_paths = nn.Sequential(), set(), []
    for name, layer in layers:
        *parents, own = name.split(".")
        paths = [".".join(parents[:k + 1]) for k in range(len(parents))]
        finished.update(p for p in open_paths if p not in paths)
        open_paths = paths
        container = root
        for part, path in zip(parents, paths):
            if path in finished:
                raise ValueError(f"{caller}: the layers of {path!r} do not run one after another (layer {name!r} "
                                 f"comes after layers of other modules), so they cannot be rebuilt in order")
            if part not in container._modules:
                container.add_module(part, nn.Sequential())
            container = container._modules[part]
        container.add_module(own, layer)
    return root
