"""MNIST and Fashion-MNIST: the real files, and IDX files that are damaged in every way we can think of."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from minidl.data.download import ChecksumError
from minidl.data.idx import read_idx
from minidl.data.image_dataset import ImageDataset
from minidl.data.mnist import MNIST, FashionMNIST

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def idx_gz(array, type_code=0x08):
    """The gzip-compressed IDX bytes of ``array``: header (0, 0, type, ndim, sizes), then data."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    return gzip.compress(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hashlib.md5(content).hexdigest()


# ---------------------------------------------------------------------------- the real files
REAL = [
    # class, folder, train, count, SHA-256 of the first image's 784 bytes, first labels
    (MNIST, "mnist", True, 60000,
     "23ceaef5eb61f0e70d64ac18fdf0f60df3d5971cf30bbadac7b6ebf07f782d2c", [5, 0, 4, 1]),
    (MNIST, "mnist", False, 10000,
     "8f6a418c9a639f9e14e96feca47a97df2a35a0a68ae2875431c5c80e05536941", [7, 2, 1, 0]),
    (FashionMNIST, "fashion-mnist", True, 60000,
     "5bd44e331a6d6998daf675700cd0c13dcd7af8ab954b7585124124da61459e7b", [9, 0, 0, 3]),
    (FashionMNIST, "fashion-mnist", False, 10000,
     "ffc7351ed0f8bae542820866086177fa4e0b366b97bf9d998dffdb8dbe138787", [9, 2, 1, 1]),
]


@pytest.mark.parametrize("cls, folder, train, count, first_sha256, first_labels", REAL,
                         ids=[f"{r[1]}-{'train' if r[2] else 'test'}" for r in REAL])
def test_real_files_load(cls, folder, train, count, first_sha256, first_labels):
    if not (SHARED_DATA / folder).is_dir():
        pytest.skip(f"no {folder} files in {SHARED_DATA}")
    dataset = cls(root=SHARED_DATA, train=train)
    assert len(dataset) == count
    assert dataset.data.shape == (count, 28, 28) and dataset.data.dtype == np.uint8
    assert dataset.targets.shape == (count,) and dataset.targets.dtype == np.int64
    assert set(np.unique(dataset.targets)) == set(range(10)) and len(dataset.classes) == 10
    assert hashlib.sha256(dataset.data[0].tobytes()).hexdigest() == first_sha256
    assert dataset.targets[:4].tolist() == first_labels
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == first_labels[0]
    np.testing.assert_array_equal(image[0] * 255, dataset.data[0])


def test_real_images_as_floats():
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"no mnist files in {SHARED_DATA}")
    dataset = MNIST(root=SHARED_DATA, train=False)
    images = dataset.images
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.float32
    assert images.min() == 0 and images.max() == 1
    np.testing.assert_array_equal(np.rint(images[:, 0] * 255), dataset.data)
    assert dataset[9999][0].tobytes() == images[9999].tobytes()   # same item before and after


