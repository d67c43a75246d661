"""Finding submissions: nbgrader's submitted layout and per-student zip files.

``--submissions DIR`` holds ``DIR/<student_id>/<assignment>/<notebook>.ipynb`` and/or
``DIR/<student_id>.zip``. A zip may hold ``<assignment>/<notebook>.ipynb`` or the notebooks at
its top level (one folder level above is tolerated). A zip with absolute paths, ``..``,
links, too many members or too many bytes is rejected for that student, with a reason, and
nothing of it is extracted.

Nothing in ``DIR`` that looks like a submission is dropped without a word: an entry the grader
cannot attribute to one student (a notebook outside a student folder, a folder whose name is
not a valid student id, a wrongly named assignment folder, a symbolic link, a zip holding
several students' folders, a zip beside the same student's folder) comes back from
:func:`scan` as an :class:`Unattributed` with the reason and what to do; ``grade`` lists them
in its summary, the report and ``grades.csv``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from autograder import outcomes
from autograder.outcomes import Problem

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MAX_MEMBERS = 200


@dataclasses.dataclass
class Submission:
    """One student's submission: a folder of files, or the reason it was rejected."""

    student_id: str
    folder: Path | None = None
    rejected: Problem | None = None
    # collection time: mtime of the zip, or of the newest notebook of the folder, as the
    # instructor's collection left it in DIR (never a time written inside a zip or notebook)
    received: float | None = None
    from_zip: bool = False


# what file managers and archivers leave beside submissions: never a submission
JUNK = {".DS_Store", "__MACOSX", ".ipynb_checkpoints", "Thumbs.db", "desktop.ini", ".git"}


@dataclasses.dataclass
class Unattributed:
    """An entry of ``--submissions`` that is not graded: ``entry`` (its name) and why."""

    entry: str
    reason: str

    def __post_init__(self):
        if len(self.entry) > 60:  # a 200-character folder name is shown shortened
            self.entry = self.entry[:50] + f"...({len(self.entry)} characters)"


class SeveralStudents(ValueError):
    """A zip that holds the folders of several students (a whole class in one file)."""


def id_problem(name: str) -> str | None:
    """Why ``name`` is not a valid student id (None when it is)."""
    if STUDENT_ID.match(name):
        return None
    if len(name) > 100:
        return f"a student id has at most 100 characters, this one {len(name)}"
    if not name[:1].isalnum() or not name[:1].isascii():
        return "a student id starts with a letter or digit"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_.@-"))})
    return f"a student id has only ASCII letters, digits and _.@- (not {''.join(bad)!r})"


def collect(submissions_dir: Path, assignment: str, staging: Path, max_zip_mb: int):
    """Submissions found in ``submissions_dir``, sorted by student id (see :func:`scan`)."""
    return scan(submissions_dir, assignment, staging, max_zip_mb)[0]


