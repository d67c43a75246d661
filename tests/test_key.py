"""autograder.grading.answer_key: the answer key and the trusted verdicts (passed / failed /
not run)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograder import checks
from autograder.grading import answer_key, marker, scoring

META = {
    "nbgrader": {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 3,
        "grade_id": "g",
        "schema_version": 3,
    }
}
CLOSE = {"rtol": 1e-6, "atol": 1e-8}


def key_entry(*labels):
    """A key cell: (label, kind, solution value, expected or None, hidden) per check."""
    out = {}
    for label, kind, value, expected, hidden in labels:
        params = CLOSE if kind == "close" else {}
        rec = checks.make_record("g", label, kind, value, params, expected=expected)
        out[label] = {**rec, "hidden": hidden}
    return {"points": 3.0, "labels": out}


ENTRY = key_entry(
    ("first", "close", [1.0], [1.0], False),
    ("second", "close", [2.0], [2.0], False),
    ("hidden one", "close", [3.0], None, True),
)


def cell(*records, error=None):
    """An executed grade cell with the student's records and an optional error output."""
    c = nbformat.v4.new_code_cell("c = Check('g')", metadata=META)
    c.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={checks.MIME: checks.make_record("g", label, kind, value, CLOSE)},
        )
        for label, kind, value in records
    ]
    if error is not None:
        ename, evalue = error
        c.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[]))
    return c


def test_all_passed():
    s = scoring.score_cell(
        cell(("first", "close", [1.0]), ("second", "close", [2.0]), ("hidden one", "close", [3.0])),
        ENTRY,
    )
    assert s.score == 3.0 and s.first_failure is None and not s.notes
    assert list(s.labels.items()) == [
        ("first", "passed"),
        ("second", "passed"),
        ("hidden one", "passed"),
    ]


def test_three_states_when_the_kernel_stops_at_a_failing_check():
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]),
            ("second", "close", [2.5]),
            error=("AssertionError", "[g] second: values differ"),
        ),
        ENTRY,
    )
    assert s.labels == {"first": "passed", "second": "failed", "hidden one": "not run"}
    assert s.first_failure == "second" and s.score == 0.0 and s.max_score == 3.0


def test_a_check_the_kernel_failed_is_failed_even_if_the_key_would_pass_it():
    """Its expected value in the kernel came from broken student state: agree with the kernel."""
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]),
            ("second", "close", [2.0]),
            error=("AssertionError", "[g] second: expected [[nan nan]]"),
        ),
        ENTRY,
    )
    assert s.labels["second"] == "failed" and s.first_failure == "second"
    assert s.labels["hidden one"] == "not run" and "second" not in s.notes


def test_visible_check_the_kernel_passed_but_the_key_fails_says_why():
    s = scoring.score_cell(
        cell(("first", "close", [1.5]), ("second", "close", [2.0]), ("hidden one", "close", [9.0])),
        ENTRY,
    )
    assert s.labels == {"first": "failed", "second": "passed", "hidden one": "failed"}
    assert s.first_failure == "first" and s.score == 0.0
    assert "passed in your notebook" in s.notes["first"]
    assert s.kernel_passed == ["first"]  # hidden ones decide nothing in the kernel
    assert "hidden one" not in s.notes  # hidden: nothing was decided in the kernel


def test_an_error_outside_the_checks_fails_the_check_it_interrupted():
    s = scoring.score_cell(cell(error=("ValueError", "")), ENTRY)
    assert s.labels == {"first": "failed", "second": "not run", "hidden one": "not run"}
    assert s.first_failure == "first" and s.error == "ValueError"


def test_a_stub_left_raising_is_not_attempted_not_failed():
    s = scoring.score_cell(cell(error=("NotImplementedError", "")), ENTRY)
    assert set(s.labels.values()) == {"not attempted"}
    assert s.first_failure is None and s.score == 0.0


def test_an_error_outside_the_checks_fails_the_check_it_interrupted_later():
    s = scoring.score_cell(
        cell(("first", "close", [1.0]), error=("TimeoutError", "")),
        ENTRY,
    )
    assert s.labels == {"first": "passed", "second": "failed", "hidden one": "not run"}


def test_missing_cell_never_ran():
    s = scoring.score_cell(None, ENTRY)
    assert s.error == "missing" and s.first_failure is None
    assert set(s.labels.values()) == {"not run"} and len(s.labels) == 3


