"""The course directory (nbgrader's layout) and the ``release`` step.

``course/`` holds ``source/``, ``release/``, ``submitted/``, ``autograded/``, ``feedback/``,
``gradebook.db`` and ``nbgrader_config.py`` as nbgrader expects, plus ``keys/`` (answer keys,
never copied into a sandbox) and ``grades.csv``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from . import calendar, execute, key
from .config import CONFIG_NAME, Limits

log = logging.getLogger("autograder")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOKS = REPO_ROOT / "notebooks"

NBGRADER_CONFIG = """\
# written by `python -m autograder`; nbgrader's own tools (formgrader, nbgrader export) use it
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "nncourse"
"""


class Course:
    """Paths of one course directory."""

    def __init__(self, root="course"):
        self.root = Path(root).resolve()

    source = property(lambda self: self.root / "source")
    release_dir = property(lambda self: self.root / "release")
    submitted = property(lambda self: self.root / "submitted")
    autograded = property(lambda self: self.root / "autograded")
    feedback = property(lambda self: self.root / "feedback")
    keys = property(lambda self: self.root / "keys")
    db_path = property(lambda self: self.root / "gradebook.db")
    db_url = property(lambda self: f"sqlite:///{self.root / 'gradebook.db'}")
    grades_csv = property(lambda self: self.root / "grades.csv")

    def ensure(self) -> Course:
        # nbgrader's Gradebook runs the `alembic` script of this environment
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # solutions, keys and grades: instructors only
        cfg = self.root / "nbgrader_config.py"
        if not cfg.exists():
            cfg.write_text(NBGRADER_CONFIG.format(root=str(self.root)))
        return self

    def api(self):
        """nbgrader's in-process API bound to this course directory."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.course_id = "nncourse"
        config.CourseDirectory.db_url = self.db_url
        # nothing here goes through nbgrader's exchange (the hub releases with its own), but
        # the API probes one when it starts and, with the default /usr/local/share/... missing,
        # tells the instructor "Unwritable directory, please contact your instructor"
        config.Exchange.root = str(self.root)
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, course_id="nncourse")

    def limits(self, assignment: str) -> Limits:
        return Limits.load(self.source / assignment)

    def key_path(self, assignment: str, notebook: str) -> Path:
        return self.keys / assignment / f"{notebook}.json"

    def load_key(self, assignment: str, notebook: str) -> dict:
        path = self.key_path(assignment, notebook)
        if not path.is_file():
            raise ValueError(f"no answer key {path}: run `python -m autograder release` first")
        return json.loads(path.read_text())

    def notebooks(self, assignment: str) -> list[str]:
        """Notebook names (without .ipynb) of a released assignment, sorted."""
        return sorted(p.stem for p in (self.source / assignment).glob("*.ipynb"))


def release(assignments, course: Course, notebooks_dir=DEFAULT_NOTEBOOKS) -> list[str]:
    """Copy assignments into ``source/``, generate the student version, build the answer keys.

    Returns warnings (e.g. grade cells without Check records). Raises ValueError when an
    assignment is missing or its solution fails its own tests.
    """
    course.ensure()
    notebooks_dir = Path(notebooks_dir)
    if not assignments:
        assignments = sorted(p.name for p in notebooks_dir.iterdir() if p.is_dir())
    warnings = []
    for aid in assignments:
        src = notebooks_dir / aid
        if not src.is_dir():
            raise ValueError(f"release: no assignment folder {src}")
        dest = course.source / aid
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(
            src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
        result = course.api().generate_assignment(aid, force=True, create=True)
        if not result.get("success"):
            raise ValueError(
                f"release: nbgrader generate_assignment failed for {aid}:\n"
                f"{result.get('error') or result.get('log')}"
            )
        (course.release_dir / aid / CONFIG_NAME).unlink(missing_ok=True)
        calendar.stamp_release(course, aid)  # a due date set earlier, for students' `check`
        limits = course.limits(aid)
        for nb_path in sorted(dest.glob("*.ipynb")):
            warnings += [f"{aid}/{w}" for w in build_answer_key(course, aid, nb_path, limits)]
        log.info("released %s", aid)
    return warnings


def build_answer_key(course: Course, aid: str, nb_path: Path, limits: Limits) -> list[str]:
    """Execute the source notebook in the sandbox and store its records as the key."""
    nb = nbformat.read(str(nb_path), as_version=4)
    with tempfile.TemporaryDirectory(prefix="autograder-key-") as tmp:
        workdir = Path(tmp) / "work"
        copy_support_files(course.release_dir / aid, workdir)
        nb, info = execute.execute_notebook(nb, workdir, limits, env={"AUTOGRADER_KEY_RUN": "1"})
    answer, warnings = key.build_key(nb, nb_path.stem)
    answer["assignment"] = aid
    answer["mechanism"] = info["mechanism"]
    path = course.key_path(aid, nb_path.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answer))
    return warnings


def copy_support_files(release_folder: Path, workdir: Path) -> None:
    """Copy the non-notebook files students received (data files) into a sandbox folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not release_folder.is_dir():
        return
    for path in release_folder.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and not path.is_symlink():
            target = workdir / path.relative_to(release_folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
