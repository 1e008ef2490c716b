"""Batch normalization layers: BatchNorm1d for (N, C) or (N, C, L) inputs, BatchNorm2d for images."""

import numpy as np

from minidl import functional as F
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
    input only. ``num_batches_tracked`` counts training batches.

    Args:
        num_features: C, the size of axis 1 of the input.
        eps: added to the variance before the square root.
        momentum: weight of the newest batch in the running statistics, or None (see above).
        affine: learn ``weight`` (gamma, init 1) and ``bias`` (beta, init 0), each (C,).
        track_running_stats: keep the buffers; if False, batch statistics are used in both modes.
        bias: with ``affine``, whether to learn the shift too (keyword only, as in PyTorch).
    """

    expected_layouts = None  # {ndim: "(N, C, ...)"}, set by the subclasses

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
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
            self.num_batches_tracked.data[...] = 0

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
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_statistics = self.training or self.running_mean is None
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            training=use_batch_statistics, momentum=momentum, eps=self.eps)

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
