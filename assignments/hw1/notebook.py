# %% [markdown]
# # Homework 1: Convolution from scratch
#
# You will write a convolutional layer three times: as the formula (sizes and parameter counts),
# as loops (forward and backward), and as one matrix product (im2col). Each task's code goes in
# a `.py` file of this folder, where a stub raises `NotImplementedError("Task 1.x: ...")`; this
# notebook runs your code, checks it and shows what it does. It stops at the first task you have
# not done yet: implement it, re-run, go on.
#
# Grade yourself at any time from this folder's parent: `minidl grade hw1 --source .` runs the
# public tests (the instructor's grade adds hidden ones). Each task lists the modules it may not
# import; the vectorised task may not loop over images or output positions (see the README).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from minidl.data import load_dataset

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Task 1.1: output sizes and parameter counts (`conv_sizes.py`)
#
# A kernel of size F sliding with stride S over an input of size W padded by P on each side
# takes W' = (W - F + 2P)/S + 1 places (rounded down). A layer of C_out filters F x F x C_in
# learns C_out (F F C_in + 1) numbers. Derive both before you code them; then check the
# lecture's examples: AlexNet's first layer (96 filters 11x11, stride 4, on 227x227x3) and the
# small network whose dense layers hold almost all of its 2,103,156 parameters.

# %%
from conv_sizes import conv_output_size, conv_param_count, network_shapes_and_params

print("AlexNet conv1:", conv_output_size(227, 11, stride=4), "x", conv_output_size(227, 11, stride=4),
      "x 96 from", conv_param_count(3, 96, 11), "parameters")
network = [("conv", 8, 3, 1, 1), ("conv", 16, 5, 2, 2), ("flatten",), ("linear", 512), ("linear", 4)]
rows = network_shapes_and_params((3, 32, 32), network)
for layer, (shape, params) in zip(network, rows):
    print(f"{layer[0]:8s} {str(shape):14s} {params:>10,}")
total = sum(params for _, params in rows)
print(f"total {total:,}; the two dense layers hold {100 * (rows[3][1] + rows[4][1]) / total:.1f}%")
assert total == 2_103_156

# %% [markdown]
# **Question.** Why does the first dense layer cost a thousand times more than both
# convolutions together? What would the count be if the second convolution kept stride 1?

# %% [markdown]
# ## Task 1.2: numerical gradients (`gradient_check.py`)
#
# Every backward pass below is checked against centred differences,
# (f(x + h) - f(x - h)) / 2h, compared by the relative error. Implement both, then see why the
# centred difference is the one to use: its error falls as h², the one-sided one's as h.

# %%
from gradient_check import eval_numerical_gradient_array, rel_error

x = np.linspace(-1, 1, 12).reshape(3, 4)
df = np.ones_like(x)
for h in (1e-2, 1e-3, 1e-4, 1e-5):
    centred = eval_numerical_gradient_array(np.sin, x.copy(), df, h=h)
    one_sided = (np.sin(x + h) - np.sin(x)) / h
    print(f"h = {h:.0e}: centred {rel_error(centred, np.cos(x)):.1e}   one-sided {rel_error(one_sided, np.cos(x)):.1e}")

# %% [markdown]
# ## Task 1.3: the naive forward pass (`naive_conv.py`)
#
# out[n, f, i, j] = b[f] + sum over c, k, l of w[f, c, k, l] xp[n, c, iS + k, jS + l]: four
# loops over the outputs, one window product each. Two hand-made filters on a digit show what a
# convolution computes: a vertical and a horizontal edge detector.

# %%
from naive_conv import conv_backward_flipped, conv_backward_naive, conv_forward_naive

