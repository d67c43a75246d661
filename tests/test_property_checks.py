"""autograder.properties: check kinds for the mistakes one return value cannot show.

Each kind is tried on a correct student function and on the typical mistake of its family:
the kernel's verdict, the message (the family in the student's words) and the trusted
grader's verdict against the answer key built from the correct function must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.grade_cells import executed_notebook, run_cell

from autograder import checks, properties
from autograder.grading import answer_key, scoring


def softmax_ok(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_in_place(z):
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Layer:
    def __init__(self, accumulate=False):
        self.W = np.array([[1.0, -2.0], [0.5, 3.0]])
        self.grads = {"W": np.zeros_like(self.W)}
        self.accumulate = accumulate

    def backward(self, x, dout):
        if self.accumulate:
            self.grads["W"] += dout.T @ x
        else:
            self.grads["W"] = dout.T @ x
        return dout @ self.W


def noise_ok(rng):
    return rng.normal(size=4)


def noise_global(rng):
    return np.random.normal(size=4)  # noqa: NPY002


def noise_reseeded(rng):
    np.random.seed(0)  # noqa: NPY002
    return rng.normal(size=4)


def noise_fixed(rng):
    return np.random.default_rng(0).normal(size=4)


def relu_grad_ok(x):
    return (x > 0).astype(float)


def relu_grad_kink(x):
    return (x >= 0).astype(float)


def sigmoid_grad_ok(x):
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2


def sigmoid_grad_overflow(x):
    return np.exp(-x) / (1.0 + np.exp(-x)) ** 2


def cell(check_source):
    return f'c = Check("ex_sigmoid")\nwith c.case("block"):\n    {check_source}\nc.done()\n'


def verdicts(monkeypatch, source, solution_ns, student_ns):
    """(kernel error of the student or None, the grader's score of the student's cell)."""
    outputs, exc = run_cell(source, monkeypatch, solution_ns, key_run=True)
    assert exc is None, exc
    the_key, _ = answer_key.build_key(executed_notebook(source, outputs), "nb")
    outputs, exc = run_cell(source, monkeypatch, student_ns, key_run=False)
    scores = scoring.score_notebook(executed_notebook(source, outputs), the_key)
    return exc, scores["ex_sigmoid"].score


UNCHANGED = 'out = c.unchanged("input kept", softmax, Z, name="softmax")'
SAME_TWICE = 'c.same_twice("twice", lambda: (layer.backward(x, d), layer.grads), name="backward")'
RNG = 'c.honours_rng("rng", noise, name="noise")'
POINTS = (
    'c.at_points("relu\'", relu_grad, [-1.0, -0.0, 0.0, 1e-12, 2.0], '
    '[0.0, 0.0, 0.0, 1.0, 1.0], what="the kink x = 0")'
)
POINTS_HIDDEN = 'c.at_points("relu\'", relu_grad, [-1.0, 0.0, 2.0], what="the kink x = 0")'
STRICT = 'c.strict("big", sigmoid_grad, np.array([-1e3, -400.0, 0.0, 1e3]), name="sigma\'")'
FITTED = (
    'c.fitted_on("mean", scaler_mean, X[:3].mean(axis=0), leaked=X.mean(axis=0), name="scaler")'
)


def data_ns(fit_rows):
    X = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 1.0], [100.0, -50.0]])
    return {"X": X, "scaler_mean": X[:fit_rows].mean(axis=0)}


CASES = [
    # (check source, solution namespace, mistaken namespace, the message it must produce)
    (
        UNCHANGED,
        {"softmax": softmax_ok},
        {"softmax": softmax_in_place},
        "your softmax changed the array it was given: work on a copy",
    ),
    (
        SAME_TWICE,
        {"layer": Layer()},
        {"layer": Layer(accumulate=True)},
        "your backward added to the gradients of the previous call",
    ),
    (RNG, {"noise": noise_ok}, {"noise": noise_global}, "used or reseeded NumPy's global"),
    (RNG, {"noise": noise_ok}, {"noise": noise_reseeded}, "used or reseeded NumPy's global"),
    (RNG, {"noise": noise_ok}, {"noise": noise_fixed}, "it ignores its rng argument"),
    (
        POINTS,
        {"relu_grad": relu_grad_ok},
        {"relu_grad": relu_grad_kink},
        "is wrong at the kink x = 0: x = -0: got 1, expected 0, x = 0: got 1",
    ),
    (
        STRICT,
        {"sigmoid_grad": sigmoid_grad_ok},
        {"sigmoid_grad": sigmoid_grad_overflow},
        "your sigma' overflowed or warned for inputs of magnitude up to 1000",
    ),
    (FITTED, data_ns(3), data_ns(4), "your scaler was fitted on more than the training set"),
]


def _with_defaults(ns):
    base = {"x": np.array([[1.0, 2.0], [0.0, -1.0]]), "d": np.array([[0.5, 1.0], [2.0, 0.0]])}
    base["Z"] = np.array([[1.0, 5.0, 2.0], [0.0, -3.0, 4.0]])
    return {**base, **ns}


@pytest.mark.parametrize("source, solution, mistaken, message", CASES)
def test_each_family_catches_its_mistake_in_kernel_and_grader(
    monkeypatch, source, solution, mistaken, message
):
    """Kernel: the family's message; grader: no points; the correct function: full marks."""
    source = cell(source)
    exc, score = verdicts(monkeypatch, source, _with_defaults(solution), _with_defaults(mistaken))
    assert exc is not None and message in str(exc), str(exc)
    assert score == 0
    fresh = {k: (Layer() if isinstance(v, Layer) else v) for k, v in solution.items()}
    exc, score = verdicts(monkeypatch, source, _with_defaults(solution), _with_defaults(fresh))
    assert exc is None and score == 2


