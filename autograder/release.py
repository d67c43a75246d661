"""``release``: an assignment's student version and answer keys, in a course folder.

``release`` copies an assignment's folder into ``source/``, has nbgrader generate the student
version in ``release/``, runs each source notebook in the sandbox to build its answer key in
``keys/`` and notes what was released (:func:`record_release`), so that ``grade`` can warn
when the source was edited since (:func:`edited_since_release`). All or nothing: a failing
step puts the course back as it was (:func:`_restorable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder import kernel, sandbox
from autograder.config import CONFIG_NAME, Limits
from autograder.course import Course
from autograder.files import copy_support_files
from autograder.grading import answer_key
from autograder.term import calendar

log = logging.getLogger("autograder")

DEFAULT_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def release(assignments, course: Course, notebooks_dir=DEFAULT_NOTEBOOKS) -> list[str]:
    """Copy assignments into ``source/``, generate the student version, build the answer keys.

    Returns warnings (e.g. grade cells without Check records). Raises ValueError when an
    assignment is missing or its solution fails its own tests. All or nothing: when any
    step fails (or the run is interrupted), ``source/``, ``release/``, ``keys/`` and the
    gradebook are put back as they were before the command (:func:`_restorable`).
    """
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise ValueError(
            f"release: --notebooks {notebooks_dir} is not a folder; give the folder that holds "
            "the assignment folders (default: the repository's notebooks/)"
        )
    if not assignments:
        assignments = sorted(p.name for p in notebooks_dir.iterdir() if p.is_dir())
    for aid in assignments:
        if not (notebooks_dir / aid).is_dir():
            known = sorted(p.name for p in notebooks_dir.iterdir() if p.is_dir())
            raise ValueError(
                f"release: no assignment folder {notebooks_dir / aid} (assignments there: "
                f"{', '.join(known[:12]) or 'none'})"
            )
        Limits.load(notebooks_dir / aid)  # a broken autograder.json: before anything changes
    course.ensure()
    warnings = []
    with _restorable(course, assignments):
        for aid in assignments:
            warnings += _release_one(aid, course, notebooks_dir)
    return warnings


def _release_one(aid: str, course: Course, notebooks_dir: Path) -> list[str]:
    src = notebooks_dir / aid
    dest = course.source / aid
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    result = _quiet_generate(course, aid)
    if not result.get("success"):
        raise ValueError(f"release: nbgrader refused {aid}: {nbgrader_cause(result)}")
    (course.release_dir / aid / CONFIG_NAME).unlink(missing_ok=True)
    calendar.stamp_release(course, aid)  # a due date set earlier, for students' `check`
    limits = course.limits(aid)
    warnings = []
    for nb_path in sorted(dest.glob("*.ipynb")):
        warnings += [f"{aid}/{w}" for w in build_answer_key(course, aid, nb_path, limits)]
    record_release(course, aid, src)
    log.info("released %s", aid)
    return warnings


def _quiet_generate(course: Course, aid: str) -> dict:
    """nbgrader's generate_assignment; its log is printed only when it succeeds (on failure
    it holds a traceback: :func:`nbgrader_cause` says the cause in one line instead)."""
    api = course.api()
    logger, records = api.log, []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep, propagate = Keep(), logger.propagate
    logger.addHandler(keep)
    logger.propagate = False
    try:
        result = api.generate_assignment(aid, force=True, create=True)
    finally:
        logger.removeHandler(keep)
        logger.propagate = propagate
    if result.get("success"):
        for record in records:
            logging.getLogger().callHandlers(record)
    return result


# nbgrader's errors that have a known remedy: (text in the cause, what to do)
REMEDIES = [
    (
        "Cannot add or remove cells",
        "students' grades exist for this notebook: put the removed cells back, or release "
        "the new version under a new assignment id",
    ),
    ("Duplicate", "give every nbgrader cell its own grade id"),
]


def nbgrader_cause(result: dict) -> str:
    """The one line of nbgrader's log or traceback that says why it failed."""
    text = "\n".join(filter(None, (result.get("log"), result.get("error"))))
    causes = [
        line.strip()
        for line in text.splitlines()
        if re.match(r"^\s*(\w+\.)*\w*(Error|Exception)\b: ", line)
        and "NbGraderException" not in line
        and "Please see" not in line
    ]
    cause = causes[0] if causes else (text.strip().splitlines() or ["no reason given"])[-1]
    cause = re.sub(r"^(\w+\.)*", "", cause)
    for needle, remedy in REMEDIES:
        if needle in cause:
            return f"{cause} ({remedy})"
    return cause


