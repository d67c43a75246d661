"""Scoring: how many points each grade cell of an executed submission earns, decided outside
the student's kernel against the answer key (``answer_key.py``), never by calling student code.

A cell written with ``case`` blocks (every check inside one) earns partial credit: its points
split over its checks by weight, each check counting when its one record, emitted inside its
own block, passes the key (:func:`_score_cases`). A cell in the older form is all-or-nothing:
only if the cell has no error output and every key label has exactly one matching record in
that cell's outputs. Each check is "passed", "failed", "not attempted" or "not run"
(``marker.STATES``), which feedback, the report and the marker files carry.
"""

from __future__ import annotations

import builtins
import dataclasses

import numpy as np

from autograder.checks import KINDS, parse_failure
from autograder.grading.answer_key import (
    MAX_RECORDS_PER_CELL,
    decide,
    has_error,
    nbgrader_meta,
    records_in,
)
from autograder.grading.marker import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED
from autograder.records import CASE_MIME, MIME, decode_value, not_a_number


@dataclasses.dataclass
class CellScore:
    """The verdict on one grade cell.

    ``labels`` maps every key label, in the key's order, to a state (``marker.STATES``);
    ``first_failure`` is the first failed label (None if none); ``notes`` maps some failed
    labels to a sentence about the *student's* value (never the expected one), e.g. that it
    was not a number; ``kernel_passed`` lists the visible checks that passed in the student's
    kernel but fail against the key (their expected value is computed in the cell and came out
    unlike the solution's): a check written that way misleads students, notebook tests look
    for them. ``error``: the ename of the cell's first error output, "missing" for a cell
    the submission lacks.
    """

    score: float
    max_score: float
    error: str | None
    labels: dict[str, str]
    first_failure: str | None = None
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    kernel_passed: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, score, max_score, error, labels, notes=None, kernel_passed=None) -> CellScore:
        """A verdict whose ``first_failure`` is its first failed label, in key order."""
        first = next((lb for lb, st in labels.items() if st == FAILED), None)
        return cls(score, max_score, error, labels, first, notes or {}, kernel_passed or [])

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def score_cell(cell, entry: dict) -> CellScore:
    """Verdict for one grade cell (never calls student code): a cell the submission lacks
    (``cell`` None), a cell of case blocks (:func:`_score_cases`, partial credit) or a cell in
    the older all-or-nothing form (:func:`_score_whole`)."""
    if cell is None:
        labels = dict.fromkeys(entry["labels"], NOT_RUN)
        return CellScore.of(0.0, entry["points"], "missing", labels)
    if entry.get("partial"):
        return _score_cases(cell, entry)
    return _score_whole(cell, entry)


def _score_whole(cell, entry: dict) -> CellScore:
    """``score_cell`` for a cell in the older form: all its points or none.

    A check the student's kernel failed (its record is the last one before the cell's
    ``AssertionError`` naming it) is failed here too, whatever the key says, so the verdict
    of a visible check agrees with what the student saw; the checks after it are not run.
    When the cell raised anything else, the first check that left no record is failed (the
    error came from it or from the code just before it).
    """
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
            note = _why_failed(label, found[0], key_rec, label == stopped_at, kernel_passed)
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
    score = entry["points"] if passed else 0.0
    return CellScore.of(score, entry["points"], error, labels, notes, kernel_passed)


#: why a visible check that passed in the student's kernel fails against the key
KERNEL_PASSED_NOTE = (
    "passed in your notebook, where its expected value is computed by code "
    "that behaves unlike the solution's; against the solution's value it fails"
)


def _why_failed(label, record, key_rec, failed_in_kernel: bool, kernel_passed: list):
    """The note on a check whose record fails the key, and whether the student's kernel had
    passed it (then ``label`` joins ``kernel_passed``): a sentence about the student's value
    when it is not a finite number, else, for such a check, :data:`KERNEL_PASSED_NOTE`."""
    note = _value_note(record, key_rec)
    if not failed_in_kernel and _kernel_decides(key_rec):
        kernel_passed.append(label)
        note = note or KERNEL_PASSED_NOTE
    return note


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


