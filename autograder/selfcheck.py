"""``python -m autograder check``: a student's self-check with the visible tests (as otter).

Runs the notebook top to bottom in a fresh sandboxed kernel and prints, per auto-graded
exercise, the points the visible tests would give (hidden tests are not in the student's
notebook, so the real grade may be lower) and each check as passed, failed or not run.
Everything here comes from the student's own kernel, so it says exactly what the notebook
showed: the failed check is the one whose ``AssertionError`` stopped the cell, the checks
after it did not run.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import nbformat

from . import execute, key
from .checks import KINDS
from .config import Limits
from .course import copy_support_files


def check_notebook(path) -> list[dict]:
    """Execute a notebook and return one row per auto-graded cell (see :func:`rows_of`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"check: no notebook {path}")
    nb = nbformat.read(str(path), as_version=4)
    limits = Limits.load(path.parent)
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        workdir = Path(tmp) / "work"
        copy_support_files(path.parent, workdir)
        nb, _ = execute.execute_notebook(nb, workdir, limits)
    return rows_of(nb)


def due_note(path) -> str | None:
    """The assignment's due date, when the released notebook carries one (``release --due``)."""
    from .calendar import due_line

    try:
        return due_line(nbformat.read(str(path), as_version=4))
    except Exception:  # noqa: BLE001 - an unreadable notebook was reported by check_notebook
        return None


def rows_of(nb) -> list[dict]:
    """One row per auto-graded cell of an executed notebook.

    Each row: ``exercise`` (grade_id), ``points``, ``possible``, ``message`` (first line of
    the error, empty when the tests pass), ``checks`` (``{"label", "state", "message"}`` in
    the order they ran, then the checks written after the stop, ``state`` "passed",
    "failed" or "not run") and ``first_failure`` (a label, or None when the cell stopped
    outside a check or passed).
    """
    rows = []
    for cell in nb.cells:
        if not key.is_auto_grade_cell(cell):
            continue
        meta = key.nbgrader_meta(cell)
        error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
        message = ""
        if error is not None:
            text = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
            message = text.strip().splitlines()[0][:160] if text.strip() else "error"
        checks, first = _checks(cell, meta.get("grade_id"), error)
        possible = float(meta.get("points", 0))
        rows.append(
            {
                "exercise": meta.get("grade_id"),
                "points": 0.0 if message else possible,
                "possible": possible,
                "message": message,
                "checks": checks,
                "first_failure": first,
            }
        )
    return rows


def _checks(cell, gid, error):
    """(checks, first failure) of one executed grade cell, as its kernel saw them."""
    ran = [r["label"] for r in key.records_in(cell) if r.get("check") == gid]
    failed = None
    if error is not None and ran and error.get("ename") == "AssertionError":
        if str(error.get("evalue", "")).startswith(f"[{gid}] {ran[-1]}:"):
            failed = ran[-1]
    checks = []
    for label in dict.fromkeys(ran):
        if label == failed:
            text = str(error.get("evalue", "")).removeprefix(f"[{gid}] {label}: ")
            checks.append({"label": label, "state": key.FAILED, "message": text[:500]})
        else:
            checks.append({"label": label, "state": key.PASSED, "message": ""})
    if error is not None:  # the checks written after the stop did not run
        checks += [
            {"label": label, "state": key.NOT_RUN, "message": ""}
            for label in _written_labels(cell.source)
            if label not in ran
        ]
    return checks, failed


def _written_labels(source) -> list[str]:
    """Labels written as plain strings in ``c.<kind>("label", ...)`` calls, in source order.

    Labels built at run time (f-strings in loops) cannot be listed before they run; the
    hidden-test block of a source notebook is left out.
    """
    hidden = key.hidden_lines(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in KINDS or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        if hidden is not None and hidden[0] < node.lineno < hidden[1]:
            continue
        found.append((node.lineno, node.col_offset, first.value))
    return list(dict.fromkeys(label for _, _, label in sorted(found)))


def format_table(rows) -> str:
    """A plain-text table with a total line; under a failing exercise, its checks."""
    width = max([len("exercise"), *(len(str(r["exercise"])) for r in rows)])
    lines = [f"{'exercise':<{width}}  points  result", "-" * (width + 40)]
    pad = " " * (width + 4)
    for r in rows:
        checks = r.get("checks", [])
        if not r["message"]:
            result = f"ok ({len(checks)} checks passed)" if checks else "ok"
        else:
            result = r["message"]
        lines.append(f"{r['exercise']:<{width}}  {r['points']:>3g}/{r['possible']:<3g} {result}")
        if r["message"]:
            for c in checks:
                mark = {key.PASSED: "passed ", key.FAILED: "FAILED ", key.NOT_RUN: "not run"}
                extra = "  <- first failure" if c["label"] == r.get("first_failure") else ""
                lines.append(f"{pad}{mark[c['state']]}  {c['label']}{extra}")
            if any(c["state"] == key.NOT_RUN for c in checks):
                why = (
                    "an earlier check in this cell failed"
                    if r.get("first_failure")
                    else "the cell stopped with an error before them"
                )
                lines.append(f"{pad}(not run: {why})")
    total = sum(r["points"] for r in rows)
    possible = sum(r["possible"] for r in rows)
    lines.append("-" * (width + 40))
    lines.append(f"{'total':<{width}}  {total:>3g}/{possible:<3g} (visible tests only)")
    return "\n".join(lines)
