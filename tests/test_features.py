"""nncourse.features: the playground's input features, against their closed forms."""

import numpy as np
import pytest

from nncourse import data
from nncourse.features import FEATURES, FeatureMap


def test_every_feature_is_its_closed_form_in_the_order_of_the_table():
    X, _ = data.moons(50, noise=0.1, rng=np.random.default_rng(0))
    x1, x2 = X[:, 0], X[:, 1]
    closed = {
        "x1": x1,
        "x2": x2,
        "x1^2": x1**2,
        "x2^2": x2**2,
        "x1 x2": x1 * x2,
        "sin x1": np.sin(x1),
        "sin x2": np.sin(x2),
    }
    assert list(FEATURES) == list(closed)
    phi = FeatureMap(reversed(list(FEATURES)))  # any order in, the table's order out
    assert phi.names == tuple(FEATURES) and phi.n_features == 7
    assert np.allclose(phi(X), np.stack([closed[n] for n in FEATURES], axis=1), rtol=0, atol=0)
    one = FeatureMap(["x1 x2"])
    assert one(X).shape == (50, 1) and np.array_equal(one(X)[:, 0], x1 * x2)


def test_dtype_is_kept_and_integers_become_float64():
    X32 = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    assert FeatureMap(["x1", "sin x2"])(X32).dtype == np.float32
    out = FeatureMap(["x1^2", "x1 x2"])(np.array([[2, -3]]))
    assert out.dtype == np.float64 and out.tolist() == [[4.0, -6.0]]


def test_xor_becomes_linearly_separable_with_x1_x2():
    """01_perceptron's lesson: the sign of x1 x2 is the XOR label."""
    X, y = data.xor(200, noise=0.1, rng=np.random.default_rng(1))
    phi = FeatureMap(["x1 x2"])(X)[:, 0]
    assert np.mean((phi < 0) == (y == 1)) > 0.97


def test_equality_and_repr():
    assert FeatureMap(["x2", "x1"]) == FeatureMap(["x1", "x2"])
    assert FeatureMap(["x1"]) != FeatureMap(["x2"])
    assert len({FeatureMap(["x1", "x2"]), FeatureMap(["x2", "x1"])}) == 1
    assert repr(FeatureMap(["sin x1", "x1"])) == "FeatureMap(['x1', 'sin x1'])"


@pytest.mark.parametrize(
    ("names", "exc", "words"),
    [
        ("x1", TypeError, "list of feature names"),
        (3, TypeError, "list of feature names"),
        ([], ValueError, "at least one feature"),
        (["x3"], ValueError, "['x3']"),
        (["x1", "x1"], ValueError, "each feature once"),
    ],
)
def test_bad_names_are_refused(names, exc, words):
    with pytest.raises(exc, match="FeatureMap") as info:
        FeatureMap(names)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("X", "exc", "words"),
    [
        ([[1.0, 2.0]], TypeError, "as an array"),
        (np.ones((3, 3)), ValueError, "shape (3, 3)"),
        (np.ones(3), ValueError, "shape (3,)"),
        (np.array([["a", "b"]]), TypeError, "dtype <U1"),
    ],
)
def test_bad_points_are_refused(X, exc, words):
    with pytest.raises(exc, match="FeatureMap") as info:
        FeatureMap()(X)
    assert words in str(info.value)