def _score_cases(cell, entry) -> CellScore:
    """``score_cell`` for a cell in the case-block form: every check counts on its own.

    A check passes when the cell holds exactly one record for it, emitted inside the case
    block the key has it in (the record names the block, the block's own record lists it,
    and it sits after the records of the key's earlier blocks and before its block's end),
    the student's kernel did not fail it, and it passes the key. A record that breaks any
    of these (published by anything but the check itself, or for a check that never ran)
    counts nothing. A check with no record is *not attempted* when its block's code raised
    ``NotImplementedError``, *failed* when it raised anything else or ended without the
    check, and *not run* when the block never ended (the cell died or timed out first).
    The score: :func:`_partial_score`.
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
            labels[label], note = _unrecorded(rec_block)
            if note:
                notes[label] = note
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
            note = _why_failed(label, rec, key_rec, failed_in_kernel, kernel_passed)
            if note:
                notes[label] = note
    score = _partial_score(entry, labels, notes)
    return CellScore.of(score, entry["points"], has_error(cell), labels, notes, kernel_passed)


def _unrecorded(rec_block) -> tuple[str, str | None]:
    """(state, note) of a check that left no record in a block that ended."""
    if rec_block.get("error") is None:
        return FAILED, "this check did not run: its block ended before reaching it"
    if rec_block.get("attempted") is False:
        return NOT_ATTEMPTED, None
    ename = str(rec_block.get("error"))
    shown = ename if ename in dir(builtins) else "an error"
    return FAILED, f"your code raised {shown} before this check decided"


def _partial_score(entry, labels: dict, notes: dict) -> float:
    """The cell's points times the weight share of its passed checks (all passed: exactly
    the cell's points; else rounded to 1/1000 of a point).

    A check whose passing record needs no right value (a condition, a bound, a property the
    kernel observed) could be forged by a student who replaces Check in their kernel: its
    share counts only once every check of the cell that the key verifies by value has passed,
    which no forgery can do without the right values (as when cells scored all or nothing);
    ``notes`` says so for each such check held back.
    """
    max_score = entry["points"]
    if labels and all(st == PASSED for st in labels.values()):
        return max_score
    share = weights(entry)
    by_value = [lb for lb in labels if _verified_by_value(entry["labels"][lb])]
    held = []
    if any(labels[lb] != PASSED for lb in by_value):
        held = [lb for lb, st in labels.items() if st == PASSED and lb not in by_value]
        for lb in held:
            notes[lb] = "counts once this cell's checks of values pass"
    earned = sum(share[lb] for lb, st in labels.items() if st == PASSED and lb not in held)
    return round(max_score * earned, 3)


def _kernel_failed(cell, gid, label) -> bool:
    """Did the cell stop with the AssertionError that ``Check`` raises for ``label``?"""
    for out in cell.get("outputs", []) or []:
        if isinstance(out, dict) and out.get("output_type") == "error":
            evalue = out.get("evalue", "")
            return (
                out.get("ename") == "AssertionError"
                and parse_failure(evalue, gid, label) is not None
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
        return _non_finite_note(got)
    if kind.name in ("at_least", "at_most") and got.size != 1:
        return f"your value has {got.size} numbers where one is expected"
    return None


def _non_finite_note(got: np.ndarray) -> str:
    """Name what is not finite in a student's value, and the causes each kind has."""
    nan = int(np.count_nonzero(np.isnan(got)))
    pos = int(np.count_nonzero(np.isposinf(got)))
    neg = int(np.count_nonzero(np.isneginf(got)))
    parts = []
    if nan:
        parts.append(f"{nan} NaN (not a number: 0/0, inf - inf or the log of a negative?)")
    if pos or neg:
        signs = " and ".join(s for s, n in (("+inf", pos), ("-inf", neg)) if n)
        parts.append(f"{pos + neg} infinite ({signs}: an overflow, or a log(0) or 1/0?)")
    return f"your value has, of {got.size} entries, " + "; ".join(parts)


def score_notebook(nb, key: dict) -> dict[str, CellScore]:
    """{grade_id: score_cell(...)} for every auto-graded cell of the key."""
    by_id = {}
    for cell in nb.cells if nb is not None else []:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None and gid not in by_id:
            by_id[gid] = cell
    return {gid: score_cell(by_id.get(gid), entry) for gid, entry in key["cells"].items()}
