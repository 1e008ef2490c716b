"""Task 3.7: a fully connected layer is a convolution, and then the network slides.

A Linear layer on the flattened (C, H, W) map computes out[o] = b[o] + sum_{c,y,x} W[o, (c,y,x)]
x[c, y, x]: exactly a convolution with out_features filters of size C x H x W, the weight
reshaped to (out_features, C, H, W). On a larger input that convolution slides: the output is a
map of scores, one for each H x W window, computed in one pass instead of one crop at a time
(OverFeat, FCN).
"""

from minidl import nn


def fc_to_conv(linear, in_channels, height, width):
    """The Conv2d(in_channels, linear.out_features, (height, width)) computing ``linear`` on a
    (in_channels, height, width) map flattened in C order: its weights (copied), bias and dtype."""
    ### BEGIN SOLUTION
    conv = nn.Conv2d(in_channels, linear.out_features, (height, width), bias=linear.bias is not None)
    conv.to(linear.weight.dtype)
    conv.weight.data.copy_(linear.weight.data.reshape(linear.out_features, in_channels, height, width))
    if linear.bias is not None:
        conv.bias.data.copy_(linear.bias.data)
    return conv
    ### END SOLUTION
