"""Task 2.3: how much of the image one unit of a layer sees.

Stack layers of kernel k_l, stride s_l and dilation d_l. Let j_l be the distance in input pixels
between neighbouring units of layer l (the "jump") and r_l the size of one unit's receptive
field. The input has r_0 = 1, j_0 = 1, and each layer widens the field by its kernel's extent
measured in the previous layer's jumps:

    r_l = r_{l-1} + (k_l - 1) d_l j_{l-1}
    j_l = j_{l-1} s_l

So three 3x3 convolutions see 7x7 (as one 7x7 convolution, with fewer weights and more
non-linearities: VGG's argument), a stride or a pool multiplies every later layer's growth,
and dilations 1, 2, 4, 8 grow the field exponentially with the depth. Pooling layers count
like convolutions (a window k, a stride s).
"""


def receptive_fields(layers):
    """The receptive field and the jump after every layer.

    Args:
        layers: a list of (kernel, stride, dilation) triples, ints >= 1, in the order they apply.
    Returns:
        a list of (r_l, j_l) pairs of ints, one per layer.
    """
    ### BEGIN SOLUTION
    field, jump, rows = 1, 1, []
    for kernel, stride, dilation in layers:
        field += (kernel - 1) * dilation * jump
        jump *= stride
        rows.append((field, jump))
    return rows
    ### END SOLUTION
