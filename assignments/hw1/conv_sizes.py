"""Task 1.1: how big a convolution's output is, and how many numbers a layer learns.

Along one axis, a kernel of size F slides over an input of size W padded by P on each side, S
steps at a time. Its first window starts at 0 and its last must end inside the padded input,
so it takes

    W' = floor((W - F + 2P) / S) + 1

places. (CS231n asks for (W - F + 2P) / S to be a whole number; PyTorch, and minidl, round
down and simply leave the last rows out, which is what these functions do too.)

A convolution with C_in input channels, C_out filters of size F x F and a bias per filter
learns C_out * (F * F * C_in + 1) numbers, whatever the size of the image: the same filters
slide everywhere. A fully connected layer learns one weight per (input, output) pair and one
bias per output: out * (in + 1).
"""


def conv_output_size(input_size, kernel_size, stride=1, padding=0):
    """W' = floor((W - F + 2P) / S) + 1 for one spatial axis.

    Args:
        input_size: W, an int >= 1.
        kernel_size: F, an int >= 1.
        stride: S, an int >= 1.
        padding: P, an int >= 0 (zeros on each side).
    Returns:
        W', an int.
    Raises:
        ValueError when the kernel does not fit (W' < 1), naming the numbers.
    """
    ### BEGIN SOLUTION
    out = (input_size - kernel_size + 2 * padding) // stride + 1
    if out < 1:
        raise ValueError(f"conv_output_size: a kernel of {kernel_size} does not fit an input of {input_size} "
                         f"padded by {padding}: (W - F + 2P) / S + 1 = {out}")
    return out
    ### END SOLUTION


def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    """C_out * (F * F * C_in + 1) with a bias, C_out * F * F * C_in without; kernel_size is F (square)."""
    ### BEGIN SOLUTION
    return out_channels * (kernel_size * kernel_size * in_channels + (1 if bias else 0))
    ### END SOLUTION


def linear_param_count(in_features, out_features, bias=True):
    """out * (in + 1) with a bias, out * in without."""
    ### BEGIN SOLUTION
    return out_features * (in_features + (1 if bias else 0))
    ### END SOLUTION


def network_shapes_and_params(input_shape, layers):
    """The output shape and the parameter count of every layer of a plain stack of layers.

    Args:
        input_shape: (C, H, W) of one image.
        layers: a list of
            ("conv", out_channels, kernel_size, stride, padding)   a square convolution with bias
            ("flatten",)                                           (C, H, W) -> (C * H * W,)
            ("linear", out_features)                               a fully connected layer with bias
    Returns:
        a list with one (output shape, parameter count) pair per layer, the shapes as tuples:
        (C, H, W) after a convolution, (D,) after flatten and linear.
    """
    ### BEGIN SOLUTION
    shape, rows = tuple(input_shape), []
    for layer in layers:
        if layer[0] == "conv":
            _, out_channels, kernel, stride, padding = layer
            channels, height, width = shape
            params = conv_param_count(channels, out_channels, kernel)
            shape = (out_channels, conv_output_size(height, kernel, stride, padding),
                     conv_output_size(width, kernel, stride, padding))
        elif layer[0] == "flatten":
            params, shape = 0, (shape[0] * shape[1] * shape[2],)
        else:
            params, shape = linear_param_count(shape[0], layer[1]), (layer[1],)
        rows.append((shape, params))
    return rows
    ### END SOLUTION
