"""Writing files atomically: a reader sees the old file or the complete new one, never half of one.

Checkpoints, downloads, extracted archives, metrics and plots are all written this way, so an
interrupted program (a crash, Ctrl-C, a full disk) never leaves a broken file that later loads.
"""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

        with atomic_write("metrics.json", "w") as f:
            json.dump(metrics, f)

    The data is fsync'ed before ``os.replace`` renames the temporary file over ``path``, so a
    reader sees either the old file or the complete new one, never a partial one. If the body
    raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
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
