"""Reading IDX files, the format of MNIST and Fashion-MNIST (gzip-compressed, ``.gz``).

An IDX file is a header followed by the numbers of one n-dimensional array, row-major:

    bytes 0-1    0x00 0x00
    byte  2      the type code of the numbers (0x08: uint8, 0x09: int8, 0x0B: int16,
                 0x0C: int32, 0x0D: float32, 0x0E: float64; all big-endian)
    byte  3      the number of dimensions n
    next 4n      the size of each dimension, a big-endian uint32
    the rest     the numbers, exactly prod(sizes) * itemsize bytes

Read as one big-endian uint32, the first four bytes make the "magic number": 0x00000803 for
MNIST's images (uint8, 3 dims: count, 28, 28) and 0x00000801 for its labels (uint8, 1 dim).

``read_idx`` checks every part of this and refuses a file that is not exactly right (a wrong
magic number, a header cut short, fewer or more bytes of numbers than the sizes promise, a gzip
stream that ends early or is damaged), naming the file and what was wrong. A truncated file must
never load as a smaller dataset.
"""

import gzip
import zlib

import numpy as np

__all__ = ["read_idx", "IDX_TYPES"]

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path, expected_magic=None):
    """The array stored in the gzip-compressed IDX file ``path``.

    Args:
        path: a ``.gz`` file holding one IDX array.
        expected_magic: if given, the magic number the file must start with, e.g. 0x00000803
            for uint8 data with 3 dimensions.
    Returns:
        an ndarray of the file's shape in native byte order (uint8 for MNIST), a fresh
        writable copy.
    Raises:
        ValueError naming ``path`` when the file is not a complete, well-formed IDX file.
    """
    try:
        with gzip.open(path, "rb") as file:
            content = file.read()
    except EOFError as error:
        raise ValueError(f"{path} is truncated: the gzip stream ends early ({error})") from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path} is not a valid gzip file ({error})") from error

    if len(content) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(content)} bytes)")
    magic = int.from_bytes(content[:4], "big")
    zeros, type_code, ndim = content[:2], content[2], content[3]
    if zeros != b"\x00\x00" or type_code not in IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path} is not an IDX file: bad magic number 0x{magic:08X} (expected two zero "
            f"bytes, a type code among {', '.join(f'0x{c:02X}' for c in IDX_TYPES)} and at "
            f"least one dimension)"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path}: magic number 0x{magic:08X}, expected 0x{expected_magic:08X} (type code "
            f"0x{(expected_magic >> 8) & 0xFF:02X}, {expected_magic & 0xFF} dimensions)"
        )

    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path} is truncated: its header needs {header_size} bytes for {ndim} dimensions, "
            f"the file has {len(content)}"
        )
    shape = tuple(int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(content) - header_size
    if found < expected:
        raise ValueError(
            f"{path} is truncated: shape {shape} needs {expected} bytes of data after the "
            f"header, found {found}"
        )
    if found > expected:
        raise ValueError(
            f"{path} is damaged: shape {shape} needs {expected} bytes of data after the header, "
            f"found {found} ({found - expected} bytes too many)"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
