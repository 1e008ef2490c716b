"""minidl: a from-scratch NumPy deep-learning framework for learning how CNNs work.

    import minidl as md
    from minidl import nn, optim, functional as F      # or: import minidl.nn.functional as F

The names follow PyTorch's, so a port of PyTorch code changes only the word ``torch``:
tensors and their factories (``md.zeros``, ``md.randn``, ``md.arange``, ...), dtypes
(``md.float32``, ``md.int64``), grad modes (``md.no_grad``, ``md.inference_mode``), devices
(``md.device("cpu")``; ``md.cuda.is_available()`` is False), ``md.save``/``md.load``.
"""

from minidl.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from minidl.tensor import Size, Tensor, device, tensor
from minidl.function import Function
from minidl.ops import amax, amin, argmax, argmin, cat, clone, flatten, gather, matmul, norm, stack, where
from minidl.ops import abs, exp, log, sqrt  # noqa: A004 (PyTorch's names, as attributes of the package)
from minidl.ops import max, maximum, mean, min, minimum, sum  # noqa: A004
from minidl.dtypes import *  # noqa: F401,F403
from minidl.factories import *  # noqa: F401,F403
from minidl.random import get_generator, manual_seed
from minidl.kernels.backend import get_backend, set_backend, use_backend
from minidl.kernels.threads import get_num_threads, set_num_threads
# ``minidl.gradcheck`` is the function, as in DESIGN's ``md.gradcheck(fn, inputs)``; the module
# of the same name stays importable: ``from minidl.gradcheck import numerical_grad``.
from minidl.gradcheck import gradcheck, numerical_grad, rel_error
from minidl import accelerator, backends, cuda, data, functional, nn, optim, utils
from minidl.functional import relu, sigmoid, softmax, tanh
from minidl.analysis import receptive_field, summary, to_fully_convolutional
from minidl.serialization import load, save

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Size", "device", "Function", "no_grad", "enable_grad", "is_grad_enabled",
    "inference_mode", "set_grad_enabled", "cat", "stack", "flatten", "gather", "where", "clone", "matmul",
    "norm", "abs", "exp", "log", "sqrt", "max", "min", "maximum", "minimum", "amax", "amin", "argmax", "argmin",
    "sum", "mean",
    "relu", "sigmoid", "softmax", "tanh",
    "manual_seed", "get_generator", "get_backend", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads", "accelerator", "backends", "cuda", "data", "functional", "nn",
    "optim", "utils",
    "gradcheck", "numerical_grad", "rel_error", "summary", "receptive_field", "to_fully_convolutional",
    "save", "load",
]
