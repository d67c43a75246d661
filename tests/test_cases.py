"""Grade cells in the case-block form: every check runs and counts (partial credit).

Unit tests of ``Check.case`` / ``Check.done`` (kernel side) and of ``scoring.score_cell`` on
their records (grader side), including records that try to earn points for checks that
never ran. The end-to-end run through ``grade``, the gradebook and the exports is in
``tests/test_partial_credit.py``.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from support.grade_cells import executed_notebook, run_cell

from autograder import checks
from autograder.grading import answer_key, scoring

CELL = textwrap.dedent(
    """
    c = Check("ex_sigmoid")
    with c.case("first"):
        c.close("first", first(1.0), 2.0, msg="twice x")
    with c.case("second"):
        c.close("second a", second(1.0), 3.0)
        c.close("second b", second(2.0), 6.0, weight=2)
    ### BEGIN HIDDEN TESTS
    with c.case("hidden"):
        c.close("hidden one", second(np.arange(3.0)), hint="an array of inputs")
    ### END HIDDEN TESTS
    c.done()
    """
)


def solution(x):
    return 2 * np.asarray(x, dtype=float) if np.ndim(x) == 0 and float(x) == 1.0 else None


def twice(x):
    return 2 * np.asarray(x, dtype=float)


def thrice(x):
    return 3 * np.asarray(x, dtype=float)


def the_key(monkeypatch):
    outputs, exc = run_cell(CELL, monkeypatch, {"first": twice, "second": thrice}, key_run=True)
    assert exc is None, exc
    k, warnings = answer_key.build_key(executed_notebook(CELL, outputs), "nb")
    assert not warnings
    return k["cells"]["ex_sigmoid"]


def graded(monkeypatch, entry, **functions):
    outputs, exc = run_cell(CELL, monkeypatch, functions)
    cell = executed_notebook(CELL, outputs).cells[0]
    return scoring.score_cell(cell, entry), exc, outputs


def test_the_key_knows_blocks_weights_and_hints(monkeypatch):
    entry = the_key(monkeypatch)
    assert entry["partial"] is True
    labels = entry["labels"]
    assert [labels[lb]["case"] for lb in labels] == ["first", "second", "second", "hidden"]
    assert labels["second b"]["weight"] == 2.0 and labels["hidden one"]["hidden"] is True
    assert labels["hidden one"]["hint"] == "an array of inputs"
    assert scoring.weights(entry) == {
        "first": 0.2,
        "second a": 0.2,
        "second b": 0.4,
        "hidden one": 0.2,
    }


def test_a_failing_first_check_costs_only_its_share(monkeypatch):
    entry = the_key(monkeypatch)  # shares: first 0.2, second a 0.2, second b 0.4, hidden 0.2
    s, exc, _ = graded(monkeypatch, entry, first=thrice, second=thrice)
    assert isinstance(exc, checks.ChecksFailed)  # the cell still ends in an error
    assert s.labels == {
        "first": "failed",
        "second a": "passed",
        "second b": "passed",
        "hidden one": "passed",
    }
    assert s.score == pytest.approx(0.8 * entry["points"]) and s.first_failure == "first"
    text = str(exc)
    assert "3 of 4 checks passed (1 failed)" in text.splitlines()[0]
    assert "got:      3." in text and "expected: 2." in text and "twice x" in text


def test_student_code_raising_in_a_block_fails_that_block_only(monkeypatch):
    entry = the_key(monkeypatch)

    def broken(x):
        return {}["no such key"]

    s, exc, _ = graded(monkeypatch, entry, first=broken, second=thrice)
    assert s.labels["first"] == "failed" and s.score == pytest.approx(0.8 * entry["points"])
    assert "KeyError" in s.notes["first"]
    assert "your code raised KeyError: 'no such key' (raised in broken" in str(exc)
    # an error in the middle of a block: the block's earlier checks still count
    calls = []

    def second(x):
        calls.append(x)
        if len(calls) == 2:
            raise ValueError("bad")
        return thrice(x)

    s, exc, _ = graded(monkeypatch, entry, first=twice, second=second)
    assert s.labels == {
        "first": "passed",
        "second a": "passed",
        "second b": "failed",
        "hidden one": "passed",
    }
    assert s.score == pytest.approx(0.6 * entry["points"])


def test_a_stub_is_not_attempted(monkeypatch):
    entry = the_key(monkeypatch)

    def stub(x):
        raise NotImplementedError()

    s, exc, _ = graded(monkeypatch, entry, first=stub, second=stub)
    assert set(s.labels.values()) == {"not attempted"} and s.score == 0.0
    assert s.first_failure is None
    assert "3 blocks not attempted" in str(exc).splitlines()[0]
    assert "not attempted  first" in str(exc)


def test_all_passed_is_exactly_the_points_and_no_error(monkeypatch):
    entry = the_key(monkeypatch)
    s, exc, _ = graded(monkeypatch, entry, first=twice, second=thrice)
    assert exc is None and s.score == entry["points"] and set(s.labels.values()) == {"passed"}


def test_the_verdict_renders_without_a_traceback(monkeypatch):
    entry = the_key(monkeypatch)
    _, exc, _ = graded(monkeypatch, entry, first=thrice, second=thrice)
    lines = exc._render_traceback_()
    assert "ex_sigmoid: 3 of 4 checks passed" in lines[0]
    assert not any("autograder" in line or "File " in line for line in lines)


def forger(label, value, case):
    """A student function that publishes a record as if the check ``label`` had run."""

    def publish(x):
        checks._publish(checks.make_record("ex_sigmoid", label, "close", value, case=case))
        return twice(x)

    return publish


def test_a_record_for_a_check_that_never_ran_earns_nothing(monkeypatch):
    entry = the_key(monkeypatch)
    # published during block "first" for a check of block "second", whose code then raises
    # before the check runs: the record sits outside its block, it counts nothing
    calls = []

    def second(x):
        calls.append(x)
        raise ValueError("never reaches the check")

    s, _, _ = graded(monkeypatch, entry, first=forger("second a", 3.0, "second"), second=second)
    assert s.labels["second a"] == "failed" and s.labels["first"] == "passed"
    assert s.score == pytest.approx(0.2 * entry["points"])

    # published inside its own block before the block's code raises: not made by the check
    def forging_second(x):
        if not calls:  # once: the hidden block calls it too
            calls.append(x)
            record = checks.make_record("ex_sigmoid", "second a", "close", 3.0, case="second")
            checks._publish(record)
        raise ValueError("never reaches the check")

    calls.clear()
    s, _, _ = graded(monkeypatch, entry, first=twice, second=forging_second)
    assert s.labels["second a"] == "failed" and s.score == pytest.approx(0.2 * entry["points"])
    assert "not made by the check" in s.notes["second a"]


def test_a_forged_block_record_makes_the_block_fail(monkeypatch):
    entry = the_key(monkeypatch)

    def second(x):
        checks._publish(checks.make_record("ex_sigmoid", "second a", "close", 3.0, case="second"))
        checks._publish_case(
            {
                "check": "ex_sigmoid",
                "case": "second",
                "labels": ["second a"],
                "failed": {},
                "error": None,
                "attempted": True,
                "message": "",
            }
        )
        raise ValueError("stop")

    s, _, _ = graded(monkeypatch, entry, first=twice, second=second)
    assert s.labels["second a"] == "failed" and s.labels["second b"] == "failed"
    assert s.score == pytest.approx(0.2 * entry["points"])  # "first" only


def test_a_cell_that_died_in_a_block_leaves_the_rest_not_run(monkeypatch):
    entry = the_key(monkeypatch)
    outputs, _ = run_cell(CELL, monkeypatch, {"first": twice, "second": thrice})
    cut = [
        o
        for o in outputs
        if checks.CASE_MIME not in o.get("data", {})
        or o["data"][checks.CASE_MIME]["case"] == "first"
    ]
    cell = executed_notebook(CELL, cut).cells[0]
    s = scoring.score_cell(cell, entry)
    assert s.labels == {
        "first": "passed",
        "second a": "not run",
        "second b": "not run",
        "hidden one": "not run",
    }
    assert s.score == pytest.approx(0.2 * entry["points"])


def test_mixed_forms_are_refused_and_cases_do_not_nest(monkeypatch):
    source = (
        'c = Check("ex_sigmoid")\nc.true("top", True)\n'
        'with c.case("b"):\n    c.true("in", True)\nc.done()\n'
    )
    outputs, exc = run_cell(source, monkeypatch, key_run=True)
    with pytest.raises(ValueError, match="some are not"):
        answer_key.build_key(executed_notebook(source, outputs), "nb")
    c = checks.Check("g")
    with pytest.raises(ValueError, match="opened inside case"), c.case("a"), c.case("b"):
        pass
    with pytest.raises(ValueError, match="weight"):
        c.true("w", True, weight=0)


OLD_FORM = textwrap.dedent(
    """
    c = Check("ex_sigmoid")
    y = first(1.0)
    c.close("first", y, 2.0, msg="twice x")
    c.close("second a", second(1.0), 3.0)
    z = second(2.0)
    c.close("second b", z, 6.0, weight=2)
    ### BEGIN HIDDEN TESTS
    for k in range(2):
        c.close(f"hidden {k}", second(np.arange(3.0) + k))
    ### END HIDDEN TESTS
    """
).strip()


def test_migrate_groups_preparation_with_its_checks_and_adds_hints(monkeypatch):
    from autograder.migrate import to_cases

    new = to_cases(OLD_FORM, hints="an array of inputs")
    assert new.count("with c.case(") == 3 and new.endswith("c.done()")
    assert 'with c.case("first"):\n    y = first(1.0)' in new
    assert 'with c.case("second b"):\n    z = second(2.0)' in new
    assert "### BEGIN HIDDEN TESTS\nwith c.case(" in new
    assert 'hint="an array of inputs")' in new and new.count("hint=") == 1
    assert to_cases(new) == new  # already converted: left alone
    outputs, exc = run_cell(new, monkeypatch, {"first": twice, "second": thrice}, key_run=True)
    assert exc is None
    k, _ = answer_key.build_key(executed_notebook(new, outputs), "nb")
    entry = k["cells"]["ex_sigmoid"]
    assert entry["partial"] and list(entry["labels"]) == [
        "first",
        "second a",
        "second b",
        "hidden 0",
        "hidden 1",
    ]
    assert entry["labels"]["hidden 1"]["hidden"] and entry["labels"]["hidden 1"]["hint"]
    # checks written one after another share the block of the code that prepares them: the
    # student whose first function raises loses that block ("first", "second a"), keeps the rest
    s, _, _ = graded_source(monkeypatch, new, entry, first=lambda x: 1 / 0, second=thrice)
    assert s.labels["first"] == "failed" and s.labels["second a"] == "failed"
    assert s.labels["second b"] == "passed" and s.labels["hidden 1"] == "passed"
    assert s.score == pytest.approx(entry["points"] * 4 / 6, abs=1e-3)  # to 1/1000


def graded_source(monkeypatch, source, entry, **functions):
    outputs, exc = run_cell(source, monkeypatch, functions)
    cell = executed_notebook(source, outputs).cells[0]
    return scoring.score_cell(cell, entry), exc, outputs


def test_matrix_rows_line_up_in_the_verdict():
    text = checks.KINDS["close"].explain(
        np.array([[0.25, 1.0], [2.0, 1.0]]), np.array([[0.25, 1.0], [0.5, 1.0]]), checks_tol()
    )
    lines = text.splitlines()
    got = next(i for i, ln in enumerate(lines) if ln.startswith("  got:"))
    assert lines[got + 1].index("[") == lines[got].index("[[") + 1
    exp = next(i for i, ln in enumerate(lines) if ln.startswith("  expected:"))
    assert lines[exp + 1].index("[") == lines[exp].index("[[") + 1


def checks_tol():
    return {"rtol": 1e-6, "atol": 1e-8}


CELL_WITH_CONDITION = textwrap.dedent(
    """
    c = Check("ex_sigmoid")
    with c.case("value"):
        c.close("value", first(1.0), 2.0)
    with c.case("condition"):
        c.true("condition", first(1.0) is not None)
    c.done()
    """
)


def test_a_check_without_a_value_counts_only_once_the_value_checks_pass(monkeypatch):
    """A condition's record needs no right value, so a student who replaces Check could
    forge it: its share waits for the cell's checks of values (no way to forge those)."""
    outputs, exc = run_cell(CELL_WITH_CONDITION, monkeypatch, {"first": twice}, key_run=True)
    assert exc is None, exc
    entry = answer_key.build_key(executed_notebook(CELL_WITH_CONDITION, outputs), "nb")[0]["cells"][
        "ex_sigmoid"
    ]
    scores = {}
    for name, fn in (("right", twice), ("wrong", thrice)):
        outputs, _ = run_cell(CELL_WITH_CONDITION, monkeypatch, {"first": fn})
        scores[name] = scoring.score_cell(
            executed_notebook(CELL_WITH_CONDITION, outputs).cells[0], entry
        )
    assert scores["right"].score == entry["points"]
    wrong = scores["wrong"]
    assert wrong.labels == {"value": "failed", "condition": "passed"}
    assert wrong.score == 0 and "values pass" in wrong.notes["condition"]
