"""Run a model once on one image and record every module call: the common ground of
``summary``, ``receptive_field`` and ``to_fully_convolutional``.

Forward hooks see each call of each module: its name, its inputs and its output. The forward
runs with the graph recorded (the input requires a gradient, even inside ``no_grad``), because
the operations *between* modules (``minidl.cat`` of Inception's branches, the ``+`` of a
residual block, the ``flatten`` before a classifier) leave no trace in the hooks: the only
record of where their inputs came from is each output's ``_ctx.inputs``. The recorded graph
keeps every layer's cache (its input, and for some layers an array or two of the activations'
size) until the trace is dropped: for one image, of the order of the forward pass size that
``summary`` reports (about 180 MB for ResNet-50 at 224x224). Nothing is ever differentiated.
"""

from dataclasses import dataclass, field

import numpy as np

from minidl.grad_mode import enable_grad
from minidl.tensor import Tensor


@dataclass
class ModuleCall:
    """One call of one module during the traced forward.

    Attributes:
        name: the module's dotted name from ``named_modules`` ("features.0", "layer1.0.conv1";
            "" for the model itself).
        module: the module.
        call: 1 for the module's first call in this forward, 2 for its second (a shared
            module), and so on.
        depth: number of dotted parts of ``name`` (0 for the model itself).
        parent: index in ``Trace.calls`` of the call this one ran inside (None for the model).
        end: the calls made inside this one are ``Trace.calls[index + 1:end]``.
        inputs: the positional arguments of the call.
        output: what the call returned (a Tensor, a tuple, ...).
    """

    name: str
    module: object
    call: int
    depth: int
    parent: int | None
    end: int = 0
    inputs: tuple = ()
    output: object = None

    @property
    def is_leaf(self):
        """A module without sub-modules: a layer such as Conv2d or ReLU."""
        return not self.module._modules

    @property
    def type(self):
        return type(self.module).__name__

    def describe(self):
        """ "features.0 (Conv2d)", with "#2" for a module's second call; for messages."""
        return f"{self.name or 'the model'} ({self.type})" + (f" #{self.call}" if self.call > 1 else "")

    @property
    def input(self):
        """The first positional argument: the tensor that flows through the layer."""
        return self.inputs[0] if self.inputs else None

    @property
    def output_tensor(self):
        """The first Tensor the call returned (the output, not e.g. max-pool indices)."""
        tensors = output_tensors(self.output)
        return tensors[0] if tensors else None


@dataclass
class Trace:
    """What one traced forward did.

    Attributes:
        input: the (1, *input_shape) input Tensor.
        output: what the model returned.
        calls: every module call in pre-order: a call comes before the calls made inside it,
            so ``calls[0]`` is the model's own call and the layers follow in execution order.
    """

    input: Tensor
    output: object
    calls: list = field(default_factory=list)

    @property
    def leaves(self):
        """The calls of layers (modules without sub-modules), in execution order."""
        return [c for c in self.calls if c.is_leaf]


def output_tensors(value):
    """The Tensors in a module's return value, in order: the value itself, or the entries of a
    tuple, namedtuple, list or dict (nested ones too)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        return [t for item in value for t in output_tensors(item)]
    return []


def check_input_shape(caller, input_shape):
    """``input_shape`` as a tuple of positive ints (one image, without the batch axis)."""
    shape = tuple(input_shape) if isinstance(input_shape, tuple | list) else None
    if not shape or not all(isinstance(n, int | np.integer) and not isinstance(n, bool) and n > 0 for n in shape):
        raise ValueError(
            f"{caller}: input_shape must be the shape of one image without the batch axis, a tuple of "
            f"positive ints such as (3, 224, 224), got {input_shape!r}"
        )
    return tuple(int(n) for n in shape)


def trace(model, input_shape, dtype=np.float32, caller="trace"):
    """Run ``model`` in evaluation mode on one image of shape ``input_shape`` and record every
    module call.

    The input is a fixed standard-normal image (seed 0, not minidl's generator: tracing must not
    change the random stream of a training run). Every module's ``training`` flag is restored
    afterwards, and the hooks are removed even if the forward raises.
    """
    input_shape = check_input_shape(caller, input_shape)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{caller}: dtype must be a floating point type, got {dtype}")
    image = np.random.default_rng(0).standard_normal((1, *input_shape)).astype(dtype)
    x = Tensor(image, requires_grad=True)

    calls, open_calls, times_called = [], [], {}

    def before(module, inputs, name):
        times_called[id(module)] = times_called.get(id(module), 0) + 1
        depth = name.count(".") + 1 if name else 0
        parent = open_calls[-1] if open_calls else None
        open_calls.append(len(calls))
        calls.append(ModuleCall(name, module, times_called[id(module)], depth, parent, inputs=inputs))

    def after(module, inputs, output):
        record = calls[open_calls.pop()]
        record.inputs, record.output, record.end = inputs, output, len(calls)

    modes = [(module, module.training) for module in model.modules()]
    handles = []
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(lambda m, inputs, name=name: before(m, inputs, name)))
            handles.append(module.register_forward_hook(after))
        model.eval()
        with enable_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            object.__setattr__(module, "training", training)
    return Trace(x, output, calls)
