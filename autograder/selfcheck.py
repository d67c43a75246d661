"""``python -m autograder check``: a student's self-check with the visible tests (as otter).

Runs the notebook top to bottom in a fresh sandboxed kernel and prints, per auto-graded
exercise, the points the visible tests would give (hidden tests are not in the student's
notebook, so the real grade may be lower) and each check as passed, failed, not attempted or
not run, with the message (what was got against what was expected) of each failed check;
then the points of the written answers, which a person grades after submission.
Everything here comes from the student's own kernel, so it says exactly what the notebook
showed. In a cell of ``case`` blocks every block ran and the block records say what passed;
in the older form the failed check is the one whose ``AssertionError`` stopped the cell, the
checks after it did not run.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import nbformat

from autograder import kernel, sandbox
from autograder.checks import KINDS, parse_failure
from autograder.config import Limits
from autograder.files import copy_support_files
from autograder.grading import answer_key, marker
from autograder.records import CASE_MIME


def check_notebook(path) -> list[dict]:
    """Execute a notebook and return one row per auto-graded cell (see :func:`rows_of`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"check: no notebook {path}")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook, not UTF-8
        raise ValueError(f"check: {path} is not a notebook ({str(exc)[:120]})") from None
    limits = Limits.load(path.parent)
    with tempfile.TemporaryDirectory(prefix="autograder-check-", dir=sandbox.work_base()) as tmp:
        workdir = Path(tmp) / "work"
        copy_support_files(path.parent, workdir, student_folder=True)
        nb, _ = kernel.execute_notebook(nb, workdir, limits)
    return rows_of(nb)


def due_note(path) -> str | None:
    """The assignment's due date, when the released notebook carries one (``release --due``)."""
    from autograder.term.calendar import due_line

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
    earlier = None  # (cell number, first line) of the last error outside a grade cell
    for number, cell in enumerate(nb.cells, 1):
        meta = answer_key.nbgrader_meta(cell)
        if meta.get("grade") and meta.get("solution"):  # a written answer: graded by a person
            rows.append(
                {
                    "exercise": meta.get("grade_id"),
                    "points": 0.0,
                    "possible": float(meta.get("points", 0) or 0),
                    "message": "",
                    "checks": [],
                    "first_failure": None,
                    "manual": True,
                }
            )
            continue
        if not answer_key.is_auto_grade_cell(cell):
            failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if failed:
                earlier = (number, _first_line(failed[0]))
            continue
        meta = answer_key.nbgrader_meta(cell)
        error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
        message = ""
        if error is not None:
            message = _first_line(error)
            if earlier is not None and error.get("ename") == "NameError":
                # the name was to come from a cell that failed: say that cell's error
                message = f"cell {earlier[0]} failed first: {earlier[1]}"[:160]
        possible = float(meta.get("points", 0))
        blocks = _blocks(cell, meta.get("grade_id"))
        if blocks:
            checks, first, share = _case_checks(cell, blocks)
            points = round(possible * share, 3)
        else:
            checks, first = _checks(cell, meta.get("grade_id"), error)
            points = 0.0 if message else possible
        rows.append(
            {
                "exercise": meta.get("grade_id"),
                "points": points,
                "possible": possible,
                "message": message,
                "checks": checks,
                "first_failure": first,
            }
        )
    return rows


def _first_line(error) -> str:
    text = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
    return text.strip().splitlines()[0][:160] if text.strip() else "error"


def _blocks(cell, gid) -> list[dict]:
    """The case-block records of a grade cell, in output order (empty in the older form)."""
    found = []
    for out in cell.get("outputs", []):
        block = (out.get("data") or {}).get(CASE_MIME) if isinstance(out, dict) else None
        if isinstance(block, dict) and block.get("check") == gid:
            found.append(block)
    return found


