"""The answer key: records of the instructor's solution, and the trusted verdicts.

``build_key(nb)`` turns the executed *source* notebook (solutions in, run at release time in
a clean sandboxed kernel with ``AUTOGRADER_KEY_RUN=1``) into::

    {"notebook": "...", "cells": {grade_id: {"points": float,
                                             "labels": {label: record + {"hidden": bool}}}}}

``score_notebook(nb, key)`` decides, outside the student's kernel, how many points each grade
cell of an executed submission earns. A cell written with ``case`` blocks (every check inside
one) earns partial credit: its points split over its checks by weight, each check counting
when its one record, emitted inside its own block, passes the key (see ``score_cell``). A cell
in the older form is all-or-nothing: only if the cell has no error output and every key label
has exactly one matching record in that cell's outputs. Each check is "passed", "failed",
"not attempted" or "not run", which feedback, the report and the marker files carry.
"""

from __future__ import annotations

import builtins

import numpy as np

from autograder.checks import CASE_MIME, KINDS, MIME, decode_value, not_a_number

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


#: What a check's verdict can be (``score_cell``'s ``labels``); "not run": the cell stopped
#: at an earlier failing check or error, or never ran; "not attempted": the student's code
#: raised ``NotImplementedError`` (the stub left in an untouched ``YOUR CODE HERE``).
PASSED, FAILED, NOT_RUN, NOT_ATTEMPTED = "passed", "failed", "not run", "not attempted"
STATES = (PASSED, FAILED, NOT_RUN, NOT_ATTEMPTED)


def label_state(value) -> str:
    """A label's verdict as stored in a marker: markers written before the three states held
    True/False (False then also covered checks that never ran)."""
    if value is True:
        return PASSED
    if value is False:
        return FAILED
    return value if value in STATES else FAILED


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
    if entry.get("partial"):
        return _score_cases(cell, entry)
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
    if error == "NotImplementedError" and stopped_at is None:  # a stub: not attempted
        labels = {lb: NOT_ATTEMPTED if st == NOT_RUN else st for lb, st in labels.items()}
    elif error is not None and stopped_at is None:
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


def _outputs(cell, gid):
    """(check records, case records) of ``gid`` among a cell's outputs, with positions.

    ``{label: [(position, record), ...]}`` and ``{case: [(position, record), ...]}``.
    """
    checks_, cases, n = {}, {}, 0
    for pos, out in enumerate(cell.get("outputs", []) or []):
        if not isinstance(out, dict) or out.get("output_type") != "display_data":
            continue
        data = out.get("data") or {}
        rec = data.get(MIME)
        if isinstance(rec, dict) and rec.get("check") == gid and isinstance(rec.get("label"), str):
            if rec.get("kind") in KINDS and isinstance(rec.get("value"), dict):
                checks_.setdefault(rec["label"], []).append((pos, rec))
                n += 1
        block = data.get(CASE_MIME)
        if isinstance(block, dict) and block.get("check") == gid:
            if isinstance(block.get("case"), str) and isinstance(block.get("labels"), list):
                cases.setdefault(block["case"], []).append((pos, block))
                n += 1
        if n >= MAX_RECORDS_PER_CELL:
            break
    return checks_, cases


def weights(entry) -> dict:
    """label -> the share of the cell's points its check carries (the key's weights only)."""
    raw = {lb: float(rec.get("weight", 1.0) or 1.0) for lb, rec in entry["labels"].items()}
    total = sum(raw.values())
    return {lb: w / total for lb, w in raw.items()} if total else {}


def _score_cases(cell, entry) -> dict:
    """``score_cell`` for a cell in the case-block form: every check counts on its own.

    A check passes when the cell holds exactly one record for it, emitted inside the case
    block the key has it in (the record names the block, the block's own record lists it,
    and it sits after the records of the key's earlier blocks and before its block's end),
    the student's kernel did not fail it, and it passes the key. A record that breaks any
    of these (published by anything but the check itself, or for a check that never ran)
    counts nothing. A check with no record is *not attempted* when its block's code raised
    ``NotImplementedError``, *failed* when it raised anything else or ended without the
    check, and *not run* when the block never ended (the cell died or timed out first).
    The score is the cell's points times the weight share of the passed checks (rounded to
    1/1000 of a point; all passed is exactly the cell's points).
    """
    gid = nbgrader_meta(cell).get("grade_id")
    records, cases = _outputs(cell, gid)
    labels, notes, kernel_passed = {}, {}, []
    seen_end = -1  # the position of the latest end of an earlier block (key order)
    block_end = {}
    for label, key_rec in entry["labels"].items():
        name = key_rec.get("case")
        ends = cases.get(name, [])
        if name not in block_end:
            block_end[name] = (seen_end, ends[0][0], ends[0][1]) if len(ends) == 1 else None
            # every end record of an earlier block counts, a duplicated (forged) one too
            seen_end = max([seen_end, *(pos for pos, _ in ends)])
            if len(ends) > 1:
                notes[label] = "its block was recorded more than once"
        block = block_end[name]
        found = records.get(label, [])
        if block is None:
            labels[label] = FAILED if len(ends) > 1 else NOT_RUN
            continue
        start, end, rec_block = block
        if not found:
            if rec_block.get("error") is None:
                labels[label] = FAILED
                notes[label] = "this check did not run: its block ended before reaching it"
            elif rec_block.get("attempted") is False:
                labels[label] = NOT_ATTEMPTED
            else:
                labels[label] = FAILED
                ename = str(rec_block.get("error"))
                shown = ename if ename in dir(builtins) else "an error"
                notes[label] = f"your code raised {shown} before this check decided"
            continue
        if len(found) > 1:
            labels[label] = FAILED
            notes[label] = "this check was recorded more than once"
            continue
        pos, rec = found[0]
        if not (start < pos < end and rec.get("case") == name and label in rec_block["labels"]):
            labels[label] = FAILED
            notes[label] = "this record was not made by the check in its block"
            continue
        ok = decide(rec, key_rec)
        failed_in_kernel = label in (rec_block.get("failed") or {})
        labels[label] = PASSED if ok and not failed_in_kernel else FAILED
        if not ok:
            note = _value_note(rec, key_rec)
            if not failed_in_kernel and _kernel_decides(key_rec):
                kernel_passed.append(label)
                note = note or (
                    "passed in your notebook, where its expected value is computed by code "
                    "that behaves unlike the solution's; against the solution's value it fails"
                )
            if note:
                notes[label] = note
    share = weights(entry)
    # a check whose passing record needs no right value (a condition, a bound, a property
    # the kernel observed) could be forged by a student who replaces Check in their kernel:
    # its share counts only once every check of the cell that the key verifies by value has
    # passed, which no forgery can do without the right values (as when cells scored all or
    # nothing)
    by_value = [lb for lb in labels if _verified_by_value(entry["labels"][lb])]
    held = []
    if any(labels[lb] != PASSED for lb in by_value):
        held = [lb for lb, st in labels.items() if st == PASSED and lb not in by_value]
        for lb in held:
            notes[lb] = "counts once this cell's checks of values pass"
    earned = sum(share[lb] for lb, st in labels.items() if st == PASSED and lb not in held)
    max_score = entry["points"]
    all_passed = bool(labels) and all(st == PASSED for st in labels.values())
    score = max_score if all_passed else round(max_score * earned, 3)
    return {
        "score": score,
        "max_score": max_score,
        "error": has_error(cell),
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


def _verified_by_value(key_rec) -> bool:
    """Does a passing record of this check need the right value (compared with the key's)?"""
    kind = KINDS.get(key_rec.get("kind"))
    return kind is not None and kind.uses_reference


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