def test_notes_name_values_that_are_not_numbers():
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]),
            ("second", "close", [2.0]),
            ("hidden one", "close", None),
            error=("AssertionError", "[g] hidden one: expected an array or number, got None"),
        ),
        ENTRY,
    )
    assert s.first_failure == "hidden one"
    assert s.notes["hidden one"].startswith("your value: got None: no value came back")
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]), ("second", "close", [2.0]), ("hidden one", "close", [np.nan])
        ),
        ENTRY,
    )
    assert "of 1 entries, 1 NaN (not a number" in s.notes["hidden one"]


def test_a_label_recorded_twice_fails():
    rec = ("first", "close", [1.0])
    s = scoring.score_cell(
        cell(rec, rec, ("second", "close", [2.0]), ("hidden one", "close", [3.0])), ENTRY
    )
    assert s.labels["first"] == "failed" and s.score == 0.0
    assert "more than once" in s.notes["first"]


def test_a_forged_assertion_for_a_passing_label_cannot_earn_points():
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]),
            ("second", "close", [2.0]),
            ("hidden one", "close", [3.0]),
            error=("AssertionError", "[g] hidden one: forged"),
        ),
        ENTRY,
    )
    assert s.score == 0.0 and s.labels["hidden one"] == "failed"


def test_score_notebook_keeps_verdicts_json_ready():
    import json

    nb = nbformat.v4.new_notebook(cells=[cell(("first", "close", [1.0]))])
    scores = scoring.score_notebook(nb, {"notebook": "nb", "cells": {"g": ENTRY}})
    stored = json.loads(json.dumps({gid: s.as_json() for gid, s in scores.items()}))
    assert {gid: scoring.CellScore(**s) for gid, s in stored.items()} == scores
    assert scores["g"].labels["second"] == "not run"


def test_notes_never_repeat_text_from_student_code():
    """A record's repr/str value is student-chosen text: notes describe it, never quote it."""
    s = scoring.score_cell(
        cell(
            ("first", "close", [1.0]),
            ("second", "close", [2.0]),
            ("hidden one", "close", "the hidden test reads: c.close('secret label', got)"),
        ),
        ENTRY,
    )
    assert s.labels["hidden one"] == "failed"
    assert s.notes["hidden one"] == "your value: got text, not a number"


def _entry(kind, value, expected=None, **params):
    rec = checks.make_record("g", "l", kind, value, params, expected=expected)
    return rec


def test_decide_uses_key_tolerance_and_values():
    entry = _entry("close", [1.0, 2.0], rtol=1e-3, atol=0.0)
    assert answer_key.decide(_entry("close", [1.0005, 2.0], rtol=1.0, atol=1.0), entry)
    assert not answer_key.decide(_entry("close", [1.01, 2.0], rtol=1.0, atol=1.0), entry)
    assert not answer_key.decide(_entry("close", [1.0], rtol=1e-3, atol=0.0), entry)  # shape
    assert not answer_key.decide(
        _entry("close", [np.nan, 2.0]), _entry("close", [np.nan, 2.0], rtol=1e-3, atol=0.0)
    )
    acc = _entry("accuracy", [0, 0, 0, 0], expected=[1, 1, 0, 1], threshold=0.75)
    assert answer_key.decide(_entry("accuracy", [1, 0, 0, 0]), acc) is False
    assert answer_key.decide(_entry("accuracy", [1, 1, 0, 1]), acc) is True
    assert not answer_key.decide(_entry("equal", 3), _entry("close", 3.0, rtol=0, atol=0))  # kind


@pytest.mark.parametrize(
    "stored, state",
    [
        (True, "passed"),
        (False, "failed"),
        (None, "failed"),
        ("passed", "passed"),
        ("not run", "not run"),
        ("not attempted", "not attempted"),
        ("weird", "failed"),
        (2, "failed"),
    ],
)
def test_one_reading_of_a_stored_verdict(stored, state):
    """Feedback and the report read a marker's verdicts with the same function: an unknown
    value is a failure for both, never shown as passed or as itself."""
    assert marker.state_of(stored) == state


def test_hidden_checks_are_numbered_once_in_key_order():
    labels = {"a": {"hidden": False}, "b": {"hidden": True}, "c": {}, "d": {"hidden": True}}
    assert marker.hidden_numbers(labels) == {"a": 0, "b": 1, "c": 0, "d": 2}


def test_infinite_and_nan_values_are_named_apart():
    """-inf is not called an overflow of NaN: each kind of non-finite value gets its causes."""
    inf = scoring._non_finite_note(np.array([-np.inf, 1.0, 2.0]))
    nan = scoring._non_finite_note(np.array([np.nan, 1.0]))
    assert "1 infinite (-inf" in inf and "NaN" not in inf
    assert "1 NaN" in nan and "infinite" not in nan and "0/0" in nan
