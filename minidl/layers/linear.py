"""The fully connected (affine) layer as a forward/backward pair.

    out = x @ W^T + b

with PyTorch's layout: W has shape (out_features, in_features), so row j of W holds the weights
of output unit j. Any leading dimensions of x are batch dimensions: each row x[..., :] is
mapped on its own, and the parameter gradients add up the contributions of all of them.
Arguments are assumed valid: ``minidl.functional.linear`` checks them. The products are
``kernels.matmul``: NumPy's ``@``, with a large one shared among minidl's threads.
"""

import math

from minidl.kernels import matmul


def linear_forward(x, weight, bias):
    """out = x @ weight^T + bias.

    Args:
        x: (..., in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.
    Returns:
        out: (..., out_features).
        cache: (x, weight, has_bias).
    """
    rows = math.prod(x.shape[:-1])      # (-1 would be ambiguous for 0 features)
    out = matmul(x.reshape(rows, x.shape[-1]), weight.T).reshape(*x.shape[:-1], weight.shape[0])
    if bias is not None:
        out = out + bias
    return out, (x, weight, bias is not None)


def linear_backward(dout, cache):
    """Gradients of out = x @ W^T + b, with dout of shape (..., out_features).

        dx = dout @ W                      (..., in_features)
        dW = dout^T @ x                    (out_features, in_features)
        db = sum of dout over all rows     (out_features,)

    For dW and db the leading dimensions are first merged into one batch axis of rows, since
    every row used the same W and b.
    """
    x, weight, has_bias = cache
    rows = math.prod(x.shape[:-1])
    rows_out = dout.reshape(rows, dout.shape[-1])
    rows_in = x.reshape(rows, x.shape[-1])
    dx = matmul(rows_out, weight).reshape(x.shape)
    dweight = matmul(rows_out.T, rows_in)
    dbias = rows_out.sum(axis=0) if has_bias else None
    return dx, dweight, dbias
