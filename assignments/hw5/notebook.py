# %% [markdown]
# # Homework 5: Visualising and fooling networks
#
# What does a trained network look at, what does a unit respond to, what does it think a class
# looks like, and how little does it take to make it wrong? You implement each method yourself:
# saliency maps, guided backpropagation, the deconvnet, occlusion, class model images and
# fooling images. `minidl.explain` and `minidl.visualize` hold the reference versions: they are
# what the grader compares yours with, not something your code may import.
#
# The network is LeNet-5 trained on MNIST by minidl (`lenet5-mnist`, shipped with the package),
# the images the built-in MNIST test digits. Grade yourself from this folder's parent:
# `minidl grade hw5 --source .`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minidl
from minidl import nn
from minidl.data import load_dataset
from minidl.zoo import load_pretrained

lenet = load_pretrained("lenet5-mnist")
mean, std = lenet.weights_metadata["normalize"]["mean"][0], lenet.weights_metadata["normalize"]["std"][0]


class OnPixels(nn.Module):
    """LeNet-5 fed pixels in [0, 1]: the normalisation it was trained with comes first."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model((x - mean) / std)


model = OnPixels(lenet).eval()
digits = load_dataset("builtin", train=False)
x = digits.images[:8].astype(np.float32)          # (8, 1, 28, 28) in [0, 1]
y = np.asarray(digits.targets[:8])


def show_row(images, titles, cmap="gray"):
    figure, axes = plt.subplots(1, len(images), figsize=(1.4 * len(images), 1.8))
    for axis, image, title in zip(axes, images, titles):
        axis.imshow(image, cmap=cmap)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    plt.show()


show_row(x[:, 0], [f"label {label}" for label in y])

# %% [markdown]
# ## Task 5.1: saliency maps (`saliency.py`)
#
# One backward pass from the class score to the pixels; the map is the absolute gradient's
# largest channel.

# %%
from saliency import saliency_map

show_row(saliency_map(model, x, y), [f"saliency {label}" for label in y], cmap="hot")

# %% [markdown]
# ## Task 5.2: guided backpropagation (`guided_backprop.py`)
#
# Through every ReLU, only the positive signal, and only where the ReLU was active on the way
# up. A hook on each `nn.ReLU` replaces its input gradient.

# %%
from guided_backprop import guided_backprop

guided = guided_backprop(model, x, y)[:, 0]
show_row(np.maximum(guided, 0), [f"guided {label}" for label in y], cmap="gray")

# %% [markdown]
# **Question.** Change your hook to return the positive part of `grad_output` instead (no forward
# mask). That is the deconvnet's rule. How do the pictures change, and why do they depend less
# on the image?

# %% [markdown]
# ## Task 5.3: the deconvnet through the switches (`deconvnet.py`)
#
# Project the strongest activation of each of conv1's six maps (after the pool) back to the
# pixels of the first digit.

# %%
from deconvnet import deconv_reconstruct

first_block = nn.Sequential(lenet.features.conv1, lenet.features.act1, lenet.features.pool1)
normalised = ((x[:1] - mean) / std).astype(np.float32)
projections = [deconv_reconstruct(first_block, normalised, channel)[0, 0] for channel in range(6)]
show_row(projections, [f"conv1 map {c}" for c in range(6)], cmap="RdBu_r")

# %% [markdown]
# ## Task 5.4: occlusion (`occlusion.py`)
#
# Grey squares of 6x6 pixels, every 2 pixels: where does covering the digit hurt the score most?

# %%
from occlusion import occlusion_map

drops = occlusion_map(model, x, y, window=6, stride=2, baseline=0.5)
show_row(drops, [f"drop {label}" for label in y], cmap="viridis")

# %% [markdown]
# ## Task 5.5: class model images (`class_model.py`)
#
# The image LeNet-5 scores highest for each digit, from a black start, with steps of fixed
# length and an L2 penalty (`minidl visualize` adds CS231n's jitter and blur for smoother ones).

# %%
from class_model import class_model_image

images = [class_model_image(model, digit, (1, 28, 28), iterations=100, step=1.8, l2=1e-3)[0] for digit in range(10)]
with minidl.no_grad():
    found = model(minidl.tensor(np.stack(images)[:, None])).numpy().argmax(axis=1)
show_row(images, [f"{digit} (says {found[digit]})" for digit in range(10)])

# %% [markdown]
# ## Task 5.6: fooling images (`fooling.py`)
#
# Push each digit to be read as the next digit: the change is a faint pattern, magnified ten
# times in the bottom row.

# %%
from fooling import make_fooling_image

fooled, changes = [], []
for image, label in zip(x[:6], y[:6]):
    target = (int(label) + 1) % 10
    fooling = make_fooling_image(model, image[None], target, lr=0.1, max_iter=200)
    with minidl.no_grad():
        said = int(model(minidl.tensor(fooling)).numpy().argmax())
    fooled.append((fooling[0, 0], f"{label} -> says {said}"))
    changes.append(((fooling - image[None])[0, 0] * 10 + 0.5, f"L2 {np.linalg.norm(fooling - image[None]):.2f}"))
show_row([image for image, _ in fooled], [title for _, title in fooled])
show_row([change for change, _ in changes], [title for _, title in changes])

# %% [markdown]
# **Question.** The changes are small in L2 but spread over the whole image. Why would a linear
# classifier in 784 dimensions be just as easy to fool (Goodfellow et al. 2015)?
