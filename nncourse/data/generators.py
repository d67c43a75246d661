"""Small synthetic data sets for the lectures and assignments.

Every generator returns ``(X, y)`` as NumPy arrays: ``X`` is float64 of shape
``(N, 2)`` (``(N, 1)`` for :func:`regression_1d`), ``y`` holds int64 class labels
of shape ``(N,)`` (float64 targets of shape ``(N, 1)`` for regression).

Randomness comes only from a ``numpy.random.Generator``: pass ``rng`` (an int seed
or a Generator) or ``seed`` (an int). The same seed gives the same data.
Classes are balanced: class ``k`` of ``K`` gets ``N // K`` points, the first
``N % K`` classes one more. Points come in random order.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import validation as V
from ..init import as_generator

__all__ = [
    "make_rng",
    "linearly_separable",
    "xor",
    "blobs",
    "moons",
    "circles",
    "spirals",
    "regression_1d",
]


# ----------------------------------------------------------------------------- checks


def make_rng(rng=None, seed=None, where="make_rng"):
    """A ``numpy.random.Generator`` from ``rng`` (None, int or Generator) or ``seed``."""
    if rng is not None and seed is not None:
        raise ValueError(f"{where}: give rng= or seed=, not both")
    return as_generator(rng if rng is not None else seed, who=where)


def _check_n(n_samples, where, minimum=1):
    return V.integer(where, "n_samples", n_samples, low=minimum)


def _check_nonneg(value, name, where):
    return V.real(where, name, value, low=0)


def _labels(y01, labels, where):
    """Map binary labels {0, 1} to the requested coding."""
    if isinstance(labels, str) and labels == "01":
        return y01
    if isinstance(labels, str) and labels == "pm1":
        return 2 * y01 - 1
    raise ValueError(f"{where}: labels must be '01' or 'pm1', got {labels!r}")


def _class_sizes(n, k):
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _shuffle(X, y, rng):
    order = rng.permutation(len(X))
    return X[order], y[order]


# ----------------------------------------------------------------------------- generators


def linearly_separable(
    n_samples=100,
    margin=0.2,
    noise=0.0,
    labels="pm1",
    rng=None,
    seed=None,
    return_params=False,
):
    """Two classes in the plane split by a random line with a guaranteed margin.

    A unit normal ``w`` (random direction) and offset ``b`` (|b| <= 0.25) define
    the true separator ``w . x + b = 0``. Points are drawn uniformly in the
    square ``[-(1 + margin), 1 + margin]^2``, jittered by Gaussian noise of std
    ``noise``, and redrawn while they lie closer than ``margin`` to the line, so
    the geometric margin of ``(w, b)`` on the data is at least ``margin``.

    Labels are ``sign(w . x + b)`` in {-1, +1} (``labels="pm1"``, the perceptron
    convention of the notes) or in {0, 1} (``labels="01"``).

    Returns ``(X, y)`` with X (N, 2) float64 and y (N,) int64, or
    ``(X, y, w, b)`` with w (2,) and b a float when ``return_params=True``.
    """
    where = "linearly_separable"
    n = _check_n(n_samples, where, minimum=2)
    margin = _check_nonneg(margin, "margin", where)
    noise = _check_nonneg(noise, "noise", where)
    _labels(np.zeros(1, dtype=np.int64), labels, where)  # validate early
    return_params = V.boolean(where, "return_params", return_params)
    gen = make_rng(rng, seed, where)

    angle = gen.uniform(0.0, 2.0 * np.pi)
    w = np.array([np.cos(angle), np.sin(angle)])
    b = float(gen.uniform(-0.25, 0.25))
    half = 1.0 + margin

    # Rejection sampling, one class at a time, keeps the classes balanced.
    parts_X, parts_y = [], []
    for cls, count in zip((1, 0), _class_sizes(n, 2)):
        side = 1.0 if cls == 1 else -1.0
        got = np.empty((0, 2))
        while len(got) < count:
            cand = gen.uniform(-half, half, size=(2 * count + 16, 2))
            cand = cand + noise * gen.standard_normal(cand.shape)
            keep = side * (cand @ w + b) >= margin
            got = np.concatenate([got, cand[keep]])
        parts_X.append(got[:count])
        parts_y.append(np.full(count, cls, dtype=np.int64))
    X, y = _shuffle(np.concatenate(parts_X), np.concatenate(parts_y), gen)
    y = _labels(y, labels, where)
    if return_params:
        return X, y, w, b
    return X, y


def xor(n_samples=200, noise=0.2, labels="01", rng=None, seed=None):
    """XOR: four Gaussian clusters at (+-1, +-1) with std ``noise``.

    Class 1 where exactly one coordinate of the cluster centre is positive
    (``labels="01"``; ``"pm1"`` gives {-1, +1}). Not linearly separable.
    Returns X (N, 2) float64, y (N,) int64.
    """
    where = "xor"
    n = _check_n(n_samples, where)
    noise = _check_nonneg(noise, "noise", where)
    _labels(np.zeros(1, dtype=np.int64), labels, where)
    gen = make_rng(rng, seed, where)
    corners = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
    corner_labels = np.array([0, 0, 1, 1])
    which = np.arange(n) % 4
    X = corners[which] + noise * gen.standard_normal((n, 2))
    X, y = _shuffle(X, corner_labels[which].astype(np.int64), gen)
    return X, _labels(y, labels, where)


def blobs(n_samples=300, centers=3, cluster_std=1.0, rng=None, seed=None):
    """Isotropic Gaussian blobs, one class per centre.

    ``centers`` is a number of classes (centres drawn uniformly in
    ``[-5, 5]^2``) or an array of shape (K, 2). ``cluster_std`` (the noise) is
    a number or one std per centre. Returns X (N, 2) float64, y (N,) int64 in
    0..K-1.
    """
    where = "blobs"
    n = _check_n(n_samples, where)
    gen = make_rng(rng, seed, where)
    if isinstance(centers, numbers.Integral) or isinstance(centers, bool):
        centers = gen.uniform(-5.0, 5.0, size=(V.positive_int(where, "centers", centers), 2))
    try:
        centers = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: expected centers as an int or an array (K, 2), got {V.show(centers)}"
        ) from None
    if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] != 2:
        raise ValueError(f"{where}: centers must be an int or an array (K, 2), got {centers.shape}")
    k = len(centers)
    try:
        if isinstance(cluster_std, bool | np.bool_) or np.iscomplexobj(cluster_std):
            raise TypeError
        std = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (k,)).copy()
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: expected cluster_std as a number or one per centre ({k}), "
            f"got {V.show(cluster_std)}"
        ) from None
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ValueError(f"{where}: cluster_std must be >= 0, got {cluster_std}")
    which = np.repeat(np.arange(k), _class_sizes(n, k))
    X = centers[which] + std[which, None] * gen.standard_normal((n, 2))
    return _shuffle(X, which.astype(np.int64), gen)


def moons(n_samples=200, noise=0.1, labels="01", rng=None, seed=None):
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Gaussian noise of std ``noise`` is added to every coordinate.
    Returns X (N, 2) float64, y (N,) int64.
    """
    where = "moons"
    n = _check_n(n_samples, where)
    noise = _check_nonneg(noise, "noise", where)
    _labels(np.zeros(1, dtype=np.int64), labels, where)
    gen = make_rng(rng, seed, where)
    n0, n1 = _class_sizes(n, 2)
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * gen.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    X, y = _shuffle(X, y, gen)
    return X, _labels(y, labels, where)


