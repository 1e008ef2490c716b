"""Convolution and transposed convolution as im2col + matrix product.

Convolution (really cross-correlation, as in every deep-learning library) of an input x of
shape (N, C, H, W) with filters w of shape (F, C/G, KH, KW) computes

    out[n, f, y, x] = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[n, g*C/G + c, y*SH + i*DH, x*SW + j*DW]

where xp is x zero-padded by (PH, PW) and g = f // (F/G) is the group filter f belongs to.
``kernels.im2col`` copies every receptive field into a column, so the whole layer becomes one
matrix product per group:

    cols = im2col(x)                          # (N, C*KH*KW, H'*W'), rows ordered (c, i, j)
    out  = w.reshape(F, C*KH*KW) @ cols       # (N, F, H'*W')           (groups = 1)

Groups split the channels into G independent blocks: input channels [g*C/G, (g+1)*C/G) only
meet filters [g*F/G, (g+1)*F/G). Because the rows of ``cols`` are ordered channel first, block
g of the channels is block g of the rows, so reshaping ``cols`` to (N, G, C/G*KH*KW, H'*W') and
the weight to (G, F/G, C/G*KH*KW) turns the G convolutions into one batched matmul. Depthwise
convolution is the case G = C (each channel is filtered on its own); a 1x1 convolution is
KH = KW = 1, a matrix product over channels at every pixel.

The transposed convolution is the adjoint of this map: its forward pass is conv2d's backward
pass for the input, and its backward pass for the input is a plain conv2d.
"""

import numpy as np

from minidl import kernels


