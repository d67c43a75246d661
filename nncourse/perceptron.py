"""Rosenblatt's perceptron and Widrow-Hoff's Adaline, as in the notes.

Perceptron (Rosenblatt, 1957), labels ``y`` in {-1, +1}::

    w = 0, b = 0
    repeat over the examples, in order:
        if y_i (w . x_i + b) <= 0:        # a mistake (0 counts as one)
            w += lr * y_i x_i
            b += lr * y_i                 # the bias is the weight of a constant input 1

On linearly separable data it stops after a finite number of updates: at most
``(R / gamma)^2`` (Novikoff, 1962; :func:`novikoff_bound`), whatever ``lr`` (starting
from 0, ``lr`` only rescales w and b). On data that is not separable (XOR) it never
stops by itself; ``fit`` gives up after ``max_epochs`` with a warning.

Adaline (Widrow & Hoff, 1960) trains the same linear unit with the delta rule, a
per-example gradient step on E_p = (1/2)(t_p - o_p)^2 of the *linear* output
o = w . x + b: ``w += lr (t - o) x``, ``b += lr (t - o)`` (least mean squares).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import validation as V
from .init import as_generator

__all__ = ["Perceptron", "Adaline", "novikoff_bound", "ConvergenceWarning"]


class ConvergenceWarning(UserWarning):
    """The algorithm stopped at its epoch limit without converging."""


def _as_float(who, name, a):
    """``a`` as a float64 host array, or a TypeError naming the caller."""
    if V.is_array(a) and a.dtype.kind not in "fiub":  # complex would lose its imag
        raise TypeError(f"{who}: expected {name} of a real numeric dtype, got dtype {a.dtype}")
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: expected {name} as a numeric array, got {V.show(a)}") from None


def _check_X(who, X, width=None):
    X = _as_float(who, "X", X)
    if X.ndim != 2:
        raise ValueError(f"{who}: expected X of shape (N, D), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{who}: expected at least one example, got X of shape {X.shape}")
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{who}: expected X of shape (N, {width}), got shape {X.shape}")
    if X.dtype.kind not in "fiub" or not np.isfinite(X).all():
        raise ValueError(f"{who}: expected finite numbers in X, got dtype {X.dtype} with NaN/inf")
    return X.astype(np.float64, copy=False)


def _check_pm1(who, X, y):
    y = _as_float(who, "labels y", y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"{who}: expected y of shape ({X.shape[0]},), got shape {y.shape}")
    values = np.unique(y)
    if not np.isin(values, (-1, 1)).all():
        raise ValueError(
            f"{who}: expected labels in {{-1, +1}}, got values {values[:10]}; "
            "for 0/1 labels use y = 2 * y - 1"
        )
    return y.astype(np.float64)


def _positive(who, name, v):
    return V.real(who, name, v, low=0, low_open=True)


class _LinearUnit:
    """Shared parts: the linear output w . x + b and the thresholded prediction."""

    w: np.ndarray | None = None
    b: float = 0.0

    def decision_function(self, X):
        """w . x + b for every row: X (N, D) -> (N,)."""
        who = f"{type(self).__name__}.decision_function"
        if self.w is None:
            raise ValueError(f"{who}: the model is not fitted yet; call fit(X, y) first")
        X = _check_X(who, X, width=self.w.shape[0])
        return X @ self.w + self.b

    def predict(self, X):
        """Labels in {-1, +1}: +1 where w . x + b >= 0. X (N, D) -> (N,) int."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def score(self, X, y):
        """Fraction of correctly classified examples."""
        predicted = self.predict(X)
        y = _check_pm1(f"{type(self).__name__}.score", predicted[:, None], y)
        return float((predicted == y).mean())


