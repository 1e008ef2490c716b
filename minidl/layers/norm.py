"""Batch normalization (Ioffe & Szegedy, 2015) as a forward/backward pair.

Each channel c is normalised with a mean and a variance taken over every axis except the
channel axis 1: over N for (N, C) inputs (BatchNorm1d), over N and L for (N, C, L), over N, H
and W for (N, C, H, W) (BatchNorm2d). Then a learned per-channel scale gamma and shift beta
are applied:

    xhat = (x - mean) / sqrt(var + eps),    out = gamma * xhat + beta

In training the mean and (biased) variance come from the batch, and running estimates are
updated for later use; in evaluation the running estimates are used instead, which makes the
layer a fixed per-channel affine map.
Arguments are assumed valid: ``minidl.functional.batch_norm`` checks them.

Each pass over the activations (the per-channel moments, the affine maps, the two sums of the
backward pass) is a kernel in ``minidl.kernels.channels``, which has a plain NumPy twin.
"""

import numpy as np

from minidl import kernels


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
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
    Returns:
        out: same shape as x.
        cache: (xhat, std, gamma, has_beta, training) with xhat the normalised input (x's
            shape), std = sqrt(var + eps) of shape (C,) and has_beta whether beta was given.
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
    xhat = kernels.channel_affine(x, mean, 1 / std, zeros)  # (x - mean) / std, one pass
    if gamma is None and beta is None:
        out = xhat
    else:
        out = kernels.channel_affine(xhat, zeros, np.ones_like(std) if gamma is None else gamma,
                                     zeros if beta is None else beta)
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
