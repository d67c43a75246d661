"""Initialisers: shapes, dtypes, seeds, the Xavier and He statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nncourse import init
from nncourse import layers as L
from nncourse.backend import to_numpy

ALL = [name for name in init.__all__ if name not in ("as_generator", "get")]


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_and_seed(xp, name):
    fn = init.get(name)
    a = fn((7, 3), rng=5)
    assert a.shape == (7, 3) and a.dtype == np.float32
    assert fn((7, 3), rng=5, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(to_numpy(a), to_numpy(fn((7, 3), rng=5)))


def test_xavier_uniform_bound_and_variance():
    fan_out, fan_in = 300, 500
    W = to_numpy(init.xavier_uniform((fan_out, fan_in), rng=0, dtype=np.float64))
    b = np.sqrt(6 / (fan_in + fan_out))
    assert np.abs(W).max() <= b and np.abs(W).max() > 0.99 * b
    assert W.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.02)
    Wn = to_numpy(init.xavier_normal((fan_out, fan_in), rng=0, dtype=np.float64))
    assert Wn.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.02)


@pytest.mark.parametrize("name", ["he_uniform", "he_normal"])
def test_he_variance(name):
    W = to_numpy(init.get(name)((200, 400), rng=1, dtype=np.float64))
    assert W.var() == pytest.approx(2 / 400, rel=0.02)  # 2 / fan_in, not fan_out
    assert abs(W.mean()) < 0.01


def test_bad_arguments():
    with pytest.raises(
        ValueError, match=r"init.xavier_uniform: expected a shape of positive sizes.*got \(0, 3\)"
    ):
        init.xavier_uniform((0, 3))
    with pytest.raises(TypeError, match=r"init.xavier_uniform: .*positive sizes.*\(3, 2.5\)"):
        init.xavier_uniform((3, 2.5))
    with pytest.raises(TypeError, match=r"init.zeros: .*positive sizes.*\(True, 2\)"):
        init.zeros((True, 2))
    with pytest.raises(TypeError, match=r"init.he_normal: expected a float dtype"):
        init.he_normal((2, 2), dtype=int)
    with pytest.raises(ValueError, match=r"init.normal: expected a finite std >= 0, got nan"):
        init.normal((2, 2), std=float("nan"))
    with pytest.raises(ValueError, match=r"init.normal: expected a finite std >= 0, got -1"):
        init.normal((2, 2), std=-1)
    with pytest.raises(ValueError, match=r"init.uniform: expected low <= high, got low=1, high=0"):
        init.uniform((2, 2), low=1, high=0)
    with pytest.raises(
        TypeError, match=r"init.he_normal: expected a numpy.random.Generator.*got str"
    ):
        init.he_normal((2, 2), rng="seed")
    with pytest.raises(
        ValueError, match=r"init.he_normal: expected .*int seed >= 0.*negative seed -1"
    ):
        init.he_normal((2, 2), rng=-1)
    with pytest.raises(TypeError, match=r"Dropout: expected .*as rng, got bool True"):
        init.as_generator(True, who="Dropout")
    with pytest.raises(ValueError, match=r"init.get: expected init one of \[.*got 'glorot'"):
        init.get("glorot")
    with pytest.raises(ValueError, match=r"Linear: expected init one of \[.*got 'glorot'"):
        init.get("glorot", who="Linear")


@pytest.mark.parametrize("bad", ["glorot", L.ReLU, [1], 3, None, np.float32])
def test_one_initialiser_resolver_one_exception_type(bad):
    """init.get is the resolver of every init= argument: the same input, the same error."""
    raised = []
    for call in (
        lambda: init.get(bad),
        lambda: L.Linear(3, 2, init=bad),
        lambda: L.Maxout(3, 2, init=bad),
    ):
        with pytest.raises((TypeError, ValueError), match=r"expected init one of \[") as e:
            call()
        raised.append(type(e.value))
    assert len(set(raised)) == 1
    assert raised[0] is (ValueError if isinstance(bad, str) else TypeError)


@pytest.mark.parametrize("bad", [-1, "seed", 1.5, True, np.random.RandomState(0)])
def test_one_generator_helper_one_exception_type(bad):
    """init.as_generator is every rng= argument's resolver: the same input, the same error."""
    raised = set()
    for call in (
        lambda: init.as_generator(bad),
        lambda: init.he_normal((2, 2), rng=bad),
        lambda: L.Linear(3, 2, rng=bad),
        lambda: L.Dropout(0.5, rng=bad),
    ):
        with pytest.raises((TypeError, ValueError), match=r"int seed >= 0") as e:
            call()
        raised.add(type(e.value))
    assert raised == {ValueError if bad == -1 else TypeError}
