"""Stateless functions: closed-form derivatives and numerical stability."""

from __future__ import annotations

import numpy as np
import pytest

from nncourse import functional as F
from nncourse import layers as L
from nncourse.backend import to_numpy
from nncourse.gradcheck import numerical_gradient, rel_error


@pytest.mark.parametrize("name", sorted(L.ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(xp, name):
    cls = L.ACTIVATIONS[name]
    g, g_prime, kw = cls.function, cls.derivative, cls.hyper_parameters()
    x = np.linspace(-3.05, 3.05, 22)  # avoids the kinks at 0 and +-1
    num = numerical_gradient(lambda v: float(to_numpy(g(xp.asarray(v), **kw)).sum()), x.copy())
    assert rel_error(to_numpy(g_prime(xp.asarray(x), **kw)), num) < 1e-8


def test_sigmoid_tanh_closed_forms(xp):
    x = xp.asarray(np.linspace(-5, 5, 11))
    s = to_numpy(F.sigmoid(x))
    np.testing.assert_allclose(to_numpy(F.sigmoid_grad(x)), s * (1 - s))
    t = np.tanh(to_numpy(x))
    np.testing.assert_allclose(to_numpy(F.tanh_grad(x)), 1 - t**2)


def test_sigmoid_no_overflow_and_exact_at_1e3(xp):
    with np.errstate(over="raise"):
        out = to_numpy(F.sigmoid(xp.asarray([-1e3, 1e3])))
    assert out.tolist() == [0.0, 1.0]
    assert to_numpy(F.sigmoid(xp.asarray([-1e3], dtype=xp.float32))).dtype == np.float32


def test_softmax_log_softmax_stable_for_huge_logits(xp):
    x = xp.asarray([[1e4, 1e4 - 1.0, -1e4]])
    p = to_numpy(F.softmax(x))
    e = np.exp([0.0, -1.0])
    np.testing.assert_allclose(p[0, :2], e / e.sum())
    assert np.all(np.isfinite(to_numpy(F.log_softmax(x))))
    assert to_numpy(F.logsumexp(x))[0] == pytest.approx(1e4 + np.log(e.sum()))
