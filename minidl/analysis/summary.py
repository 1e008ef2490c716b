"""``summary``: a table of a model's layers, as ``torchinfo.summary`` prints for PyTorch.

    result = summary(lenet5(), (1, 28, 28))      # prints:
    Input shape: 1x28x28 (one image)
    Layer (type)                  Output shape  Param #     MACs     RF  Jump  Start
    features.conv1 (Conv2d)       6x28x28           156  117,600    5x5     1    0.5
    ...
    summary(lenet5(), input_size=(64, 1, 28, 28))   # torchinfo's habit: the batch axis and its keyword

A 4-entry shape is (N, C, H, W), a batch of N images; any shorter one is one sample without
the batch axis. The table is of one image either way (its first line says which shape it was
given): for a batch, multiply the MACs and the activation sizes by N.

One image (batch 1) goes through the model in evaluation mode; a forward hook on every module
records each call. Per row: the output shape of one image (C x H x W, without the batch axis),
the parameters, the multiply-accumulate operations (MACs) and the receptive field of the output
(size, jump and start: see ``minidl.analysis.receptive_field``).

Counting MACs, per image, as torchvision's model tables and fvcore do (bias additions not
counted):

    Conv2d           H_out * W_out * C_out * (C_in / groups) * kH * kW
    ConvTranspose2d  H_in * W_in * C_in * (C_out / groups) * kH * kW
    Linear           in_features * out_features (per input row)

Every other layer counts 0: batch norm, activations, pooling and dropout cost a few operations
per value, which is small next to the convolutions, and operations outside modules (the ``+``
of a residual block, ``F.conv2d`` called directly) are not counted at all. One MAC is a multiply
and an add, so FLOPs = 2 x MACs; torchvision's "GFLOPS" column lists MACs.
"""

from dataclasses import dataclass, field

import numpy as np

from minidl.analysis.receptive_field import ReceptiveField, call_fields, format_pair, last_feature_map
from minidl.analysis.trace import output_tensors, trace
from minidl.nn import Conv2d, ConvTranspose2d, Linear, Module

__all__ = ["summary", "ModelSummary", "LayerRow", "layer_macs"]

MB = 1e6  # bytes per megabyte, as torchinfo counts


@dataclass
class LayerRow:
    """One row of the table: one call of a layer, or of a container with its layers folded in.

    Attributes:
        name: the module's dotted name ("features.0", "layer1.0.conv1"; "" for a model that is
            a single layer).
        type: the module's class name.
        call: 1 for the module's first call in the forward, 2 for its second (a shared module
            such as ResNet's ``relu``, used twice per block), ...
        output_shape: the output of one image without the batch axis, e.g. (96, 55, 55); a
            tuple of such shapes for a module that returns several tensors.
        params, trainable_params: parameters of the module (those with ``requires_grad``),
            counted at its first call only (0 on later calls).
        macs: multiply-accumulates of this call (for a container, of its layers' calls).
        receptive_field: the field of the output (a ``ReceptiveField``; ``size`` None for
            "full"), or None when unknown (see ``ModelSummary.notes``).
    """

    name: str
    type: str
    call: int
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int
    receptive_field: ReceptiveField | None


@dataclass
class ModelSummary:
    """What ``summary`` found. ``str(result)`` is the table.

    Attributes:
        rows: the table's rows (``LayerRow``), in execution order: every layer call, or with
            ``depth`` the calls of modules at that depth with their layers folded in.
        input_shape: the shape of one image (the batch axis dropped when one was given).
        batch_size: N of an input shape (N, C, H, W), or None when the shape had no batch axis.
        output_shape: the model's output for one image, without the batch axis.
        total_params, trainable_params: over ``model.parameters()``, each parameter once.
        total_macs: multiply-accumulates of one image through every layer call.
        input_bytes: bytes of the input image.
        forward_bytes: bytes of every layer call's output for one image (the activations
            that a training step keeps for its backward pass).
        param_bytes: bytes of the parameters.
        feature_map: the name of the last feature map's layer (see ``receptive_field``;
            "" for the model's own output), or None when there is none.
        receptive_field: the receptive field of that feature map (None if unknown or none).
        notes: why some receptive fields are unknown.
    """

    rows: list
    input_shape: tuple
    output_shape: tuple
    total_params: int
    trainable_params: int
    total_macs: int
    input_bytes: int
    forward_bytes: int
    param_bytes: int
    batch_size: int | None = None
    feature_map: str | None = None
    receptive_field: ReceptiveField | None = None
    notes: list = field(default_factory=list)

    @property
    def non_trainable_params(self):
        return self.total_params - self.trainable_params

    @property
    def total_flops(self):
        """2 x MACs: each multiply-accumulate is one multiplication and one addition."""
        return 2 * self.total_macs

    @property
    def forward_backward_bytes(self):
        """Twice the activations: backward keeps one gradient array per saved output."""
        return 2 * self.forward_bytes

    @property
    def total_bytes(self):
        """torchinfo's "estimated total size": input, forward/backward activations, parameters."""
        return self.input_bytes + self.forward_backward_bytes + self.param_bytes

    def __str__(self):
        return format_table(self)

    def __repr__(self):
        return (f"ModelSummary({len(self.rows)} rows, {self.total_params:,} parameters, "
                f"{self.total_macs:,} MACs)")


