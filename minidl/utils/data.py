"""``torch.utils.data``'s names at PyTorch's path, so that ported code imports unchanged:

    from minidl.utils.data import DataLoader, Dataset, TensorDataset, random_split, Subset

They are the classes of ``minidl.data`` (see ``minidl.data.loader`` and ``minidl.data.dataset``).
"""

from minidl.data.dataset import Dataset, Subset, TensorDataset, random_split
from minidl.data.loader import DataLoader

__all__ = ["DataLoader", "Dataset", "TensorDataset", "random_split", "Subset"]
