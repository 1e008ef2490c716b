"""New heads and new inputs for a pretrained network.

``replace_head(model, num_classes)`` swaps the layer that produces the class scores for a new,
freshly initialised one with ``num_classes`` outputs, wherever the model keeps it:

- ``fc`` (ResNets, CIFAR ResNets, GoogLeNet), ``classifier`` as one Linear (DenseNet) or the last
  Linear of a ``classifier`` Sequential (LeNet-5, AlexNet, ZFNet, VGG, MobileNet, small VGG);
- GoogLeNet's auxiliary classifiers ``aux1.fc2`` and ``aux2.fc2`` as well, so training with their
  losses still works;
- a network whose classes come out of a convolution (the all-convolutional net's 1x1 ``conv9``):
  the last Conv2d whose output channels are the model's classes.

``adapt_input_channels(model, in_channels)`` changes what the first convolution accepts, grey
images for a colour network or the reverse, with the usual trick that keeps the response to a
grey image unchanged: colour -> grey sums each filter over its three colour planes (a grey image
given as three equal planes met exactly that sum), grey -> colour repeats the plane and divides
by three.
"""

import numpy as np

from minidl import nn
from minidl.nn.module import Module

__all__ = ["replace_head", "find_head", "adapt_input_channels"]


def _dtype(module):
    return next(iter(module.parameters())).dtype


def _new_linear(old, num_classes):
    return nn.Linear(old.in_features, num_classes, bias=old.bias is not None).to(_dtype(old))


def _new_conv(old, num_classes):
    new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, stride=old.stride, padding=old.padding,
                    dilation=old.dilation, groups=1, bias=old.bias is not None)
    return new.to(_dtype(old))


def _last_linear_name(sequential, prefix):
    names = [name for name, m in sequential.named_children() if isinstance(m, nn.Linear)]
    return f"{prefix}.{names[-1]}" if names else None


def find_head(model):
    """The dotted names of the modules that produce class scores (the main head first)."""
    heads = []
    fc, classifier = getattr(model, "fc", None), getattr(model, "classifier", None)
    if isinstance(fc, nn.Linear):
        heads.append("fc")
    elif isinstance(classifier, nn.Linear):
        heads.append("classifier")
    elif isinstance(classifier, nn.Sequential) and _last_linear_name(classifier, "classifier"):
        heads.append(_last_linear_name(classifier, "classifier"))
    else:
        convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        classes = getattr(model, "num_classes", None)
        producing = [name for name, m in convs if classes is None or m.out_channels == classes]
        if producing:
            heads.append(producing[-1])
    for aux in ("aux1", "aux2"):
        module = getattr(model, aux, None)
        if module is not None and isinstance(getattr(module, "fc2", None), nn.Linear):
            heads.append(f"{aux}.fc2")
    if not heads:
        raise ValueError(
            f"replace_head: found no head in {type(model).__name__} (no fc, classifier or class-producing "
            "convolution); name it with head='module.name'"
        )
    return heads


def _set_submodule(model, name, module):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def replace_head(model, num_classes, head=None):
    """Give ``model`` a new, freshly initialised head with ``num_classes`` outputs (in place).

    Args:
        model: a zoo model, or any Module with a recognisable head (see the module docstring).
        num_classes: the number of classes of the new task.
        head: the dotted name of the layer to replace (a Linear or a Conv2d), or None to find it.
    Returns the model. The new layers train (``requires_grad=True``) even if the body is frozen.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 1:
        raise ValueError(f"replace_head: num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(model, Module):
        raise TypeError(f"replace_head: expected a Module, got {type(model).__name__}")
    names = find_head(model) if head is None else [head]
    known = dict(model.named_modules())
    for name in names:
        if name not in known:
            raise KeyError(f"replace_head: {type(model).__name__} has no module named {name!r}; "
                           f"its top-level modules are {', '.join(n for n, _ in model.named_children())}")
        old = known[name]
        if isinstance(old, nn.Linear):
            _set_submodule(model, name, _new_linear(old, int(num_classes)))
        elif isinstance(old, nn.Conv2d):
            _set_submodule(model, name, _new_conv(old, int(num_classes)))
        else:
            raise TypeError(f"replace_head: {name!r} is a {type(old).__name__}; expected a Linear or Conv2d head")
    if hasattr(model, "num_classes"):
        model.num_classes = int(num_classes)
    return model


def adapt_input_channels(model, in_channels):
    """Make the first convolution take ``in_channels`` planes (1 <-> 3), keeping its response to grey.

    Returns the model (changed in place). The new first layer keeps training or frozen as before.
    """
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"adapt_input_channels: {type(model).__name__} has no Conv2d")
    name, conv = convs[0]
    old = conv.in_channels
    if in_channels == old:
        return model
    if conv.groups != 1:
        raise ValueError(f"adapt_input_channels: the first convolution {name!r} is grouped (groups={conv.groups})")
    weight = conv.weight.numpy()
    if in_channels == 1:
        new_weight = weight.sum(axis=1, keepdims=True)
    elif old == 1:
        new_weight = np.repeat(weight, in_channels, axis=1) / in_channels
    else:
        raise ValueError(f"adapt_input_channels: can turn {old} input channels into 1, or 1 into any number; "
                         f"got {old} -> {in_channels}")
    trainable = conv.weight.requires_grad
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                    dilation=conv.dilation, bias=conv.bias is not None).to(weight.dtype)
    new.weight.data = new_weight.astype(weight.dtype)
    if conv.bias is not None:
        new.bias.data = conv.bias.numpy().copy()
    new.requires_grad_(trainable)
    _set_submodule(model, name, new)
    if hasattr(model, "in_channels"):
        model.in_channels = in_channels
    return model
