"""autograder.checks: the Check helper of grade cells, its records and its table of kinds."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
from support.grade_cells import executed_notebook, run_cell

from autograder import checks, records
from autograder.grading import answer_key


def test_module_example_is_a_grade_cell_release_accepts(monkeypatch):
    """The example at the top of checks.py follows docs/grading.md: no hidden `expected`."""
    example = re.search(r"::\n\n(.*?)\n\n", checks.__doc__, re.S).group(1)
    source = textwrap.dedent(example).replace("from autograder.checks import Check\n", "")
    import nncourse.functional

    def sigmoid(x):
        return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))

    ns = {"sigmoid": sigmoid, "nncourse": nncourse}
    outputs, exc = run_cell(source, monkeypatch, ns, key_run=True)
    assert exc is None
    the_key, warnings = answer_key.build_key(executed_notebook(source, outputs), "nb")
    labels = the_key["cells"]["ex_sigmoid"]["labels"]
    assert labels["sigmoid(0)"]["hidden"] is False and labels["random 4x3"]["hidden"] is True
    assert "expected" not in labels["random 4x3"] and not warnings


# ------------------------------------------------------------------ the table of kinds


def call(monkeypatch, kind, args, key_run):
    """Call ``Check('g').<kind>('l', *args)``; return (record, raised AssertionError or None)."""
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    monkeypatch.setenv("AUTOGRADER_KEY_RUN", "1" if key_run else "0")
    try:
        getattr(checks.Check("g"), kind)("l", *args)
    except AssertionError as exc:
        return records[-1], exc
    return records[-1], None


def test_every_kind_has_its_method_and_records_its_name(monkeypatch):
    """A kind is one KINDS entry plus a Check method of the same name: keep them in step."""
    example_args = {
        "close": (1.0, 1.0),
        "equal": (1, 1),
        "true": (True,),
        "at_least": (1.0, 0.0),
        "at_most": (0.0, 1.0),
        "accuracy": ([1, 0], [1, 0], 0.5),
        # the property kinds (autograder/properties.py; tests/test_property_checks.py)
        "unchanged": (np.abs, np.array([-1.0, 2.0])),
        "same_twice": (lambda: np.ones(2),),
        "honours_rng": (lambda rng: rng.normal(size=3),),
        "at_points": (np.abs, [-1.0, 0.0, 1.0], [1.0, 0.0, 1.0]),
        "strict": (np.exp, np.array([1.0])),
        "fitted_on": ([0.5, 2.0], [0.5, 2.0]),
    }
    assert set(checks.KINDS) == set(example_args)
    for name, kind in checks.KINDS.items():
        assert kind.name == name and callable(getattr(checks.Check, name, None)), name
        record, raised = call(monkeypatch, name, example_args[name], key_run=False)
        assert record["kind"] == name and raised is None
        assert answer_key.decide(record, record) or kind.uses_reference  # self-consistent


VISIBLE_CASES = [
    # (kind, args, passes)
    ("close", ([1.0, 2.0], [1.0, 2.0]), True),
    ("close", ([1.0, 2.1], [1.0, 2.0]), False),
    ("close", (np.float32(0.1), 0.1), True),
    ("close", ([[1.0, 2.0]], [1.0, 2.0]), False),
    ("close", (None, 1.0), False),
    ("close", ([np.nan], [np.nan]), False),
    ("close", ("1.0", 1.0), False),
    ("close", (True, 1.0), True),
    ("equal", ((2, 3), (2, 3)), True),
    ("equal", ((2, 3), [2, 3]), True),
    ("equal", ("relu", "relu"), True),
    ("equal", (None, None), True),
    ("equal", (None, 0), False),
    ("equal", (3, 3.0), True),
    ("equal", (np.float32(0.1), 0.1), False),
    ("equal", (["a", "b"], ["a", "b"]), True),
    ("equal", (["a", "b"], ["a", "c"]), False),
    ("true", (True,), True),
    ("true", (np.bool_(False),), False),
    ("true", (1,), True),
    ("at_least", (0.9, 0.5), True),
    ("at_least", (0.4, 0.5), False),
    ("at_least", (float("nan"), 0.5), False),
    ("at_least", (None, 0.5), False),
    ("at_least", ([0.9, 0.9], 0.5), False),
    ("at_most", (0.4, 0.5), True),
    ("at_most", (0.9, 0.5), False),
    ("accuracy", ([1, 0, 1], [1, 1, 1], 0.6), True),
    ("accuracy", ([1, 0, 0], [1, 1, 1], 0.6), False),
    ("accuracy", ([1, 0], [1, 1, 1], 0.5), False),
]


@pytest.mark.parametrize("kind, args, passes", VISIBLE_CASES)
def test_kernel_and_grader_agree_on_visible_checks(monkeypatch, kind, args, passes):
    """The kernel and the answer key decide with the same function: same verdict."""
    key_record, _ = call(monkeypatch, kind, args, key_run=True)  # the solution's record
    record, raised = call(monkeypatch, kind, args, key_run=False)  # the student's
    assert "expected" not in record  # a student's notebook never holds the expected value
    assert (raised is None) is passes, raised
    assert answer_key.decide(record, key_record) is passes


def test_hidden_checks_decide_nothing_in_the_kernel_except_non_numbers(monkeypatch):
    record, raised = call(monkeypatch, "close", ([1.0, 5.0],), key_run=False)
    assert raised is None and "expected" not in record
    assert call(monkeypatch, "equal", ("anything",), key_run=False)[1] is None
    _, raised = call(monkeypatch, "close", (None,), key_run=False)  # can never pass
    assert raised is not None and "[g] l:" in str(raised)


# ------------------------------------------------------------------ messages


def failure(monkeypatch, kind, *args, key_run=False):
    _, raised = call(monkeypatch, kind, args, key_run=key_run)
    assert raised is not None, f"{kind}{args} did not fail"
    return str(raised)


@pytest.mark.parametrize("kind", ["close", "at_least", "at_most", "accuracy"])
def test_none_is_named_plainly_visible_or_hidden(monkeypatch, kind):
    args = {"close": (None, 1.0), "accuracy": (None, [1, 0], 0.5)}.get(kind, (None, 0.5))
    text = failure(monkeypatch, kind, *args)
    assert text.startswith("[g] l: ") and "got None: no value came back" in text
    assert "NoneType" not in text
    if kind == "close":  # hidden: no expected value, still failed at once, same words
        assert "got None: no value came back" in failure(monkeypatch, "close", None)


def test_exception_text_and_nan_are_named_plainly(monkeypatch):
    text = failure(monkeypatch, "close", OverflowError("exp overflow"), 1.0)
    assert "got the exception OverflowError: 'exp overflow' instead of a value" in text
    assert "got the text '0.5', not a number" in failure(monkeypatch, "close", "0.5", 0.5)
    text = failure(monkeypatch, "close", [0.5, np.nan, np.inf], [0.5, 0.5, 0.5])
    assert "2 of 3 values (NaN: not a number, or inf)" in text and "overflow" in text
    assert "got:      [0.5 nan inf]" in text  # the values are still shown
    assert "not a finite number" in failure(monkeypatch, "at_least", float("nan"), 0.5)
    # 08's eval-mode mistake: the visible expected value came from broken running statistics
    text = failure(monkeypatch, "close", [[0.1, 0.2]], [[np.nan, np.nan]])
    assert "the expected value itself contains NaN" in text and "expected: [[nan nan]]" in text
    assert "got 2 numbers (shape (2,)) instead of one" in failure(
        monkeypatch, "at_most", [1.0, 2.0], 3.0
    )
    assert "expected 3, got None: no value" in failure(monkeypatch, "equal", None, 3)


def test_usual_messages_are_kept(monkeypatch):
    text = failure(monkeypatch, "close", [1.0, 2.5], [1.0, 2.0])
    assert "values differ (max abs difference 0.5, rtol=1e-06, atol=1e-08)" in text
    assert "expected: [1. 2.]" in text
    assert "expected shape (2,), got shape (3,)" in failure(monkeypatch, "close", [1, 2, 3], [1, 2])
    assert "expected (2, 3), got (3, 2)" in failure(monkeypatch, "equal", (3, 2), (2, 3))
    assert "accuracy 0.333 is below 0.5" in failure(
        monkeypatch, "accuracy", [1, 0, 0], [1, 1, 1], 0.5
    )
    assert failure(monkeypatch, "true", False).endswith("condition is false")
    assert "expected at least 0.5, got 0.25" in failure(monkeypatch, "at_least", 0.25, 0.5)


def test_not_a_number_describes_decoded_record_values():
    """The grader describes a student's recorded value with the same words."""
    decoded = checks.decode_value(checks.encode_value(object()))
    assert "which is not a number" in checks.not_a_number(decoded)
    assert checks.not_a_number(checks.decode_value(checks.encode_value(None))).startswith(
        "got None"
    )
    # the grader never repeats text that student code produced
    said = checks.decode_value(checks.encode_value(["### BEGIN HIDDEN TESTS", "x"]))
    assert "HIDDEN" in checks.not_a_number(said)
    assert "HIDDEN" not in checks.not_a_number(said, echo=False)
    assert "HIDDEN" not in checks.not_a_number("### BEGIN HIDDEN TESTS", echo=False)


