"""MNIST and Fashion-MNIST, read from their original gzip-compressed IDX files.

    train_set = MNIST(train=True, download=True)     # 60,000 digits
    test_set = MNIST(train=False)                    # 10,000 digits
    train_set.data.shape, train_set.images.shape     # (60000, 28, 28) uint8, (60000, 1, 28, 28) float32

Files live in ``<root>/mnist/`` and ``<root>/fashion-mnist/`` under their original names
(``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``); root is ``root=``, else ``$MINIDL_DATA``, else
``~/.cache/minidl``.

Every load checks each file's MD5 against the one its publisher lists before parsing it. That
costs a few tens of milliseconds for MNIST's 10 MB and turns a damaged or wrong file into an
error that says so, instead of a confusing failure later or, worse, a dataset that loads with
wrong pixels. The IDX parser then checks the header and sizes on top (see ``minidl.data.idx``).
"""

from pathlib import Path

from minidl.data.download import default_root, ensure_file
from minidl.data.idx import read_idx
from minidl.data.image_dataset import ImageDataset

__all__ = ["MNIST", "FashionMNIST"]

IMAGES_MAGIC = 0x00000803   # uint8, 3 dimensions (count, rows, columns)
LABELS_MAGIC = 0x00000801   # uint8, 1 dimension (count)


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 28x28 grey images, labels 0-9, as ``torchvision.datasets.MNIST``.

    Args:
        root: the data folder holding ``mnist/``; None: ``$MINIDL_DATA``, else ``~/.cache/minidl``.
        train: the 60,000 training images (True) or the 10,000 test images (False).
        download: fetch missing or damaged files (from the official address, then a mirror),
            verified by MD5 and written atomically.
        checksums: ``{file name: MD5}`` replacing the official MD5 of those files, for files in
            the same format that you made or obtained yourself.
    Attributes:
        data uint8 (N, 28, 28), images float32 (N, 1, 28, 28) in [0, 1], targets int64 (N,),
        classes, root (the data folder), folder (where the files are), train.
    """

    folder_name = "mnist"
    # The official address is often unreachable; PyTorch's S3 mirror serves the same files.
    mirrors = ["http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"]
    files = {   # file name -> MD5, as published with the files
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    image_size = (28, 28)
    class_names = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
                   "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, download=False, checksums=None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.folder = self.root / self.folder_name
        self.train = bool(train)
        checksums = {**self.files, **(checksums or {})}
        split = "train" if self.train else "t10k"
        paths = []
        for name in (f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"):
            urls = [mirror + name for mirror in self.mirrors]
            paths.append(ensure_file(self.folder / name, checksums[name], urls, download,
                                     dataset=type(self).__name__))
        images = read_idx(paths[0], expected_magic=IMAGES_MAGIC)
        labels = read_idx(paths[1], expected_magic=LABELS_MAGIC)
        if images.shape[1:] != self.image_size:
            raise ValueError(f"{paths[0]}: expected images of {self.image_size[0]}x"
                             f"{self.image_size[1]} pixels, got shape {images.shape}")
        if len(labels) != len(images):
            raise ValueError(f"{self.folder}: {paths[0].name} holds {len(images)} images but "
                             f"{paths[1].name} holds {len(labels)} labels")
        super().__init__(images, labels, self.class_names)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of clothing in 10 classes, in MNIST's format.

    Same arguments and attributes as ``MNIST``; the files live in ``<root>/fashion-mnist/``.
    """

    folder_name = "fashion-mnist"
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    files = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
