"""Writing files so that a reader never sees half of one.

:func:`atomic_write` writes a temporary file in the target's folder and renames it over the
target: a crash, a full disk or an interrupt leaves the old file (or none), never a torn one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(
    path, data: bytes | str, *, encoding: str = "utf-8", owner: tuple[int, int] | None = None
) -> Path:
    """Replace ``path`` by ``data`` in one step; returns the path.

    The temporary file sits in the same folder (a rename within one file system is atomic),
    its name is unique to this writer (two processes writing the same file never share it),
    it is flushed to disk before the rename, and it is removed when the write fails.
    ``data`` given as text is written in ``encoding``, its line ends as they are.
    ``owner``: ``(uid, gid)`` given to the file before it takes the target's place.
    The new file's permissions are the process's default (``0o666`` less the umask).
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode(encoding)
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write({path}): data must be bytes or str, not {type(data)}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file (best effort: not every file system
    lets a folder be opened for it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
