"""Fetching dataset files: where they live, how they are downloaded, how they are checked.

Where: every dataset reads its files from a root folder, ``root=`` if given, else
``$MINIDL_DATA``, else a per-user cache folder (``~/.cache/minidl``, or ``$XDG_CACHE_HOME/minidl``).

How a download stays safe: the bytes are streamed into a temporary file next to the target and
their MD5 is computed on the way. Only when the whole file has arrived and its MD5 equals the one
the publisher lists is the temporary file renamed to its final name (``os.replace``, atomic
within a folder). A dropped connection, a wrong or damaged file, Ctrl-C: in every case the
temporary file is deleted, so no half-written or corrupt file is ever left under the name a
dataset later loads. A process killed outright cannot delete it; its name
(``.<file>.tmp-<host>-<pid>-...``, see ``minidl.files``) marks it as a leftover, which datasets
never read and the next download or save into the folder removes.

Why MD5: it is what MNIST's, Fashion-MNIST's and CIFAR-10's publishers list. It is no defence
against someone who crafts two files with the same hash, but it reliably catches truncated,
damaged or wrong files, which is what it is used for here.
"""

import hashlib
import http.client
import os
import sys
import urllib.request
from pathlib import Path

from minidl.files import atomic_write

__all__ = ["default_root", "file_md5", "check_md5", "download_file", "ensure_file",
           "ChecksumError", "DownloadError"]

CHUNK_SIZE = 1 << 20   # read and hash 1 MiB at a time: constant memory whatever the file size
TIMEOUT_S = 30         # seconds without a byte from the server before giving up


class ChecksumError(ValueError):
    """A file whose MD5 is not the one expected: damaged, truncated or a different file."""


class DownloadError(OSError):
    """A file that could not be downloaded from any of its addresses."""


def default_root():
    """The folder datasets read from when no ``root`` is given.

    ``$MINIDL_DATA`` if set, else ``$XDG_CACHE_HOME/minidl`` if XDG_CACHE_HOME is set, else
    ``~/.cache/minidl``. Each dataset keeps its files in a subfolder (e.g. ``mnist/``).
    """
    if os.environ.get("MINIDL_DATA"):
        return Path(os.environ["MINIDL_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "minidl"


def file_md5(path):
    """The MD5 of the file at ``path`` as 32 hex digits, read in chunks of 1 MiB."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path, md5):
    """Raise ``ChecksumError`` naming ``path``, the expected and the actual MD5, unless they match."""
    actual = file_md5(path)
    if actual != md5.lower():
        raise ChecksumError(
            f"{path} is damaged or not the expected file: its MD5 is {actual}, expected {md5}"
        )


def download_file(urls, path, md5):
    """Download a file to ``path``, keeping it only if its MD5 is ``md5``.

    Args:
        urls: the address of the file, or a list of addresses (an official one, then mirrors),
            tried in order until one delivers the right bytes.
        path: where the file goes; its folder is created if needed.
        md5: the expected MD5 (32 hex digits).
    Raises:
        ChecksumError: a single address was given and it served a file with another MD5.
        DownloadError: no address delivered the file (offline, not found, connection dropped,
            wrong MD5 from every mirror); the message lists what went wrong at each address and
            how to place the file by hand.
        IsADirectoryError: ``path`` is a folder (nothing is downloaded).
    In every failure the temporary file is removed and ``path`` is left as it was.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    path = Path(path)
    # Checked before any address is tried: the failures below are taken for network trouble.
    if path.is_dir():
        raise IsADirectoryError(f"cannot download to {path}: it is a folder; expected the path of a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        print(f"Downloading {url} to {path}", file=sys.stderr)
        try:
            _fetch(url, path, md5)
            return path
        except ChecksumError as error:
            if len(urls) == 1:
                raise ChecksumError(f"downloaded from {url}: {error}") from error
            failures.append(f"{url}: {error}")
        # URLError and HTTPError (offline, 404) and timeouts are OSErrors; a dropped connection
        # may surface as http.client.IncompleteRead; a malformed address as a ValueError.
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {error}")
    tried = "\n".join(f"  - {failure}" for failure in failures)
    raise DownloadError(
        f"could not download {path.name} into {path.parent}:\n{tried}\n"
        f"To place it by hand: download {urls[0]} on a machine that is online, copy it to "
        f"{path} (its MD5 must be {md5}) and run again; or point root= or $MINIDL_DATA at a "
        f"folder that already holds the data."
    )


def ensure_file(path, md5, urls, download, dataset):
    """Make sure ``path`` holds the right file (MD5 ``md5``), downloading it if allowed.

    A file already there is checked; if it is missing or fails the check, it is downloaded from
    ``urls`` when ``download`` is true, and otherwise a clear error (naming ``dataset``, the file,
    the folder looked in and how to place the file by hand) is raised.
    Returns ``path``.
    """
    path = Path(path)
    urls = [urls] if isinstance(urls, str) else list(urls)
    by_hand = (f"pass download=True, or place it by hand: download {urls[0]} and save it as "
               f"{path} (MD5 {md5}); root= or $MINIDL_DATA choose another data folder")
    if path.is_dir():
        raise IsADirectoryError(f"{dataset}: {path} is a folder; expected the file {path.name} (MD5 {md5}) there")
    if path.exists():
        try:
            check_md5(path, md5)
            return path
        except ChecksumError as error:
            if not download:
                raise ChecksumError(f"{dataset}: {error}. Delete it, then {by_hand}") from error
    elif not download:
        raise FileNotFoundError(f"{dataset}: {path.name} not found in {path.parent}. To get it, "
                                f"{by_hand}")
    return download_file(urls, path, md5)


def _fetch(url, path, md5):
    """Stream ``url`` into a temporary file beside ``path``; rename it to ``path`` if complete and
    its MD5 matches. Any exception inside ``atomic_write`` deletes the temporary file."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, atomic_write(path) as file:
        announced = response.headers.get("Content-Length")
        for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
            file.write(chunk)
            digest.update(chunk)
            received += len(chunk)
        # A server that drops the connection can look like a normal end of the stream; the
        # announced length (when there is one) tells the two apart before the MD5 does.
        if announced is not None and received != int(announced):
            raise DownloadError(
                f"the connection closed after {received} of {announced} bytes"
            )
        if digest.hexdigest() != md5.lower():
            raise ChecksumError(
                f"{path.name} is damaged or not the expected file: its MD5 is "
                f"{digest.hexdigest()}, expected {md5}; it was not saved"
            )
