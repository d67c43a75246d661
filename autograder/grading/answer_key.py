"""The answer key: records of the instructor's solution, and the trusted verdicts.

``build_key(nb)`` turns the executed *source* notebook (solutions in, run at release time in
a clean sandboxed kernel with ``AUTOGRADER_KEY_RUN=1``) into::

    {"notebook": "...", "cells": {grade_id: {"points": float,
                                             "labels": {label: record + {"hidden": bool}}}}}

:func:`decide` says whether one record of a student's check passes its key entry; the
scoring of whole cells and notebooks against the key is ``scoring.py``.
"""

from __future__ import annotations

from autograder.checks import KINDS
from autograder.records import MIME, decode_value

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
            weight = rec.get("weight", 1.0)
            if not isinstance(weight, int | float) or not (0 < weight < float("inf")):
                problems.append(f"{gid}: check {rec['label']!r} has weight {weight!r}, not > 0")
            labels[rec["label"]] = {**rec, "hidden": bool(hidden)}
        in_case = {rec.get("case") is not None for rec in labels.values()}
        if len(in_case) > 1:
            problems.append(
                f"{gid}: some checks are inside `with c.case(...)` blocks and some are not; "
                "put every check of the cell in a case block, or none"
            )
        if not labels:
            warnings.append(
                f"{gid}: no Check records; its verdict is taken from the student's kernel "
                "and could be forged"
            )
        cells[gid] = {"points": float(meta.get("points", 0)), "labels": labels}
        if in_case == {True}:  # the case-block form: partial credit
            cells[gid]["partial"] = True
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
