"""Normalization layers: BatchNorm1d for (N, C) or (N, C, L) inputs, BatchNorm2d for images,
GroupNorm (per example, over groups of channels) and LayerNorm (per example, over trailing axes)."""

import numpy as np

from minidl import functional as F
from minidl.functional.checks import check_fraction, check_int, check_number
from minidl.kernels import is_int
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class _BatchNorm(Module):
    """Per-channel normalisation with learned scale and shift (``F.batch_norm``).

    Training mode: each channel is normalised with the mean and variance of the batch, and the
    buffers ``running_mean``/``running_var`` are updated in place,

        running = (1 - momentum) * running + momentum * batch statistic

    (``momentum=None`` gives the plain average of all batches so far: momentum = 1 / batches).
    Evaluation mode: the running statistics normalise instead, so an output depends on its own
    input only. ``num_batches_tracked`` counts training batches. A layer whose
    ``statistics_frozen`` is True (``minidl.transfer.freeze`` sets it) behaves as in evaluation
    mode in both modes: a frozen feature extractor keeps the statistics of its source data.

    Args:
        num_features: C, the size of axis 1 of the input.
        eps: added to the variance before the square root.
        momentum: weight of the newest batch in the running statistics, or None (see above).
        affine: learn ``weight`` (gamma, init 1) and ``bias`` (beta, init 0), each (C,).
        track_running_stats: keep the buffers; if False, batch statistics are used in both modes.
        bias: with ``affine``, whether to learn the shift too (keyword only, as in PyTorch).
    """

    expected_layouts = None  # {ndim: "(N, C, ...)"}, set by the subclasses
    statistics_frozen = False  # set by minidl.transfer.freeze: use and keep the running statistics

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
        layer = type(self).__name__
        num_features = check_int(layer, "num_features", num_features, minimum=1)  # PyTorch fails later on 0
        check_number(layer, "eps", eps, minimum=0)
        if momentum is not None:  # None: the cumulative average
            check_fraction(layer, "momentum", momentum)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.empty(num_features, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(np.empty(num_features, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
            self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input):
        layer = type(self).__name__
        layouts = " or ".join(self.expected_layouts.values())
        if input.ndim not in self.expected_layouts:
            raise ValueError(
                f"{layer}: expected input of shape {layouts}, got {input.ndim}-D input of shape {input.shape}"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{layer}: expected C = num_features = {self.num_features} channels in dimension 1, "
                f"got input of shape {input.shape}"
            )

    def forward(self, input):
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        # A layer frozen for transfer learning (minidl.transfer.freeze) normalises as in evaluation
        # and keeps its running statistics, whatever the mode.
        training = self.training and not self.statistics_frozen
        counting = training and self.track_running_stats
        if counting and self.momentum is None:
            momentum = 1.0 / (self.num_batches_tracked.item() + 1)  # this batch included
        use_batch_statistics = training or self.running_mean is None
        output = F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              training=use_batch_statistics, momentum=momentum, eps=self.eps)
        if counting:
            # Counted once F.batch_norm has accepted the input: a refused call changes nothing.
            self.num_batches_tracked.add_(1)
        return output

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features (statistics over N) or (N, C, L) sequences (over N
    and L). Output: the input's shape."""

    expected_layouts = {2: "(N, C)", 3: "(N, C, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images: one mean and variance per channel, over N, H
    and W ("spatial" batch norm). Output: the input's shape."""

    expected_layouts = {4: "(N, C, H, W)"}


class _PerExampleNorm(Module):
    """What GroupNorm and LayerNorm share: an optional learned scale (init 1) and shift (init 0)."""

    def _register_affine(self, shape, affine, bias):
        """``weight`` and ``bias`` of ``shape`` as Parameters, or registered as None where not learned."""
        self.register_parameter("weight", Parameter(np.empty(shape, dtype=np.float32)) if affine else None)
        self.register_parameter("bias", Parameter(np.empty(shape, dtype=np.float32)) if affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class GroupNorm(_PerExampleNorm):
    """Group normalization (``F.group_norm``): each example's channels are split into
    ``num_groups`` groups, each normalised with its own mean and variance, then every channel is
    scaled and shifted. No batch statistics, so training and evaluation behave the same.

    Args:
        num_groups: G, which must divide num_channels.
        num_channels: C, the size of axis 1 of the input.
        eps: added to the variance.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0), each (C,).
        bias: with ``affine``, whether to learn the shift too (keyword only, as in PyTorch).
    Input: (N, C, *). Output: the input's shape.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
        super().__init__()
        num_groups = check_int("GroupNorm", "num_groups", num_groups, minimum=1)
        num_channels = check_int("GroupNorm", "num_channels", num_channels, minimum=1)
        check_number("GroupNorm", "eps", eps, minimum=0)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._register_affine((num_channels,), affine, bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(_PerExampleNorm):
    """Layer normalization (``F.layer_norm``): each slice over the trailing ``normalized_shape``
    axes is normalised with its own mean and variance, then scaled and shifted elementwise.

    Args:
        normalized_shape: an int (the last dimension) or a tuple of the trailing dimensions.
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of normalized_shape.
        bias: with ``elementwise_affine``, whether to learn the shift too.
    Input: (*, *normalized_shape). Output: the input's shape.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        dims = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
        self.normalized_shape = tuple(check_int("LayerNorm", "each entry of normalized_shape", d, minimum=1)
                                      for d in dims)
        if not self.normalized_shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one dimension, got ()")
        check_number("LayerNorm", "eps", eps, minimum=0)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self._register_affine(self.normalized_shape, elementwise_affine, bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
