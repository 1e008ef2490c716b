"""``minidl.nn.functional`` is ``minidl.functional``, the same module under PyTorch's path.

A port of PyTorch code changes only the word ``torch``: ``import minidl.nn.functional as F``.
"""

import sys

import minidl.functional

sys.modules[__name__] = minidl.functional
