"""minidl: a from-scratch NumPy deep-learning framework for learning how CNNs work.

    import minidl as md
    from minidl import nn, optim, functional as F
"""

from minidl.grad_mode import enable_grad, is_grad_enabled, no_grad
from minidl.tensor import Tensor, tensor
from minidl.function import Function
from minidl.ops import cat, stack
from minidl.random import get_generator, manual_seed
from minidl.kernels.backend import get_backend, set_backend, use_backend
from minidl.kernels.threads import get_num_threads, set_num_threads
# ``minidl.gradcheck`` is the function, as in DESIGN's ``md.gradcheck(fn, inputs)``; the module
# of the same name stays importable: ``from minidl.gradcheck import numerical_grad``.
from minidl.gradcheck import gradcheck, numerical_grad, rel_error
from minidl.analysis import receptive_field, summary, to_fully_convolutional

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "cat", "stack",
    "manual_seed", "get_generator", "get_backend", "set_backend", "use_backend",
    "get_num_threads", "set_num_threads",
    "gradcheck", "numerical_grad", "rel_error", "summary", "receptive_field", "to_fully_convolutional",
]
