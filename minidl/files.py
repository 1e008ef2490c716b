"""Writing files atomically: a reader sees the old file or the complete new one, never half of one.

Checkpoints, downloads, extracted archives, metrics and plots are all written this way, so an
interrupted program (a crash, Ctrl-C, a full disk) never leaves a broken file that later loads.

The bytes first go to a temporary file beside the target, named

    .<target name>.tmp-<host>-<pid>-<8 random characters>      e.g. .checkpoint.npz.tmp-laptop-4242-k3x9q1za

A program killed outright (``kill -9``, a power cut) gets no chance to delete its temporary file.
The name says whose it was, so the next atomic write into the same folder removes those that are
stale: their process (on this host) is gone, or they have not changed for ``STALE_AFTER_S``
seconds (a process on another host, sharing the folder over the network, cannot be asked). Files
are always read under their final names, so a temporary file is never taken for data; the
loaders refuse one by name (``check_readable``) instead of reading half a file.
"""

import contextlib
import os
import re
import socket
import tempfile
import time

__all__ = ["atomic_write", "check_readable", "is_temporary", "remove_stale_temporaries", "STALE_AFTER_S"]

# A temporary file not written to for this long is abandoned, whoever made it: no write in
# progress pauses that long (downloads give up after 30 s without a byte).
STALE_AFTER_S = 30 * 60

# tempfile.mkstemp appends 8 characters of this alphabet to the prefix.
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.tmp-(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)-[a-z0-9_]{8}$")


def _host():
    """This machine's name as it appears in temporary names: dots and other characters that could
    be confused with the rest of the name become underscores."""
    return re.sub(r"[^A-Za-z0-9-]", "_", socket.gethostname())[:64]


def is_temporary(path):
    """Whether ``path`` names the temporary file of an atomic write (finished or not)."""
    return _TEMPORARY.match(os.path.basename(os.fspath(path))) is not None


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

        with atomic_write("metrics.json", "w") as f:
            json.dump(metrics, f)

    The data is fsync'ed before ``os.replace`` renames the temporary file over ``path``, so a
    reader sees either the old file or the complete new one, never a partial one. If the body
    raises, the temporary file is removed and ``path`` is left as it was. Stale temporary files
    of earlier writes that were killed are removed from the folder first (see the module
    docstring).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a folder; expected the path of a file")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    remove_stale_temporaries(folder)
    prefix = f".{os.path.basename(path)}.tmp-{_host()}-{os.getpid()}-"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix="")
    try:
        with os.fdopen(handle, mode) as file:
            # mkstemp makes the file private (0600); give it the permissions a plain open() would.
            os.chmod(temporary, 0o666 & ~_umask())
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def remove_stale_temporaries(folder):
    """Delete the abandoned temporary files of atomic writes in ``folder``; returns their paths.

    A temporary file is abandoned when the process that wrote it, on this host, has ended, or
    when it has not been modified for ``STALE_AFTER_S`` seconds. Files that cannot be listed or
    removed (another user's, a read-only folder) are left alone: cleaning up is a courtesy, never
    a reason for a save to fail.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None:
            continue
        path = os.path.join(folder, name)
        try:
            idle_s = time.time() - os.stat(path).st_mtime
            abandoned = idle_s > STALE_AFTER_S or (match["host"] == _host() and not _process_exists(int(match["pid"])))
            if abandoned:
                os.remove(path)
                removed.append(path)
        except OSError:   # gone meanwhile (another cleaner, its writer finishing) or not ours to remove
            continue
    return removed


def _process_exists(pid):
    """Whether a process ``pid`` runs on this machine. Signal 0 checks without sending anything
    (POSIX); elsewhere there is no cheap check, so the answer is yes and the age decides."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, under another user
        return True
    return True


def check_readable(path, expected, where, error=ValueError):
    """Raise a one-line error naming ``path`` unless it is an existing file that is not a temporary.

    Args:
        path: the file about to be read.
        expected: what it should be, for the message ("a file written by minidl.save").
        where: the reading function's name, which starts the message.
        error: the exception class for a temporary file (the reader's own error class); a
            missing file raises ``FileNotFoundError``, a folder ``IsADirectoryError``.
    Returns ``path`` as a string.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{where}: {path} is a folder; expected {expected}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: No such file: {path} (expected {expected})")
    if is_temporary(path):
        raise error(f"{where}: {path} is the temporary file of a save or download that did not finish, "
                    f"not {expected}; the next save into its folder removes it")
    return path


def _umask():
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); folders cannot be opened this way on Windows."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
