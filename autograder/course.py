"""The course directory: nbgrader's layout and the paths in it.

``course/`` holds ``source/``, ``release/``, ``submitted/``, ``autograded/``, ``feedback/``,
``gradebook.db`` and ``nbgrader_config.py`` as nbgrader expects, plus ``keys/`` (answer keys,
never copied into a sandbox) and ``grades.csv``. ``autograder.release`` fills it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from autograder.config import Limits
from autograder.files import atomic_write

COURSE_ID = "nncourse"  # nbgrader's course id: the gradebook's, the hub's (deploy/hub)

NBGRADER_CONFIG = """\
# written by `python -m autograder`; nbgrader's own tools (formgrader, nbgrader export) use it
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "{course_id}"
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
    # what the last ``grade`` of each assignment could not attribute or read:
    # {assignment: [{"entry", "reason"}]}
    not_graded_json = property(lambda self: self.root / "not_graded.json")

    def ensure(self) -> Course:
        # nbgrader's Gradebook runs the `alembic` script of this environment
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # solutions, keys and grades: instructors only
        cfg = self.root / "nbgrader_config.py"
        if not cfg.exists():
            cfg.write_text(NBGRADER_CONFIG.format(root=str(self.root), course_id=COURSE_ID))
        return self

    def require(self, given=None) -> Course:
        """Refuse (ValueError) a folder that is not a released course: a mistyped
        ``--course-dir`` must not start a new, empty course."""
        name = given if given is not None else self.root
        if not self.root.is_dir():
            raise ValueError(
                f"--course-dir {name}: no such folder; check the path (release creates a course)"
            )
        if not self.db_path.is_file():
            raise ValueError(
                f"--course-dir {name}: no gradebook.db there; run `release` first (a course "
                "whose gradebook was deleted gets a new one from release; grade then scores again)"
            )
        return self

    def api(self):
        """nbgrader's in-process API bound to this course directory."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.course_id = COURSE_ID
        config.CourseDirectory.db_url = self.db_url
        # nothing here goes through nbgrader's exchange (the hub releases with its own), but
        # the API probes one when it starts and, with the default /usr/local/share/... missing,
        # tells the instructor "Unwritable directory, please contact your instructor"
        config.Exchange.root = str(self.root)
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, course_id=COURSE_ID)

    def limits(self, assignment: str) -> Limits:
        return Limits.load(self.source / assignment)

    def key_path(self, assignment: str, notebook: str) -> Path:
        return self.keys / assignment / f"{notebook}.json"

    def load_key(self, assignment: str, notebook: str) -> dict:
        path = self.key_path(assignment, notebook)
        if not path.is_file():
            raise ValueError(f"no answer key {path}: run `python -m autograder release` first")
        return json.loads(path.read_text())

    def write_not_graded(self, assignment: str, lost) -> None:
        """Record the entries of a ``grade`` run's ``--submissions`` that were not graded
        (``lost``: items with ``entry`` and ``reason``), replacing the assignment's last."""
        data = self.not_graded_all()
        data[assignment] = [{"entry": u.entry, "reason": u.reason} for u in lost]
        if not data[assignment]:
            del data[assignment]
        if not data and not self.not_graded_json.exists():
            return
        atomic_write(self.not_graded_json, json.dumps(data, indent=1, sort_keys=True))

    def not_graded_all(self) -> dict:
        """``{assignment: [{entry, reason}]}`` (empty when nothing was recorded, or the
        record is unreadable)."""
        try:
            data = json.loads(self.not_graded_json.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def not_graded(self, assignment: str) -> list[dict]:
        """``[{entry, reason}]``: what the last ``grade`` of ``assignment`` could not grade."""
        return list(self.not_graded_all().get(assignment, []))

    def notebooks(self, assignment: str) -> list[str]:
        """Notebook names (without .ipynb) of a released assignment, sorted."""
        return sorted(p.stem for p in (self.source / assignment).glob("*.ipynb"))
