"""minidl.nn: modules (layers with their parameters), containers and initialisers.

    from minidl import nn
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 16 * 16, 10))
"""

# functional: minidl.nn.functional is there after `import minidl`, as torch.nn.functional after `import torch`
from minidl.nn import functional, init, utils
from minidl.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minidl.nn.containers import ModuleDict, ModuleList, Sequential
from minidl.nn.conv import Conv2d, ConvTranspose2d, DepthwiseSeparableConv2d
from minidl.nn.dropout import Dropout
from minidl.nn.linear import Flatten, Identity, Linear
from minidl.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from minidl.nn.module import IncompatibleKeys, Module
from minidl.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from minidl.nn.parameter import Parameter
from minidl.nn.pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d, MaxUnpool2d
from minidl.nn.upsample import Upsample

__all__ = [
    "functional", "init", "utils", "Module", "Parameter", "IncompatibleKeys", "Sequential", "ModuleList", "ModuleDict",
    "Linear", "Identity", "Flatten", "Conv2d", "ConvTranspose2d", "DepthwiseSeparableConv2d",
    "MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d", "Upsample",
    "BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm", "Dropout",
    "ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "NLLLoss", "MSELoss",
]
