"""Atomic writes: temporary files are recognisable, a killed write's leftovers are cleaned up by
the next write to the folder, and readers refuse folders, missing files and temporaries by name."""

import os
import signal
import subprocess
import sys
import time

import pytest

from minidl import files
from minidl.files import atomic_write, check_readable, is_temporary, remove_stale_temporaries

# Starts an atomic write, says so once its bytes are in the temporary file, then waits to be killed.
WRITER = """
import sys, time
from minidl.files import atomic_write
with atomic_write(sys.argv[1]) as file:
    file.write(b"PK half of an archive")
    file.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def killed_write(target):
    """Run an atomic write of ``target`` in another process and SIGKILL it midway; returns its pid."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "writing\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()   # reaped: a zombie would still answer signal 0 as if alive
    assert process.returncode == -signal.SIGKILL
    return process.pid


def temporary_name(target, host, pid, token="abcd1234"):
    return f".{target}.tmp-{host}-{pid}-{token}"


def make_temporary(folder, name, idle_s=0.0):
    """A leftover temporary file ``name`` in ``folder``, last modified ``idle_s`` seconds ago."""
    path = folder / name
    path.write_bytes(b"partial")
    moment = time.time() - idle_s
    os.utime(path, (moment, moment))
    return path


def test_a_write_leaves_only_its_target_and_names_its_temporary_recognisably(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: (seen.append(source), real_replace(source, target))[1])
    with atomic_write(tmp_path / "metrics.json", "w") as file:
        file.write("{}")
    [temporary] = seen
    name = os.path.basename(temporary)
    assert name.startswith(f".metrics.json.tmp-{files._host()}-{os.getpid()}-") and is_temporary(name)
    assert os.listdir(tmp_path) == ["metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == "{}"


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process checks are POSIX")
def test_a_write_killed_midway_is_cleaned_up_by_the_next_write_to_the_folder(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"the previous checkpoint")
    pid = killed_write(tmp_path / "checkpoint.npz")

    leftovers = [name for name in os.listdir(tmp_path) if name != "checkpoint.npz"]
    [leftover] = leftovers
    assert leftover.startswith(f".checkpoint.npz.tmp-{files._host()}-{pid}-") and is_temporary(leftover)
    assert (tmp_path / leftover).read_bytes() == b"PK half of an archive"
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"the previous checkpoint"   # untouched

    with atomic_write(tmp_path / "other.json", "w") as file:   # any write to the folder cleans up
        file.write("{}")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "other.json"]


def test_only_abandoned_temporaries_are_removed(tmp_path):
    host, alive, old = files._host(), os.getpid(), files.STALE_AFTER_S + 60
    in_progress = make_temporary(tmp_path, temporary_name("a.npz", host, alive))
    other_host = make_temporary(tmp_path, temporary_name("b.npz", "another-machine", 1))
    abandoned_elsewhere = make_temporary(tmp_path, temporary_name("c.npz", "another-machine", 1), idle_s=old)
    reused_pid = make_temporary(tmp_path, temporary_name("d.npz", host, alive), idle_s=old)
    not_ours = [make_temporary(tmp_path, name, idle_s=old)
                for name in (".notes.tmp", "data.npz.tmp-host-1-abcd1234", ".x.tmp-host-12-short", "image.png")]

    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted(map(str, (abandoned_elsewhere, reused_pid)))
    for kept in (in_progress, other_host, *not_ours):
        assert kept.exists(), kept.name


@pytest.mark.skipif(os.name != "posix", reason="process checks are POSIX")
def test_a_fresh_temporary_whose_process_has_ended_is_removed(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    leftover = make_temporary(tmp_path, temporary_name("w.safetensors", files._host(), process.pid))
    assert remove_stale_temporaries(tmp_path) == [str(leftover)]


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_write(tmp_path, monkeypatch):
    leftover = make_temporary(tmp_path, temporary_name("a.npz", "another-machine", 1), idle_s=files.STALE_AFTER_S + 1)
    real_remove = os.remove

    def remove_refused_for_leftovers(path):
        if os.fspath(path) == str(leftover):
            raise PermissionError(13, "Permission denied", path)
        real_remove(path)

    monkeypatch.setattr(os, "remove", remove_refused_for_leftovers)
    with atomic_write(tmp_path / "a.npz") as file:
        file.write(b"new")
    assert (tmp_path / "a.npz").read_bytes() == b"new" and leftover.exists()


def test_writing_to_a_folder_or_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"cannot write {tmp_path}: it is a folder"):
        with atomic_write(tmp_path):
            pass
    with pytest.raises(FileNotFoundError, match=f"the folder {tmp_path / 'missing'} does not exist"):
        with atomic_write(tmp_path / "missing" / "a.npz"):
            pass


def test_check_readable_names_the_file_and_what_was_expected(tmp_path):
    expected = "a file written by minidl.save"
    with pytest.raises(IsADirectoryError, match=f"^load: {tmp_path} is a folder; expected {expected}$"):
        check_readable(tmp_path, expected, "load")
    with pytest.raises(FileNotFoundError, match=f"^load: No such file: {tmp_path / 'a.pt'} \\(expected {expected}\\)$"):
        check_readable(tmp_path / "a.pt", expected, "load")
    leftover = make_temporary(tmp_path, temporary_name("a.pt", files._host(), os.getpid()))

    class ReaderError(ValueError):
        pass

    with pytest.raises(ReaderError, match="is the temporary file of a save or download that did not finish"):
        check_readable(leftover, expected, "load", ReaderError)
    (tmp_path / "a.pt").write_bytes(b"")
    assert check_readable(tmp_path / "a.pt", expected, "load") == str(tmp_path / "a.pt")
