"""The gradient checker itself: it must pass correct gradients, catch wrong ones,
leave the caller's objects untouched and say what it checked."""

from __future__ import annotations

import numpy as np
import pytest

from nncourse import gradcheck
from nncourse.backend import to_numpy
from nncourse.gradcheck import check_layer, check_model, numerical_gradient, rel_error
from nncourse.layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential, Tanh
from nncourse.losses import MSELoss, SoftmaxCrossEntropyLoss


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: (v**3).sum(), x), 3 * x**2, rtol=1e-8)
    A = np.random.default_rng(0).standard_normal((2, 2))
    # f may ignore its argument and read x from a closure
    np.testing.assert_allclose(numerical_gradient(lambda _: (A * x).sum(), x), A, rtol=1e-8)


def test_numerical_gradient_restores_every_value_exactly_even_when_f_raises():
    x = np.random.default_rng(1).standard_normal((3, 4))
    before = x.copy()
    numerical_gradient(lambda v: np.sin(v).sum(), x)
    assert np.array_equal(x, before)

    calls = []

    def boom(v):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(boom, x)
    assert np.array_equal(x, before)


def test_numerical_gradient_bad_input():
    with pytest.raises(TypeError, match=r"numerical_gradient: expected a float array.*int64"):
        numerical_gradient(lambda v: v.sum(), np.arange(3))
    with pytest.raises(
        ValueError, match=r"numerical_gradient: expected a finite step h > 0, got 0"
    ):
        numerical_gradient(lambda v: v.sum(), np.ones(3), h=0)


def test_rel_error_formula():
    a, b = np.array([1.0, -2.0, 0.0]), np.array([1.0, -2.5, 0.1])
    assert rel_error(a, b) == pytest.approx(0.5 / 4.5)
    assert rel_error(a, a) == 0.0
    assert rel_error(np.zeros(3), np.full(3, 1e-10)) == pytest.approx(1e-10 / 1e-8)  # the floor
    with pytest.raises(
        ValueError, match=r"rel_error: expected arrays of the same shape.*\(3,\).*\(2,\)"
    ):
        rel_error(a, b[:2])


def test_report_rows_and_table():
    rep = check_layer(Linear(3, 2, rng=0), np.random.default_rng(0).standard_normal((4, 3)))
    assert rep.passed and bool(rep)
    assert [r.name for r in rep.rows] == ["input", "W", "b"]
    for r in rep.rows:
        assert r.rel_error < 1e-7 and r.passed and r.tol == 1e-7
        assert len(r.worst_index) == len(r.shape)
    text = str(rep)
    assert "PASSED" in text and "float64" in text
    for word in ("name", "rel_error", "worst index", "input", "W", "b"):
        assert word in text
    assert rep["W"].shape == (2, 3)


def test_catches_a_wrong_parameter_gradient_and_points_at_it():
    class HalfBias(Linear):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] *= 0.5
            return dx

    rep = check_layer(HalfBias(3, 2, rng=0), np.random.default_rng(0).standard_normal((4, 3)))
    assert not rep.passed
    assert rep["input"].passed and rep["W"].passed and not rep["b"].passed
    assert "FAILED" in str(rep) and "NO" in str(rep)


def test_tolerance_is_configurable():
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert not check_layer(Tanh(), x, tol=1e-30).passed
    assert check_layer(Tanh(), x, tol=1e-5).rows[0].tol == 1e-5


def test_caller_objects_untouched_and_check_runs_in_float64():
    model = Sequential(
        Linear(3, 4, rng=0), BatchNorm1d(4), Dropout(0.5, rng=1), Linear(4, 2, rng=2)
    )
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    rng_state = model[2].rng.bit_generator.state
    x_before = x.copy()
    rep = check_model(model, SoftmaxCrossEntropyLoss(), x, np.array([0, 1, 1, 0, 1]), tol=1e-6)
    assert rep.passed, str(rep)
    assert rep.dtype == "float64"
    assert model.dtype == np.float32 and model[1].running_mean.dtype == np.float32
    for k, v in model.state_dict().items():
        assert np.array_equal(v, state[k]), k  # running stats not moved, weights intact
    assert model[2].rng.bit_generator.state == rng_state  # caller's dropout rng not advanced
    assert np.array_equal(x, x_before)


def test_dropout_in_train_mode_uses_one_mask_for_every_evaluation():
    # without freezing the generator each evaluation would draw a new mask and fail
    rep = check_layer(Dropout(0.5, rng=3), np.random.default_rng(0).standard_normal((6, 5)))
    assert rep.passed, str(rep)