def scan(submissions_dir: Path, assignment: str, staging: Path, max_zip_mb: int, others=()):
    """``(submissions, unattributed)`` found in ``submissions_dir``.

    Zips are extracted (safely) into ``staging/<student_id>/``. ``others``: the course's
    other assignments; a student folder holding only those has not submitted this one.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        what = "does not exist" if not submissions_dir.exists() else "is not a folder"
        raise ValueError(
            f"grade: --submissions {submissions_dir} {what}; give the folder of "
            "<student>/<assignment>/ folders or <student>.zip files"
        )
    found: dict[str, Submission] = {}
    lost: list[Unattributed] = []
    others = set(others)
    for entry in sorted(submissions_dir.iterdir()):
        if entry.name in JUNK:
            continue
        if entry.is_symlink():
            got = _symlink(entry)
        elif entry.is_dir():
            got = _student_folder(entry, assignment, others)
        elif entry.suffix == ".zip" and entry.is_file():
            got = _student_zip(entry, assignment, staging, max_zip_mb, found)
        elif entry.suffix == ".ipynb" and entry.is_file():
            got = Unattributed(
                entry.name,
                "a notebook outside any student folder: move it to "
                f"<student_id>/{assignment}/{entry.name}",
            )
        else:
            got = None
        if isinstance(got, Submission):
            found[got.student_id] = got
        elif got is not None:
            lost.append(got)
    return [found[s] for s in sorted(found)], lost


def _symlink(entry: Path) -> Unattributed | None:
    """A link in the submissions folder is never followed (it could point anywhere)."""
    if entry.is_dir() or entry.suffix in (".zip", ".ipynb"):
        return Unattributed(
            entry.name,
            f"a symbolic link (to {entry.readlink()}), not followed: copy the folder or file "
            "itself there",
        )
    return None


def _student_folder(entry: Path, assignment: str, others: set):
    """``<student>/<assignment>/``: a :class:`Submission`, why it is not one, or None (a
    folder without this assignment's or any notebook: nothing was handed in)."""
    name = entry.name
    problem = id_problem(name)
    if problem is not None:
        if not _has_notebooks(entry):
            return None
        return Unattributed(
            name,
            f"folder name is not a student id ({problem}): rename the folder to the student's id",
        )
    folder = entry / assignment
    if folder.is_symlink():
        return Unattributed(
            name,
            f"{name}/{assignment} is a symbolic link, not followed: copy the folder itself there",
        )
    if folder.is_dir():
        times = [p.stat().st_mtime for p in folder.glob("*.ipynb") if p.is_file()]
        return Submission(name, folder=folder, received=max(times, default=None))
    why = _misplaced(entry, assignment, others)
    return Unattributed(name, why) if why else None


def _student_zip(entry: Path, assignment: str, staging: Path, max_zip_mb: int, found: dict):
    """``<student>.zip``, extracted into ``staging/<student>/``: a :class:`Submission`
    (rejected with the reason when the zip is unsafe or broken) or why it is nobody's."""
    name, sid = entry.name, entry.stem
    problem = id_problem(sid)
    if problem is not None:
        return Unattributed(
            name, f"zip name is not a student id ({problem}): name it <student_id>.zip"
        )
    if sid in found:
        return Unattributed(
            name,
            f"{sid} also has the folder {sid}/{assignment}/, which is graded: remove the zip "
            "or the folder",
        )
    target = staging / sid
    received = entry.stat().st_mtime
    try:
        extract_zip(entry, target, max_zip_mb * 2**20)
        folder = _assignment_folder(target, assignment)
        return Submission(sid, folder=folder, received=received, from_zip=True)
    except SeveralStudents as exc:
        shutil.rmtree(target, ignore_errors=True)
        return Unattributed(name, str(exc))
    except ValueError as exc:
        shutil.rmtree(target, ignore_errors=True)
        return Submission(
            sid, rejected=outcomes.rejected(str(exc)), received=received, from_zip=True
        )


def _has_notebooks(folder: Path, depth: int = 3) -> bool:
    """Whether ``folder`` holds a notebook within ``depth`` levels (links not followed)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    for p in entries:
        if p.is_symlink():
            continue
        if p.suffix == ".ipynb" and p.is_file():
            return True
        if depth > 1 and p.is_dir() and p.name not in JUNK and _has_notebooks(p, depth - 1):
            return True
    return False


def _misplaced(student: Path, assignment: str, others: set) -> str | None:
    """Why a student folder without ``<assignment>/`` looks like a misplaced submission."""
    name = student.name
    if name == assignment or name in others:
        return (
            f"{name}/ is an assignment folder, not a student's: --submissions takes the "
            "folder that holds <student_id>/ folders"
        )
    if any(p.is_file() for p in student.glob("*.ipynb")):
        return f"notebook(s) at the top of the student folder: move them to {name}/{assignment}/"
    folders = sorted(
        p.name
        for p in student.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and p.name not in JUNK
        and p.name not in others
        and _has_notebooks(p, 2)
    )
    if folders:
        return (
            f"no folder {name}/{assignment}/, but notebooks in {name}/{folders[0]}/: "
            f"rename it to {assignment} if that is this assignment"
        )
    return None


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
    if (root / assignment).is_dir():
        return root / assignment
    nested = sorted(p for p in root.glob(f"*/{assignment}") if p.is_dir())
    if len(nested) > 1:
        names = ", ".join(p.parent.name for p in nested[:5]) + (", ..." if len(nested) > 5 else "")
        raise SeveralStudents(
            f"holds the folders of several students ({names}): unpack it so that each student "
            f"has a folder <student_id>/{assignment}/ or a <student_id>.zip"
        )
    if nested:
        return nested[0]
    if any(root.glob("*.ipynb")):
        return root
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and any(subdirs[0].glob("*.ipynb")):
        return subdirs[0]
    raise ValueError(f"zip holds no notebooks for {assignment}")
