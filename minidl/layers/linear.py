"""The fully connected (affine) layer as a forward/backward pair.

    out = x @ W^T + b

with PyTorch's layout: W has shape (out_features, in_features), so row j of W holds the weights
of output unit j. Any leading dimensions of x are batch dimensions: each row x[..., :] is
mapped on its own, and the parameter gradients add up the contributions of all of them.
Arguments are assumed valid: ``minidl.functional.linear`` checks them.
"""


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
    out = x @ weight.T
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
    dx = dout @ weight
    rows_out = dout.reshape(-1, dout.shape[-1])
    rows_in = x.reshape(-1, x.shape[-1])
    dweight = rows_out.T @ rows_in
    dbias = rows_out.sum(axis=0) if has_bias else None
    return dx, dweight, dbias