def layer_macs(module, input, output):
    """Multiply-accumulates of one call of ``module`` per image (the rules of the module
    docstring); 0 for layers other than convolutions and Linear."""
    if isinstance(module, Conv2d):
        out_channels, out_h, out_w = output.shape[1:]
        kh, kw = module.kernel_size
        return out_h * out_w * out_channels * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, ConvTranspose2d):
        # Every input value is multiplied by a kH x kW stamp for each of C_out/groups channels.
        in_channels, in_h, in_w = input.shape[1:]
        kh, kw = module.kernel_size
        return in_h * in_w * in_channels * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, Linear):
        rows_per_image = input.numel() // (input.shape[0] * module.in_features)
        return rows_per_image * module.in_features * module.out_features
    return 0


def summary(model, input_shape=None, *, input_size=None, depth=None, dtype=np.float32, print_table=True):
    """Shapes, parameters, MACs and receptive fields of every layer of ``model``.

    Args:
        model: the Module; it runs once on one image in evaluation mode (BatchNorm uses its
            running statistics, which are not updated), and every module's mode is restored.
        input_shape: one image without the batch axis, e.g. (3, 224, 224), or a batch of them
            with it, (N, 3, 224, 224) (the table is still of one image).
        input_size: the same, under torchinfo's name; give one of the two.
        depth: None for a row per layer call; a positive int for a row per call of the modules
            at that depth of the dotted names (1: ``features``, ``classifier``; 2:
            ``layer1.0``, ...), each with its layers folded in; layers higher up keep a row.
        dtype: dtype of the input image; that of the model's parameters.
        print_table: print the table.

    Returns:
        a ``ModelSummary``; ``str()`` of it is the table.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a minidl.nn.Module, got {type(model).__name__}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"summary: depth must be None or a positive int, got {depth!r}")
    input_shape, batch_size = _split_batch(input_shape, input_size)
    traced = trace(model, input_shape, dtype, "summary")
    fields, notes = call_fields(traced)
    calls = traced.calls
    macs = [layer_macs(c.module, c.input, c.output_tensor) if c.is_leaf else 0 for c in calls]

    rows = []
    for i in _row_calls(calls, depth):
        call = calls[i]
        params = list(call.module.parameters()) if call.call == 1 else []
        rows.append(LayerRow(
            name=call.name,
            type=call.type,
            call=call.call,
            output_shape=_per_image_shape(call.output),
            params=int(sum(p.numel() for p in params)),
            trainable_params=int(sum(p.numel() for p in params if p.requires_grad)),
            macs=int(sum(macs[i:call.end])),
            receptive_field=fields[i],
        ))

    parameters = list(model.parameters())
    feature_map = last_feature_map(traced, fields)
    result = ModelSummary(
        rows=rows,
        input_shape=tuple(input_shape),
        batch_size=batch_size,
        output_shape=_per_image_shape(traced.output),
        total_params=int(sum(p.numel() for p in parameters)),
        trainable_params=int(sum(p.numel() for p in parameters if p.requires_grad)),
        total_macs=int(sum(macs)),
        input_bytes=traced.input.numpy().nbytes,
        forward_bytes=int(sum(t.numpy().nbytes for c in calls if c.is_leaf for t in output_tensors(c.output))),
        param_bytes=int(sum(p.numpy().nbytes for p in parameters)),
        feature_map=None if feature_map is None else calls[feature_map].name,
        receptive_field=None if feature_map is None else fields[feature_map],
        notes=notes,
    )
    if print_table:
        print(result)
    return result


def _split_batch(input_shape, input_size):
    """(the shape of one sample, N or None) from ``input_shape`` or ``input_size``: a 4-entry
    shape is (N, C, H, W); the shape of one sample is checked by ``trace``."""
    if (input_shape is None) == (input_size is None):
        given = "both" if input_shape is not None else "neither"
        raise TypeError(f"summary: give the input's shape as input_shape or as input_size (torchinfo's "
                        f"name), e.g. summary(model, (3, 224, 224)); got {given}")
    shape = input_shape if input_size is None else input_size
    if not (isinstance(shape, tuple | list) and len(shape) == 4):
        return shape, None
    batch = shape[0]
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
        raise ValueError(
            f"summary: a 4-entry input shape is (N, C, H, W) with a batch size N >= 1, got {tuple(shape)!r}"
        )
    return tuple(shape[1:]), int(batch)


def _row_calls(calls, depth):
    """Indices of the calls that get a row: each layer call, and with ``depth`` each call of a
    module at that depth or deeper (folding its layers in), unless it ran inside a call that
    already has a row."""
    rows, inside_row = [], set()
    for i, call in enumerate(calls):
        if call.parent in inside_row:
            inside_row.add(i)
        elif call.is_leaf or (depth is not None and call.depth >= depth):
            rows.append(i)
            inside_row.add(i)
    return rows


def _per_image_shape(value):
    """The shape of one image's output (batch axis dropped); a tuple of shapes for several."""
    shapes = [tuple(t.shape[1:]) for t in output_tensors(value)]
    if len(shapes) == 1:
        return shapes[0]
    return tuple(shapes)


