"""The answer key: records of the instructor's solution, and the trusted verdicts.

``build_key(nb)`` turns the executed *source* notebook (solutions in, run at release time in
a clean sandboxed kernel with ``AUTOGRADER_KEY_RUN=1``) into::

    {"notebook": "...", "cells": {grade_id: {"points": float,
                                             "labels": {label: record + {"hidden": bool}}}}}

``score_notebook(nb, key)`` decides, outside the student's kernel, how many points each grade
cell of an executed submission earns: all-or-nothing per cell, only if the cell has no error
output and every key label has exactly one matching record in that cell's outputs. It also
says, per check, "passed", "failed" or "not run" (see ``score_cell``), which feedback, the
report and the marker files carry.
"""

from __future__ import annotations

import numpy as np

from .checks import KINDS, MIME, decode_value, not_a_number

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


#: What a check's verdict can be (``score_cell``'s ``labels``); "not run": the cell stopped
#: at an earlier failing check or error, or never ran.
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


def label_state(value) -> str:
    """A label's verdict as stored in a marker: markers written before the three states held
    True/False (False then also covered checks that never ran)."""
    if value is True:
        return PASSED
    if value is False:
        return FAILED
    return value if value in (PASSED, FAILED, NOT_RUN) else FAILED


def score_cell(cell, entry: dict) -> dict:
    """Verdict for one grade cell (never calls student code).

    Returns ``{'score', 'max_score', 'error', 'labels', 'first_failure', 'notes',
    'kernel_passed'}``: ``labels`` maps every key label, in the key's order, to
    :data:`PASSED`, :data:`FAILED` or :data:`NOT_RUN`; ``first_failure`` is the first failed
    label (None if none); ``notes`` maps some failed labels to a sentence about the
    *student's* value (never the expected one), e.g. that it was not a number;
    ``kernel_passed`` lists the visible checks that passed in the student's kernel but fail
    against the key (their expected value is computed in the cell and came out unlike the
    solution's): a check written that way misleads students, notebook tests look for them.

    A check the student's kernel failed (its record is the last one before the cell's
    ``AssertionError`` naming it) is failed here too, whatever the key says, so the verdict
    of a visible check agrees with what the student saw; the checks after it are not run.
    When the cell raised anything else, the first check that left no record is failed (the
    error came from it or from the code just before it).
    """
    max_score = entry["points"]
    if cell is None:
        return {
            "score": 0.0,
            "max_score": max_score,
            "error": "missing",
            "labels": dict.fromkeys(entry["labels"], NOT_RUN),
            "first_failure": None,
            "notes": {},
            "kernel_passed": [],
        }
    error = has_error(cell)
    gid = nbgrader_meta(cell).get("grade_id")
    records: dict[str, list] = {}
    last = None
    for rec in records_in(cell):
        if rec.get("check") == gid:
            records.setdefault(rec["label"], []).append(rec)
            last = rec["label"]
    stopped_at = last if last is not None and _kernel_failed(cell, gid, last) else None
    labels, notes, decided, kernel_passed = {}, {}, [], []
    for label, key_rec in entry["labels"].items():
        found = records.get(label, [])
        if not found:
            labels[label] = NOT_RUN
            continue
        ok = len(found) == 1 and decide(found[0], key_rec)
        decided.append(ok)
        labels[label] = PASSED if ok and label != stopped_at else FAILED
        if len(found) > 1:
            notes[label] = "this check was recorded more than once"
        elif not ok:
            note = _value_note(found[0], key_rec)
            if label != stopped_at and _kernel_decides(key_rec):
                kernel_passed.append(label)
            if note is None and label in kernel_passed:
                note = (
                    "passed in your notebook, where its expected value is computed by code "
                    "that behaves unlike the solution's; against the solution's value it fails"
                )
            if note:
                notes[label] = note
    if error is not None and stopped_at is None:
        first_missing = next((lb for lb, st in labels.items() if st == NOT_RUN), None)
        if first_missing is not None:  # the cell raised before this check could decide
            labels[first_missing] = FAILED
            notes[first_missing] = "the cell stopped with an error before this check decided"
    if not entry["labels"]:  # no records to compare: nbgrader's rule (no error = pass)
        passed = error is None
    else:
        passed = error is None and len(decided) == len(labels) and all(decided)
    return {
        "score": max_score if passed else 0.0,
        "max_score": max_score,
        "error": error,
        "labels": labels,
        "first_failure": next((lb for lb, st in labels.items() if st == FAILED), None),
        "notes": notes,
        "kernel_passed": kernel_passed,
    }


def _kernel_failed(cell, gid, label) -> bool:
    """Did the cell stop with the AssertionError that ``Check`` raises for ``label``?"""
    for out in cell.get("outputs", []) or []:
        if isinstance(out, dict) and out.get("output_type") == "error":
            return out.get("ename") == "AssertionError" and str(out.get("evalue", "")).startswith(
                f"[{gid}] {label}:"
            )
    return False


def _kernel_decides(key_rec) -> bool:
    """A visible check that decides in the kernel (it has an expected value, or needs none)."""
    kind = KINDS.get(key_rec.get("kind"))
    return (
        kind is not None
        and not key_rec.get("hidden")
        and (not kind.uses_reference or "expected" in key_rec)
    )


def _value_note(record, key_rec) -> str | None:
    """A sentence about a failing student value that is not a (finite) number, else None."""
    kind = KINDS.get(key_rec.get("kind"))
    try:
        got = decode_value(record["value"])
    except (KeyError, ValueError, TypeError):
        return "the recorded value could not be read"
    if kind is None or not kind.numeric:
        return None
    if not isinstance(got, np.ndarray):
        return f"your value: {not_a_number(got, echo=False)}"
    if got.dtype == np.float64 and got.size and not np.all(np.isfinite(got)):
        bad = int(np.count_nonzero(~np.isfinite(got)))
        return (
            f"your value has {bad} of {got.size} entries NaN (not a number) or infinite: "
            "an overflow, 0/0 or log(0) on the way?"
        )
    if kind.name in ("at_least", "at_most") and got.size != 1:
        return f"your value has {got.size} numbers where one is expected"
    return None


def score_notebook(nb, key: dict) -> dict:
    """{grade_id: score_cell(...)} for every auto-graded cell of the key."""
    by_id = {}
    for cell in nb.cells if nb is not None else []:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None and gid not in by_id:
            by_id[gid] = cell
    return {gid: score_cell(by_id.get(gid), entry) for gid, entry in key["cells"].items()}