def test_batchnorm_running_stats_restored_inside_the_check():
    bn = BatchNorm1d(3)
    calls = []

    class Spy(Sequential):
        def forward(self, x):
            calls.append(to_numpy(self[0].running_mean).copy())
            return super().forward(x)

    rep = check_layer(Spy(bn), np.random.default_rng(5).standard_normal((4, 3)) + 2.0, tol=1e-6)
    assert rep.passed
    assert len(calls) > 10 and all(np.array_equal(c, calls[0]) for c in calls)


def test_float32_check_warns():
    x = np.random.default_rng(0).standard_normal((3, 2))
    with pytest.warns(UserWarning, match=r"check_layer: checking in float32.*float64"):
        rep = check_layer(Tanh(), x, dtype=np.float32, tol=1e-2)
    assert rep.dtype == "float32"
    with pytest.warns(UserWarning, match=r"check_model: checking in float32"):
        check_model(Linear(2, 1), MSELoss(), x, np.ones((3, 1)), dtype=np.float32, tol=1)
    with pytest.raises(TypeError, match=r"check_layer: expected a float dtype.*int64"):
        check_layer(Tanh(), x, dtype=np.int64)


def test_large_tensors_are_sampled_reproducibly():
    lin = Linear(30, 20, rng=0)
    x = np.random.default_rng(0).standard_normal((8, 30))
    rep = check_layer(lin, x, max_entries=50, rng=4)
    assert rep.passed
    assert rep["W"].checked == 50 and rep["input"].checked == 50 and rep["b"].checked == 20
    again = check_layer(lin, x, max_entries=50, rng=4)
    assert [r.worst_index for r in rep.rows] == [r.worst_index for r in again.rows]
    assert "50/600" in str(rep)


def test_custom_dout_and_its_shape_is_checked():
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert check_layer(ReLU(), np.abs(x) + 0.1, dout=np.ones((4, 3))).passed
    with pytest.raises(
        ValueError, match=r"check_layer: expected dout of the output's shape \(4, 3\), got \(4, 2\)"
    ):
        check_layer(ReLU(), x, dout=np.ones((4, 2)))


def test_linear_bias_before_batchnorm_has_zero_gradient_atol_accepts_it():
    model = Sequential(Linear(3, 4, rng=0), BatchNorm1d(4))
    x = np.random.default_rng(0).standard_normal((6, 3))
    rep = check_layer(model, x, tol=1e-6, atol=1e-9)
    assert rep.passed, str(rep)
    assert abs(rep["0.b"].analytic) < 1e-9  # the mean subtraction cancels the bias


def test_minimal_user_layer_without_astype_or_parameters():
    class Scale:  # only the protocol: forward, backward, params, grads
        def __init__(self):
            self.params = {"w": np.array([2.0, -1.0])}
            self.grads = {"w": np.zeros(2)}

        def forward(self, x):
            self.x = x
            return x * self.params["w"]

        def backward(self, dout):
            self.grads["w"] = (dout * self.x).sum(0)
            return dout * self.params["w"]

    layer = Scale()
    rep = gradcheck.check_layer(layer, np.random.default_rng(0).standard_normal((3, 2)))
    assert rep.passed and [r.name for r in rep.rows] == ["input", "w"]
    assert not hasattr(layer, "x")  # it ran on a copy


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(h=0), ValueError, r"check_layer: expected a finite step h > 0, got 0"),
        (dict(h=float("nan")), ValueError, r"check_layer: .*step h > 0, got nan"),
        (dict(max_entries=0), ValueError, r"check_layer: expected a positive int max_entries"),
        (dict(max_entries=True), TypeError, r"check_layer: .*max_entries, got True \(bool\)"),
        (dict(tol=-1), ValueError, r"check_layer: expected a finite tol > 0, got -1"),
        (dict(atol="0"), TypeError, r"check_layer: expected a real number atol"),
        (dict(rng=-1), ValueError, r"check_layer: .*int seed >= 0.*-1"),
        (dict(check_input="no"), TypeError, r"check_layer: expected check_input=True or False"),
    ],
)
def test_check_layer_rejects_settings_that_would_check_nothing(kwargs, exc, pattern):
    # h=0 divided by zero and max_entries=0 reported PASSED after comparing nothing
    with pytest.raises(exc, match=pattern):
        check_layer(Tanh(), np.ones((2, 3)), **kwargs)
    with pytest.raises(exc, match=pattern.replace("check_layer", "check_model")):
        check_model(Linear(3, 1), MSELoss(), np.ones((2, 3)), np.ones((2, 1)), **kwargs)
