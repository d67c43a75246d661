"""What a first run prints: every message says something true, once, naming the student
where it is about one (the noise that made a first run look broken is gone)."""

from __future__ import annotations

import copy
import logging
import warnings

import nbformat
import pytest
from support.grader import ASSIGNMENTS, cli, fixture_subs

from autograder.config import Limits
from autograder.course import Course
from autograder.grading import sanitize as sanitize_mod

pytestmark = pytest.mark.slow  # one release of the small fixture assignment

AID = fixture_subs.AID


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("messages") / "course"
    aid, folder = ASSIGNMENTS[0]
    proc = cli("release", aid, "--course-dir", root, "--notebooks", folder)
    warnings.filterwarnings("ignore", module="sqlalchemy")
    return Course(root), proc.stdout + proc.stderr


def test_release_says_nothing_about_an_exchange(released):
    _, out = released
    assert "Unwritable directory" not in out and "contact your instructor" not in out, out


def sanitize_logs(course, nb, tmp_path, caplog, sid):
    path = tmp_path / f"{sid}.ipynb"
    path.write_text(nbformat.writes(nb))
    gb = course.gradebook()
    try:
        trusted = sanitize_mod.Trusted.load(gb, AID, "fixture")
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            got, reason = sanitize_mod.sanitize(trusted, gb, sid, path, Limits())
    finally:
        gb.close()
    assert got is not None, reason
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_grade_names_the_student_once_and_only_for_changed_locked_cells(released, tmp_path, caplog):
    course, _ = released
    release = fixture_subs.load(course.release_dir / AID / "fixture.ipynb")
    # untouched: nbgrader puts the hidden tests back into the grade cells, nothing to say
    assert sanitize_logs(course, copy.deepcopy(release), tmp_path, caplog, "alice") == []
    tampered = copy.deepcopy(release)
    locked = [
        c for c in tampered.cells if c.metadata.get("nbgrader", {}).get("locked")
        and c.metadata["nbgrader"].get("grade")
    ][:2]  # fmt: skip
    assert len(locked) == 2
    for cell in locked:
        cell.source = "pass"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in locked]
    lines = sanitize_logs(course, tampered, tmp_path, caplog, "bob")
    assert len(lines) == 1, lines
    assert lines[0].startswith("bob: fixture.ipynb: changed locked cells restored")
    assert all(gid in lines[0] for gid in ids) and "checksum" not in lines[0], lines
