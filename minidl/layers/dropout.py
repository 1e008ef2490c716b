"""Inverted dropout (Srivastava et al., 2014) as a forward/backward pair.

In training every value is kept with probability 1 - p and set to 0 otherwise; the kept values
are divided by 1 - p so that the expected output equals the input. Because the scaling happens
at training time ("inverted" dropout), evaluation is the identity and needs no rescaling.
Arguments are assumed valid: ``minidl.functional.dropout`` checks them.
"""

import numpy as np

from minidl.random import get_generator


def dropout_forward(x, p, training, rng=None):
    """out = x * mask, with mask = keep / (1 - p) and keep ~ Bernoulli(1 - p) per element.

    Args:
        x: any shape, floating point.
        p: probability of zeroing a value, in [0, 1]. p = 1 zeroes everything.
        training: when False (or p = 0) the layer is the identity.
        rng: ``np.random.Generator`` for the mask; None draws from ``minidl.random.get_generator()``
            (reseeded by ``minidl.manual_seed``).
    Returns:
        out: same shape as x.
        cache: the scaled mask (x's shape and dtype), or None when the layer was the identity.
    """
    if not training or p == 0:
        return x, None
    rng = get_generator() if rng is None else rng
    keep = rng.random(x.shape) >= p
    # keep is all False when p = 1, and 0 / (1 - p) would divide by zero.
    mask = np.zeros(x.shape, dtype=x.dtype) if p == 1 else keep.astype(x.dtype) / (1 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    """dx = dout * mask: each value passes its gradient on with the factor it was multiplied by."""
    mask = cache
    return dout if mask is None else dout * mask