def _case_checks(cell, blocks):
    """(checks, first failure, share of the points passed) of a cell of case blocks.

    A block that raised counts as one check (its own checks' labels are not known before
    they run), *not attempted* for ``NotImplementedError``.
    """
    weight = {r["label"]: float(r.get("weight", 1) or 1) for r in answer_key.records_in(cell)}
    checks, first, got, total = [], None, 0.0, 0.0
    for block in blocks:
        for label in block.get("labels", []):
            w = weight.get(label, 1.0)
            total += w
            message = (block.get("failed") or {}).get(label)
            if message is None:
                got += w
                checks.append({"label": label, "state": marker.PASSED, "message": ""})
            else:
                first = first or label
                checks.append({"label": label, "state": marker.FAILED, "message": message[:500]})
        if block.get("error") is not None:
            total += 1.0
            state = marker.FAILED if block.get("attempted", True) else marker.NOT_ATTEMPTED
            if state == marker.FAILED:
                first = first or block["case"]
            text = str(block.get("message", ""))[:500]
            checks.append({"label": block["case"], "state": state, "message": text})
    return checks, first, (got / total if total else 1.0)


def _checks(cell, gid, error):
    """(checks, first failure) of one executed grade cell, as its kernel saw them."""
    ran = [r["label"] for r in answer_key.records_in(cell) if r.get("check") == gid]
    found = None
    if error is not None and ran and error.get("ename") == "AssertionError":
        found = parse_failure(error.get("evalue", ""), gid, ran[-1])
    failed = found[1] if found else None
    checks = []
    for label in dict.fromkeys(ran):
        if label == failed:
            checks.append({"label": label, "state": marker.FAILED, "message": found[2][:500]})
        else:
            checks.append({"label": label, "state": marker.PASSED, "message": ""})
    if error is not None:  # the checks written after the stop did not run
        stub = error.get("ename") == "NotImplementedError" and failed is None
        checks += [
            {
                "label": label,
                "state": marker.NOT_ATTEMPTED if stub else marker.NOT_RUN,
                "message": "",
            }
            for label in _written_labels(cell.source)
            if label not in ran
        ]
    return checks, failed


def _written_labels(source) -> list[str]:
    """Labels written as plain strings in ``c.<kind>("label", ...)`` calls, in source order.

    Labels built at run time (f-strings in loops) cannot be listed before they run; the
    hidden-test block of a source notebook is left out.
    """
    hidden = answer_key.hidden_lines(source)
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


MARKS = {
    marker.PASSED: "passed       ",
    marker.FAILED: "FAILED       ",
    marker.NOT_RUN: "not run      ",
    marker.NOT_ATTEMPTED: "not attempted",
}


def format_table(rows) -> str:
    """A plain-text table with a total line; under a failing exercise, its checks (a failed
    one with its message: what was got against what was expected), then the written answers.
    """
    manual = [r for r in rows if r.get("manual")]
    rows = [r for r in rows if not r.get("manual")]
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
                extra = "  <- first failure" if c["label"] == r.get("first_failure") else ""
                lines.append(f"{pad}{MARKS[c['state']]}  {c['label']}{extra}")
                if c["state"] != marker.PASSED and c.get("message"):
                    text = c["message"].replace("\n", "\n" + pad + "    ")
                    lines.append(f"{pad}    {text}")
            if any(c["state"] == marker.NOT_RUN for c in checks):
                why = (
                    "an earlier check in this cell failed"
                    if r.get("first_failure")
                    else "the cell stopped with an error before them"
                )
                lines.append(f"{pad}(not run: {why})")
            if any(c["state"] == marker.NOT_ATTEMPTED for c in checks) and not r.get(
                "first_failure"
            ):
                lines.append(f"{pad}(not attempted: the code still raises NotImplementedError)")
    total = sum(r["points"] for r in rows)
    possible = sum(r["possible"] for r in rows)
    lines.append("-" * (width + 40))
    lines.append(f"{'total':<{width}}  {total:>3g}/{possible:<3g} (visible tests only)")
    if manual:
        hand = sum(r["possible"] for r in manual)
        names = ", ".join(str(r["exercise"]) for r in manual)
        lines.append(
            f"{'':<{width}}  + {hand:g} points of written answers ({names}), "
            "graded by a person after submission"
        )
    return "\n".join(lines)