def test_records_hold_observations_not_verdicts_and_the_cell_line(monkeypatch):
    """The record has the arguments after the call, never a pass/fail; its line is the cell's."""
    source = cell(UNCHANGED)
    outputs, _ = run_cell(source, monkeypatch, _with_defaults({"softmax": softmax_in_place}))
    rec = next(o["data"][checks.MIME] for o in outputs if checks.MIME in o["data"])
    after = checks.decode_value(rec["value"])
    assert after.shape == (6,) and np.allclose(after[:3], [-4.0, 0.0, -3.0])
    assert "expected" not in rec and rec["line"] == 3  # the grade cell's line, for hiding


def test_reference_is_copied_before_the_student_runs(monkeypatch):
    """A function that changes its input and returns it cannot move the reference with it."""

    def sneaky(z):
        z[...] = 0.0
        return z

    Z = np.array([1.0, 2.0])
    check = checks.Check("g")
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    with pytest.raises(AssertionError, match="changed the array it was given"):
        check.unchanged("l", sneaky, Z)
    exp_args = np.array([1.0, 2.0])
    assert not properties._decide_unchanged(checks.decode_value(records[0]["value"]), exp_args, {})


def test_same_twice_names_state_that_is_not_doubling():
    arr = np.array([[1.0, 2.0], [1.0, 2.5]])
    params = {"name": "backward", "rtol": 1e-10, "atol": 1e-12}
    text = properties._explain_same_twice(arr, None, params)
    assert "gave different values the second time" in text and "0.5" in text
    assert not properties._decide_same_twice(arr, None, params)


def test_honours_rng_restores_the_global_state(monkeypatch):
    monkeypatch.setattr(checks, "_publish", lambda rec: None)
    np.random.seed(7)  # noqa: NPY002
    expected_next = np.random.RandomState(7).random_sample(2)
    with pytest.raises(AssertionError):
        checks.Check("g").honours_rng("l", noise_reseeded)
    assert np.array_equal(np.random.random_sample(2), expected_next)  # noqa: NPY002