def circles(n_samples=200, noise=0.05, factor=0.5, labels="01", rng=None, seed=None):
    """Two concentric circles: outer radius 1 (class 0), inner radius ``factor`` (class 1).

    ``0 < factor < 1``; Gaussian noise of std ``noise`` on every coordinate.
    Returns X (N, 2) float64, y (N,) int64.
    """
    where = "circles"
    n = _check_n(n_samples, where)
    noise = _check_nonneg(noise, "noise", where)
    factor = V.real(where, "factor", factor, low=0, high=1, low_open=True, high_open=True)
    _labels(np.zeros(1, dtype=np.int64), labels, where)
    gen = make_rng(rng, seed, where)
    n0, n1 = _class_sizes(n, 2)
    t0 = np.linspace(0.0, 2.0 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2.0 * np.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    X = np.concatenate([outer, inner]) + noise * gen.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    X, y = _shuffle(X, y, gen)
    return X, _labels(y, labels, where)


def spirals(n_samples=300, n_arms=2, noise=0.2, rng=None, seed=None):
    """Interleaved spiral arms, one class per arm (CS231n's spiral data).

    Arm ``k`` has radius growing from 0 to 1 while its angle sweeps
    ``[4k, 4(k + 1)]`` radians; ``noise`` is the std of Gaussian jitter on that
    angle (in radians). Returns X (N, 2) float64, y (N,) int64 in 0..n_arms-1.
    """
    where = "spirals"
    n = _check_n(n_samples, where)
    noise = _check_nonneg(noise, "noise", where)
    n_arms = V.integer(where, "n_arms", n_arms, low=2)
    gen = make_rng(rng, seed, where)
    parts_X, parts_y = [], []
    for k, count in enumerate(_class_sizes(n, int(n_arms))):
        r = np.linspace(0.0, 1.0, count)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), count) + noise * gen.standard_normal(count)
        parts_X.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        parts_y.append(np.full(count, k, dtype=np.int64))
    return _shuffle(np.concatenate(parts_X), np.concatenate(parts_y), gen)


def regression_1d(
    n_samples=100, kind="sine", noise=0.1, x_range=(-np.pi, np.pi), rng=None, seed=None
):
    """1-D regression targets for the universal-approximation demo.

    ``x`` is uniform in ``x_range`` and sorted (handy for line plots);
    ``kind="sine"`` gives ``sin(x)``, ``kind="step"`` gives 0 for x < 0 and 1 for
    x >= 0; Gaussian noise of std ``noise`` is added to the target.
    Returns X (N, 1) float64 and y (N, 1) float64 (the shape of a one-output model).
    """
    where = "regression_1d"
    n = _check_n(n_samples, where)
    noise = _check_nonneg(noise, "noise", where)
    targets = {"sine": np.sin, "step": lambda x: (x >= 0).astype(np.float64)}
    if not isinstance(kind, str) or kind not in targets:
        raise ValueError(f"{where}: kind must be one of {sorted(targets)}, got {kind!r}")
    if not isinstance(x_range, tuple | list) or len(x_range) != 2:
        raise TypeError(f"{where}: expected x_range as a pair (low, high), got {V.show(x_range)}")
    lo, hi = (V.real(where, "x_range end", v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"{where}: x_range must be (low, high) with low < high, got {x_range}")
    gen = make_rng(rng, seed, where)
    x = np.sort(gen.uniform(lo, hi, size=n))
    y = targets[kind](x) + noise * gen.standard_normal(n)
    return x[:, None], y[:, None]
