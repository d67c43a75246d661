"""L1/L2 weight penalties: values, gradients (finite differences), weights only."""

from __future__ import annotations

import numpy as np
import pytest

from nncourse.backend import to_numpy
from nncourse.gradcheck import check_model
from nncourse.layers import BatchNorm1d, Linear, Sequential, Tanh
from nncourse.losses import SoftmaxCrossEntropyLoss
from nncourse.regularization import L1, L2


def model():
    m = Sequential(Linear(3, 4, rng=0), Tanh(), BatchNorm1d(4), Linear(4, 2, rng=1))
    for p in m.parameters():  # non-zero biases/beta so that "weights only" is tested
        p.data += 0.5
    return m


def test_penalty_values_weights_only(xp):
    m = model()
    W0, W1 = to_numpy(m[0].params["W"]), to_numpy(m[3].params["W"])
    l2 = (W0.astype(float) ** 2).sum() + (W1.astype(float) ** 2).sum()
    l1 = np.abs(W0.astype(float)).sum() + np.abs(W1.astype(float)).sum()
    assert L2(0.1).penalty(m) == pytest.approx(0.1 * l2, rel=1e-6)
    assert L1(0.1).penalty(m) == pytest.approx(0.1 * l1, rel=1e-6)
    assert L2(0.3).penalty(m[0]) == pytest.approx(0.3 * (W0.astype(float) ** 2).sum(), rel=1e-6)
    assert L2(0.0).penalty(m) == 0.0


@pytest.mark.parametrize("reg", [L2(0.3), L1(0.2)], ids=repr)
def test_backward_adds_gradient_into_weights_only(xp, reg):
    m = model()
    m.forward(xp.ones((5, 3), dtype=xp.float32))
    m.backward(xp.ones((5, 2), dtype=xp.float32))
    before = {p.name: to_numpy(p.grad).copy() for p in m.parameters()}
    reg.backward(m)
    for p in m.parameters():
        added = to_numpy(p.grad) - before[p.name]
        if p.name.endswith("W"):
            W = to_numpy(p.data)
            want = 2 * 0.3 * W if isinstance(reg, L2) else 0.2 * np.sign(W)
            np.testing.assert_allclose(added, want, rtol=1e-5, atol=1e-7)
        else:  # biases, gamma, beta untouched
            np.testing.assert_array_equal(added, 0)


@pytest.mark.parametrize("regs", [[L2(0.5)], [L1(0.05)], [L2(0.1), L1(0.1)]], ids=repr)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_regularised_loss_gradient_matches_finite_differences(xp, regs, mode):
    m = model().train(mode == "train")
    x = xp.asarray(np.random.default_rng(2).standard_normal((6, 3)))
    y = xp.asarray(np.array([0, 1, 1, 0, 1, 0]))
    rep = check_model(m, SoftmaxCrossEntropyLoss(), x, y, regularizers=regs, tol=1e-6)
    assert rep.passed, str(rep)


def test_gradcheck_sees_a_missing_regulariser_gradient():
    class NoGrad(L2):
        def backward(self, model):
            pass

    x = np.random.default_rng(2).standard_normal((6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    rep = check_model(model(), SoftmaxCrossEntropyLoss(), x, y, regularizers=[NoGrad(1.0)])
    assert not rep["0.W"].passed and rep["0.b"].passed


def test_single_layer_and_missing_grad():
    lin = Linear(2, 2, rng=0)
    lin.grads["W"] = None
    L2(1.0).backward(lin)
    np.testing.assert_allclose(to_numpy(lin.grads["W"]), 2 * to_numpy(lin.params["W"]))


def test_bad_strength_and_model():
    with pytest.raises(ValueError, match=r"L2: expected a finite strength >= 0, got -0.1"):
        L2(-0.1)
    with pytest.raises(ValueError, match=r"L1: expected a finite strength >= 0, got nan"):
        L1(float("nan"))
    with pytest.raises(TypeError, match=r"L2: expected a real number strength.*got .0.1. \(str\)"):
        L2("0.1")
    with pytest.raises(
        TypeError, match=r"L2.penalty: expected a model or layer with parameters\(\), got \{'W'"
    ):
        L2(0.1).penalty({"W": np.ones(2)})
    assert repr(L2(0.01)) == "L2(strength=0.01)"
