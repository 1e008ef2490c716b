"""Receptive fields: which input pixels one unit of a feature map can see.

For one axis, a feature map's grid is described by three numbers (Araujo et al., "Computing
receptive fields of convolutional neural networks", Distill 2019):

    r      size: how many input pixels one unit sees
    j      jump: how many input pixels apart two neighbouring units' fields are (the map's
           total stride)
    start  where the centre of the first unit's field lies, in input pixel coordinates with
           pixel 0 spanning [0, 1] (so the input itself has r = 1, j = 1, start = 0.5)

A sliding window (convolution or pooling) with kernel k, stride s, padding p and dilation d
spans k_eff = d*(k - 1) + 1 input positions, and maps the three numbers of its input to

    j_out     = j_in * s
    r_out     = r_in + (k_eff - 1) * j_in
    start_out = start_in + ((k_eff - 1)/2 - p) * j_in

Batch norm, activations and dropout act on each position alone and keep the field; global
pooling, flattening and fully connected layers mix every position, and their units see the
whole input ("full", ``size`` None).

Branches (Inception's concatenation, a residual block's sum, DenseNet's concatenation) are
joined by operations outside any module; ``FieldTracker`` finds the fields of their inputs by
walking the autograd graph (each result's ``_ctx.inputs``) back to tensors whose field is
known, and takes the *union* of those fields: the smallest window covering all of them. The
branches' grids must line up (equal jumps); otherwise the joined units see differently spaced
pixels and the field is reported as unknown, with a note saying where.

A field may be larger than the image: the part outside it is padding.
"""

from dataclasses import dataclass

import numpy as np

from minidl import kernels, nn
from minidl.analysis.trace import trace
from minidl.functional import conv as conv_functions
from minidl.functional import pool as pool_functions
from minidl.tensor import Tensor

