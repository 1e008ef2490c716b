# %% [markdown]
# # Homework 2: Pooling, receptive fields and efficient convolutions
#
# Pooling throws information away on purpose, and max pooling remembers where it kept it (the
# switches). Stacking layers widens what a unit sees (its receptive field). And the networks
# after AlexNet got deeper without getting slower by spending their multiply-adds carefully:
# 1x1 bottlenecks (GoogLeNet) and depthwise-separable convolutions (MobileNet). Each task's code
# goes in this folder's `.py` files; the notebook stops at the first task not done yet.
#
# Grade yourself from this folder's parent: `minidl grade hw2 --source .`.

# %%
import numpy as np

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## Task 2.1: max pooling with switches (`pooling.py`)
#
# AlexNet pools 3x3 windows with stride 2: the windows overlap, so one pixel can be the
# maximum of several of them. The switch of a window is the flat index of its winner in the
# plane; the backward pass sends each gradient to its switch, and a pixel that won k windows
# collects k gradients. On a tie, the first maximum in row-major order wins (as in PyTorch).

# %%
from pooling import max_pool_backward, max_pool_forward

x = np.array([[[[1, 2, 0, 1, 0],
                [0, 3, 1, 0, 2],
                [1, 0, 9, 0, 1],
                [2, 1, 0, 1, 0],
                [0, 1, 2, 0, 4]]]], dtype=np.float64)
out, cache = max_pool_forward(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
print("pooled:\n", out[0, 0], "\nswitches (flat index y*5 + x):\n", cache[0][0, 0])
dx = max_pool_backward(np.ones_like(out), cache)
print("gradient of sum(out):\n", dx[0, 0])

# %% [markdown]
# The 9 in the middle lies in all four windows and wins each, so its gradient is 4. With `=`
# instead of `+=` in the backward pass it would be 1, and nothing else would look wrong.

# %% [markdown]
# ## Task 2.2: average and global average pooling
#
# Average pooling is a convolution with a fixed kernel of 1/(PH PW) on every channel. Write it
# vectorised: loop over the PH x PW taps, never over the images or the positions. Global
# average pooling replaces the fully connected layers of NiN, GoogLeNet and ResNet: one number
# per channel, no parameters.

# %%
from pooling import avg_pool_forward, global_avg_pool_forward

out, _ = avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
print("2x2 average pooling:\n", out[0, 0])
print("global average:", global_avg_pool_forward(x)[0][0])

# %% [markdown]
# ## Task 2.3: receptive fields (`receptive_fields.py`)
#
# r_l = r_{l-1} + (k_l - 1) d_l j_{l-1} and j_l = j_{l-1} s_l. VGG-16's conv5_3 units see
# 196x196 pixels and pool5 212x212, from nothing but 3x3 convolutions and 2x2 pools.

# %%
from receptive_fields import receptive_fields

names, layers = [], []
for block, convs in enumerate([2, 2, 3, 3, 3], start=1):
    for i in range(1, convs + 1):
        names.append(f"conv{block}_{i}")
        layers.append((3, 1, 1))
    names.append(f"pool{block}")
    layers.append((2, 2, 1))
for name, (field, jump) in zip(names, receptive_fields(layers)):
    print(f"{name:8s} field {field:4d}  jump {jump:3d}")
print("dilations 1, 2, 4, 8, 16:", [f for f, _ in receptive_fields([(3, 1, d) for d in (1, 2, 4, 8, 16)])])

# %% [markdown]
# **Question.** How many 3x3 convolutions without pooling does it take to see 212 pixels? How
# many with dilations doubling at every layer?

# %% [markdown]
# ## Task 2.4: dilated convolution (`dilated_conv.py`)
#
# A dilation d spreads a kernel's taps d apart. It is a plain convolution with a kernel that has
# d - 1 zeros between its taps: check that both give the same numbers.

# %%
from dilated_conv import dilate_kernel, dilated_conv_forward

rng = np.random.default_rng(0)
image, w, b = rng.standard_normal((1, 1, 9, 9)), rng.standard_normal((1, 1, 3, 3)), np.zeros(1)
dilated = dilated_conv_forward(image, w, b, {"stride": 1, "pad": 0, "dilation": 2})
print("kernel 3x3 with dilation 2 covers", dilate_kernel(w, 2).shape[2:], "; output", dilated.shape[2:])

# %% [markdown]
# ## Task 2.5: 1x1 bottlenecks and the Inception module (`inception_cost.py`)
#
# On a 28x28x256 input the naive module (128 1x1, 192 3x3, 96 5x5 filters and a pool) costs
# 854M multiply-adds and outputs 672 channels. GoogLeNet's module cuts the channels to 64 with
# 1x1 convolutions before the 3x3 and the 5x5 and after the pool.

# %%
from inception_cost import bottleneck_inception_macs, naive_inception_macs, pointwise_conv

naive = naive_inception_macs(28, 28, 256, 128, 192, 96)
bottleneck = bottleneck_inception_macs(28, 28, 256, 128, 64, 192, 64, 96, 64)
for name, table in (("naive", naive), ("with 1x1 bottlenecks", bottleneck)):
    print(f"{name}: {table['out_channels']} output channels")
    for branch, macs in table.items():
        if branch != "out_channels":
            print(f"    {branch:12s} {macs:>13,}")
print(f"the bottlenecks cut the cost to {bottleneck['total'] / naive['total']:.0%}")

# %% [markdown]
# **Question.** A much-copied lecture slide lists exactly these six products for the
# bottlenecked module and prints "Total: 358M ops". Add its list up. Where could 358M come from,
# and which number would you report? `double_counted` checks one explanation: a product added
# twice.

# %%
from inception_cost import double_counted

print(f"the slide's list adds up to {bottleneck['total'] / 1e6:.0f}M; 358M is that sum with "
      f"{double_counted(bottleneck, 358e6)} counted twice")

# %% [markdown]
# A 1x1 convolution is a matrix product over the channels at every pixel. Yours:

# %%
x = rng.standard_normal((2, 256, 28, 28))
reduced = pointwise_conv(x, rng.standard_normal((64, 256)) / 16, np.zeros(64))
print("1x1 convolution 256 -> 64 channels:", x.shape, "->", reduced.shape)

# %% [markdown]
# ## Task 2.6: depthwise-separable convolution (`separable.py`)
#
# One K x K filter per channel, then a 1x1 convolution to mix them: 1/N + 1/K² of the
# standard convolution's multiply-adds.

# %%
from separable import depthwise_conv_forward, separable_conv_forward, separable_cost_ratio

for out_channels, kernel in [(64, 3), (256, 3), (1024, 3), (64, 5)]:
    print(f"N = {out_channels:4d}, K = {kernel}: {separable_cost_ratio(out_channels, kernel):.3f} of the cost")
x = rng.standard_normal((2, 8, 16, 16))
out = separable_conv_forward(x, rng.standard_normal((8, 1, 3, 3)), np.zeros(8), rng.standard_normal((16, 8)),
                             np.zeros(16), {"stride": 1, "pad": 1})
print("separable 8 -> 16 channels:", out.shape)

# %% [markdown]
# That is homework 2. `minidl.zoo.mobilenet` stacks thirteen of these blocks; `minidl summary
# mobilenet_v1` prints what each one costs next to the standard convolution it replaces.