def conv2d_forward(x, weight, bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Forward pass of a 2-D convolution.

    Args:
        x: (N, C, H, W) input.
        weight: (F, C/groups, KH, KW) filters (PyTorch's OIHW layout).
        bias: (F,) or None.
        stride, padding, dilation: pairs of ints (vertical, horizontal); padding is added on
            both sides of each axis.
        groups: number of channel blocks; C and F must both be multiples of it.
    Returns:
        out: (N, F, H', W') with H' = floor((H + 2*PH - DH*(KH-1) - 1)/SH) + 1, likewise W'.
        cache: (x_shape, cols, weight, has_bias, stride, padding, dilation, groups, out_hw),
            where cols = im2col(x) of shape (N, C*KH*KW, H'*W') are the receptive fields the
            backward pass multiplies dout with.
    Raises:
        ValueError from ``kernels.output_size`` when the kernel does not fit the padded input.
    """
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    out_hw = kernels.output_size("conv2d", (h, w), (kh, kw), stride, padding, dilation)

    cols = kernels.im2col(x, (kh, kw), stride, padding, dilation, out_hw)
    cols_by_group = cols.reshape(n, groups, -1, out_hw[0] * out_hw[1])    # (N, G, C/G*KH*KW, L)
    w_by_group = weight.reshape(groups, f // groups, -1)                   # (G, F/G, C/G*KH*KW)
    out = np.matmul(w_by_group, cols_by_group).reshape(n, f, *out_hw)      # (N, G, F/G, L) -> (N, F, H', W')
    if bias is not None:
        out = out + bias.reshape(1, f, 1, 1)

    cache = (x.shape, cols, weight, bias is not None, stride, padding, dilation, groups, out_hw)
    return out, cache


def conv2d_backward(dout, cache):
    """Backward pass of ``conv2d_forward``.

    Args:
        dout: (N, F, H', W') upstream gradient.
        cache: from ``conv2d_forward``.
    Returns:
        dx: (N, C, H, W); dw: (F, C/groups, KH, KW); db: (F,), or None when there was no bias.
    """
    x_shape, cols, weight, has_bias, stride, padding, dilation, groups, out_hw = cache
    n = x_shape[0]
    f, _, kh, kw = weight.shape
    dout_by_group = dout.reshape(n, groups, f // groups, -1)               # (N, G, F/G, L)
    cols_by_group = cols.reshape(n, groups, -1, dout_by_group.shape[-1])   # (N, G, C/G*KH*KW, L)
    w_by_group = weight.reshape(groups, f // groups, -1)                   # (G, F/G, C/G*KH*KW)

    # Each output adds b[f] once: db = sum of dout over N, H', W'.
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None

    # out = W @ cols, so dW = dout @ cols^T, summed over the batch (the filters are shared).
    dw = np.matmul(dout_by_group, cols_by_group.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)

    # d(cols) = W^T @ dout; col2im adds each column back onto the pixels it was read from.
    # Together this is a "full" convolution of dout with the flipped kernel: every input pixel
    # collects dout from every output whose window covered it, weighted by the tap that read it.
    dcols = np.matmul(w_by_group.swapaxes(-1, -2), dout_by_group).reshape(cols.shape)
    dx = kernels.col2im(dcols, x_shape, (kh, kw), stride, padding, dilation, out_hw)
    return dx, dw, db


def conv_transpose2d_output_size(input_hw, kernel, stride, padding, output_padding, dilation):
    """Output (H_out, W_out) of a transposed convolution; a clear error when it is less than 1.

    H_out = (H - 1)*S - 2P + D*(K - 1) + output_padding + 1: the size of the conv2d input that
    a conv2d with the same kernel, stride, padding and dilation maps to H (output_padding picks
    among the sizes that all give H when the stride does not divide evenly).
    """
    out = []
    for axis, size, k, s, p, op, d in zip(("height", "width"), input_hw, kernel, stride, padding,
                                          output_padding, dilation):
        n = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        if n < 1:
            letter = "H" if axis == "height" else "W"
            raise ValueError(
                f"conv_transpose2d: the output {axis} is not positive: input {letter}={size}, "
                f"kernel K={k}, stride S={s}, padding P={p}, dilation D={d}, output_padding={op} "
                f"give {letter}_out = ({letter} - 1)*S - 2P + D*(K - 1) + output_padding + 1 = "
                f"({size} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {op} + 1 = {n}, which is less than 1"
            )
        out.append(n)
    return tuple(out)


def conv_transpose2d_forward(x, weight, bias, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                             dilation=(1, 1), groups=1):
    """Forward pass of a 2-D transposed convolution (a "deconvolution", a fractionally strided conv).

    Each input pixel scatters a copy of the kernel, scaled by its value, onto the output: the
    adjoint of conv2d. With the weight read as conv2d filters of shape (C_in, C_out/G, KH, KW),
    that is exactly conv2d's input gradient with x in the role of dout:

        cols = W^T @ x              # (N, C_out*KH*KW, H*W), per group
        out  = col2im(cols)         # (N, C_out, H_out, W_out): overlapping taps add up

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_in, C_out/groups, KH, KW) (PyTorch's transposed-conv layout).
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: pairs of ints; padding is removed from both
            sides of the output, output_padding is added to its bottom/right.
        groups: number of channel blocks; C_in must be a multiple of it.
    Returns:
        out: (N, C_out, H_out, W_out), H_out = (H-1)*SH - 2*PH + DH*(KH-1) + output_padding_h + 1.
        cache: (x, weight, has_bias, stride, padding, dilation, groups), the input and weight
            being what the backward matrix products need.
    """
    n, c_in, h, w = x.shape
    _, c_out_per_group, kh, kw = weight.shape
    c_out = c_out_per_group * groups
    out_hw = conv_transpose2d_output_size((h, w), (kh, kw), stride, padding, output_padding, dilation)

    x_by_group = x.reshape(n, groups, c_in // groups, h * w)               # (N, G, C_in/G, L)
    w_by_group = weight.reshape(groups, c_in // groups, -1)                # (G, C_in/G, C_out/G*KH*KW)
    cols = np.matmul(w_by_group.swapaxes(-1, -2), x_by_group).reshape(n, c_out * kh * kw, h * w)
    out = kernels.col2im(cols, (n, c_out, *out_hw), (kh, kw), stride, padding, dilation, (h, w))
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)

    cache = (x, weight, bias is not None, stride, padding, dilation, groups)
    return out, cache


def conv_transpose2d_backward(dout, cache):
    """Backward pass of ``conv_transpose2d_forward``.

    Args:
        dout: (N, C_out, H_out, W_out) upstream gradient.
        cache: from ``conv_transpose2d_forward``.
    Returns:
        dx: (N, C_in, H, W); dw: (C_in, C_out/groups, KH, KW); db: (C_out,), or None without bias.
    """
    x, weight, has_bias, stride, padding, dilation, groups = cache
    n, c_in, h, w = x.shape
    _, _, kh, kw = weight.shape
    x_by_group = x.reshape(n, groups, c_in // groups, h * w)               # (N, G, C_in/G, L)
    w_by_group = weight.reshape(groups, c_in // groups, -1)                # (G, C_in/G, C_out/G*KH*KW)

    db = dout.sum(axis=(0, 2, 3)) if has_bias else None

    # The forward pass was cols = W^T @ x followed by col2im; the adjoint of col2im is im2col,
    # so dcols = im2col(dout) holds, for each input pixel, the dout values its kernel copy landed on.
    dcols = kernels.im2col(dout, (kh, kw), stride, padding, dilation, (h, w))
    dcols_by_group = dcols.reshape(n, groups, -1, h * w)                  # (N, G, C_out/G*KH*KW, L)

    # cols = W^T @ x, so dx = W @ dcols: an ordinary conv2d of dout with the same weight.
    dx = np.matmul(w_by_group, dcols_by_group).reshape(x.shape)

    # ... and dW = x @ dcols^T, summed over the batch.
    dw = np.matmul(x_by_group, dcols_by_group.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
    return dx, dw, db
