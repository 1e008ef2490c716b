"""Normalization layers as forward/backward pairs: batch, group and layer normalization.

Batch normalization (Ioffe & Szegedy, 2015) is described first; group normalization (Wu & He,
2018) and layer normalization (Ba et al., 2016) follow at the end of the file. All three compute
xhat = (x - mean) / sqrt(var + eps) and then a learned scale and shift; they differ in which
values share a mean and a variance.

Each channel c is normalised with a mean and a variance taken over every axis except the
channel axis 1: over N for (N, C) inputs (BatchNorm1d), over N and L for (N, C, L), over N, H
and W for (N, C, H, W) (BatchNorm2d). Then a learned per-channel scale gamma and shift beta
are applied:

    xhat = (x - mean) / sqrt(var + eps),    out = gamma * xhat + beta

In training the mean and (biased) variance come from the batch, and running estimates are
updated for later use; in evaluation the running estimates are used instead, which makes the
layer a fixed per-channel affine map.
Arguments are assumed valid: ``minidl.functional`` checks them.

Each pass over the activations (the per-channel moments, the affine maps, the two sums of the
backward pass) is a kernel in ``minidl.kernels.channels``, which has a plain NumPy twin.
"""

import numpy as np

from minidl import kernels


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5,
                       for_backward=True):
    """Normalise each channel of ``x``, then scale by gamma and shift by beta.

    Args:
        x: (N, C) or (N, C, L) or (N, C, H, W), floating point.
        gamma, beta: (C,) or None (no scale / no shift: ``affine=False``).
        running_mean, running_var: (C,) arrays or None. In training they are updated IN PLACE,
            as in PyTorch:  running = (1 - momentum) * running + momentum * batch_statistic,
            where the variance that enters running_var is the UNBIASED one, var * M / (M - 1),
            with M = the number of values per channel (N, N*L or N*H*W).
            In evaluation they are the mean and variance used to normalise.
        training: use batch statistics (True) or the running ones (False).
        momentum: weight of the newest batch in the running estimates.
        eps: added to the variance so that a constant channel does not divide by zero.
        for_backward: False when no backward pass will follow (``minidl.no_grad``): then xhat
            is neither computed nor kept, and the cache is None.
    Returns:
        out: same shape as x, (x - mean) * (gamma / std) + beta computed in one pass, so that
            inference and training give the same numbers to the last bit.
        cache: (xhat, std, gamma, has_beta, training) with xhat the normalised input (x's
            shape), std = sqrt(var + eps) of shape (C,) and has_beta whether beta was given;
            None when for_backward is False.
    """
    if training:
        mean, var = kernels.channel_moments(x)  # biased var (divides by M): this batch's own
        count = x.size // x.shape[1]
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))
    else:
        mean = running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)
    std = np.sqrt(var + eps)
    zeros = np.zeros_like(std)
    scale, shift = 1 / std if gamma is None else gamma / std, zeros if beta is None else beta
    if not for_backward:
        return kernels.channel_affine(x, mean, scale, shift), None
    if gamma is None and beta is None:
        out = xhat = kernels.channel_affine(x, mean, scale, shift)        # out is xhat itself
    else:
        # out and xhat = (x - mean) * (1/std) + 0 in one pass over x, each by the same formula
        # as channel_affine's.
        out, xhat = kernels.channel_affine_pair(x, mean, scale, shift, 1 / std)
    return out, (xhat, std, gamma, beta is not None, training)


def batch_norm_backward(dout, cache):
    """Gradients of batch normalization.

    With M values per channel and sums taken per channel over the M positions:

        dbeta  = sum(dout)
        dgamma = sum(dout * xhat)

    Training: mean and var depend on x too, so dx collects three paths (directly through xhat,
    through the mean, through the variance). With dxhat = gamma * dout they add up to

        dx = (1 / (M * std)) * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))
           = (gamma / (M * std)) * (M * dout - dbeta - xhat * dgamma)

    Evaluation: mean and std are constants, so the layer is the affine map x -> gamma/std * x + c
    and dx = (gamma / std) * dout.

    Returns:
        (dx, dgamma, dbeta): dx of x's shape; dgamma, dbeta of shape (C,), or None where gamma /
        beta was None.
    """
    xhat, std, gamma, has_beta, training = cache
    dbeta, dgamma = kernels.channel_sums(dout, xhat)
    scale = (1 if gamma is None else gamma) / std
    if training:
        dx = kernels.batch_norm_input_grad(dout, xhat, dbeta, dgamma, scale)
    else:
        dx = kernels.channel_affine(dout, np.zeros_like(std), scale, np.zeros_like(std))
    return dx, None if gamma is None else dgamma, dbeta if has_beta else None


