"""The marker file: what ``grade`` knows about one student's graded assignment.

``autograded/<student>/<assignment>/.autograder.json`` is written by the pipeline once per
graded student (:func:`write`, atomically) and read by the pipeline (is this submission
already graded?), the feedback pages and the report (:func:`read`, :func:`of_assignment`).
Its form (``version`` 2)::

    {"version": 2,
     "hash": "..." | null,          # submission + answer key; null: grade again next run
     "summary": {...},              # the row ``grade`` returned for this student
     "results": {notebook: {
         "problem": {"kind", "text"} | null,   # outcomes.Problem: why it was not executed
         "info": {..., "failed_cells": {index: {"kind", "text"}}} | null,
         "scores": {grade_id: scoring.CellScore as JSON},
         "notes": [sentence, ...]}}}           # graded, except what these name

This module also owns what a check's verdict can be (:data:`STATES`, :func:`state_of`) and
how hidden checks are numbered for students and the report (:func:`hidden_numbers`).
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.files import atomic_write
from autograder.outcomes import Problem

NAME = ".autograder.json"
VERSION = 2

#: What a check's verdict can be. "not run": the cell stopped at an earlier failing check or
#: error, or never ran; "not attempted": the student's code raised ``NotImplementedError``
#: (the stub left in an untouched ``YOUR CODE HERE``).
PASSED, FAILED, NOT_RUN, NOT_ATTEMPTED = "passed", "failed", "not run", "not attempted"
STATES = (PASSED, FAILED, NOT_RUN, NOT_ATTEMPTED)


def state_of(value) -> str:
    """A verdict as stored in a marker, as one of :data:`STATES`. Markers written before the
    states held True/False (False then also covered checks that never ran); anything else
    unknown is "failed", never shown as passed."""
    if value is True:
        return PASSED
    return value if value in STATES else FAILED


def hidden_numbers(labels: dict) -> dict[str, int]:
    """label -> its number among the cell's hidden checks, in key order (0: visible).

    A student and the report see "hidden test k", never the label of a hidden check."""
    numbers, k = {}, 0
    for label, rec in labels.items():
        if rec.get("hidden"):
            k += 1
            numbers[label] = k
        else:
            numbers[label] = 0
    return numbers


def path(course, student: str, assignment: str) -> Path:
    return course.autograded / student / assignment / NAME


def write(folder: Path, marker: dict) -> None:
    """Write a marker into ``folder`` (atomic: an interrupted run leaves no half marker)."""
    atomic_write(Path(folder) / NAME, json.dumps({**marker, "version": VERSION}))


def read(file: Path) -> dict | None:
    """The marker at ``file``, its problems as :class:`~autograder.outcomes.Problem`; None
    when it is missing or unreadable. A marker of an older version is read as far as it can
    be (its problems unclassified)."""
    try:
        data = json.loads(Path(file).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    results = data.get("results")
    for result in (results or {}).values() if isinstance(results, dict) else ():
        if not isinstance(result, dict):
            continue
        result["problem"] = Problem.from_json(result.pop("problem", result.pop("reason", None)))
        info = result.get("info")
        if isinstance(info, dict) and isinstance(info.get("failed_cells"), dict):
            info["failed_cells"] = {
                k: Problem.from_json(v) for k, v in info["failed_cells"].items()
            }
    return data


def current(data: dict | None) -> bool:
    """Was ``data`` written by this version of the grader (else its student is graded again)?"""
    return isinstance(data, dict) and data.get("version") == VERSION


def of_assignment(course, assignment: str) -> dict[str, dict]:
    """student -> marker (:func:`read`) of every graded student of the assignment."""
    out = {}
    for file in sorted(course.autograded.glob(f"*/{assignment}/{NAME}")):
        data = read(file)
        if data is not None:
            out[file.parent.parent.name] = data
    return out
