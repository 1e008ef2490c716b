"""The hidden cases of hw2: fixed inputs and the answer keys' outputs (minidl's layers, summary
and receptive_field). ``minidl assignment expected hw2`` stores them in expected.npz."""

import numpy as np

from minidl import nn
from minidl.analysis import receptive_field, summary
from minidl.layers.conv import conv2d_forward
from minidl.layers.pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from minidl.zoo.googlenet import Inception, NaiveInception

# (kernel, stride, dilation) stacks whose fields the hidden test asks for.
STACKS = [[(3, 1, 1), (2, 2, 1), (3, 1, 2), (3, 2, 1), (5, 1, 1)],
          [(7, 2, 1), (3, 2, 1), (1, 1, 1), (3, 1, 4), (3, 1, 8)],
          [(4, 3, 1), (3, 1, 3), (2, 2, 1)]]
# (H, W, C_in, n1x1, r3x3, n3x3, r5x5, n5x5, pool_proj) of the hidden Inception modules.
MODULES = [(14, 14, 480, 192, 96, 208, 16, 48, 64), (7, 9, 32, 8, 4, 12, 2, 6, 5)]
# The zoo Inception's convolutions and the names hw2's cost tables give them.
BRANCHES = {"branch1.conv": "1x1", "branch2.0.conv": "3x3 reduce", "branch2.1.conv": "3x3",
            "branch3.0.conv": "5x5 reduce", "branch3.1.conv": "5x5", "branch4.1.conv": "pool proj"}


def _stack_fields(stack):
    """(size, jump) after each layer, from minidl.analysis.receptive_field on 1-channel convolutions."""
    rows = []
    for depth in range(1, len(stack) + 1):
        layers = [nn.Conv2d(1, 1, k, stride=s, dilation=d) for k, s, d in stack[:depth]]
        field = receptive_field(nn.Sequential(*layers), (1, 256, 256), layer=str(depth - 1))
        rows.append((field.size[0], field.jump[0]))
    return np.array(rows)


def _counted_twice(table, printed_total):
    """The branches (hw2's names) of a summary of the zoo's Inception whose MACs, added once more to
    the total, give printed_total to the nearest million."""
    return np.array([branch for row_name, branch in BRANCHES.items()
                     if round((table.total_macs + next(row.macs for row in table.rows if row.name == row_name)) / 1e6)
                     == round(printed_total / 1e6)])


def cases():
    rng = np.random.default_rng(7)
    found = {}
    x = rng.standard_normal((2, 3, 9, 8))
    out, (switches, _) = max_pool2d_forward(x, (3, 3), (2, 2))
    dout = rng.standard_normal(out.shape)
    found.update({"max/x": x, "max/out": out, "max/switches": switches, "max/dout": dout,
                  "max/dx": max_pool2d_backward(dout, (switches, x.shape))})
    # Integers 0..2 tie in most windows: the first maximum in row-major order must win.
    ties = rng.integers(0, 3, (1, 2, 6, 6)).astype(np.float64)
    found["ties/x"] = ties
    found["ties/switches"] = max_pool2d_forward(ties, (2, 2), (1, 1))[1][0]
    x = rng.standard_normal((2, 2, 7, 9))
    out, cache = avg_pool2d_forward(x, (3, 2), (2, 2))
    dout = rng.standard_normal(out.shape)
    found.update({"avg/x": x, "avg/out": out, "avg/dout": dout, "avg/dx": avg_pool2d_backward(dout, cache)})
    for i, stack in enumerate(STACKS):
        found[f"fields{i}/layers"] = np.array(stack)
        found[f"fields{i}/expected"] = _stack_fields(stack)
    x, w, b = rng.standard_normal((2, 3, 11, 10)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    found.update({"dilated/x": x, "dilated/w": w, "dilated/b": b,
                  "dilated/out": conv2d_forward(x, w, b, stride=(2, 2), padding=(3, 3), dilation=(3, 3))[0]})
    for i, (h, w_, c, n1, r3, n3, r5, n5, p) in enumerate(MODULES):
        found[f"inception{i}/config"] = np.array([h, w_, c, n1, r3, n3, r5, n5, p])
        found[f"inception{i}/naive"] = summary(NaiveInception(c, n1, n3, n5), (c, h, w_), print_table=False).total_macs
        table = summary(Inception(c, n1, r3, n3, r5, n5, p, ch5x5_kernel=5), (c, h, w_), print_table=False)
        found[f"inception{i}/bottleneck"] = table.total_macs
        if i == 0:
            # A slide's total with the 5x5 convolution (the zoo's branch3.1) counted twice, to the million.
            twice = next(row.macs for row in table.rows if row.name == "branch3.1.conv")
            found["inception0/printed"] = round((table.total_macs + twice) / 1e6) * 1e6
            found["inception0/double_counted"] = _counted_twice(table, found["inception0/printed"])
    lecture = summary(Inception(256, 128, 64, 192, 64, 96, 64, ch5x5_kernel=5), (256, 28, 28), print_table=False)
    found["slide/double_counted"] = _counted_twice(lecture, 358e6)
    x, w, b = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    found.update({"pointwise/x": x, "pointwise/w": w, "pointwise/b": b,
                  "pointwise/out": conv2d_forward(x, w[:, :, None, None], b)[0]})
    x, w, b = rng.standard_normal((2, 4, 9, 7)), rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(4)
    found.update({"depthwise/x": x, "depthwise/w": w, "depthwise/b": b,
                  "depthwise/out": conv2d_forward(x, w, b, stride=(2, 2), padding=(1, 1), groups=4)[0]})
    return found
