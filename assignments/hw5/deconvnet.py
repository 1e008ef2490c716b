"""Task 5.3: the deconvnet of Zeiler and Fergus, through the switches of max pooling.

To see what a unit of the first layer responds to, project its activation back to the pixels:
keep that one activation, zero everything else, and undo the layers in reverse order:

    unpool      each pooled value goes back to the position it came from, its switch (zeros
                elsewhere; windows that share a switch add up)
    rectify     max(., 0), as the ReLU did on the way up
    filter      the transposed convolution with the layer's own filters (no bias)

for a first block ``nn.Sequential(Conv2d, ReLU, MaxPool2d)``. The switches are what make the
reconstruction look like a piece of the image: without them the signal would be smeared over
each window.
"""

import numpy as np

import minidl
from minidl import functional as F


def unpool(pooled, switches, input_shape):
    """Each value of ``pooled`` (N, C, h, w) added at its switch (flat index y * W + x in its plane)
    of a zero (N, C, H, W) array, ``input_shape``."""
    ### BEGIN SOLUTION
    n_images, channels, height, width = input_shape
    planes = np.zeros((n_images * channels, height * width), dtype=pooled.dtype)
    rows = np.repeat(np.arange(n_images * channels), switches[0, 0].size)
    np.add.at(planes, (rows, switches.reshape(-1)), pooled.reshape(-1))
    return planes.reshape(input_shape)
    ### END SOLUTION


def deconv_reconstruct(block, x, channel):
    """The deconvnet projection of each image's strongest pooled activation of ``channel``.

    Args:
        block: ``nn.Sequential(Conv2d, ReLU, MaxPool2d)``, the conv without dilation or groups.
        x: (N, C, H, W) ndarray of the block's dtype.
        channel: the feature map of the pool's output to look at.
    Returns:
        (N, C, H, W) ndarray: for each image, its pooled map with only the largest value of
        ``channel`` kept (the first in row-major order on a tie), unpooled through the switches,
        rectified, and filtered by the transposed convolution (padding and stride as the conv's,
        output to x's size).
    """
    ### BEGIN SOLUTION
    conv, _, pool = block
    with minidl.no_grad():
        activation = F.relu(conv(minidl.tensor(x)))
        pooled, switches = F.max_pool2d(activation, pool.kernel_size, pool.stride, pool.padding,
                                        return_indices=True)
    pooled, switches = pooled.numpy(), switches.numpy()
    kept = np.zeros_like(pooled)
    rows = np.arange(len(x))
    strongest = pooled[:, channel].reshape(len(x), -1).argmax(axis=1)
    i, j = np.divmod(strongest, pooled.shape[3])
    kept[rows, channel, i, j] = pooled[rows, channel, i, j]
    signal = np.maximum(unpool(kept, switches, activation.shape), 0)
    lost = [size - ((out - 1) * s - 2 * p + k) for size, out, s, p, k in
            zip(x.shape[2:], signal.shape[2:], conv.stride, conv.padding, conv.kernel_size)]
    with minidl.no_grad():
        image = F.conv_transpose2d(minidl.tensor(signal), conv.weight, stride=conv.stride, padding=conv.padding,
                                   output_padding=tuple(lost))
    return image.numpy()
    ### END SOLUTION
