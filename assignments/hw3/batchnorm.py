"""Task 3.1: batch normalization, forward and backward.

In training, each feature d of a batch of N values is normalised with the batch's own mean and
variance, then scaled and shifted by learnt gamma and beta (Ioffe and Szegedy 2015):

    mu = (1/N) sum_i x_i        var = (1/N) sum_i (x_i - mu)^2        std = sqrt(var + eps)
    xhat_i = (x_i - mu) / std   y_i = gamma xhat_i + beta

and running averages of mu and of the *unbiased* variance var N / (N - 1) are kept for testing
(running = (1 - momentum) running + momentum batch, as in PyTorch), when y = gamma (x -
running_mean) / sqrt(running_var + eps) + beta.

The backward pass in training has three paths from x to y: through xhat directly, through mu
and through var. With dxhat = gamma dout, they add up to

    dx = (1 / (N std)) (N dxhat - sum_i dxhat_i - xhat sum_i dxhat_i xhat_i)
    dgamma = sum_i dout_i xhat_i          dbeta = sum_i dout_i

The middle term is the mean's path: forget it and the gradient is wrong by a constant per
feature, which a gradient check sees at once. For images (N, C, H, W), "spatial" batch norm
normalises each channel over N, H and W together: the same functions on the (N H W, C) matrix.

Everything here is vectorised: no loop over the batch.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of (N, D) features.

    Args:
        x: (N, D); gamma, beta: (D,).
        bn_param: {"mode": "train" or "test", "eps": 1e-5, "momentum": 0.1, "running_mean": (D,),
            "running_var": (D,)}; eps and momentum take these defaults when absent, and the
            running statistics start at zeros and ones. In "train" mode the running statistics
            are updated in bn_param.
    Returns:
        out: (N, D); cache: what the backward pass needs (your choice; None in "test" mode is fine).
    """
    ### BEGIN SOLUTION
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.ones(x.shape[1], dtype=x.dtype))
    if bn_param["mode"] == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        count = x.shape[0]
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mean
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * count / (count - 1)
        std = np.sqrt(var + eps)
        xhat = (x - mean) / std
        return gamma * xhat + beta, (xhat, std, gamma)
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, None
    ### END SOLUTION


def batchnorm_backward(dout, cache):
    """The backward pass of ``batchnorm_forward`` in "train" mode.

    Args:
        dout: (N, D); cache: from the forward pass.
    Returns:
        dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    ### BEGIN SOLUTION
    xhat, std, gamma = cache
    count = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (count * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (count * std)
    return dx, dgamma, dbeta
    ### END SOLUTION


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of (N, C, H, W) images, per channel over N, H and W.

    Args:
        x: (N, C, H, W); gamma, beta: (C,); bn_param as for ``batchnorm_forward``.
    Returns:
        out: (N, C, H, W); cache.
    """
    ### BEGIN SOLUTION
    n_images, channels, height, width = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(n_images, height, width, channels).transpose(0, 3, 1, 2), cache
    ### END SOLUTION


def spatial_batchnorm_backward(dout, cache):
    """The backward pass of ``spatial_batchnorm_forward``: dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    ### BEGIN SOLUTION
    n_images, channels, height, width = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, channels), cache)
    return dx.reshape(n_images, height, width, channels).transpose(0, 3, 1, 2), dgamma, dbeta
    ### END SOLUTION