# ---------------------------------------------------------------------------- group and layer norm
#
# Group and layer normalization normalise each example on its own, so they behave the same in
# training and evaluation and need no running statistics. Both reshape the values that share a
# mean and a variance into one row of an (R, M) array; ``_normalize_rows`` and
# ``_normalize_rows_backward`` are the shared core.


def _row_mean(a):
    """Mean of each row of an (R, M) array, as (R, 1). Rows of M = 0 values (an input with an
    empty dimension) give 0 instead of 0/0: their outputs are empty anyway."""
    return a.sum(axis=1, keepdims=True) / max(a.shape[1], 1)


def _normalize_rows(rows, eps):
    """xhat = (rows - mean) / std per row of an (R, M) array, std = sqrt(var + eps), var biased
    (divided by M). Returns (xhat of shape (R, M), std of shape (R, 1))."""
    centered = rows - _row_mean(rows)
    std = np.sqrt(_row_mean(centered * centered) + eps)
    return centered / std, std


def _normalize_rows_backward(dxhat, xhat, std):
    """Gradient of ``_normalize_rows`` with respect to its rows, given dL/dxhat (R, M).

    For one row with M values, mean mu = sum(x)/M and var = sum((x - mu)^2)/M, so
    dmu/dx_j = 1/M and dvar/dx_j = 2 (x_j - mu) / M (the terms through mu sum to 0). With
    xhat_i = (x_i - mu) / std and std = sqrt(var + eps):

        dxhat_i/dx_j = (delta_ij - 1/M) / std - (x_i - mu) / std^2 * dstd/dx_j
                     = (delta_ij - 1/M - xhat_i * xhat_j / M) / std

    since dstd/dx_j = (x_j - mu) / (M std) = xhat_j / M. Contracting with the upstream dxhat:

        dx_j = (dxhat_j - mean(dxhat) - xhat_j * mean(dxhat * xhat)) / std

    (the same three paths as batch norm's: direct, through the mean, through the variance).
    """
    return (dxhat - _row_mean(dxhat) - xhat * _row_mean(dxhat * xhat)) / std


def _channel_view(v, ndim):
    """A (C,) per-channel vector shaped (C, 1, ..., 1) to broadcast against (N, C, ...) of ``ndim`` dims."""
    return v.reshape(v.shape + (1,) * (ndim - 2))


