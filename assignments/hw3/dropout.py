"""Task 3.2: (inverted) dropout.

In training, each value is zeroed with probability p (PyTorch's meaning of p) and the survivors
are scaled by 1 / (1 - p), so that the expected output equals the input and nothing needs to
change at test time, when dropout is the identity (Srivastava et al. 2014):

    mask = [u >= p] / (1 - p),  u ~ Uniform(0, 1) per value;   out = x * mask;   dx = dout * mask

A seed in dropout_param makes the mask reproducible (for gradient checks).
"""

import numpy as np


def dropout_forward(x, dropout_param):
    """Inverted dropout.

    Args:
        x: any shape.
        dropout_param: {"p": the probability of zeroing a value, in [0, 1), "mode": "train" or
            "test", "seed": an int or absent}. With a seed the mask is drawn from
            np.random.default_rng(seed), else from np.random.default_rng().
    Returns:
        out: x's shape; cache: (dropout_param, mask), mask None in "test" mode.
    """
    ### BEGIN SOLUTION
    p = dropout_param["p"]
    if dropout_param["mode"] != "train":
        return x, (dropout_param, None)
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, (dropout_param, mask)
    ### END SOLUTION


def dropout_backward(dout, cache):
    """dx = dout * mask in "train" mode, dout in "test" mode."""
    ### BEGIN SOLUTION
    dropout_param, mask = cache
    return dout if mask is None else dout * mask
    ### END SOLUTION