# ---------------------------------------------------------------------------- IDX files
@pytest.mark.parametrize("dtype, type_code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                              (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
def test_read_idx_round_trip(tmp_path, dtype, type_code):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    write(tmp_path / "a.gz", idx_gz(array, type_code))
    result = read_idx(tmp_path / "a.gz", expected_magic=0x00000003 | type_code << 8)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    result[0, 0, 0] = 1   # a writable copy, not a view of the file's bytes


def header(type_code, *shape):
    return bytes([0, 0, type_code, len(shape)]) + b"".join(s.to_bytes(4, "big") for s in shape)


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00", "too short for an IDX header"),
    (b"\x1f\x8b\x08\x03" + bytes(12), r"bad magic number 0x1F8B0803"),
    (header(0x07, 2) + bytes(2), r"bad magic number 0x00000701"),          # no such type
    (bytes([0, 0, 8, 0]), r"bad magic number 0x00000800.*at least one dimension"),
    (header(0x08, 4, 2)[:8], "truncated: its header needs 12 bytes for 2 dimensions, the file has 8"),
    (header(0x08, 4, 2) + bytes(7), r"truncated: shape \(4, 2\) needs 8 bytes .* found 7"),
    (header(0x0C, 3) + bytes(11), r"truncated: shape \(3,\) needs 12 bytes .* found 11"),
    (header(0x08, 4, 2) + bytes(9), r"damaged: .* found 9 \(1 bytes too many\)"),
])
def test_read_idx_refuses_malformed_content(tmp_path, content, message):
    path = tmp_path / "bad.gz"
    write(path, gzip.compress(content))
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_refuses_an_unexpected_magic_number(tmp_path):
    write(tmp_path / "labels.gz", idx_gz(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match=r"magic number 0x00000801, expected 0x00000803 \(type "
                                         r"code 0x08, 3 dimensions\)"):
        read_idx(tmp_path / "labels.gz", expected_magic=0x00000803)


def test_read_idx_refuses_a_truncated_gzip_file(tmp_path):
    content = idx_gz(np.arange(1000, dtype=np.uint8).reshape(10, 10, 10))
    write(tmp_path / "cut.gz", content[:len(content) // 2])
    with pytest.raises(ValueError, match=r"cut.gz is truncated: the gzip stream ends early"):
        read_idx(tmp_path / "cut.gz")


def test_read_idx_refuses_a_file_that_is_not_gzip(tmp_path):
    write(tmp_path / "plain.gz", header(0x08, 2) + bytes(2))
    with pytest.raises(ValueError, match="plain.gz is not a valid gzip file"):
        read_idx(tmp_path / "plain.gz")


def test_read_idx_refuses_a_gzip_file_with_flipped_bytes(tmp_path):
    content = bytearray(idx_gz(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    content[len(content) // 2] ^= 0xFF
    write(tmp_path / "flipped.gz", bytes(content))
    with pytest.raises(ValueError, match="flipped.gz is not a valid gzip file"):
        read_idx(tmp_path / "flipped.gz")


# ---------------------------------------------------------------------------- MNIST on small files
def fake_mnist(root, images, labels, split="t10k", folder="mnist"):
    """Write an MNIST split in IDX format under root/folder; returns its {file name: MD5}."""
    return {
        f"{split}-images-idx3-ubyte.gz": write(root / folder / f"{split}-images-idx3-ubyte.gz", idx_gz(images)),
        f"{split}-labels-idx1-ubyte.gz": write(root / folder / f"{split}-labels-idx1-ubyte.gz", idx_gz(labels)),
    }


@pytest.fixture
def small_split():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20, dtype=np.uint8) % 10


@pytest.mark.parametrize("cls, folder", [(MNIST, "mnist"), (FashionMNIST, "fashion-mnist")])
def test_small_files_load_with_their_checksums(tmp_path, small_split, cls, folder):
    images, labels = small_split
    checksums = fake_mnist(tmp_path, images, labels, split="train", folder=folder)
    dataset = cls(root=tmp_path, train=True, checksums=checksums)
    np.testing.assert_array_equal(dataset.data, images)
    np.testing.assert_array_equal(dataset.targets, labels)
    assert dataset.folder == tmp_path / folder and dataset.classes == cls.class_names
    np.testing.assert_array_equal(dataset.images[:, 0], images / np.float32(255))


def test_the_data_root_comes_from_minidl_data(tmp_path, small_split, monkeypatch):
    checksums = fake_mnist(tmp_path, *small_split)
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path))
    assert MNIST(train=False, checksums=checksums).root == tmp_path


def test_files_with_flipped_bytes_fail_their_md5(tmp_path, small_split):
    checksums = fake_mnist(tmp_path, *small_split)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    content = bytearray(path.read_bytes())
    content[100] ^= 0x01
    path.write_bytes(bytes(content))
    actual = hashlib.md5(bytes(content)).hexdigest()
    expected = checksums["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(ChecksumError) as info:
        MNIST(tmp_path, train=False, checksums=checksums)
    message = str(info.value)
    assert message.startswith("MNIST: ") and str(path) in message
    assert f"its MD5 is {actual}, expected {expected}" in message and "Delete it" in message


def test_files_that_are_not_the_official_ones_are_refused(tmp_path, small_split):
    fake_mnist(tmp_path, *small_split)   # valid IDX files, but not the published bytes
    with pytest.raises(ChecksumError, match=f"expected {MNIST.files['t10k-images-idx3-ubyte.gz']}"):
        MNIST(tmp_path, train=False)


def test_a_missing_file_says_where_it_looked_and_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path, train=True)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz not found in " + str(tmp_path / "mnist") in message
    assert "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz" in message
    assert "download=True" in message and "MINIDL_DATA" in message


def test_a_truncated_file_is_refused_even_with_a_matching_checksum(tmp_path, small_split):
    images, labels = small_split
    checksums = fake_mnist(tmp_path, images, labels)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    content = gzip.compress(gzip.decompress(path.read_bytes())[:-28])   # one row short
    checksums[path.name] = write(path, content)
    with pytest.raises(ValueError, match=r"truncated: shape \(20, 28, 28\) needs 15680 bytes .* found 15652"):
        MNIST(tmp_path, train=False, checksums=checksums)


def test_images_and_labels_files_are_swapped(tmp_path, small_split):
    images, labels = small_split
    checksums = {
        "t10k-images-idx3-ubyte.gz": write(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", idx_gz(labels)),
        "t10k-labels-idx1-ubyte.gz": write(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", idx_gz(images)),
    }
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: magic number 0x00000801, expected 0x00000803"):
        MNIST(tmp_path, train=False, checksums=checksums)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8), "holds 3 images but t10k-labels-idx1-ubyte.gz holds 4 labels"),
    (np.zeros((3, 32, 32), np.uint8), np.zeros(3, np.uint8), r"expected images of 28x28 pixels, got shape \(3, 32, 32\)"),
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 10, 1], np.uint8), r"MNIST: labels must lie in \[0, 10\)"),
])
def test_inconsistent_files_are_refused(tmp_path, images, labels, message):
    checksums = fake_mnist(tmp_path, images, labels)
    with pytest.raises(ValueError, match=message):
        MNIST(tmp_path, train=False, checksums=checksums)