class Perceptron(_LinearUnit):
    """Rosenblatt's perceptron, exactly as in the notes (see the module docstring).

    After ``fit``: ``w`` (D,), ``b`` (float), ``mistakes_per_epoch`` (list of int, one
    per epoch run), ``n_updates`` (total number of updates = mistakes), ``converged``
    (True when an epoch made no mistake) and ``n_epochs``.
    """

    def __init__(self, max_epochs=100, lr=1.0):
        self.max_epochs = V.positive_int("Perceptron", "max_epochs", max_epochs)
        self.lr = _positive("Perceptron", "lr", lr)
        self.w, self.b = None, 0.0
        self.mistakes_per_epoch: list[int] = []
        self.n_updates, self.converged = 0, False

    @property
    def n_epochs(self) -> int:
        return len(self.mistakes_per_epoch)

    def fit(self, X, y):
        """X (N, D) float, y (N,) in {-1, +1}. Returns self."""
        X = _check_X("Perceptron.fit", X)
        y = _check_pm1("Perceptron.fit", X, y)
        w, b, lr = np.zeros(X.shape[1]), 0.0, self.lr
        self.mistakes_per_epoch, self.n_updates, self.converged = [], 0, False
        for _ in range(self.max_epochs):
            mistakes = 0
            for x_i, y_i in zip(X, y):
                if y_i * (x_i @ w + b) <= 0:
                    w += (lr * y_i) * x_i
                    b += lr * y_i
                    mistakes += 1
            self.mistakes_per_epoch.append(mistakes)
            self.n_updates += mistakes
            if mistakes == 0:
                self.converged = True
                break
        self.w, self.b = w, float(b)
        if not self.converged:
            warnings.warn(
                f"Perceptron.fit: no convergence after max_epochs={self.max_epochs} epochs "
                f"({self.mistakes_per_epoch[-1]} mistakes in the last one); the data are "
                "probably not linearly separable",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def __repr__(self):
        return f"Perceptron(max_epochs={self.max_epochs}, lr={self.lr})"


class Adaline(_LinearUnit):
    """Widrow-Hoff's Adaline: the delta rule (per-example LMS) on the linear output.

    ``fit(X, t)`` starts from w = 0, b = 0 and makes ``epochs`` passes, in an order
    shuffled by ``rng`` each epoch (``shuffle=False`` keeps the data order); after each
    pass ``mse_per_epoch`` records the mean squared error (1/N) sum_p (t_p - o_p)^2 over
    the whole set. Targets are real numbers (use {-1, +1} for classification; ``predict``
    thresholds at 0). A too large ``lr`` makes LMS diverge: ``FloatingPointError``.
    """

    def __init__(self, lr=0.01, epochs=50, shuffle=True, rng=None):
        self.lr = _positive("Adaline", "lr", lr)
        self.epochs = V.positive_int("Adaline", "epochs", epochs)
        self.shuffle = V.boolean("Adaline", "shuffle", shuffle)
        self.rng = as_generator(rng, who="Adaline")
        self.w, self.b = None, 0.0
        self.mse_per_epoch: list[float] = []

    def fit(self, X, t):
        """X (N, D), targets t (N,) real. Returns self."""
        X = _check_X("Adaline.fit", X)
        t = _as_float("Adaline.fit", "targets t", t)
        if t.shape != (X.shape[0],) or not np.isfinite(t).all():
            raise ValueError(
                f"Adaline.fit: expected finite targets of shape ({X.shape[0]},), got {t.shape}"
            )
        w, b, lr = np.zeros(X.shape[1]), 0.0, self.lr
        self.mse_per_epoch = []
        for epoch in range(self.epochs):
            order = self.rng.permutation(len(X)) if self.shuffle else range(len(X))
            for p in order:
                delta = t[p] - (X[p] @ w + b)  # the error of the linear output
                w += (lr * delta) * X[p]
                b += lr * delta
            err = t - (X @ w + b)
            mse = float(err @ err) / len(X)
            if not np.isfinite(mse):
                raise FloatingPointError(
                    f"Adaline.fit: the mean squared error became {mse} at epoch {epoch + 1}; "
                    f"the delta rule diverged, try a smaller learning rate (now lr={lr})"
                )
            self.mse_per_epoch.append(mse)
        self.w, self.b = w, float(b)
        return self

    def __repr__(self):
        return f"Adaline(lr={self.lr}, epochs={self.epochs}, shuffle={self.shuffle})"


def novikoff_bound(X, y, w_star=None, max_iter=10_000, tol=1e-6):
    """Novikoff's bound (R / gamma)^2 on the number of perceptron updates.

    The bias is folded in as a constant input: x' = (x, 1), w' = (w, b), so the
    perceptron with bias is the perceptron without bias on the x'. Then
    ``R = max_i ||x'_i||`` and ``gamma = min_i y_i (w' . x'_i)`` for a *unit* vector w'
    that separates the data. Any separating w' gives a valid bound (a larger margin
    gives a tighter one).

    ``w_star``: the separator to use, either ``(w, b)`` (e.g. the true separator of
    ``nncourse.data.linearly_separable(..., return_params=True)``) or a vector of
    length D + 1 with the bias last; it is normalised here. With ``w_star=None`` the
    separator is the maximum-margin direction, estimated by Gilbert's algorithm: the
    point of the convex hull of {y_i x'_i} nearest to the origin (its direction is the
    max-margin w'; the margin used is the one that direction actually achieves, so the
    bound stays valid even if the iteration stops early).

    ``max_iter`` (a positive int) and ``tol`` (>= 0, the relative duality gap at which it
    stops) bound Gilbert's iteration; they are checked whether or not it runs.

    Returns the bound as a float. Raises ValueError when ``w_star`` does not separate
    the data, or (``w_star=None``) when no separating direction is found.
    """
    max_iter = V.positive_int("novikoff_bound", "max_iter", max_iter)
    tol = V.real("novikoff_bound", "tol", tol, low=0)
    X = _check_X("novikoff_bound", X)
    y = _check_pm1("novikoff_bound", X, y)
    Z = y[:, None] * np.hstack([X, np.ones((len(X), 1))])  # y_i x'_i, shape (N, D + 1)
    R = float(np.sqrt((Z * Z).sum(axis=1).max()))
    if w_star is not None:
        if isinstance(w_star, tuple) and len(w_star) == 2:
            w_star = np.append(
                _as_float("novikoff_bound", "w", w_star[0]),
                V.real("novikoff_bound", "b in w_star=(w, b)", w_star[1]),
            )
        w_star = _as_float("novikoff_bound", "w_star", w_star)
        if w_star.shape != (Z.shape[1],) or not np.linalg.norm(w_star) > 0:
            raise ValueError(
                f"novikoff_bound: expected w_star=(w, b) or a nonzero vector of length "
                f"{Z.shape[1]} (bias last), got shape {w_star.shape}"
            )
        gamma = float((Z @ w_star).min() / np.linalg.norm(w_star))
        if gamma <= 0:
            raise ValueError(
                f"novikoff_bound: w_star does not separate the data (margin {gamma:.3g} <= 0)"
            )
    else:
        gamma = _max_margin(Z, max_iter, tol)
    return (R / gamma) ** 2


def _max_margin(Z, max_iter, tol):
    """Largest margin min_i z_i . u / ||u|| found by Gilbert's algorithm on the hull of Z."""
    p = Z[np.argmin((Z * Z).sum(axis=1))].copy()  # a point of the hull
    best = -np.inf
    for _ in range(max_iter):
        norm = np.linalg.norm(p)
        if norm == 0:
            break  # the origin is in the hull: not separable
        proj = Z @ p
        best = max(best, proj.min() / norm)  # margin of the direction p / ||p||
        q = Z[np.argmin(proj)]  # support point of the hull in the direction -p
        d = q - p
        dd = d @ d
        if dd == 0 or norm - best <= tol * norm:  # duality gap closed
            break
        step = min(1.0, max(0.0, -(p @ d) / dd))  # exact line search on [p, q]
        p = p + step * d
    if not best > 0:
        raise ValueError(
            "novikoff_bound: found no separating direction; the data do not look linearly "
            "separable (the bound only exists for separable data)"
        )
    return float(best)
