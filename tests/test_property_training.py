"""autograder.properties for training code: ``Check.trained_on``, data leakage seen through the
rows a model was trained on (a ``fitted_on`` record: how many held-out rows were used, against
0), and ``same_twice(overwrite=False)`` for calls that add by design (a penalty's backward).

The grade cells of 04 and 09 collect the rows with ``Check.watch_fit(Trainer)`` (tested here on
a real Trainer); the other tests hand ``trained_on`` a plain list of arrays. Kernel and grader
must agree, the message must name data leakage, and a held-out row that duplicates a training
row must not count.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.grade_cells import executed_notebook, run_cell

from autograder import checks, properties
from autograder.grading import answer_key, scoring

TRAIN = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
VAL = np.array([[100.0, 1.0], [-3.5, 0.25], [9.0, 9.0]])

SOURCE = (
    'c = Check("ex_digits")\nwith c.case("block"):\n'
    '    c.trained_on("held out", seen, VAL, train=TRAIN, name="digits model")\nc.done()\n'
)


def verdicts(monkeypatch, seen):
    """(kernel error or None, the grader's share of the points), against a key built from the
    right rows."""
    ns = {"TRAIN": TRAIN, "VAL": VAL}
    outputs, exc = run_cell(SOURCE, monkeypatch, {**ns, "seen": [TRAIN]}, key_run=True)
    assert exc is None, exc
    the_key, _ = answer_key.build_key(executed_notebook(SOURCE, outputs, "ex_digits"), "nb")
    outputs, exc = run_cell(SOURCE, monkeypatch, {**ns, "seen": seen}, key_run=False)
    scores = scoring.score_notebook(executed_notebook(SOURCE, outputs, "ex_digits"), the_key)
    return exc, scores["ex_digits"].score / scores["ex_digits"].max_score


@pytest.mark.parametrize(
    "seen, used",
    [
        ([np.vstack([TRAIN, VAL])], 3),  # train + validation in one call
        ([TRAIN, VAL[:2]], 2),  # a second call on part of the validation set
        ([np.vstack([VAL, TRAIN]).astype(np.float32)], 3),  # another order, float32
    ],
)
def test_validation_rows_in_training_lose_the_points_and_name_data_leakage(monkeypatch, seen, used):
    exc, score = verdicts(monkeypatch, seen)
    assert score == 0
    assert exc is not None and "data leakage" in str(exc), exc
    assert f"trained on {used} of the 3 validation rows" in str(exc)


@pytest.mark.parametrize(
    "seen",
    [
        [TRAIN],
        [TRAIN[:2], TRAIN[2:]],  # two calls, training rows only
        [np.vstack([TRAIN, TRAIN + 0.3])],  # augmented copies are not validation rows
        [],  # no call seen (a loop of one's own): nothing observed, nothing lost
    ],
)
def test_training_rows_only_earn_the_points(monkeypatch, seen):
    exc, score = verdicts(monkeypatch, seen)
    assert exc is None and score == 1


def test_a_validation_row_that_duplicates_a_training_row_does_not_count(monkeypatch):
    monkeypatch.setattr(checks, "_publish", lambda rec: None)
    val = np.vstack([VAL, TRAIN[1:2]])
    checks.Check("g").trained_on("l", [TRAIN], val, train=TRAIN)
    with pytest.raises(AssertionError, match="trained on 3 of the 3 validation rows"):
        checks.Check("g").trained_on("l", [TRAIN, val], val, train=TRAIN)


def test_the_record_holds_the_count_not_a_verdict(monkeypatch):
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    with pytest.raises(AssertionError):
        checks.Check("g").trained_on("l", [VAL[:1]], VAL)
    rec = records[0]
    assert rec["kind"] == "fitted_on" and rec["params"]["held_out"] == 3
    assert np.array_equal(checks.decode_value(rec["value"]), [1.0])


def test_same_twice_without_overwrite_names_kept_state_not_plus_equals():
    """A penalty whose backward adds by design: a doubled result is state kept between calls."""
    arr = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 2.0]])  # a running total doubled the penalty
    params = {"name": "MyL2", "rtol": 1e-10, "atol": 1e-12}
    assert "do not accumulate (+=)" in properties._explain_same_twice(arr, None, params)
    text = properties._explain_same_twice(arr, None, {**params, "overwrite": False})
    assert "keeps something from the previous call" in text and "+=)" not in text


def test_same_twice_records_overwrite_false_only_when_asked(monkeypatch):
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    checks.Check("g").same_twice("a", lambda: np.ones(2))
    checks.Check("g").same_twice("b", lambda: np.ones(2), overwrite=False)
    assert "overwrite" not in records[0]["params"] and records[1]["params"]["overwrite"] is False


def _trainer():
    from nncourse import layers, losses, optim
    from nncourse.train import Trainer

    model = layers.Sequential(layers.Linear(2, 3, rng=0))
    loss, opt = losses.SoftmaxCrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)
    return Trainer(model, loss, opt, epochs=1, rng=0, progress=False)


def test_watch_fit_collects_each_calls_rows_and_puts_fit_back():
    from nncourse.train import Trainer

    own = vars(Trainer)["fit"]
    y = np.array([0, 1, 2, 0])
    with checks.Check("g").watch_fit(Trainer) as calls:
        _trainer().fit(TRAIN, y, val=(VAL, np.array([0, 1, 2])))
        _trainer().fit(TRAIN[:2].astype(np.float32), y[:2])
    assert vars(Trainer)["fit"] is own
    assert [r.shape for r in calls.rows] == [(4, 2), (2, 2)] and calls.rows[1].dtype == np.float64
    assert np.array_equal(calls.val[0], VAL) and calls.val[1] is None
    with pytest.raises(ValueError), checks.Check("g").watch_fit(Trainer):
        raise ValueError("the student's training function failed")
    assert vars(Trainer)["fit"] is own


def test_watch_fit_on_an_inherited_fit_leaves_the_subclass_without_one():
    from nncourse.train import Trainer

    class Mine(Trainer):
        pass

    with checks.Check("g").watch_fit(Mine) as calls:
        assert "fit" in vars(Mine)
    assert "fit" not in vars(Mine) and calls.rows == []
