"""PyTorch's ``torch.utils`` path, for the parts minidl has: ``minidl.utils.data``."""

from minidl.utils import data

__all__ = ["data"]
