"""Hand-made input features of 2-D points, as TensorFlow Playground offers them.

A :class:`FeatureMap` turns points ``X`` of shape ``(N, 2)`` (the course's 2-D data sets
from :mod:`nncourse.data`) into the chosen features, shape ``(N, k)``, one column per
feature in the order of :data:`FEATURES`. The playground feeds the same map to the model
(its input width is ``k``) and to its pictures (one heat map per feature), so what the
network sees and what is drawn cannot drift apart.

It replays 01_perceptron's lesson: XOR is not linearly separable in ``(x1, x2)`` but is
in ``(x1, x2, x1 x2)``, so a good representation can stand in for a hidden layer::

    >>> import numpy as np
    >>> phi = FeatureMap(["x1", "x2", "x1 x2"])
    >>> phi(np.array([[1.0, -2.0]]))
    array([[ 1., -2., -2.]])

The sines are ``sin(x1)`` and ``sin(x2)`` of the raw coordinates. The course's data sets lie
within about [-2, 2] (TensorFlow Playground's within [-6, 6]), where a sine follows its
argument near 0 and flattens towards +-pi/2: a squashed copy of x1, not a periodic one.
"""

from __future__ import annotations

from .backend import get_array_module

__all__ = ["FEATURES", "FeatureMap"]

# Feature name -> f(x1, x2) for columns x1, x2 of shape (N,); the order is the column order.
FEATURES = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1 x2": lambda x1, x2: x1 * x2,
    "sin x1": lambda x1, x2: get_array_module(x1).sin(x1),
    "sin x2": lambda x1, x2: get_array_module(x2).sin(x2),
}


class FeatureMap:
    """``phi(X)``: the features ``names`` (a subset of :data:`FEATURES`) of points X (N, 2).

    The columns follow the order of :data:`FEATURES` whatever the order of ``names``, so
    switching a feature off and on again gives the same layout. ``phi(X)`` keeps X's
    array module (NumPy or CuPy) and float dtype; integer input becomes float64.
    """

    def __init__(self, names=("x1", "x2")):
        if isinstance(names, str) or not hasattr(names, "__iter__"):
            raise TypeError(
                f"FeatureMap: expected a list of feature names such as ['x1', 'x2'], got {names!r}"
            )
        names = list(names)
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise ValueError(
                f"FeatureMap: expected feature names from {list(FEATURES)}, got {unknown!r}"
            )
        if not names:
            raise ValueError("FeatureMap: expected at least one feature, got none")
        if len(set(names)) != len(names):
            raise ValueError(f"FeatureMap: expected each feature once, got {names!r}")
        self.names = tuple(n for n in FEATURES if n in names)

    @property
    def n_features(self) -> int:
        """k, the width of ``phi(X)``: the model's input width."""
        return len(self.names)

    def __call__(self, X):
        """Features of X (N, 2) -> array (N, k)."""
        if not (hasattr(X, "shape") and hasattr(X, "dtype")):
            raise TypeError(f"FeatureMap: expected points X as an array (N, 2), got {X!r:.60}")
        if X.dtype.kind not in "fiu":
            raise TypeError(f"FeatureMap: expected points X of a real dtype, got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(
                f"FeatureMap: expected points X of shape (N, 2), got shape {tuple(X.shape)}"
            )
        xp = get_array_module(X)
        if X.dtype.kind != "f":
            X = X.astype(xp.float64)
        x1, x2 = X[:, 0], X[:, 1]
        return xp.stack([FEATURES[n](x1, x2) for n in self.names], axis=1)

    def __eq__(self, other):
        return isinstance(other, FeatureMap) and other.names == self.names

    def __hash__(self):
        return hash(self.names)

    def __repr__(self):
        return f"FeatureMap({list(self.names)})"
