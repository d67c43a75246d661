"""``python -m autograder check``: a student's self-check with the visible tests (as otter).

Runs the notebook top to bottom in a fresh sandboxed kernel and prints, per auto-graded
exercise, the points the visible tests would give (hidden tests are not in the student's
notebook, so the real grade may be lower).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat

from . import execute, key
from .config import Limits
from .course import copy_support_files


def check_notebook(path) -> list[dict]:
    """Execute a notebook and return one row per auto-graded cell.

    Each row: ``exercise`` (grade_id), ``points``, ``possible``, ``message`` (first line of
    the error, empty when the tests pass).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"check: no notebook {path}")
    nb = nbformat.read(str(path), as_version=4)
    limits = Limits.load(path.parent)
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        workdir = Path(tmp) / "work"
        copy_support_files(path.parent, workdir)
        nb, _ = execute.execute_notebook(nb, workdir, limits)
    rows = []
    for cell in nb.cells:
        if not key.is_auto_grade_cell(cell):
            continue
        meta = key.nbgrader_meta(cell)
        message = ""
        for out in cell.outputs:
            if out.get("output_type") == "error":
                text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
                message = text.strip().splitlines()[0][:160] if text.strip() else "error"
                break
        possible = float(meta.get("points", 0))
        rows.append(
            {
                "exercise": meta.get("grade_id"),
                "points": 0.0 if message else possible,
                "possible": possible,
                "message": message,
            }
        )
    return rows


def format_table(rows) -> str:
    """A plain-text table with a total line."""
    width = max([len("exercise"), *(len(str(r["exercise"])) for r in rows)])
    lines = [f"{'exercise':<{width}}  points  result", "-" * (width + 40)]
    for r in rows:
        result = "ok" if not r["message"] else r["message"]
        lines.append(f"{r['exercise']:<{width}}  {r['points']:>3g}/{r['possible']:<3g} {result}")
    total = sum(r["points"] for r in rows)
    possible = sum(r["possible"] for r in rows)
    lines.append("-" * (width + 40))
    lines.append(f"{'total':<{width}}  {total:>3g}/{possible:<3g} (visible tests only)")
    return "\n".join(lines)