# ---------------------------------------------------------------------------- ImageDataset
def test_image_dataset_converts_colour_images_to_channels_first():
    data = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    dataset = ImageDataset(data, [0, 1, 2, 1], ["a", "b", "c"])
    image, label = dataset[2]
    assert image.shape == (3, 5, 6) and image.dtype == np.float32 and label == 2
    np.testing.assert_array_equal(image, data[2].transpose(2, 0, 1) / np.float32(255))
    assert dataset.images.shape == (4, 3, 5, 6) and dataset.images.flags.c_contiguous
    np.testing.assert_array_equal(dataset.images[2], image)


@pytest.mark.parametrize("data, targets, message", [
    (np.zeros((2, 4, 4), np.float32), [0, 1], r"expected uint8 images .* got dtype float32"),
    (np.zeros((2, 4), np.uint8), [0, 1], r"expected uint8 images .* got dtype uint8 and shape \(2, 4\)"),
    (np.zeros((2, 4, 4), np.uint8), [0, 1, 1], r"expected one integer label per image, 2 in all, got .* shape \(3,\)"),
    (np.zeros((2, 4, 4), np.uint8), [0.0, 1.0], "expected one integer label per image.*float64"),
    (np.zeros((2, 4, 4), np.uint8), [-1, 1], r"labels must lie in \[0, 2\)"),
])
def test_image_dataset_refuses_bad_arrays(data, targets, message):
    with pytest.raises(ValueError, match=rf"ImageDataset: {message}"):
        ImageDataset(data, targets, ["a", "b"])