__all__ = ["ReceptiveField", "receptive_field"]


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one feature map, per axis (height, width).

    Attributes:
        size: (rows, columns) of input pixels that one unit sees, or None when every unit sees
            the whole input (after global pooling, a flatten or a fully connected layer).
        jump: (rows, columns) of input pixels between the fields of two neighbouring units: the
            total stride of the map. None when ``size`` is None.
        start: centre (row, column) of the first unit's field in input pixel coordinates, pixel
            0 spanning [0, 1]; negative or past the image when padding shifts it. None when
            ``size`` is None.
    """

    size: tuple | None
    jump: tuple | None = None
    start: tuple | None = None

    @property
    def is_full(self):
        """True when every unit sees the whole input."""
        return self.size is None

    def window(self, kernel, stride, padding, dilation):
        """The field after a sliding window (the recurrence of the module docstring), per axis."""
        size, jump, start = [], [], []
        for r, j, s0, k, s, p, d in zip(self.size, self.jump, self.start, kernel, stride, padding, dilation):
            span = d * (k - 1) + 1  # k_eff
            size.append(r + (span - 1) * j)
            jump.append(j * s)
            start.append(s0 + ((span - 1) / 2 - p) * j)
        return ReceptiveField(tuple(size), tuple(jump), tuple(start))

    def extent(self):
        """Per axis, the interval (first, last) of input coordinates the first unit sees."""
        return tuple((s - r / 2, s + r / 2) for r, s in zip(self.size, self.start))

    def __str__(self):
        if self.is_full:
            return "full"
        size = "x".join(str(n) for n in self.size)
        return f"{size}, jump {format_pair(self.jump)}, start {format_pair(self.start)}"


FULL = ReceptiveField(None)
INPUT_PIXEL = ReceptiveField((1, 1), (1, 1), (0.5, 0.5))
# The field of a tensor computed without the input image (a parameter, a constant): it adds no
# pixels to a union.
_INDEPENDENT = "independent of the input"


def format_pair(values):
    """(32, 32) -> "32"; (2, 1) -> "2,1"; floats without trailing zeros (0.5, -89.5)."""
    texts = [f"{v:g}" for v in values]
    return texts[0] if texts[0] == texts[1] else ",".join(texts)


def union(fields):
    """The smallest field that contains every field of ``fields`` (all with equal jumps), per axis.

    Field f covers [start - r/2, start + r/2]; the union covers [min of the lows, max of the
    highs], so r = high - low and start = (low + high)/2.
    """
    if any(f.is_full for f in fields):
        return FULL
    lows = np.min([[low for low, _ in f.extent()] for f in fields], axis=0)
    highs = np.max([[high for _, high in f.extent()] for f in fields], axis=0)
    size = tuple(int(round(h - lo)) for lo, h in zip(lows, highs))
    start = tuple(float(lo + h) / 2 for lo, h in zip(lows, highs))
    return ReceptiveField(size, fields[0].jump, start)


# Sliding-window operations called as functions (F.conv2d, F.max_pool2d ...) outside a module:
# their kernel and stride are not recorded in the graph, so the field after them is unknown.
_WINDOW_FUNCTIONS = (conv_functions.Conv2d, conv_functions.ConvTranspose2d, pool_functions.MaxPool2d,
                     pool_functions.AvgPool2d, pool_functions.AdaptiveAvgPool2d, pool_functions.MaxUnpool2d)
_POINTWISE_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Dropout,
                     nn.Identity)


class FieldTracker:
    """The receptive fields of the tensors of one traced forward.

    ``set`` records the field of a layer's output; ``field_of`` finds the field of any tensor:
    a recorded one directly, any other by walking back through the operations that made it.
    Unknown fields are None, and ``notes`` says why (once, where the field got lost).
    """

    def __init__(self, input_tensor):
        # id -> (tensor, field); the tensor is kept so that its id cannot be reused.
        self._known = {id(input_tensor): (input_tensor, INPUT_PIXEL)}
        self.notes = []

    def set(self, tensor, field):
        self._known[id(tensor)] = (tensor, field)

    def field_of(self, tensor, where):
        """The field of ``tensor`` (``where`` names its consumer, for the notes)."""
        if id(tensor) in self._known:
            return self._known[id(tensor)][1]
        ctx = tensor._ctx
        if ctx is None:  # a leaf that is not the input: a parameter, buffer or constant
            return _INDEPENDENT
        sources = [(t, self.field_of(t, where)) for t in ctx.inputs if isinstance(t, Tensor)]
        field = self._join(ctx.function, tensor, [(t, f) for t, f in sources if f is not _INDEPENDENT], where)
        self.set(tensor, field)
        return field

    def _join(self, function, output, sources, where):
        """The field of ``output`` = ``function`` of ``sources``, an operation outside any module."""
        name = function.__name__
        if not sources:
            return _INDEPENDENT
        fields = [f for _, f in sources]
        if any(f is None for f in fields):
            return None
        if issubclass(function, _WINDOW_FUNCTIONS):
            if issubclass(function, pool_functions.AdaptiveAvgPool2d) and output.shape[2:] == (1, 1):
                return FULL  # F.adaptive_avg_pool2d(x, 1): global average pooling
            self.notes.append(f"{name} called as a function (not a module) before {where}: its window is not "
                              f"recorded, so the receptive field after it is unknown")
            return None
        if any(f.is_full for f in fields) or output.ndim != 4:
            return FULL  # flattened or reduced over the positions: every unit mixes the whole map
        if any(t.ndim != 4 or t.shape[2:] != output.shape[2:] for t, _ in sources):
            self.notes.append(f"{name} before {where} changes the spatial layout (from "
                              f"{[tuple(t.shape) for t, _ in sources]} to {tuple(output.shape)}): the receptive "
                              f"field after it is unknown")
            return None
        jumps = sorted({f.jump for f in fields})
        if len(jumps) > 1:
            self.notes.append(f"{name} before {where} joins feature maps with different jumps {jumps}: their "
                              f"units do not line up, so the receptive field after it is undefined")
            return None
        return union(fields)


def layer_field(call, field_in, notes):
    """The receptive field of the output of one layer call, given the field of its input."""
    module, where = call.module, call.describe()
    if field_in is None or field_in is _INDEPENDENT:
        return field_in
    if isinstance(module, nn.Linear | nn.Flatten):
        return FULL
    if field_in.is_full:
        return FULL
    if isinstance(module, nn.Conv2d):
        padding = module.padding
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":  # the extra pixel of an odd total goes to the bottom/right
            padding = tuple(d * (k - 1) // 2 for k, d in zip(module.kernel_size, module.dilation))
        return field_in.window(module.kernel_size, module.stride, padding, module.dilation)
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        layer = type(module).__name__
        kernel = kernels.pair(module.kernel_size, "kernel_size", layer)
        stride = kernels.pair(module.stride, "stride", layer)
        padding = kernels.pair(module.padding, "padding", layer)
        dilation = kernels.pair(module.dilation if isinstance(module, nn.MaxPool2d) else 1, "dilation", layer)
        return field_in.window(kernel, stride, padding, dilation)
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.GlobalAvgPool2d):
        return _adaptive_pool_field(field_in, call, notes)
    if isinstance(module, nn.Softmax | nn.LogSoftmax):
        if call.input.ndim <= 2 or module.dim % call.input.ndim == 1:
            return field_in  # along the channels: each position on its own
        notes.append(f"{where}: a softmax along a spatial axis mixes positions; the field after it is unknown")
        return None
    if isinstance(module, _POINTWISE_LAYERS):
        return field_in
    notes.append(f"{where}: no receptive-field rule for {type(module).__name__}; the field after it is unknown")
    return None


def _adaptive_pool_field(field_in, call, notes):
    """Adaptive average pooling from H x W to OH x OW: global (1x1) -> full; OH = H -> the identity;
    H a multiple of OH -> a pool with kernel = stride = H/OH; otherwise its windows differ in size
    and overlap unevenly: unknown."""
    in_hw, out_hw = call.input.shape[2:], call.output_tensor.shape[2:]
    if out_hw == (1, 1):
        return FULL
    if all(n % m == 0 for n, m in zip(in_hw, out_hw)):
        ratio = tuple(n // m for n, m in zip(in_hw, out_hw))
        return field_in.window(ratio, ratio, (0, 0), (1, 1))
    notes.append(f"{call.describe()}: adaptive pooling from {tuple(in_hw)} to {tuple(out_hw)} uses windows of "
                 f"unequal sizes; the field after it is unknown")
    return None


def call_fields(traced):
    """The receptive field of every call's output in ``traced`` (a ``Trace``).

    Returns ``(fields, notes)``: ``fields[i]`` is a ReceptiveField or None (unknown, or a call
    whose output does not depend on the input) for ``traced.calls[i]``; ``notes`` explains
    every unknown field.
    """
    tracker = FieldTracker(traced.input)
    fields = [None] * len(traced.calls)
    # Layers first, in execution order: each one's input comes from layers already done.
    for i, call in enumerate(traced.calls):
        if call.is_leaf:
            field_in = tracker.field_of(call.input, call.describe()) if isinstance(call.input, Tensor) else None
            fields[i] = layer_field(call, field_in, tracker.notes)
            if call.output_tensor is not None:
                tracker.set(call.output_tensor, fields[i])
    # A container's output was made by its layers and the operations between them.
    for i, call in enumerate(traced.calls):
        if not call.is_leaf and call.output_tensor is not None:
            fields[i] = tracker.field_of(call.output_tensor, f"the output of {call.describe()}")
    return [None if f is _INDEPENDENT else f for f in fields], tracker.notes


def last_feature_map(traced, fields):
    """The index in ``traced.calls`` of the call that output the last feature map: the last
    (N, C, H, W) output whose units do not see the whole input. None if there is none."""
    # Calls in the order they finished: a call that ends with the same layer as the call it ran
    # inside finishes before it (so Inception's concatenation counts, not its last branch).
    finished = sorted(range(len(traced.calls)), key=lambda i: (traced.calls[i].end, -i))
    for i in reversed(finished):
        output = traced.calls[i].output_tensor
        if output is not None and output.ndim == 4 and not (fields[i] is not None and fields[i].is_full):
            return i
    return None


def receptive_field(model, input_shape, layer=None, *, dtype=np.float32):
    """The receptive field of a feature map of ``model`` on images of shape ``input_shape``.

    Args:
        model: a Module taking (N, *input_shape) images.
        input_shape: one image without the batch axis, e.g. (3, 224, 224).
        layer: the dotted name of a module ("features.30", "layer4"): the field of its output
            (at its last call, for a shared module). None: the last feature map, the last
            module output that is still an (N, C, H, W) map whose units do not see the whole
            image, e.g. ResNet's ``layer4``, GoogLeNet's ``inception5b`` (the model's own output
            counts: a fully convolutional network's score map).
        dtype: dtype of the traced input, that of the model's parameters.

    Returns:
        a ``ReceptiveField`` (size, jump and start per axis, or ``size`` None for "full").

    Raises:
        ValueError: no module called ``layer`` ran; the model has no feature map; or the field
            is unknown (the message says why, e.g. branches with different jumps joined).
    """
    traced = trace(model, input_shape, dtype, "receptive_field")
    fields, notes = call_fields(traced)
    if layer is None:
        index = last_feature_map(traced, fields)
        if index is None:
            raise ValueError(f"receptive_field: no layer of {type(model).__name__} outputs an (N, C, H, W) "
                             f"feature map whose units see part of the image")
    else:
        matches = [i for i, c in enumerate(traced.calls) if c.name == layer]
        if not matches:
            ran = ", ".join(sorted({c.name for c in traced.calls if c.name}))
            raise ValueError(f"receptive_field: no module called {layer!r} ran in {type(model).__name__}; "
                             f"the modules that ran are: {ran}")
        index = matches[-1]
    if fields[index] is None:
        raise ValueError(f"receptive_field: the field of {traced.calls[index].describe()} is unknown: "
                         + ("; ".join(notes) or "its output does not depend on the input"))
    return fields[index]
