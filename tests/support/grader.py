"""The autograder's command line and the fixture course, for the grader's end-to-end tests.

``FIXTURES`` holds the small fixture assignment ``00_fixture`` and ``fixture_subs`` (its
``submissions.py``) builds its submissions, attacks included; ``ASSIGNMENTS`` lists the
assignments the end-to-end grading tests release and grade (one line each); ``cli`` runs
``python -m autograder`` and ``gradebook_scores`` reads what a ``grade`` wrote.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "autograder"
sys.path.insert(0, str(FIXTURES))
import submissions as fixture_subs  # noqa: E402, F401  (the tests import it from here)

# (assignment id, folder holding it): the real notebooks join with one line each
ASSIGNMENTS = [("00_fixture", FIXTURES / "notebooks")]


def cli(*args, check=True):
    """Run ``python -m autograder *args`` in the checkout; raise with its output if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def gradebook_scores(course, aid="00_fixture"):
    """``{student: {grade cell: auto score}}`` of the exercises (``ex_*``) in the gradebook."""
    from autograder.course import Course

    out = {}
    with Course(course).gradebook() as gb:
        for sub in gb.assignment_submissions(aid):
            out[sub.student.id] = {
                g.cell.name: g.auto_score
                for nb in sub.notebooks
                for g in nb.grades
                if g.cell.name.startswith("ex_")
            }
    return out
