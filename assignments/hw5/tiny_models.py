"""The small networks the tests run the methods on (float64, so that results compare exactly).

Not graded: the tests and the hidden cases build the same networks from here.
"""

import minidl
from minidl import nn


def tiny_cnn(seed=0):
    """(N, 3, 8, 8) -> (N, 5): conv 3x3 (pad 1), ReLU, 2x2 max pool, conv 3x3, ReLU, linear; float64."""
    minidl.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 2 * 2, 5)).double()


def first_block(seed=0):
    """(N, 3, 12, 12) -> (N, 4, 4, 4): conv 5x5 (no padding), ReLU, 2x2 max pool, as LeNet-5's first block; float64."""
    minidl.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 5), nn.ReLU(), nn.MaxPool2d(2)).double()