@contextlib.contextmanager
def _restorable(course: Course, assignments):
    """Put ``source/``, ``release/`` and ``keys/`` of ``assignments`` and the gradebook back
    as they were when the block fails or is interrupted."""
    backup = Path(tempfile.mkdtemp(prefix=".release-backup-", dir=course.root))
    saved = []
    try:
        for i, aid in enumerate(assignments):
            for folder in (course.source, course.release_dir, course.keys):
                path = folder / aid
                if path.exists():
                    copy = backup / str(i) / folder.name
                    shutil.copytree(path, copy, symlinks=True)
                    saved.append((path, copy))
                else:
                    saved.append((path, None))
        db = course.db_path
        if db.exists():
            shutil.copy2(db, backup / db.name)
        saved.append((db, backup / db.name if db.exists() else None))
        yield
    except BaseException:
        for path, copy in saved:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            if copy is not None and copy.is_dir():
                shutil.copytree(copy, path, symlinks=True)
            elif copy is not None:
                shutil.copy2(copy, path)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def build_answer_key(course: Course, aid: str, nb_path: Path, limits: Limits) -> list[str]:
    """Execute the source notebook in the sandbox and store its records as the key."""
    nb = nbformat.read(str(nb_path), as_version=4)
    with tempfile.TemporaryDirectory(prefix="autograder-key-", dir=sandbox.work_base()) as tmp:
        workdir = Path(tmp) / "work"
        copy_support_files(course.release_dir / aid, workdir)
        nb, info = kernel.execute_notebook(nb, workdir, limits, env={"AUTOGRADER_KEY_RUN": "1"})
    answer, warnings = answer_key.build_key(nb, nb_path.stem)
    answer["assignment"] = aid
    answer["mechanism"] = info["mechanism"]
    path = course.key_path(aid, nb_path.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answer))
    return warnings


SOURCE_RECORD = "release.json"  # keys/ASSIGNMENT/release.json: what was released, from where


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not {".ipynb_checkpoints", "__pycache__"} & set(rel.parts):
                out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def record_release(course: Course, aid: str, src: Path) -> None:
    """Note what was released (file digests) and from which folder
    (:func:`edited_since_release` compares them)."""
    path = course.keys / aid / SOURCE_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"from": str(src.resolve()), "files": _digests(course.source / aid)}
    path.write_text(json.dumps(data, indent=1))


def edited_since_release(course: Course, assignment: str) -> list[str]:
    """Warnings when the assignment's source changed after it was released.

    ``grade`` grades against the release (its answer key and gradebook); a source edited
    since (in ``source/`` or in the folder it was released from) is not used until
    ``release`` runs again.
    """
    try:
        record = json.loads((course.keys / assignment / SOURCE_RECORD).read_text())
    except (OSError, ValueError):
        return []
    out = []
    for where in (course.source / assignment, Path(record.get("from", ""))):
        now = _digests(where) if where.is_dir() else {}
        changed = sorted(
            name
            for name in set(now) | set(record.get("files", {}))
            if now.get(name) != record["files"].get(name)
        )
        if where.is_dir() and changed:
            out.append(
                f"{where}: {', '.join(changed[:5])} changed since {assignment} was released;"
                f" grading against the release (run `release {assignment}` to use the edit)"
            )
    return out
