"""The hidden cases of hw1: fixed inputs and the answer keys' outputs (minidl's own layers).

``minidl assignment expected hw1`` stores them in expected.npz, which the hidden tests read.
"""

import numpy as np

from minidl import nn
from minidl.analysis import summary
from minidl.gradcheck import eval_numerical_gradient_array
from minidl.kernels import output_size
from minidl.layers.conv import conv2d_backward, conv2d_forward

# (H, W, kernel, stride, pad) of the hidden convolutions: non-square, strides that leave rows
# out, paddings wider than one.
CONVOLUTIONS = [(6, 7, 3, 2, 1), (7, 5, 2, 3, 2), (5, 8, 4, 1, 0)]
# A network as rows (kind, a, b, c, d): 0 = conv (out, kernel, stride, pad), 1 = flatten, 2 = linear (out).
NETWORK_INPUT = (3, 20, 24)
NETWORK = [(0, 6, 5, 1, 0), (0, 10, 3, 2, 1), (0, 12, 3, 1, 1), (1, 0, 0, 0, 0), (2, 30, 0, 0, 0), (2, 7, 0, 0, 0)]


def _network_rows():
    # Built layer by layer, each linear layer sized from the shape summary reports before it.
    modules, channels, shape = [], NETWORK_INPUT[0], NETWORK_INPUT
    for kind, a, b, c, d in NETWORK:
        if kind == 0:
            modules.append(nn.Conv2d(channels, a, b, stride=c, padding=d))
            channels = a
        elif kind == 1:
            modules.append(nn.Flatten())
        else:
            shape = summary(nn.Sequential(*modules), NETWORK_INPUT, print_table=False).rows[-1].output_shape
            modules.append(nn.Linear(shape[0], a))
    rows = summary(nn.Sequential(*modules), NETWORK_INPUT, print_table=False).rows
    shapes = np.zeros((len(rows), 3), dtype=np.int64)
    for i, row in enumerate(rows):
        shapes[i, :len(row.output_shape)] = row.output_shape
    return shapes, np.array([row.params for row in rows])


def _im2col_reference(x, kernel, stride, pad):
    """The windows as rows, by loops: row (n, i, j), column (c, k, l)."""
    n_images, channels, height, width = x.shape
    out_h, out_w = output_size("im2col", (height, width), (kernel, kernel), (stride, stride), (pad, pad))
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = [xp[n, :, i * stride:i * stride + kernel, j * stride:j * stride + kernel].reshape(-1)
            for n in range(n_images) for i in range(out_h) for j in range(out_w)]
    return np.stack(rows)


def cases():
    rng = np.random.default_rng(2024)
    found = {}
    sizes = np.stack([rng.integers(5, 60, 40), rng.integers(1, 6, 40), rng.integers(1, 4, 40),
                      rng.integers(0, 3, 40)], axis=1)
    found["sizes/inputs"] = sizes
    found["sizes/outputs"] = np.array([output_size("conv", (w, w), (f, f), (s, s), (p, p))[0] for w, f, s, p in sizes])
    counts = np.stack([rng.integers(1, 64, 20), rng.integers(1, 64, 20), rng.integers(1, 8, 20)], axis=1)
    found["params/inputs"] = counts
    found["params/conv"] = np.array([nn.Conv2d(c, f, k).weight.numel() + f for c, f, k in counts])
    found["params/conv_no_bias"] = np.array([nn.Conv2d(c, f, k, bias=False).weight.numel() for c, f, k in counts])
    found["params/linear"] = np.array([nn.Linear(c, f).weight.numel() + f for c, f, _ in counts])
    found["network/layers"] = np.array(NETWORK)
    found["network/input"] = np.array(NETWORK_INPUT)
    found["network/shapes"], found["network/params"] = _network_rows()

    weights = rng.standard_normal((4, 3))
    x = rng.standard_normal((3, 4))
    df = rng.standard_normal((3, 3))
    found["gradient/weights"], found["gradient/x"], found["gradient/df"] = weights, x, df
    found["gradient/expected"] = eval_numerical_gradient_array(lambda v: np.tanh(v @ weights), x.copy(), df)

    for i, (height, width, kernel, stride, pad) in enumerate(CONVOLUTIONS):
        x = rng.standard_normal((2, 3, height, width))
        w = rng.standard_normal((4, 3, kernel, kernel))
        b = rng.standard_normal(4)
        out, cache = conv2d_forward(x, w, b, stride=(stride, stride), padding=(pad, pad))
        dout = rng.standard_normal(out.shape)
        dx, dw, db = conv2d_backward(dout, cache)
        found.update({f"conv{i}/x": x, f"conv{i}/w": w, f"conv{i}/b": b, f"conv{i}/stride": stride,
                      f"conv{i}/pad": pad, f"conv{i}/out": out, f"conv{i}/dout": dout, f"conv{i}/dx": dx,
                      f"conv{i}/dw": dw, f"conv{i}/db": db})
    x = rng.standard_normal((2, 2, 5, 6))
    found["im2col/x"], found["im2col/cols"] = x, _im2col_reference(x, 3, 2, 1)
    return found
