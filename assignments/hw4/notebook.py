# %% [markdown]
# # Homework 4: Transfer learning
#
# A network trained on one task is a good start for another: keep its layers as a fixed feature
# extractor and train a new head, or fine-tune all of it, the early layers slower than the late
# ones. Which is best depends on how much labelled data the new task has and how much it looks
# like the old one (the lecture's four cases). The source here is LeNet-5 trained on five shapes
# (`lenet5-synthetic-shapes`, shipped with minidl); the targets are five *other* shapes drawn the
# same way (`synthetic-shapes-new`, similar) and as outlines on checkerboards
# (`synthetic-shapes-outline`, different). Everything runs offline in a minute or two.
#
# `minidl.transfer` has all of this; use it where a task does not ask you to write the thing
# (`replace_head`, `finetune`), not where it does (freezing, groups, features, probes).
# Grade yourself from this folder's parent: `minidl grade hw4 --source .`.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minidl
from minidl.data import load_dataset
from minidl.transfer import trainable_summary
from minidl.zoo import load_pretrained

QUICK = os.environ.get("MINIDL_HOMEWORK_QUICK") == "1"
source = load_pretrained("lenet5-synthetic-shapes")
mean = np.array(source.weights_metadata["normalize"]["mean"], dtype=np.float32)[:, None, None]
std = np.array(source.weights_metadata["normalize"]["std"], dtype=np.float32)[:, None, None]


def normalised(images):
    """Images as the source model was trained on them."""
    return ((images - mean) / std).astype(np.float32)


def labelled_subset(dataset, per_class):
    """The first ``per_class`` images of each class: (images, labels)."""
    labels = np.asarray(dataset.targets)
    chosen = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(len(dataset.classes))])
    return normalised(dataset.images[chosen]), labels[chosen]


print(source)

# %% [markdown]
# ## Task 4.1: feature extractor or fine-tuning (`strategies.py`)
#
# Replace the head for the new classes; freeze the rest (feature extractor) or not
# (fine-tuning). Count what trains.

# %%
import copy

from strategies import feature_extractor, fine_tuning, trainable_parameters

extractor = feature_extractor(copy.deepcopy(source), 5)
tuned = fine_tuning(copy.deepcopy(source), 5)
print(f"feature extractor: {trainable_parameters(extractor):,} trainable parameters; "
      f"fine-tuning: {trainable_parameters(tuned):,}")
print(trainable_summary(extractor))

# %% [markdown]
# **Question.** A ResNet's batch-norm layers have parameters *and* running statistics. Which of
# the two does `requires_grad = False` freeze? What does your `set_train_mode` add, and what
# goes wrong in a feature extractor without it?

# %% [markdown]
# ## Task 4.2: layer-wise learning rates (`layerwise.py`)

# %%
from layerwise import layerwise_groups

groups = [["features.conv1"], ["features.conv2"], ["classifier.fc1"], ["classifier.fc2"], ["classifier.fc3"]]
for names, group in zip(groups, layerwise_groups(tuned, groups, base_lr=0.01, factor=3.0)):
    print(f"{names[0]:16s} lr {group['lr']:.2e}   {sum(p.numel() for p in group['params']):>6,} parameters")

# %% [markdown]
# ## Task 4.3: what each layer knows (`probes.py`)
#
# A ridge probe on each layer's features: on the source's own classes, and on the two targets,
# with 20 labelled images per class.

# %%
from probes import layer_features, ridge_probe

layers = ["features.pool1", "features.pool2", "classifier.act3", "classifier.act4"]
test_count = 200 if QUICK else 1000
table = {}
for name in ("synthetic-shapes", "synthetic-shapes-new", "synthetic-shapes-outline"):
    train_x, train_y = labelled_subset(load_dataset(name, train=True), 20)
    test = load_dataset(name, train=False)
    test_x, test_y = normalised(test.images[:test_count]), np.asarray(test.targets[:test_count])
    table[name] = [ridge_probe(layer_features(source, train_x, layer), train_y,
                               layer_features(source, test_x, layer), test_y) for layer in layers]
    print(f"{name:26s}", "  ".join(f"{a:.2f}" for a in table[name]))
for name, accuracies in table.items():
    plt.plot(layers, accuracies, marker="o", label=name)
plt.ylabel("probe test accuracy")
plt.legend()
plt.show()

# %% [markdown]
# **Question.** On which target do the late layers stop helping? What does that say about what
# the late layers of the source learnt?

# %% [markdown]
# ## Task 4.4: one cell of the four-case table (`four_cases.py`)
#
# Little data (10 labelled images per class), similar source: the lecture says a linear
# classifier on the top layer. Measure it against fine-tuning everything.

# %%
from four_cases import advice, little_data_similar_source

minidl.manual_seed(0)
train_x, train_y = labelled_subset(load_dataset("synthetic-shapes-new", train=True), 10)
test = load_dataset("synthetic-shapes-new", train=False)
result = little_data_similar_source(source, "classifier.act4", train_x, train_y, normalised(test.images[:test_count]),
                                    np.asarray(test.targets[:test_count]), epochs=2 if QUICK else 10)
print(f"advice: {advice('little', 'similar')}")
print(f"linear probe on the top layer: {result['probe']:.1%}; fine-tuning all layers: {result['fine-tune']:.1%}")

# %% [markdown]
# **Question.** Run the cell again with 300 labels per class. Does the advice change, as the
# table says it should? `minidl experiment four-cases` runs all four cells with every strategy.
