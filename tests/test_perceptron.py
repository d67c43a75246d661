"""Tests for nncourse.perceptron: Rosenblatt's rule, Novikoff's bound, XOR, Adaline."""

import warnings

import numpy as np
import pytest

from nncourse.data import linearly_separable, xor
from nncourse.perceptron import Adaline, ConvergenceWarning, Perceptron, novikoff_bound


def test_updates_follow_the_notes_by_hand():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([1, -1, -1])
    p = Perceptron(max_epochs=10).fit(X, y)
    # epoch 1: x1: 0 <= 0 mistake -> w=(1,0), b=1; x2: -1*(0+1) <= 0 -> w=(1,-1), b=0;
    # x3: -1*(-1+0)=1 > 0 ok. epoch 2: x1: 1>0, x2: -1*(-1)=1>0, x3: ok -> converged
    np.testing.assert_array_equal(p.w, [1.0, -1.0])
    assert p.b == 0.0
    assert p.mistakes_per_epoch == [2, 0] and p.n_updates == 2 and p.converged
    np.testing.assert_array_equal(p.predict(X), y)
    np.testing.assert_array_equal(p.decision_function(X), X @ p.w + p.b)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("margin", [0.05, 0.2])
def test_converges_within_the_novikoff_bound(seed, margin):
    X, y, w, b = linearly_separable(150, margin=margin, rng=seed, return_params=True)
    p = Perceptron(max_epochs=10_000).fit(X, y)
    assert p.converged and p.mistakes_per_epoch[-1] == 0
    assert p.n_updates == sum(p.mistakes_per_epoch) > 0
    assert (p.predict(X) == y).all()
    bound_true = novikoff_bound(X, y, (w, b))
    bound_best = novikoff_bound(X, y)
    assert p.n_updates <= bound_best <= bound_true * (1 + 1e-9)
    # the bound by hand for the true separator, with the bias as a constant input
    Xa = np.hstack([X, np.ones((len(X), 1))])
    wa = np.append(w, b) / np.linalg.norm(np.append(w, b))
    R, gamma = np.linalg.norm(Xa, axis=1).max(), (y * (Xa @ wa)).min()
    assert bound_true == pytest.approx((R / gamma) ** 2)


def test_learning_rate_only_scales_the_weights():
    X, y = linearly_separable(80, margin=0.1, rng=1)
    a, b = Perceptron(lr=1.0).fit(X, y), Perceptron(lr=0.1).fit(X, y)
    assert a.mistakes_per_epoch == b.mistakes_per_epoch
    np.testing.assert_allclose(b.w, 0.1 * a.w)


def test_fails_on_xor_with_a_warning():
    X, y = xor(100, labels="pm1", rng=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=30"):
        p = Perceptron(max_epochs=30).fit(X, y)
    assert not p.converged and p.n_epochs == 30 and min(p.mistakes_per_epoch) > 0
    assert (p.predict(X) == y).mean() < 0.9
    with pytest.raises(ValueError, match="not linearly separable|no separating"):
        novikoff_bound(X, y)


def test_bad_labels_and_shapes():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"labels in \{-1, \+1\}.*2 \* y - 1"):
        Perceptron().fit(X, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"y of shape \(4,\)"):
        Perceptron().fit(X, np.array([1, -1]))
    with pytest.raises(ValueError, match=r"X of shape \(N, D\)"):
        Perceptron().fit(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="not fitted"):
        Perceptron().predict(X)
    p = Perceptron().fit(np.eye(2), np.array([1, -1]))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        p.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="max_epochs"):
        Perceptron(max_epochs=0)
    X, y = linearly_separable(20, rng=0)
    with pytest.raises(ValueError, match="does not separate"):
        novikoff_bound(X, y, (np.array([1.0, 0.0]), 100.0))


def test_adaline_mse_decreases_to_the_least_squares_error():
    X, y = linearly_separable(200, margin=0.1, rng=0)
    a = Adaline(lr=0.002, epochs=30, rng=0).fit(X, y)
    mse = np.array(a.mse_per_epoch)
    assert len(mse) == 30 and mse[0] < 1.0  # w = 0 has MSE mean(y^2) = 1
    assert mse[-1] < 0.5 * mse[0]
    assert (np.diff(mse[:15]) < 0).all()  # a small step: steadily down
    Xa = np.hstack([X, np.ones((len(X), 1))])
    coef = np.linalg.lstsq(Xa, y, rcond=None)[0]
    best = np.mean((y - Xa @ coef) ** 2)
    assert mse[-1] == pytest.approx(best, rel=0.02)  # LMS ends near the least-squares fit
    assert (a.predict(X) == y).mean() > 0.95


def test_adaline_same_seed_same_run_and_divergence():
    X, y = linearly_separable(50, rng=0)
    a1 = Adaline(epochs=5, rng=3).fit(X, y)
    a2 = Adaline(epochs=5, rng=3).fit(X, y)
    assert a1.mse_per_epoch == a2.mse_per_epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="smaller learning rate"):
            Adaline(lr=5.0, epochs=200, rng=0).fit(X * 10, y)
