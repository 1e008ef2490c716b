"""CIFAR-10, read from the original "python version" of the dataset.

    train_set = CIFAR10(train=True, download=True)    # 50,000 colour images, 10 classes
    train_set.data.shape, train_set.images.shape      # (50000, 32, 32, 3) uint8, (50000, 3, 32, 32) float32

The publisher ships one archive, ``cifar-10-python.tar.gz``, holding the folder
``cifar-10-batches-py/`` with five training batches ``data_batch_1`` ... ``data_batch_5`` and one
``test_batch`` of 10,000 images each. Files live in ``<root>/cifar-10/``: the archive and, once
extracted, ``<root>/cifar-10/cifar-10-batches-py/``. Root is ``root=``, else ``$MINIDL_DATA``,
else ``~/.cache/minidl``.

Each batch is a Python pickle of a dict: ``b"data"``, a uint8 array (10000, 3072) whose rows are
the red, green and blue 32x32 planes one after the other, and ``b"labels"``, a list of ints.

Why the care with pickles: unpickling runs code. A pickle names functions to call while it loads,
so ``pickle.load`` on a file of unknown origin lets its author run anything on your machine.
This loader therefore never unpickles a batch before its MD5 equals the published one (see
``CIFAR10.files``); and, as a second lock, it unpickles with an unpickler that can build NumPy
arrays and nothing else (``_ArrayUnpickler``).
"""

import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np

from minidl.files import atomic_write
from minidl.data.download import ChecksumError, check_md5, default_root, ensure_file
from minidl.data.image_dataset import ImageDataset

__all__ = ["CIFAR10"]

ARCHIVE = "cifar-10-python.tar.gz"
BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
TEST_BATCHES = ["test_batch"]


class CIFAR10(ImageDataset):
    """CIFAR-10: 32x32 colour images in 10 classes, as ``torchvision.datasets.CIFAR10``.

    Args:
        root: the data folder holding ``cifar-10/``; None: ``$MINIDL_DATA``, else
            ``~/.cache/minidl``.
        train: the 50,000 training images (True) or the 10,000 test images (False).
        download: fetch the archive if it is needed and missing or damaged, verified by MD5 and
            written atomically.
        checksums: ``{file name: MD5}`` replacing the published MD5 of those files (the archive
            or batches), for files in CIFAR-10's format that you made yourself. A batch whose
            MD5 is not listed correctly is never unpickled.
    Attributes:
        data uint8 (N, 32, 32, 3), images float32 (N, 3, 32, 32) in [0, 1], targets int64 (N,),
        classes, root (the data folder), folder (where the files are), train.
    """

    folder_name = "cifar-10"
    urls = ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    files = {   # file name -> MD5, as published (the archive) and as torchvision lists (batches)
        ARCHIVE: "c58f30108f718f92721af3b95e74349a",
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
    }
    class_names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]

    def __init__(self, root=None, train=True, download=False, checksums=None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.folder = self.root / self.folder_name
        self.train = bool(train)
        checksums = {**self.files, **(checksums or {})}
        batches_folder = self.folder / BATCHES_FOLDER
        paths = [batches_folder / name for name in (TRAIN_BATCHES if self.train else TEST_BATCHES)]
        if not all(path.exists() for path in paths):
            self._extract(batches_folder, checksums, download)
        data, labels = [], []
        for path in paths:
            # Unpickling can run code: a batch is unpickled only once its MD5 is the one listed.
            try:
                check_md5(path, checksums[path.name])
            except ChecksumError as error:
                raise ChecksumError(
                    f"{type(self).__name__}: {error}. Delete it to have it extracted again from "
                    f"{self.folder / ARCHIVE}"
                ) from error
            batch_data, batch_labels = _read_batch(path)
            data.append(batch_data)
            labels.append(batch_labels)
        # Rows hold the R, G and B planes in turn: (N, 3072) -> (N, 3, 32, 32) -> (N, 32, 32, 3).
        data = np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        super().__init__(data, np.concatenate(labels), self.class_names)

    def _extract(self, batches_folder, checksums, download):
        """Extract all six batches from the archive (fetched first when allowed)."""
        try:
            archive = ensure_file(self.folder / ARCHIVE, checksums[ARCHIVE], self.urls, download,
                                  dataset=type(self).__name__)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"{error}; or place the extracted folder {BATCHES_FOLDER}/ in {self.folder}"
            ) from error
        _extract_batches(archive, batches_folder, TRAIN_BATCHES + TEST_BATCHES)


def _extract_batches(archive, folder, names):
    """Copy the members ``cifar-10-batches-py/<name>`` of the tar archive into ``folder``.

    Safe against crafted archives: each file is written to ``folder / name`` with ``name`` taken
    from our own list, never from the archive, so member names such as ``../../.bashrc`` or
    ``/etc/passwd`` and links cannot make it write anywhere else (``tarfile.extractall`` would
    follow the names in the archive). Links and folders under a wanted name are refused. One pass
    over the archive: a gzip stream is slow to seek back in.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{BATCHES_FOLDER}/{name}": name for name in names}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = wanted.pop(member.name, None)
            if name is None:
                continue
            if not member.isfile():
                raise ValueError(f"{archive}: {member.name} is not a regular file")
            with tar.extractfile(member) as source, atomic_write(folder / name) as target:
                shutil.copyfileobj(source, target)
    if wanted:
        raise ValueError(f"{archive} is not the CIFAR-10 archive: it lacks {', '.join(sorted(wanted))}")


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays, dicts, lists, strings and numbers, and nothing else.

    A pickle refers to the functions it needs by module and name ("globals"); a CIFAR-10 batch
    needs exactly the three that rebuild an ndarray. Any other name is refused, not imported.
    """

    allowed = {
        ("numpy.core.multiarray", "_reconstruct"),    # how NumPy 1.x names it (the CIFAR files)
        ("numpy._core.multiarray", "_reconstruct"),   # how NumPy 2.x names it
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(
                f"refusing {module}.{name}: a CIFAR-10 batch holds only arrays and lists"
            )
        return super().find_class(module, name)


def _read_batch(path):
    """``(data uint8 (n, 3072), labels int64 (n,))`` from the batch file ``path``.

    Call only on a file whose MD5 has been checked (see the module docstring).
    """
    try:
        with open(path, "rb") as file:
            # encoding="bytes": the batches were pickled by Python 2; its str become bytes.
            batch = _ArrayUnpickler(file, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise ValueError(f"{path} is not a CIFAR-10 batch: {error}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        raise ValueError(
            f"{path}: expected b'data' to be uint8 (n, 3072), got "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        )
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{path}: expected {len(data)} integer labels, got {labels.dtype} {labels.shape}"
        )
    return data, labels.astype(np.int64)
