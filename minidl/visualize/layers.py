"""Naming the layer a view looks at, and checking it: its name, its channels, one output per forward pass.

A view reads a layer's output with a forward hook (``minidl.transfer.FeatureExtractor``). A module
that runs several times in one forward pass (the one ReLU that a ResNet block applies after each of
its convolutions) has several outputs, with different receptive fields; the views refuse it and
name the way out: the block around it, or a module that runs once.
"""

import numpy as np

from minidl.explain.attribution import find_layer, inspecting
from minidl.grad_mode import no_grad
from minidl.tensor import Tensor

__all__ = ["layer_name", "layer_output", "check_channels"]


def layer_name(where, model, layer):
    """The dotted name of ``layer`` (a module of ``model`` or its name), checked."""
    module = find_layer(where, model, layer)
    return next(name for name, candidate in model.named_modules() if candidate is module)


def layer_output(where, model, name, x):
    """The output of module ``name`` for the input ``x`` (an ndarray), in evaluation mode without a
    graph; a module that does not run exactly once in the forward pass is a ValueError."""
    outputs = []
    handle = dict(model.named_modules())[name].register_forward_hook(lambda module, args, out: outputs.append(out))
    try:
        with inspecting(model), no_grad():
            model(Tensor(x))
    finally:
        handle.remove()
    if len(outputs) != 1:
        parent = name.rpartition(".")[0]
        hint = f"the module around it ({parent!r})" if parent else "a module that runs once"
        raise ValueError(f"{where}: the layer {name!r} runs {len(outputs)} times in one forward pass, each output "
                         f"with its own receptive field; choose {hint}")
    return outputs[0]


def check_channels(where, channels, count, name):
    """``channels`` (None: all; an int; a list of ints) as an int array, each in [0, count)."""
    if channels is None:
        return np.arange(count)
    chosen = np.atleast_1d(np.asarray(channels))
    if chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu":
        raise ValueError(f"{where}: channels must be an int or a list of ints, got {channels!r}")
    wrong = chosen[(chosen < 0) | (chosen >= count)]
    if wrong.size:
        raise ValueError(f"{where}: channel {wrong[0]} is out of range for layer {name!r} with {count} channels "
                         f"(0 to {count - 1})")
    return chosen.astype(np.int64)
