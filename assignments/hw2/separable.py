"""Task 2.6: depthwise-separable convolution (MobileNet), and why it is cheap.

A standard K x K convolution from C_in to C_out channels mixes space and channels at once:
H W C_in C_out K^2 multiply-adds. A depthwise-separable one does them one after the other:

    depthwise: one K x K filter per input channel, channel c of the output from channel c only
               out[n, c, i, j] = b[c] + sum_{k, l} w[c, 0, k, l] xp[n, c, iS + k, jS + l]
    pointwise: a 1x1 convolution (Task 2.5) mixing the C_in channels into C_out

costing H W C_in K^2 + H W C_in C_out. Divided by the standard convolution's cost:

    (H W C_in K^2 + H W C_in C_out) / (H W C_in C_out K^2) = 1/C_out + 1/K^2

For 3x3 kernels and 256 output channels, about 1/9: nine times fewer multiply-adds.
"""

import numpy as np

from inception_cost import pointwise_conv


def depthwise_conv_forward(x, w, b, conv_param):
    """The depthwise convolution, vectorised (loop over the kernel taps only).

    Args:
        x: (N, C, H, W); w: (C, 1, K, K), one filter per channel; b: (C,).
        conv_param: {"stride": S, "pad": P}.
    Returns:
        (N, C, H', W') with H' = (H + 2P - K) // S + 1, likewise W'.
    """
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    kernel_h, kernel_w = w.shape[2:]
    out_h = (x.shape[2] + 2 * pad - kernel_h) // stride + 1
    out_w = (x.shape[3] + 2 * pad - kernel_w) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
    for k in range(kernel_h):
        for l in range(kernel_w):
            taps = xp[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride]
            out += taps * w[None, :, 0, k, l, None, None]
    return out + b[None, :, None, None]
    ### END SOLUTION


def separable_conv_forward(x, w_depthwise, b_depthwise, w_pointwise, b_pointwise, conv_param):
    """Depthwise (``depthwise_conv_forward``) then pointwise (``pointwise_conv``, Task 2.5).

    Args:
        x: (N, C, H, W); w_depthwise: (C, 1, K, K); b_depthwise: (C,); w_pointwise: (F, C); b_pointwise: (F,).
    Returns:
        (N, F, H', W').
    """
    ### BEGIN SOLUTION
    return pointwise_conv(depthwise_conv_forward(x, w_depthwise, b_depthwise, conv_param), w_pointwise, b_pointwise)
    ### END SOLUTION


def separable_cost_ratio(out_channels, kernel_size):
    """The separable convolution's multiply-adds over the standard one's: 1/C_out + 1/K^2 (a float)."""
    ### BEGIN SOLUTION
    return 1 / out_channels + 1 / kernel_size ** 2
    ### END SOLUTION
