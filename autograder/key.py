"""The answer key: records of the instructor's solution, and the trusted verdicts.

``build_key(nb)`` turns the executed *source* notebook (solutions in, run at release time in
a clean sandboxed kernel with ``AUTOGRADER_KEY_RUN=1``) into::

    {"notebook": "...", "cells": {grade_id: {"points": float,
                                             "labels": {label: record + {"hidden": bool}}}}}

``score_notebook(nb, key)`` decides, outside the student's kernel, how many points each grade
cell of an executed submission earns: all-or-nothing per cell, only if the cell has no error
output and every key label has exactly one matching record in that cell's outputs.
"""

from __future__ import annotations

from .checks import KINDS, MIME, decode_value

MAX_RECORDS_PER_CELL = 10_000
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_auto_grade_cell(cell) -> bool:
    """A locked code grade cell with points (not a manually graded answer)."""
    meta = nbgrader_meta(cell)
    return (
        cell.get("cell_type") == "code"
        and bool(meta.get("grade"))
        and not meta.get("solution")
        and float(meta.get("points", 0) or 0) > 0
    )


def records_in(cell) -> list[dict]:
    """Well-formed check records among a cell's outputs, in output order."""
    found = []
    for out in cell.get("outputs", []) or []:
        if not isinstance(out, dict) or out.get("output_type") != "display_data":
            continue
        rec = (out.get("data") or {}).get(MIME)
        if isinstance(rec, dict) and isinstance(rec.get("label"), str):
            if rec.get("kind") in KINDS and isinstance(rec.get("value"), dict):
                found.append(rec)
        if len(found) >= MAX_RECORDS_PER_CELL:
            break
    return found


def has_error(cell) -> str | None:
    """The ename of the first error output of a cell, or None."""
    for out in cell.get("outputs", []) or []:
        if isinstance(out, dict) and out.get("output_type") == "error":
            return str(out.get("ename", "Error"))[:100]
    return None


def hidden_lines(source: str) -> tuple[int, int] | None:
    """1-based line range strictly between the hidden-test markers, or None."""
    begin = end = None
    for n, line in enumerate(source.splitlines(), start=1):
        if line.strip() == HIDDEN_BEGIN and begin is None:
            begin = n
        elif line.strip() == HIDDEN_END and begin is not None:
            end = n
    return (begin, end) if begin and end else None


def build_key(nb, notebook_id: str) -> tuple[dict, list[str]]:
    """Answer key from an executed source notebook; returns (key, warnings).

    Raises ValueError when the solution fails its own tests, a Check id differs from the
    cell's grade_id, or a label repeats within a cell.
    """
    cells, warnings, problems = {}, [], []
    for cell in nb.cells:
        if not is_auto_grade_cell(cell):
            continue
        meta = nbgrader_meta(cell)
        gid = meta["grade_id"]
        ename = has_error(cell)
        if ename:
            problems.append(f"{gid}: the solution fails its own tests ({ename})")
        rng = hidden_lines(cell.source)
        labels = {}
        for rec in records_in(cell):
            if rec["check"] != gid:
                problems.append(f"{gid}: Check id {rec['check']!r} differs from the grade_id")
            if rec["label"] in labels:
                problems.append(f"{gid}: label {rec['label']!r} is used twice")
            line = rec.get("line")
            # outside the markers is visible; unknown lines inside a hidden cell count as hidden
            hidden = rng is not None and (line is None or rng[0] < line < rng[1])
            if hidden and rec.get("kind") in ("close", "equal") and "expected" in rec:
                # the student's kernel runs this line too: a patched Check could copy the
                # expected value into its record; hidden checks must leave it to the key
                problems.append(
                    f"{gid}: hidden check {rec['label']!r} passes an expected value; "
                    "drop it (the answer key supplies the reference)"
                )
            labels[rec["label"]] = {**rec, "hidden": bool(hidden)}
        if not labels:
            warnings.append(
                f"{gid}: no Check records; its verdict is taken from the student's kernel "
                "and could be forged"
            )
        cells[gid] = {"points": float(meta.get("points", 0)), "labels": labels}
    if problems:
        raise ValueError(f"answer key for {notebook_id}: " + "; ".join(problems))
    return {"notebook": notebook_id, "cells": cells}, warnings


def decide(record: dict, entry: dict) -> bool:
    """Does a student's record pass the key entry? Never calls student code.

    The decision is the kind's own (``checks.KINDS``), with the kind, reference value,
    tolerances and thresholds of the key entry, never those of the submission.
    """
    kind = KINDS.get(entry.get("kind"))
    if kind is None or record.get("kind") != kind.name:
        return False
    try:
        got = decode_value(record["value"])
        reference = decode_value(entry["expected"] if "expected" in entry else entry["value"])
        return bool(kind.decide(got, reference, entry.get("params", {})))
    except (KeyError, ValueError, TypeError):
        return False


def score_cell(cell, entry: dict) -> dict:
    """Verdict for one grade cell: {'score', 'max_score', 'error', 'labels': {label: bool}}."""
    max_score = entry["points"]
    if cell is None:
        return {"score": 0.0, "max_score": max_score, "error": "missing", "labels": {}}
    error = has_error(cell)
    records: dict[str, list] = {}
    for rec in records_in(cell):
        if rec.get("check") == nbgrader_meta(cell).get("grade_id"):
            records.setdefault(rec["label"], []).append(rec)
    labels = {}
    for label, key_rec in entry["labels"].items():
        found = records.get(label, [])
        labels[label] = len(found) == 1 and decide(found[0], key_rec)
    if not entry["labels"]:  # no records to compare: nbgrader's rule (no error = pass)
        passed = error is None
    else:
        passed = error is None and all(labels.values())
    return {
        "score": max_score if passed else 0.0,
        "max_score": max_score,
        "error": error,
        "labels": labels,
    }


def score_notebook(nb, key: dict) -> dict:
    """{grade_id: score_cell(...)} for every auto-graded cell of the key."""
    by_id = {}
    for cell in nb.cells if nb is not None else []:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None and gid not in by_id:
            by_id[gid] = cell
    return {gid: score_cell(by_id.get(gid), entry) for gid, entry in key["cells"].items()}