def group_norm_forward(x, gamma, beta, num_groups, eps=1e-5):
    """Normalise each group of channels of each example, then scale and shift each channel.

    The C channels are split into ``num_groups`` groups of C/G consecutive channels. Every
    example n and group g has its own mean and (biased) variance, taken over the group's
    channels and all spatial positions: M = (C/G) * H * W values for (N, C, H, W) input.

        xhat = (x - mean_ng) / sqrt(var_ng + eps),    out = gamma_c * xhat + beta_c

    G = 1 normalises whole examples (layer norm over (C, H, W) with per-channel affine); G = C
    normalises each channel of each example on its own (instance norm). Unlike batch norm, no
    statistic crosses the batch, so the layer behaves the same in training and evaluation and
    works for any batch size, including 1 (CS231n assignment 2's "spatial group norm").

    Args:
        x: (N, C) or (N, C, *spatial), floating point, C divisible by num_groups.
        gamma, beta: (C,) or None (no scale / no shift).
        num_groups: G.
        eps: added to the variance.
    Returns:
        out: x's shape.
        cache: (xhat as (N*G, M) rows, std of shape (N*G, 1), gamma, has_beta).
    """
    n, c = x.shape[:2]
    count = (c // num_groups) * int(np.prod(x.shape[2:]))  # M, the values per (example, group)
    xhat, std = _normalize_rows(x.reshape(n * num_groups, count), eps)
    out = xhat.reshape(x.shape)
    if gamma is not None:
        out = out * _channel_view(gamma, x.ndim)
    if beta is not None:
        out = out + _channel_view(beta, x.ndim)
    return out, (xhat, std, gamma, beta is not None)


def group_norm_backward(dout, cache):
    """Gradients of group normalization.

    The affine part is per channel, with sums over the batch and the spatial positions
    (every axis but 1), exactly as in batch norm:

        dbeta_c  = sum_{n, h, w} dout
        dgamma_c = sum_{n, h, w} dout * xhat

    The normalisation is per (example, group) row of M values. With dxhat = gamma_c * dout,
    derived in ``_normalize_rows_backward``:

        dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std

    where the means run over the M values of the row (the group's channels and positions).
    This is batch norm's formula with the roles of the axes exchanged: the statistics are taken
    over (C/G, H, W) instead of (N, H, W).

    Returns:
        (dx, dgamma, dbeta): dx of x's shape; dgamma, dbeta of shape (C,), or None where gamma /
        beta was None.
    """
    xhat, std, gamma, has_beta = cache
    axes = (0,) + tuple(range(2, dout.ndim))  # all but the channel axis
    dxhat = dout if gamma is None else dout * _channel_view(gamma, dout.ndim)
    dx = _normalize_rows_backward(dxhat.reshape(xhat.shape), xhat, std).reshape(dout.shape)
    dgamma = None if gamma is None else np.sum(dout * xhat.reshape(dout.shape), axis=axes)
    dbeta = np.sum(dout, axis=axes) if has_beta else None
    return dx, dgamma, dbeta


def layer_norm_forward(x, gamma, beta, normalized_shape, eps=1e-5):
    """Normalise over the last len(normalized_shape) axes, then scale and shift elementwise.

    With D = len(normalized_shape), each slice x[i1, ..., ik, :, ..., :] of the D trailing axes
    (whose shape is ``normalized_shape``) has its own mean and (biased) variance over its
    M = prod(normalized_shape) values:

        xhat = (x - mean) / sqrt(var + eps),    out = gamma * xhat + beta

    where gamma and beta have ``normalized_shape`` and so give every normalised position its
    own scale and shift (transformers: one per feature of each token).

    Args:
        x: (*, *normalized_shape), floating point.
        gamma, beta: normalized_shape, or None.
        normalized_shape: tuple of the trailing dimensions of x.
        eps: added to the variance.
    Returns:
        out: x's shape.
        cache: (xhat as (R, M) rows, std of shape (R, 1), gamma, has_beta, D), R the number of
            slices.
    """
    count = int(np.prod(normalized_shape))
    rows = int(np.prod(x.shape[:x.ndim - len(normalized_shape)]))
    xhat, std = _normalize_rows(x.reshape(rows, count), eps)
    out = xhat.reshape(x.shape)
    if gamma is not None:
        out = out * gamma
    if beta is not None:
        out = out + beta
    return out, (xhat, std, gamma, beta is not None, len(normalized_shape))


def layer_norm_backward(dout, cache):
    """Gradients of layer normalization.

    gamma and beta are broadcast over the leading axes, so their gradients sum over them:

        dbeta  = sum_{leading axes} dout,    dgamma = sum_{leading axes} dout * xhat

    and with dxhat = gamma * dout, per slice of M values (``_normalize_rows_backward``):

        dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std

    Returns:
        (dx, dgamma, dbeta): dx of x's shape; dgamma, dbeta of normalized_shape, or None where
        gamma / beta was None.
    """
    xhat, std, gamma, has_beta, normalized_ndim = cache
    leading = tuple(range(dout.ndim - normalized_ndim))
    dxhat = dout if gamma is None else dout * gamma
    dx = _normalize_rows_backward(dxhat.reshape(xhat.shape), xhat, std).reshape(dout.shape)
    dgamma = None if gamma is None else np.sum(dout * xhat.reshape(dout.shape), axis=leading)
    dbeta = np.sum(dout, axis=leading) if has_beta else None
    return dx, dgamma, dbeta
