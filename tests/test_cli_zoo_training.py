"""Every family of the zoo trains from ``minidl train --model NAME`` on the offline datasets.

One model a file of minidl/zoo (the other models of a file share its code: VGG-13/16/19 add
layers to VGG-11, ResNet-34 blocks to ResNet-18; ResNet-50 stands for the bottleneck ResNets),
each at its default size: the dataset's own when the model takes it, else the smallest the
model takes (MNIST's 28x28 digits resized to 32x32 for VGG, 63x63 for AlexNet, 67x67 for the
original AlexNet; the 32x32 shapes to 47x47 for ZFNet). Grey digits give models with one input
channel, the colour shapes three. Settings are tiny so that all of it takes about a minute
on a 2-core CPU: 32 images, batches of 8, 3 epochs without augmentation, 16 test images, the
default optimiser (Adam) and learning rate. VGG-11 and the AlexNets train 2 epochs only: their
huge fully connected layers (129 M weights in VGG-11, 57 M in AlexNet) make each epoch's
checkpoint, with Adam's two averages of every weight, the slowest part of the run (VGG-11
takes about 25 s even so); at their lower default learning rate they learn steadily from the
first step.

"Trains" means: the run completes, writes its run folder, and the training loss of a later
epoch is below that of the first. Not necessarily the last one: with four steps an epoch on
batches of 8, a deep network's loss can rise again for an epoch (ResNet-50's went 5.78, 4.63,
6.97 on an AMD Zen 4, where the floating-point sums round differently from a Zen 5's, on
which it fell at every epoch).
"""

import json

import pytest

from minidl import cli
from minidl.cli.images import default_image_size
from minidl.zoo import MODELS

RUN_FILES = {"metrics.json", "checkpoint.npz", "curves.png", "confusion.png", "filters.png"}
TINY = ["--limit", "32", "--val-fraction", "0", "--batch-size", "8", "--no-augment", "--test-limit", "16",
        "--no-progress"]
TWO_EPOCHS = {"vgg11", "alexnet", "alexnet_original"}
DATASET_SIDE = {"builtin": 28, "synthetic-shapes": 32}

FAMILIES = [   # (model, dataset, channels)
    ("lenet5", "builtin", 1),
    ("small_vgg", "builtin", 1),
    ("alexnet", "builtin", 1),
    ("alexnet_original", "builtin", 1),
    ("zfnet", "synthetic-shapes", 3),
    ("vgg11", "builtin", 1),
    ("googlenet", "builtin", 1),
    ("all_cnn_c", "synthetic-shapes", 3),
    ("resnet18", "builtin", 1),
    ("resnet50", "builtin", 1),
    ("resnet20", "synthetic-shapes", 3),
    ("densenet121", "synthetic-shapes", 3),
    ("mobilenet_v1", "synthetic-shapes", 3),
]


def test_every_zoo_file_has_a_model_here():
    files = {MODELS[model].__module__ for model, _, _ in FAMILIES}
    assert files == {builder.__module__ for builder in MODELS.values()}


@pytest.mark.parametrize("model, dataset, channels", FAMILIES, ids=[model for model, _, _ in FAMILIES])
def test_the_model_trains_on_an_offline_dataset(model, dataset, channels, tmp_path):
    out = tmp_path / model
    epochs = 2 if model in TWO_EPOCHS else 3
    assert cli.main(["train", "--model", model, "--dataset", dataset, "--epochs", str(epochs), *TINY,
                     "--out", str(out)]) == 0
    assert {path.name for path in out.iterdir()} == RUN_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    size = default_image_size(model, DATASET_SIDE[dataset])
    classes = len(metrics["data"]["classes"])
    assert metrics["model"]["kwargs"] == {"num_classes": classes, "in_channels": channels, "image_size": size}
    losses = metrics["history"]["train_loss"]
    assert len(losses) == epochs and min(losses[1:]) < losses[0], losses
    assert metrics["data"]["test_images"] == 16 and 0 <= metrics["test_accuracy"] <= 1