# ---------------------------------------------------------------------------- the table
COLUMNS = ("Layer (type)", "Output shape", "Param #", "MACs", "RF", "Jump", "Start")
RIGHT_ALIGNED = {"Param #", "MACs", "RF", "Jump", "Start"}


def format_table(result):
    """The text table of a ``ModelSummary``, torchinfo-like: one line per row, then totals."""
    cells = [COLUMNS] + [_row_cells(row) for row in result.rows]
    widths = [max(len(line[k]) for line in cells) for k in range(len(COLUMNS))]

    def line(values):
        parts = [v.rjust(w) if title in RIGHT_ALIGNED else v.ljust(w)
                 for v, w, title in zip(values, widths, COLUMNS)]
        return "  ".join(parts).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    heavy, light = "=" * width, "-" * width
    field = result.receptive_field
    where = "the output" if result.feature_map == "" else result.feature_map
    shape = "x".join(str(n) for n in result.input_shape)
    given = (f"Input shape: {shape} (one image)" if result.batch_size is None else
             f"Input shape: {result.batch_size}x{shape} (a batch of {result.batch_size}; the table is of one image)")
    lines = [given, heavy, line(COLUMNS), heavy, *(line(c) for c in cells[1:]), heavy,
             f"Total params: {result.total_params:,}",
             f"Trainable params: {result.trainable_params:,}",
             f"Non-trainable params: {result.non_trainable_params:,}",
             f"Total MACs: {result.total_macs:,} ({_scaled(result.total_macs)}); "
             f"FLOPs = 2 x MACs = {_scaled(result.total_flops)}"]
    if result.feature_map is not None:
        lines.append(f"Receptive field of the last feature map ({where}): "
                     f"{'unknown' if field is None else field}")
    lines += [light,
              f"Input size (MB): {result.input_bytes / MB:.2f}",
              f"Forward pass size (MB): {result.forward_bytes / MB:.2f}",
              f"Forward/backward pass size (MB): {result.forward_backward_bytes / MB:.2f}",
              f"Params size (MB): {result.param_bytes / MB:.2f}",
              f"Estimated total size (MB): {result.total_bytes / MB:.2f}",
              heavy]
    if result.notes:
        lines += ["Notes:", *(f"  - {note}" for note in result.notes)]
    return "\n".join(lines)


def _row_cells(row):
    label = f"{row.name} ({row.type})" if row.name else f"({row.type})"
    if row.call > 1:
        label += f" #{row.call}"
    params = "--" if row.call > 1 else f"{row.params:,}"
    return (label, _shape_text(row.output_shape), params, f"{row.macs:,}", *_field_cells(row.receptive_field))


def _shape_text(shape):
    """(96, 55, 55) -> "96x55x55"; several outputs -> "(96x27x27, 96x27x27)"."""
    if shape and isinstance(shape[0], tuple):
        return "(" + ", ".join(_shape_text(s) for s in shape) + ")"
    return "x".join(str(n) for n in shape)


def _field_cells(field):
    """Receptive field size, jump and start; "full" when every unit sees the whole input, "?" when
    unknown."""
    if field is None:
        return "?", "", ""
    if field.is_full:
        return "full", "", ""
    return "x".join(str(n) for n in field.size), format_pair(field.jump), format_pair(field.start)


def _scaled(count):
    """15470264320 -> "15.47 G"."""
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if count >= factor:
            return f"{count / factor:.2f} {unit}"
    return str(count)
