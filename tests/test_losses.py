"""Losses: gradients, closed forms on hand examples, stability, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from support.loss_cases import LOSS_CASES, OTHER_LOSSES

from nncourse import functional as F
from nncourse import losses as losses_module
from nncourse.backend import to_numpy
from nncourse.gradcheck import numerical_gradient, rel_error
from nncourse.losses import (
    BCEWithLogitsLoss,
    MaxMarginLoss,
    MSELoss,
    MulticlassHingeLoss,
    SoftmaxCrossEntropyLoss,
)


@pytest.mark.parametrize("shape", [(1, 2), (4, 3), (7, 5)], ids=str)
@pytest.mark.parametrize("case", LOSS_CASES, ids=lambda c: c.id)
def test_loss_gradients_match_finite_differences(xp, case, shape):
    r = np.random.default_rng(sum(shape))
    loss_cls, n, c = case.cls, shape[0], case.width(shape[1])
    s = r.standard_normal((n, c)) * 2
    y = case.targets(n, c, r)
    if loss_cls is MulticlassHingeLoss:  # keep every margin s_j - s_y + 1 away from its kink
        s = np.round(s, 1)  # margins are multiples of 0.1 ...
        s[np.arange(n), y] += 0.05  # ... shifted by 0.05: never within 0.05 of 0
    loss = loss_cls()
    S, Y = xp.asarray(s), xp.asarray(y)
    loss.forward(S, Y)
    analytic = to_numpy(loss.backward())
    num = numerical_gradient(lambda v: float(loss.forward(xp.asarray(v), Y)), s)
    assert rel_error(analytic, num) < 1e-7


def test_every_loss_has_a_case():
    family = {
        c
        for c in (getattr(losses_module, n) for n in losses_module.__all__)
        if isinstance(c, type) and issubclass(c, losses_module.Loss) and c is not losses_module.Loss
    }
    assert family == {case.cls for case in LOSS_CASES} | set(OTHER_LOSSES)


def test_max_margin_gradient_and_numbers(xp):
    loss = MaxMarginLoss()
    s, sc = np.array([2.0, 0.5, 1.0]), np.array([0.0, 1.0, 0.5])
    # J = max(0, 1 + s_c - s): max(0, -1) = 0, max(0, 1.5) = 1.5, max(0, 0.5) = 0.5
    assert float(loss(xp.asarray(s), xp.asarray(sc))) == pytest.approx((0 + 1.5 + 0.5) / 3)
    ds, dsc = (to_numpy(g) for g in loss.backward())
    np.testing.assert_allclose(ds, numerical_gradient(lambda v: float(loss(v, sc)), s.copy()))
    np.testing.assert_allclose(dsc, numerical_gradient(lambda v: float(loss(s, v)), sc.copy()))
    np.testing.assert_allclose(ds, [0, -1 / 3, -1 / 3])


def test_softmax_ce_gradient_is_p_minus_onehot_over_n(xp):
    s = np.random.default_rng(0).standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    loss = SoftmaxCrossEntropyLoss()
    value = float(loss(xp.asarray(s), xp.asarray(y)))
    p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    assert value == pytest.approx(-np.log(p[np.arange(4), y]).mean(), rel=1e-12)
    np.testing.assert_allclose(to_numpy(loss.backward()), (p - np.eye(3)[y]) / 4, rtol=1e-12)


def test_softmax_ce_finite_for_huge_logits(xp):
    s = xp.asarray([[1e4, 0.0, -1e4], [5e3, 1e4, 1e4]])
    loss = SoftmaxCrossEntropyLoss()
    value = float(loss(s, xp.asarray([1, 0])))
    # row 0: logsumexp = 1e4, loss 1e4; row 1: logsumexp = 1e4 + log 2, loss 5e3 + log 2
    assert np.isfinite(value) and value == pytest.approx((1e4 + 5e3 + np.log(2)) / 2)
    assert np.all(np.isfinite(to_numpy(loss.backward())))


def test_mse_is_torch_definition(xp):
    s, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.0], [5.0, 1.0]])
    loss = MSELoss()
    # torch.nn.MSELoss(reduction='mean'): mean over all elements of (s - y)^2
    assert float(loss(xp.asarray(s), xp.asarray(y))) == pytest.approx((1 + 0 + 4 + 9) / 4)
    np.testing.assert_allclose(to_numpy(loss.backward()), 2 * (s - y) / 4)


def test_hinge_equals_cs231n_svm_loss_on_hand_example(xp):
    s = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    y = np.array([0, 1, 2])
    # CS231n lecture 3 cat/car/frog example: per-example losses 2.9, 0, 12.9
    loss = MulticlassHingeLoss()
    assert float(loss(xp.asarray(s), xp.asarray(y))) == pytest.approx((2.9 + 0 + 12.9) / 3)
    # CS231n svm_loss gradient: +1 per positive margin, minus their count at the label
    expected = np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3
    np.testing.assert_allclose(to_numpy(loss.backward()), expected)


def test_bce_with_logits_closed_form_and_stable(xp):
    s, y = np.array([[-2.0], [0.0], [3.0]]), np.array([[0.0], [1.0], [1.0]])
    p = 1 / (1 + np.exp(-s))
    loss = BCEWithLogitsLoss()
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    assert float(loss(xp.asarray(s), xp.asarray(y))) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(to_numpy(loss.backward()), (p - y) / 3, rtol=1e-12)
    big = float(loss(xp.asarray([[1e4], [-1e4]]), xp.asarray([[0.0], [1.0]])))
    assert big == pytest.approx(1e4)
    assert to_numpy(F.sigmoid(xp.asarray([1e3])))[0] == 1.0


# -- bad input ---------------------------------------------------------------------------


def test_labels_out_of_range(numpy_backend):
    for loss in (SoftmaxCrossEntropyLoss(), MulticlassHingeLoss()):
        name = type(loss).__name__
        with pytest.raises(ValueError, match=rf"{name}.*labels in \[0, 2\] for 3 classes.*0 to 3"):
            loss(np.zeros((2, 3)), np.array([0, 3]))
        with pytest.raises(ValueError, match=rf"{name}.*labels in \[0, 2\].*-1 to 1"):
            loss(np.zeros((2, 3)), np.array([-1, 1]))


def test_labels_wrong_dtype_or_shape():
    loss = SoftmaxCrossEntropyLoss()
    with pytest.raises(TypeError, match=r"SoftmaxCrossEntropyLoss.*integer class labels.*float64"):
        loss(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"SoftmaxCrossEntropyLoss.*labels of shape \(2,\), got \(2, 3\)"
    ):
        loss(np.zeros((2, 3)), np.zeros((2, 3), int))
    with pytest.raises(
        ValueError, match=r"SoftmaxCrossEntropyLoss.*scores of shape \(N, C\), got \(3,\)"
    ):
        loss(np.zeros(3), np.zeros(3, int))
    with pytest.raises(
        TypeError, match=r"SoftmaxCrossEntropyLoss.*expected float scores, got int64"
    ):
        loss(np.zeros((2, 3), int), np.zeros(2, int))


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"MSELoss.*targets of shape \(2, 3\), got \(3, 2\)"):
        MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss.*targets in \[0, 1\].*2"):
        BCEWithLogitsLoss()(np.zeros((2, 1)), np.array([[0.0], [2.0]]))
    with pytest.raises(ValueError, match=r"MaxMarginLoss.*same shape.*\(3,\) and \(2,\)"):
        MaxMarginLoss()(np.zeros(3), np.zeros(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores(numpy_backend, bad):
    s = np.zeros((2, 3))
    s[0, 1] = bad
    with pytest.raises(ValueError, match=r"MSELoss.*expected finite scores.*1 NaN/inf"):
        MSELoss()(s, np.zeros((2, 3)))


@pytest.mark.parametrize(
    "loss", [MSELoss(), BCEWithLogitsLoss(), SoftmaxCrossEntropyLoss(), MulticlassHingeLoss()]
)
def test_backward_before_forward(loss):
    with pytest.raises(
        ValueError, match=rf"{type(loss).__name__}.*backward\(\) called before forward"
    ):
        loss.backward()


def test_invalid_margin():
    with pytest.raises(
        ValueError, match=r"MulticlassHingeLoss: expected a finite margin >= 0, got -1"
    ):
        MulticlassHingeLoss(margin=-1)


def test_zero_dimensional_scores_are_a_value_error():
    from nncourse.losses import MSELoss

    with pytest.raises(ValueError, match=r"MSELoss\(\): expected scores with a batch axis"):
        MSELoss().forward(np.float64(1.0) * np.ones(()), np.ones(()))