def test_encode_decode_roundtrip_keeps_nan_and_dtype():
    a = np.array([[1.5, np.nan], [np.inf, -0.0]])
    back = checks.decode_value(checks.encode_value(a))
    assert back.dtype == np.float64 and back.shape == (2, 2)
    assert np.array_equal(back, a, equal_nan=True)
    assert checks.decode_value(checks.encode_value(3)).dtype == np.int64
    assert checks.decode_value(checks.encode_value("s")) == "s"


def test_check_raises_with_message_and_forbid_restores():
    import nncourse.functional as F

    c = checks.Check("ex")
    c.close("ok", [0.5], [0.5])
    with pytest.raises(AssertionError, match=r"\[ex\] bad: sigmoid\(0\) is 1/2"):
        c.close("bad", 0.4, 0.5, msg="sigmoid(0) is 1/2")
    with pytest.raises(ValueError, match="used twice"):
        c.equal("ok", 1, 1)
    original = F.sigmoid
    with c.forbid("nncourse.functional.sigmoid"):
        with pytest.raises(AssertionError, match="reference solution"):
            F.sigmoid(np.zeros(2))
    assert F.sigmoid is original


def test_an_infinite_result_is_not_only_blamed_on_an_overflow():
    """-inf returned on purpose (a threshold candidate) is named as such, NaN keeps 0/0."""
    params = {"rtol": 1e-6, "atol": 1e-8}
    text = records.explain_close(-np.inf, 1.0, params)
    assert "an infinite value (inf or -inf)" in text and "chosen or returned" in text
    assert "0/0" in records.explain_close([np.nan], [1.0], params)
