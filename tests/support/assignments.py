"""The course's real assignment notebooks (``notebooks/NN_name/``) and a perfect submission.

``perfect_submission(released, source)`` is what a perfect student hands in: the released
student version with every solution cell filled from the source notebook.
"""

from __future__ import annotations

import copy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _gid(cell):
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


def perfect_submission(released, source):
    """The released notebook with each solution cell's source taken from the source notebook.

    Solution markers are dropped (their content kept); the hidden tests live in locked grade
    cells, which the student version does not contain and the grader restores anyway.
    """
    solutions = {
        _gid(c): "\n".join(
            line for line in c.source.splitlines() if line.strip() not in SOLUTION_MARKERS
        )
        for c in source.cells
        if (c.get("metadata", {}).get("nbgrader") or {}).get("solution")
    }
    nb = copy.deepcopy(released)
    filled = 0
    for cell in nb.cells:
        if _gid(cell) in solutions:
            cell.source = solutions[_gid(cell)]
            filled += 1
    assert filled == len(solutions), "a solution cell of the source is missing in the release"
    return nb
