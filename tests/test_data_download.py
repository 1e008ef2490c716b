"""Downloads against a local HTTP server on 127.0.0.1: verified, atomic, and clean on failure."""

import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from minidl.data import download
from minidl.data.download import (ChecksumError, DownloadError, check_md5, default_root,
                                  download_file, ensure_file, file_md5)
from minidl.data.mnist import MNIST
from test_data_mnist import idx_gz
from test_files import killed_write

BODY = bytes(range(256)) * 40   # 10 KiB
BODY_MD5 = hashlib.md5(BODY).hexdigest()
OTHER_MD5 = hashlib.md5(b"something else").hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``self.server.routes[path] = (mode, body)``; mode is one of
    "ok" (the body with its Content-Length), "cut" (announces the whole body, sends half, then
    closes the connection) and "cut-unannounced" (no Content-Length, half the body, close)."""

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        mode, body = route
        self.send_response(200)
        if mode != "cut-unannounced":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "ok" else body[:len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):   # keep the test output quiet
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.routes = {}
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dead_url():
    """An address on 127.0.0.1 where nothing listens (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


def listing(folder):
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_verified_download_lands_in_place(server, tmp_path):
    server.routes["/file.bin"] = ("ok", BODY)
    target = tmp_path / "new-folder" / "file.bin"
    assert download_file(f"{server.url}/file.bin", target, BODY_MD5) == target
    assert target.read_bytes() == BODY
    assert listing(target.parent) == ["file.bin"]   # no temporary file left behind


def test_download_renames_a_complete_temporary_file(server, tmp_path, monkeypatch):
    # Atomic: the bytes go to another file in the same folder, and the final name appears only
    # through os.replace, when that file is complete.
    server.routes["/file.bin"] = ("ok", BODY)
    target = tmp_path / "file.bin"
    renames = []
    real_replace = os.replace

    def spy_replace(source, destination):
        renames.append((source, destination, open(source, "rb").read(), os.path.exists(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", spy_replace)
    download_file(f"{server.url}/file.bin", target, BODY_MD5)
    [(source, destination, content, existed)] = renames
    assert os.fspath(destination) == os.fspath(target)
    assert os.path.dirname(source) == os.fspath(tmp_path) and source != os.fspath(target)
    assert content == BODY and not existed


def test_bad_checksum_leaves_nothing_behind(server, tmp_path):
    server.routes["/file.bin"] = ("ok", BODY)
    target = tmp_path / "file.bin"
    with pytest.raises(ChecksumError) as info:
        download_file(f"{server.url}/file.bin", target, OTHER_MD5)
    message = str(info.value)
    assert "file.bin" in message and BODY_MD5 in message and OTHER_MD5 in message
    assert listing(tmp_path) == []


def test_failed_download_keeps_the_previous_file(server, tmp_path):
    server.routes["/file.bin"] = ("ok", BODY)
    target = tmp_path / "file.bin"
    target.write_bytes(b"previous")
    with pytest.raises(ChecksumError, match="MD5"):
        download_file(f"{server.url}/file.bin", target, OTHER_MD5)
    assert target.read_bytes() == b"previous"
    assert listing(tmp_path) == ["file.bin"]


def test_missing_file_on_the_server_gives_the_offline_advice(server, tmp_path):
    url = f"{server.url}/missing.bin"
    target = tmp_path / "missing.bin"
    with pytest.raises(DownloadError) as info:
        download_file(url, target, BODY_MD5)
    message = str(info.value)
    assert "404" in message and url in message and str(target) in message
    assert str(tmp_path) in message and "by hand" in message and BODY_MD5 in message
    assert listing(tmp_path) == []


def test_server_down_gives_the_offline_advice(dead_url, tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match="place it by hand") as info:
        download_file(dead_url, target, BODY_MD5)
    assert dead_url in str(info.value) and str(target) in str(info.value)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("mode", ["cut", "cut-unannounced"])
def test_interrupted_download_leaves_nothing_that_loads(server, tmp_path, mode):
    server.routes["/file.bin"] = (mode, BODY)
    url, target = f"{server.url}/file.bin", tmp_path / "file.bin"
    # With a Content-Length the short stream is caught as such; without one, by the MD5.
    expected = "closed after 5120 of 10240 bytes" if mode == "cut" else "MD5"
    with pytest.raises((DownloadError, ChecksumError), match=expected):
        download_file(url, target, BODY_MD5)
    assert listing(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="file.bin not found"):
        ensure_file(target, BODY_MD5, url, download=False, dataset="Test")


def test_mirrors_are_tried_in_order(server, dead_url, tmp_path):
    server.routes["/bad.bin"] = ("ok", b"a different file")
    server.routes["/good.bin"] = ("ok", BODY)
    urls = [dead_url, f"{server.url}/bad.bin", f"{server.url}/good.bin"]
    target = download_file(urls, tmp_path / "file.bin", BODY_MD5)
    assert target.read_bytes() == BODY and listing(tmp_path) == ["file.bin"]


def test_every_mirror_failing_lists_each_failure(server, dead_url, tmp_path):
    server.routes["/bad.bin"] = ("ok", b"a different file")
    urls = [dead_url, f"{server.url}/bad.bin"]
    with pytest.raises(DownloadError) as info:
        download_file(urls, tmp_path / "file.bin", BODY_MD5)
    message = str(info.value)
    assert dead_url in message and f"{server.url}/bad.bin: file.bin is damaged" in message
    assert listing(tmp_path) == []


def test_file_md5_and_check_md5(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(BODY)
    assert file_md5(path) == BODY_MD5
    check_md5(path, BODY_MD5.upper())   # hex digits in either case
    with pytest.raises(ChecksumError, match=f"its MD5 is {BODY_MD5}, expected {OTHER_MD5}"):
        check_md5(path, OTHER_MD5)


def test_ensure_file_uses_a_good_file_without_the_network(dead_url, tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(BODY)
    assert ensure_file(path, BODY_MD5, dead_url, download=True, dataset="Test") == path


def test_a_folder_where_a_file_belongs_is_named(server, tmp_path):
    server.routes["/file.bin"] = ("ok", BODY)
    (tmp_path / "file.bin").mkdir()
    for download in (False, True):
        with pytest.raises(IsADirectoryError, match=f"^Test: {tmp_path / 'file.bin'} is a folder; expected the file "
                                                    f"file.bin \\(MD5 {BODY_MD5}\\) there$"):
            ensure_file(tmp_path / "file.bin", BODY_MD5, f"{server.url}/file.bin", download=download, dataset="Test")
    with pytest.raises(IsADirectoryError, match=f"^cannot download to {tmp_path / 'file.bin'}: it is a folder"):
        download_file(f"{server.url}/file.bin", tmp_path / "file.bin", BODY_MD5)
    assert listing(tmp_path) == ["file.bin"] and listing(tmp_path / "file.bin") == []


def test_ensure_file_refuses_a_damaged_file_unless_it_may_download(server, tmp_path):
    server.routes["/file.bin"] = ("ok", BODY)
    url, path = f"{server.url}/file.bin", tmp_path / "file.bin"
    path.write_bytes(BODY[:-1] + b"\x00")
    with pytest.raises(ChecksumError, match=r"Test: .*file.bin is damaged.*Delete it"):
        ensure_file(path, BODY_MD5, url, download=False, dataset="Test")
    ensure_file(path, BODY_MD5, url, download=True, dataset="Test")
    assert path.read_bytes() == BODY


def test_default_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "data"))
    assert default_root() == tmp_path / "data"
    monkeypatch.delenv("MINIDL_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "minidl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "minidl"


def test_mnist_download_fetches_verifies_and_loads(server, tmp_path, monkeypatch):
    # A dataset pointed at the local server: its files are downloaded into <root>/mnist/.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    files = {"t10k-images-idx3-ubyte.gz": idx_gz(images), "t10k-labels-idx1-ubyte.gz": idx_gz(labels)}
    for name, content in files.items():
        server.routes[f"/mnist/{name}"] = ("ok", content)
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/missing/", f"{server.url}/mnist/"])
    checksums = {name: hashlib.md5(content).hexdigest() for name, content in files.items()}

    with pytest.raises(FileNotFoundError, match="pass download=True"):
        MNIST(tmp_path, train=False, checksums=checksums)
    dataset = MNIST(tmp_path, train=False, download=True, checksums=checksums)
    np.testing.assert_array_equal(dataset.data, images)
    np.testing.assert_array_equal(dataset.targets, labels)
    assert listing(tmp_path / "mnist") == sorted(files)
    server.routes.clear()   # the files are now local: no network needed
    assert len(MNIST(tmp_path, train=False, checksums=checksums)) == 12


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_a_download_killed_midway_is_never_read_and_is_cleaned_up(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    files = {"t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
             "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(3, dtype=np.uint8))}
    for name, content in files.items():
        server.routes[f"/mnist/{name}"] = ("ok", content)
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/mnist/"])
    checksums = {name: hashlib.md5(content).hexdigest() for name, content in files.items()}
    folder = tmp_path / "mnist"
    folder.mkdir()
    killed_write(folder / "t10k-images-idx3-ubyte.gz")   # the leftover of a download killed midway
    [leftover] = listing(folder)

    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz not found"):
        MNIST(tmp_path, train=False, checksums=checksums)
    assert len(MNIST(tmp_path, train=False, download=True, checksums=checksums)) == 3
    assert listing(folder) == sorted(files) and leftover not in listing(folder)


def test_chunked_streaming_hashes_every_chunk(server, tmp_path, monkeypatch):
    # Many small reads give the same bytes and MD5 as one large one.
    monkeypatch.setattr(download, "CHUNK_SIZE", 100)
    server.routes["/file.bin"] = ("ok", BODY)
    download_file(f"{server.url}/file.bin", tmp_path / "file.bin", BODY_MD5)
    assert (tmp_path / "file.bin").read_bytes() == BODY
