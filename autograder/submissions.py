"""Finding submissions: nbgrader's submitted layout and per-student zip files.

``--submissions DIR`` holds ``DIR/<student_id>/<assignment>/<notebook>.ipynb`` and/or
``DIR/<student_id>.zip``. A zip may hold ``<assignment>/<notebook>.ipynb`` or the notebooks at
its top level (one folder level above is tolerated). A zip with absolute paths, ``..``,
links, too many members or too many bytes is rejected for that student, with a reason, and
nothing of it is extracted.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MAX_MEMBERS = 200


@dataclasses.dataclass
class Submission:
    """One student's submission: a folder of files, or the reason it was rejected."""

    student_id: str
    folder: Path | None = None
    rejected: str | None = None
    # collection time: mtime of the zip, or of the newest notebook of the folder, as the
    # instructor's collection left it in DIR (never a time written inside a zip or notebook)
    received: float | None = None
    from_zip: bool = False


def collect(submissions_dir: Path, assignment: str, staging: Path, max_zip_mb: int):
    """Submissions found in ``submissions_dir``, sorted by student id.

    Zips are extracted (safely) into ``staging/<student_id>/``.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise ValueError(f"grade: --submissions {submissions_dir} is not a folder")
    found: dict[str, Submission] = {}
    for entry in sorted(submissions_dir.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            sid = entry.name
            if not STUDENT_ID.match(sid):
                continue
            folder = entry / assignment
            if folder.is_dir() and not folder.is_symlink():
                times = [p.stat().st_mtime for p in folder.glob("*.ipynb") if p.is_file()]
                found[sid] = Submission(sid, folder=folder, received=max(times, default=None))
        elif entry.suffix == ".zip" and entry.is_file():
            sid = entry.stem
            if not STUDENT_ID.match(sid) or sid in found:
                continue
            target = staging / sid
            received = entry.stat().st_mtime
            try:
                extract_zip(entry, target, max_zip_mb * 2**20)
                folder = _assignment_folder(target, assignment)
                found[sid] = Submission(sid, folder=folder, received=received, from_zip=True)
            except ValueError as exc:
                shutil.rmtree(target, ignore_errors=True)
                found[sid] = Submission(sid, rejected=str(exc), received=received, from_zip=True)
    return [found[s] for s in sorted(found)]


def extract_zip(path: Path, target: Path, max_bytes: int) -> None:
    """Extract ``path`` into ``target`` after checking every member (ValueError if unsafe)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path.name}: not a valid zip file ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ValueError(f"{path.name}: more than {MAX_MEMBERS} files")
        total = 0
        for m in members:
            name = m.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                raise ValueError(f"{path.name}: unsafe path {name!r} (absolute or '..')")
            mode = m.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ValueError(f"{path.name}: {name!r} is a link")
            total += m.file_size
            if total > max_bytes:
                raise ValueError(f"{path.name}: more than {max_bytes // 2**20} MB uncompressed")
        target.mkdir(parents=True, exist_ok=True)
        try:
            for m in members:
                if m.is_dir():
                    continue
                dest = target.joinpath(*PurePosixPath(m.filename.replace("\\", "/")).parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                written = 0
                with zf.open(m) as src, open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > m.file_size or written > max_bytes:  # lying header
                            raise ValueError(f"{path.name}: {m.filename!r} is larger than declared")
                        out.write(chunk)
        # a corrupt member (bad CRC or stream), encryption, an unsupported compression or a
        # name the file system refuses costs this student only, not the whole grading run
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            RuntimeError,
            NotImplementedError,
            OSError,
        ) as exc:
            raise ValueError(f"{path.name}: cannot extract ({type(exc).__name__}: {exc})") from None


def _assignment_folder(root: Path, assignment: str) -> Path:
    """The folder holding the notebooks inside an extracted zip."""
    for candidate in (root / assignment, *sorted(root.glob(f"*/{assignment}"))):
        if candidate.is_dir():
            return candidate
    if any(root.glob("*.ipynb")):
        return root
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and any(subdirs[0].glob("*.ipynb")):
        return subdirs[0]
    raise ValueError(f"zip holds no notebooks for {assignment}")
