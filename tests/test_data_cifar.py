"""CIFAR-10 on small files in its format: archive, batches, checksums, and nothing unpickled unverified."""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from minidl.data import cifar
from minidl.data.cifar import CIFAR10
from minidl.data.download import ChecksumError

BATCH_SIZE = 4   # images per batch in the small files
NAMES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]


def batch_bytes(data, labels):
    """A batch as the CIFAR-10 files hold it: a dict pickled by Python 2 (protocol 2), whose
    strings are byte strings and whose array is rebuilt by numpy.core.multiarray._reconstruct."""
    batch = {b"batch_label": b"small batch", b"labels": list(labels), b"data": data,
             b"filenames": [b"image_%d.png" % i for i in range(len(data))]}
    return b"\x80\x02" + _py2_pickle(batch) + b"."


def _py2_pickle(value):
    """The protocol-2 opcodes Python 2's cPickle writes for ``value`` (bytes, int, list, dict
    or ndarray), built by hand since Python 3 pickles bytes differently."""
    if isinstance(value, bytes):
        if len(value) < 256:
            return b"U" + bytes([len(value)]) + value                     # SHORT_BINSTRING
        return b"T" + len(value).to_bytes(4, "little") + value            # BINSTRING
    if isinstance(value, int):
        return b"J" + value.to_bytes(4, "little", signed=True)            # BININT
    if isinstance(value, list):
        return b"](" + b"".join(map(_py2_pickle, value)) + b"e"          # EMPTY_LIST MARK ... APPENDS
    if isinstance(value, dict):
        items = b"".join(_py2_pickle(k) + _py2_pickle(v) for k, v in value.items())
        return b"}(" + items + b"u"                                       # EMPTY_DICT MARK ... SETITEMS
    # ndarray: _reconstruct(ndarray, (0,), b"b"), then BUILD with the state
    # (1, shape, dtype, is_fortran, raw bytes); the dtype is dtype(kind, 0, 1) BUILD with its state
    # (3, byte order, None, None, None, -1, -1, 0). "(" MARK ... "t" TUPLE; "\x85" and "\x87"
    # TUPLE1 and TUPLE3; "R" REDUCE; "b" BUILD; "N" None; "\x89" False.
    byteorder, kind = value.dtype.str[0].encode(), value.dtype.str[1:].encode()   # "|", "u1"
    dtype = (b"cnumpy\ndtype\n" + _py2_pickle(kind) + _py2_pickle(0) + _py2_pickle(1) + b"\x87R("
             + _py2_pickle(3) + _py2_pickle(byteorder) + b"NNN" + _py2_pickle(-1) + _py2_pickle(-1)
             + _py2_pickle(0) + b"tb")
    shape = b"(" + b"".join(_py2_pickle(n) for n in value.shape) + b"t"
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2_pickle(0) + b"\x85"
            + _py2_pickle(b"b") + b"\x87R(" + _py2_pickle(1) + shape + dtype + b"\x89"
            + _py2_pickle(value.tobytes()) + b"tb")


