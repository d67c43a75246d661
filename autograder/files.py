"""Files: written so that a reader never sees half of one, and a notebook's support files.

:func:`atomic_write` writes a temporary file in the target's folder and renames it over the
target: a crash, a full disk or an interrupt leaves the old file (or none), never a torn one.
:func:`support_files` lists the files next to a notebook that its kernel may read (data),
:func:`copy_support_files` copies them into the folder a notebook runs in.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path

log = logging.getLogger("autograder")

# a student's folder (``check``): what is never a notebook's support file, and how much is
STUDENT_SKIP = {"__pycache__", "node_modules", "site-packages", "course"}
STUDENT_MAX_FILES, STUDENT_MAX_MB = 200, 50


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


def support_files(folder, student_folder: bool = False) -> list[Path]:
    """The support files of the notebooks in ``folder``: every file below it, in a sorted
    walk, but notebooks and symbolic links (nor what is below a linked folder).

    ``student_folder``: the folder is a student's own (``check`` next to the notebook, which
    may be the repository root): hidden entries (``.venv``, ``.git``), virtual environments,
    :data:`STUDENT_SKIP` (caches, the course folder) are left out too, and the walk stops
    with a warning after :data:`STUDENT_MAX_FILES` files or :data:`STUDENT_MAX_MB` MB.
    """
    out, total = [], 0
    for root, dirs, names in os.walk(folder):  # a linked folder is listed, not entered
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not (here / d).is_symlink() and not (student_folder and _not_support(here / d))
        )
        for name in sorted(names):
            path = here / name
            if path.suffix == ".ipynb" or path.is_symlink() or not path.is_file():
                continue
            if student_folder:
                if name.startswith("."):
                    continue
                total += path.stat().st_size
                if len(out) >= STUDENT_MAX_FILES or total > STUDENT_MAX_MB * 2**20:
                    log.warning(
                        "check: more than %d files or %d MB next to the notebook; copied the "
                        "first ones only (keep a notebook's data in its own folder)",
                        STUDENT_MAX_FILES,
                        STUDENT_MAX_MB,
                    )
                    return out
            out.append(path)
    return out


def _not_support(folder: Path) -> bool:
    """A folder of a student's that holds no support files: hidden, skipped by name, or a
    virtual environment."""
    return (
        folder.name.startswith(".")
        or folder.name in STUDENT_SKIP
        or (folder / "pyvenv.cfg").exists()
    )


def copy_support_files(release_folder: Path, workdir: Path, student_folder=False) -> None:
    """Copy the non-notebook files students received (data files) into a sandbox folder:
    :func:`support_files` (``student_folder``: a student's own folder)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not release_folder.is_dir():
        return
    for path in support_files(release_folder, student_folder):
        target = workdir / path.relative_to(release_folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