def test_honours_rng_decides_the_property_alone():
    """Values unlike the solution's (a wrong trajectory) still honour the generator: the kernel
    and the grader agree; the global draws are compared with the grader's own."""
    draws = properties._global_draws()
    good = np.concatenate([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], draws])
    params = {"name": "noise"}
    assert properties._decide_honours_rng(good, None, params)
    assert properties._decide_honours_rng(good, np.zeros(3 * 5 + len(draws)), params)
    forged = np.concatenate([good[: -len(draws)], draws + 1.0])
    assert not properties._decide_honours_rng(forged, None, params)
    assert not properties._decide_honours_rng(None, good, params)


def test_hidden_at_points_decides_in_the_grader_only(monkeypatch):
    """Without `expected`, the kernel records; the key has the solution's values, no input."""
    source = (
        'c = Check("ex_sigmoid")\n### BEGIN HIDDEN TESTS\nwith c.case("h"):\n'
        f"    {POINTS_HIDDEN}\n### END HIDDEN TESTS\nc.done()\n"
    )
    exc, score = verdicts(
        monkeypatch, source, {"relu_grad": relu_grad_ok}, {"relu_grad": relu_grad_kink}
    )
    assert exc is None and score == 0  # nothing decided in the kernel, the key fails it
    outputs, _ = run_cell(source, monkeypatch, {"relu_grad": relu_grad_ok}, key_run=True)
    the_key, _ = answer_key.build_key(executed_notebook(source, outputs), "nb")
    assert the_key["cells"]["ex_sigmoid"]["labels"]["relu'"]["hidden"] is True


def test_strict_hidden_warning_fails_at_once_in_the_kernel(monkeypatch):
    monkeypatch.setattr(checks, "_publish", lambda rec: None)
    with pytest.raises(AssertionError, match="overflowed or warned .* up to 1000"):
        checks.Check("g").strict("l", sigmoid_grad_overflow, np.array([-1e3]), name="sigma'")
    # the same call on a stable function decides nothing without an expected value
    checks.Check("g").strict("l", sigmoid_grad_ok, np.array([-1e3]))


def test_fitted_on_without_leak_says_fit_on_training_set(monkeypatch):
    monkeypatch.setattr(checks, "_publish", lambda rec: None)
    with pytest.raises(AssertionError, match="does not hold the training set's statistics"):
        checks.Check("g").fitted_on("l", [9.0], [1.0], leaked=[2.0], name="scaler")


def test_unchanged_needs_an_array_argument():
    with pytest.raises(checks.CheckMisuse, match="needs at least one numpy array"):
        checks.Check("g").unchanged("l", abs, 3.0)


def test_a_change_by_a_rounding_error_is_shown_with_the_digits_that_tell_it():
    """x -= s; x += s leaves 0.1 as 0.10000000000000003: the message must not say
    "0.1 became 0.1"."""
    before = np.array([0.1, 2.0])
    after = before.copy()
    after -= 1.7
    after += 1.7
    text = properties._explain_unchanged(after, before, {"name": "softmax"})
    assert "became" in text
    was, now = text.split("e.g. ")[1].split(" became ")
    assert was != now and float(was) == 0.1 and float(now) == after[0]


def test_at_points_names_the_points_as_the_exercise_does(monkeypatch):
    """The points of 07's checks are weights and drop probabilities: "x = 0.9" would send the
    student looking for an input."""
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    with pytest.raises(AssertionError, match=r"p = 0\.9: got 0\.5, expected 1"):
        checks.Check("g").at_points("l", lambda p: 0.5 + 0 * p, [0.9], [1.0], var="p")
    with pytest.raises(AssertionError, match=r"x = 0: got 1, expected 0"):
        checks.Check("g").at_points("l", lambda x: 1 + 0 * x, [0.0], [0.0])
    assert records[0]["params"]["var"] == "p" and "var" not in records[1]["params"]