digit = load_dataset("builtin", train=False).images[:1].astype(np.float64)   # (1, 1, 28, 28)
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
w = np.stack([sobel, sobel.T])[:, None]                                       # (2, 1, 3, 3)
edges, _ = conv_forward_naive(digit, w, np.zeros(2), {"stride": 1, "pad": 1})
figure, axes = plt.subplots(1, 3, figsize=(7, 2.5))
for axis, image, title in zip(axes, [digit[0, 0], edges[0, 0], edges[0, 1]], ["digit", "vertical edges",
                                                                            "horizontal edges"]):
    axis.imshow(image, cmap="gray")
    axis.set_title(title)
    axis.axis("off")
plt.show()
print("output shape", edges.shape)

# %% [markdown]
# ## Task 1.4: the naive backward pass
#
# Every output sent its gradient to the window it read: `dxp[window] += dout * w[f]`,
# `dw[f] += dout * window`, `db[f] += dout`. Check it the CS231n way, with your numerical
# gradient from Task 1.2: relative errors around 1e-8 or smaller mean it is right.

# %%
rng = np.random.default_rng(0)
x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
conv_param = {"stride": 2, "pad": 1}
out, cache = conv_forward_naive(x, w, b, conv_param)
dout = rng.standard_normal(out.shape)
dx, dw, db = conv_backward_naive(dout, cache)
dx_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(v, w, b, conv_param)[0], x, dout)
dw_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, v, b, conv_param)[0], w, dout)
db_num = eval_numerical_gradient_array(lambda v: conv_forward_naive(x, w, v, conv_param)[0], b, dout)
print(f"dx error {rel_error(dx, dx_num):.1e}, dw error {rel_error(dw, dw_num):.1e}, "
      f"db error {rel_error(db, db_num):.1e}")

# %% [markdown]
# ## Task 1.5: the backward pass is a convolution
#
# Read the sum for dxp the other way round: every input pixel collects dout through the kernel
# turned by 180°. So dx is a *full* convolution (padding K - 1) of dout, its values spread S
# apart, with the flipped kernel and the channel axes swapped. Compute it with your own
# `conv_forward_naive`, and compare with Task 1.4.

# %%
dx_flipped = conv_backward_flipped(dout, cache)
print(f"flipped full convolution vs Task 1.4: {rel_error(dx_flipped, dx):.1e}")

# %% [markdown]
# **Question.** Which of the three gradients would still pass a check that only compares
# shapes if you forgot the flip? Try it: replace the flipped kernel by `w` itself and look at
# the relative error.

# %% [markdown]
# ## Task 1.6: im2col and one matrix product (`fast_conv.py`)
#
# Write each window as a row, the filters as columns, and the whole layer is one product. The
# loops left are over the kernel taps (9 for a 3x3 kernel), not over the images and positions.

# %%
from fast_conv import conv_backward_im2col, conv_forward_im2col

x, w, b = rng.standard_normal((8, 3, 16, 16)), rng.standard_normal((8, 3, 3, 3)), rng.standard_normal(8)
conv_param = {"stride": 1, "pad": 1}
started = time.perf_counter()
out_naive, _ = conv_forward_naive(x, w, b, conv_param)
naive_s = time.perf_counter() - started
started = time.perf_counter()
out_fast, cache = conv_forward_im2col(x, w, b, conv_param)
fast_s = time.perf_counter() - started
print(f"naive {naive_s * 1e3:.0f} ms, im2col {fast_s * 1e3:.1f} ms ({naive_s / fast_s:.0f}x); "
      f"difference {rel_error(out_naive, out_fast):.1e}")
dout = rng.standard_normal(out_fast.shape)
dx_fast, dw_fast, db_fast = conv_backward_im2col(dout, cache)
dx_slow, dw_slow, db_slow = conv_backward_naive(dout, (x, w, b, conv_param))
print(f"backward: dx {rel_error(dx_fast, dx_slow):.1e}, dw {rel_error(dw_fast, dw_slow):.1e}, "
      f"db {rel_error(db_fast, db_slow):.1e}")

# %% [markdown]
# That is all of homework 1. `minidl.layers.conv` is the same im2col idea, with the windows
# copied by compiled loops and the product split into chunks that fit the cache; read it now
# and compare with yours.
