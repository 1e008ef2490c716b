"""Task 3.6: a small ResNet for 28x28 images, and the loop that trains it.

    stem     3x3 conv, widths[0], padding 1, no bias; batch norm; ReLU      (N, C, 28, 28)
    stage 1  ResidualBlock(widths[0], widths[0], stride 1)                  28x28
    stage 2  ResidualBlock(widths[0], widths[1], stride 2)                  14x14
    stage 3  ResidualBlock(widths[1], widths[2], stride 2)                  7x7
    head     global average pooling; Linear(widths[2], num_classes)

One epoch of training: shuffle the images, and for each batch of ``batch_size`` (the last one
may be smaller) augment it, compute the cross-entropy of the model's scores, backward, step.
"""

import numpy as np

import minidl
from blocks import ResidualBlock
from minidl import functional as F
from minidl import nn


def small_resnet(num_classes=10, in_channels=1, widths=(16, 32, 64)):
    """The network above, built with your ResidualBlock (Task 3.3): (N, in_channels, H, W) -> (N, num_classes)."""
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(),
        ResidualBlock(widths[0], widths[0]),
        ResidualBlock(widths[0], widths[1], stride=2),
        ResidualBlock(widths[1], widths[2], stride=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[2], num_classes),
    )
    ### END SOLUTION


def train_epoch(model, optimizer, images, labels, batch_size, rng, augment=None):
    """One epoch of minibatch training.

    Args:
        model: the network (put in training mode here).
        optimizer: a minidl optimizer over the model's parameters.
        images: (N, C, H, W) float32, normalised; labels: (N,) ints.
        batch_size: images per step.
        rng: np.random.Generator for the order (and the augmentation).
        augment: None, or a function (batch, rng) -> batch applied to every batch.
    Returns:
        the mean of the batches' losses, a float.
    """
    ### BEGIN SOLUTION
    model.train()
    order = rng.permutation(len(images))
    losses = []
    for start in range(0, len(images), batch_size):
        batch = order[start:start + batch_size]
        x = images[batch] if augment is None else augment(images[batch], rng)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(minidl.tensor(x)), labels[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))
    ### END SOLUTION


def accuracy(model, images, labels, batch_size=500):
    """The fraction of images whose highest score is their label, in evaluation mode, without gradients."""
    ### BEGIN SOLUTION
    model.eval()
    correct = 0
    with minidl.no_grad():
        for start in range(0, len(images), batch_size):
            scores = model(minidl.tensor(images[start:start + batch_size]))
            correct += int((scores.argmax(1).numpy() == labels[start:start + batch_size]).sum())
    return correct / len(images)
    ### END SOLUTION