def archive_bytes(members):
    """A .tar.gz holding ``members`` {name inside the archive: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def md5(content):
    return hashlib.md5(content).hexdigest()


@pytest.fixture
def small_cifar(tmp_path):
    """Six batches of 4 random images with labels 0..9 in <root>/cifar-10/cifar-10-python.tar.gz.

    Returns (root, rows {batch name: uint8 (4, 3072)}, labels {batch name: list}, checksums).
    """
    rng = np.random.default_rng(0)
    rows, labels, contents = {}, {}, {}
    for name in NAMES:
        rows[name] = rng.integers(0, 256, (BATCH_SIZE, 3072), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, BATCH_SIZE).tolist()
        contents[name] = batch_bytes(rows[name], labels[name])
    members = {f"cifar-10-batches-py/{name}": content for name, content in contents.items()}
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    archive = archive_bytes(members)
    (tmp_path / "cifar-10").mkdir()
    (tmp_path / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(archive)
    checksums = {name: md5(content) for name, content in contents.items()}
    checksums["cifar-10-python.tar.gz"] = md5(archive)
    return tmp_path, rows, labels, checksums


def test_loads_from_the_archive(small_cifar):
    root, rows, labels, checksums = small_cifar
    train = CIFAR10(root, train=True, checksums=checksums)
    assert len(train) == 5 * BATCH_SIZE and train.classes[0] == "airplane" and len(train.classes) == 10
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64
    assert train.targets.tolist() == sum((labels[f"data_batch_{k}"] for k in range(1, 6)), [])
    # Row layout: 1024 red values, then 1024 green, then 1024 blue, each plane row-major.
    row = rows["data_batch_2"][1]
    image = train.data[BATCH_SIZE + 1]
    for channel, y, x in [(0, 0, 0), (0, 0, 31), (1, 5, 7), (2, 31, 0), (2, 31, 31)]:
        assert image[y, x, channel] == row[channel * 1024 + y * 32 + x]
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == np.float32
    np.testing.assert_array_equal(train.images[BATCH_SIZE + 1].reshape(-1), row / np.float32(255))
    assert sorted(os.listdir(root / "cifar-10" / "cifar-10-batches-py")) == sorted(NAMES)

    test = CIFAR10(root, train=False, checksums=checksums)
    assert len(test) == BATCH_SIZE and test.targets.tolist() == labels["test_batch"]
    image, label = test[3]
    assert image.shape == (3, 32, 32) and label == labels["test_batch"][3]


def test_loads_extracted_batches_without_the_archive(small_cifar):
    root, rows, labels, checksums = small_cifar
    CIFAR10(root, train=False, checksums=checksums)   # extracts
    (root / "cifar-10" / "cifar-10-python.tar.gz").unlink()
    test = CIFAR10(root, train=False, checksums=checksums)
    np.testing.assert_array_equal(test.images.reshape(BATCH_SIZE, -1), rows["test_batch"] / np.float32(255))


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail the test if anything is unpickled."""
    def refuse(self):
        raise AssertionError("a batch was unpickled")
    monkeypatch.setattr(cifar._ArrayUnpickler, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_a_batch_failing_its_checksum_is_never_unpickled(small_cifar, no_unpickling):
    root, _, _, checksums = small_cifar
    folder = root / "cifar-10" / "cifar-10-batches-py"
    folder.mkdir()
    # Not even a pickle: had it been unpickled, the error would be about its content.
    (folder / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(ChecksumError) as info:
        CIFAR10(root, train=False, checksums=checksums)
    message = str(info.value)
    assert message.startswith("CIFAR10: ") and str(folder / "test_batch") in message
    assert md5(b"not a pickle at all") in message and checksums["test_batch"] in message
    assert "extracted again" in message


def test_files_that_are_not_the_official_ones_are_never_unpickled(small_cifar, no_unpickling):
    root, _, _, checksums = small_cifar
    # Default checksums are the published ones: the small files (and their archive) fail them.
    with pytest.raises(ChecksumError, match=CIFAR10.files["cifar-10-python.tar.gz"]):
        CIFAR10(root, train=False)
    os.makedirs(root / "cifar-10" / "cifar-10-batches-py")
    (root / "cifar-10" / "cifar-10-batches-py" / "test_batch").write_bytes(batch_bytes(
        np.zeros((1, 3072), np.uint8), [0]))
    with pytest.raises(ChecksumError, match=f"expected {CIFAR10.files['test_batch']}"):
        CIFAR10(root, train=False)


def test_missing_files_say_where_to_put_what(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path, train=True)
    message = str(info.value)
    assert "cifar-10-python.tar.gz not found in " + str(tmp_path / "cifar-10") in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert "download=True" in message and "cifar-10-batches-py/" in message


def test_a_damaged_archive_is_refused(small_cifar):
    root, _, _, checksums = small_cifar
    path = root / "cifar-10" / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match="cifar-10-python.tar.gz is damaged"):
        CIFAR10(root, train=False, checksums=checksums)


def write_archive(root, members):
    content = archive_bytes(members)
    (root / "cifar-10").mkdir(exist_ok=True)
    (root / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(content)
    return md5(content)


def test_extraction_never_writes_outside_the_batches_folder(tmp_path):
    content = batch_bytes(np.zeros((1, 3072), np.uint8), [0])
    members = {f"cifar-10-batches-py/{name}": content for name in NAMES}
    members["../escaped.txt"] = b"x"
    members["cifar-10-batches-py/../../escaped2.txt"] = b"x"
    members["/tmp/minidl-absolute-escape.txt"] = b"x"
    checksums = {name: md5(content) for name in NAMES}
    checksums["cifar-10-python.tar.gz"] = write_archive(tmp_path, members)
    assert len(CIFAR10(tmp_path, train=True, checksums=checksums)) == 5
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped2.txt").exists()
    assert not os.path.exists("/tmp/minidl-absolute-escape.txt")
    assert sorted(os.listdir(tmp_path / "cifar-10" / "cifar-10-batches-py")) == sorted(NAMES)


def test_extraction_refuses_a_link_in_place_of_a_batch(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "cifar-10").mkdir()
    (tmp_path / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(buffer.getvalue())
    checksums = {"cifar-10-python.tar.gz": md5(buffer.getvalue())}
    with pytest.raises(ValueError, match="cifar-10-batches-py/data_batch_1 is not a regular file"):
        CIFAR10(tmp_path, train=True, checksums=checksums)
    assert not (tmp_path / "cifar-10" / "cifar-10-batches-py" / "data_batch_1").exists()


def test_an_archive_without_the_batches_is_refused(tmp_path):
    checksums = {"cifar-10-python.tar.gz": write_archive(tmp_path, {"readme.txt": b"hello"})}
    with pytest.raises(ValueError, match="not the CIFAR-10 archive: it lacks cifar-10-batches-py/data_batch_1"):
        CIFAR10(tmp_path, train=False, checksums=checksums)


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


@pytest.mark.parametrize("content, message", [
    # Even with a checksum that matches (one the user supplied), only arrays can be built.
    (pickle.dumps({b"data": RunsCode(), b"labels": [0]}, protocol=4), r"refusing (posix|nt).getcwd"),
    (b"\x80\x04not a pickle", "is not a CIFAR-10 batch"),
    (pickle.dumps([1, 2, 3], protocol=4), r"expected a dict with b'data' and b'labels'"),
    (batch_bytes(np.zeros((2, 1024), np.uint8), [0, 1]), r"expected b'data' to be uint8 \(n, 3072\), got uint8 \(2, 1024\)"),
    (batch_bytes(np.zeros((2, 3072), np.float32), [0, 1]), r"expected b'data' to be uint8 \(n, 3072\), got float32"),
    (batch_bytes(np.zeros((2, 3072), np.uint8), [0, 1, 2]), r"expected 2 integer labels, got int64 \(3,\)"),
    (batch_bytes(np.zeros((2, 3072), np.uint8), [0, 10]), r"CIFAR10: labels must lie in \[0, 10\)"),
])
def test_verified_but_malformed_batches_are_refused(tmp_path, content, message):
    folder = tmp_path / "cifar-10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        CIFAR10(tmp_path, train=False, checksums={"test_batch": md5(content)})
