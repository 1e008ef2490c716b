"""Task 2.5: what a convolution costs, and how 1x1 bottlenecks make the Inception module affordable.

A convolution that keeps an H x W map (padding "same") with C_in input channels, C_out filters
of K x K computes H W C_out output values of K K C_in multiply-adds each:

    MACs = H W C_out K^2 C_in

The naive Inception module runs a 1x1, a 3x3 and a 5x5 convolution and a 3x3 max pool side by
side on the same input and stacks their outputs (the pool multiplies nothing and passes all C_in
channels on). The bottlenecked module (GoogLeNet's) first cuts the channels with 1x1
convolutions: r3 before the 3x3, r5 before the 5x5, and a 1x1 of p filters after the pool.

A lecture slide lists the bottlenecked module's six products and prints a total that is not
their sum. A printed total that exceeds the sum by one of the products (to the nearest million)
is most simply explained by that product counted twice: ``double_counted`` finds which.

A 1x1 convolution is a matrix product over the channels at every pixel:

    out[n, f, y, x] = b[f] + sum_c w[f, c] x[n, c, y, x]
"""

import numpy as np


def conv_macs(height, width, in_channels, out_channels, kernel_size):
    """H W C_out K^2 C_in: the multiply-adds of a K x K convolution with an H x W output."""
    ### BEGIN SOLUTION
    return height * width * out_channels * kernel_size * kernel_size * in_channels
    ### END SOLUTION


def naive_inception_macs(height, width, in_channels, n1x1, n3x3, n5x5):
    """The naive module's cost, branch by branch.

    Returns:
        {"1x1": ..., "3x3": ..., "5x5": ..., "pool": 0, "total": sum of the branches,
         "out_channels": n1x1 + n3x3 + n5x5 + in_channels}.
    """
    ### BEGIN SOLUTION
    costs = {"1x1": conv_macs(height, width, in_channels, n1x1, 1),
             "3x3": conv_macs(height, width, in_channels, n3x3, 3),
             "5x5": conv_macs(height, width, in_channels, n5x5, 5),
             "pool": 0}
    costs["total"] = sum(costs.values())
    costs["out_channels"] = n1x1 + n3x3 + n5x5 + in_channels
    return costs
    ### END SOLUTION


def bottleneck_inception_macs(height, width, in_channels, n1x1, r3x3, n3x3, r5x5, n5x5, pool_proj):
    """The bottlenecked module's cost, layer by layer.

    Returns:
        {"1x1": ..., "3x3 reduce": ..., "3x3": ..., "5x5 reduce": ..., "5x5": ..., "pool proj": ...,
         "total": the sum of those six, "out_channels": n1x1 + n3x3 + n5x5 + pool_proj}.
    """
    ### BEGIN SOLUTION
    costs = {"1x1": conv_macs(height, width, in_channels, n1x1, 1),
             "3x3 reduce": conv_macs(height, width, in_channels, r3x3, 1),
             "3x3": conv_macs(height, width, r3x3, n3x3, 3),
             "5x5 reduce": conv_macs(height, width, in_channels, r5x5, 1),
             "5x5": conv_macs(height, width, r5x5, n5x5, 5),
             "pool proj": conv_macs(height, width, in_channels, pool_proj, 1)}
    costs["total"] = sum(costs.values())
    costs["out_channels"] = n1x1 + n3x3 + n5x5 + pool_proj
    return costs
    ### END SOLUTION


def pointwise_conv(x, w, b):
    """A 1x1 convolution as one matrix product (vectorised: no loop over images or pixels).

    Args:
        x: (N, C, H, W); w: (F, C) (a 1x1 kernel's weights, its two unit axes dropped); b: (F,).
    Returns:
        (N, F, H, W).
    """
    ### BEGIN SOLUTION
    return np.einsum("fc,nchw->nfhw", w, x) + b[None, :, None, None]
    ### END SOLUTION


def double_counted(costs, printed_total):
    """The branches whose cost, counted twice, turns the branch sum into a printed total.

    Args:
        costs: a ``bottleneck_inception_macs`` table.
        printed_total: a total as a slide prints it, e.g. 358e6 for "358M".
    Returns:
        the names of the six branches b (in the table's order) with costs["total"] + costs[b]
        equal to printed_total when both are rounded to the nearest million; [] when none is.
    """
    ### BEGIN SOLUTION
    millions = round(printed_total / 1e6)
    branches = ["1x1", "3x3 reduce", "3x3", "5x5 reduce", "5x5", "pool proj"]
    return [branch for branch in branches if round((costs["total"] + costs[branch]) / 1e6) == millions]
    ### END SOLUTION
