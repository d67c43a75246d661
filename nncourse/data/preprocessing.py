"""Splitting, one-hot encoding and preprocessing fitted on the training set only.

The preprocessing objects follow one protocol: ``fit(X_train)`` learns the
statistics (mean, std, eigenvectors), ``transform(X)`` applies them to any data
(training, validation or test) without changing them, ``fit_transform`` does
both on the training set, and ``inverse_transform`` maps back. X is (N, D).

Array code asks ``nncourse.backend.get_array_module`` for the module of the
data it is given, so the same objects work on NumPy and CuPy arrays.
"""

from __future__ import annotations

import numpy as np

from nncourse import validation as V
from nncourse.backend import get_array_module, to_numpy

from .generators import make_rng

__all__ = [
    "NotFittedError",
    "train_val_test_split",
    "one_hot",
    "Standardizer",
    "PCAWhitening",
    "ZCAWhitening",
]


class NotFittedError(ValueError):
    """``transform`` was called before ``fit``."""


# ----------------------------------------------------------------------------- splitting


def _check_fraction(value, name):
    return V.real("train_val_test_split", name, value, low=0, high=1, high_open=True)


def _split_counts(n, val, test, at_least_one):
    """Sizes of the val and test parts of n samples (at least 1 when asked for)."""
    low = 1 if at_least_one else 0
    n_val = max(low, round(val * n)) if val > 0 else 0
    n_test = max(low, round(test * n)) if test > 0 else 0
    return n_val, n_test


def train_val_test_split(X, y, val=0.15, test=0.15, rng=None, seed=None, stratify=False):
    """Shuffle and split ``(X, y)`` into training, validation and test parts.

    ``val`` and ``test`` are fractions of the samples (each in [0, 1), summing
    below 1); the training set gets the rest. With ``stratify=True`` every class
    is split in the same proportions (per-class rounding, so the part sizes can
    differ from the unstratified ones by a sample or two per class).

    Returns ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``; a part
    asked with fraction 0 is empty.
    """
    where = "train_val_test_split"
    val, test = _check_fraction(val, "val"), _check_fraction(test, "test")
    stratify = V.boolean(where, "stratify", stratify)
    if val + test >= 1.0:
        raise ValueError(
            f"{where}: val + test must be < 1 to leave training data, got {val + test}"
        )
    try:
        X = X if hasattr(X, "shape") else np.asarray(X)
        y = y if hasattr(y, "shape") else np.asarray(y)
    except (TypeError, ValueError):  # ragged nested lists
        raise TypeError(f"{where}: expected X and y as arrays, got ragged lists") from None
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{where}: X and y must be arrays with a sample axis")
    n = len(X)
    if n == 0:
        raise ValueError(f"{where}: X is empty")
    if len(y) != n:
        raise ValueError(f"{where}: X has {n} samples but y has {len(y)}")
    gen = make_rng(rng, seed, where)

    if stratify:
        y_host = to_numpy(y)
        groups = [np.flatnonzero(y_host == c) for c in np.unique(y_host)]
    else:
        groups = [np.arange(n)]
    parts = ([], [], [])
    for idx in groups:
        idx = gen.permutation(idx)
        n_val, n_test = _split_counts(len(idx), val, test, at_least_one=not stratify)
        if len(idx) - n_val - n_test < 1 and not stratify:
            raise ValueError(
                f"{where}: {n} samples are too few for val={val}, test={test} "
                "(no training sample would be left)"
            )
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    out = []
    for chunks in parts:
        idx = gen.permutation(np.concatenate(chunks))
        out.append((X[idx], y[idx]))
    if len(out[0][0]) == 0:
        raise ValueError(f"{where}: no training sample left with val={val}, test={test}")
    return tuple(out)


def one_hot(y, num_classes=None, dtype=np.float64):
    """One-hot encode integer labels: y (N,) in 0..C-1 -> (N, C) of ``dtype``.

    ``num_classes`` defaults to ``max(y) + 1``.
    """
    xp = get_array_module(y)
    try:
        y = xp.asarray(y)
        out_dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"one_hot: expected y as an array of labels and a numeric dtype, got {V.show(y)} "
            f"and {V.show(dtype)}"
        ) from None
    if out_dtype.kind not in "fiub":
        raise TypeError(f"one_hot: expected a numeric dtype, got {V.show(dtype)}")
    if num_classes is not None:
        num_classes = V.positive_int("one_hot", "num_classes (or None)", num_classes)
    if y.ndim != 1:
        raise ValueError(f"one_hot: y must be 1-D (N,), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not bool(xp.all(y == xp.round(y))):
            raise ValueError("one_hot: y must hold integer class labels, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"one_hot: y must hold integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and int(y.min()) < 0:
        raise ValueError(f"one_hot: labels must be >= 0, got minimum {int(y.min())}")
    top = int(y.max()) + 1 if y.size else 0
    if num_classes is None:
        num_classes = top
    if num_classes < top:
        raise ValueError(f"one_hot: num_classes={num_classes} but y contains label {top - 1}")
    out = xp.zeros((len(y), int(num_classes)), dtype=out_dtype)
    out[xp.arange(len(y)), y] = 1
    return out


# ----------------------------------------------------------------------------- preprocessing


class _Preprocessor:
    """Shared checks: 2-D input, fitted before use, same number of features."""

    n_features_ = None

    def _check_X(self, X, method):
        name = f"{type(self).__name__}.{method}"
        xp = get_array_module(X)
        if hasattr(X, "dtype") and X.dtype.kind not in "fiub":  # complex would lose its imag
            raise TypeError(f"{name}: expected X of a real numeric dtype, got dtype {X.dtype}")
        try:
            X = xp.asarray(X, dtype=np.float64) if xp is np else xp.asarray(X)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}: expected X as a numeric array (N, D), got {V.show(X)}"
            ) from None
        if X.ndim != 2:
            raise ValueError(f"{name}: expected X of shape (N, D), got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name}: X is empty (0 samples)")
        if not bool(xp.all(xp.isfinite(X))):
            raise V.NonFiniteError(f"{name}: expected finite X, got X containing NaN or inf")
        if method != "fit":
            if self.n_features_ is None:
                raise NotFittedError(f"{name}: call fit(X_train) before {method}")
            if X.shape[1] != self.n_features_:
                raise ValueError(
                    f"{name}: expected X with {self.n_features_} features (as in fit), "
                    f"got {X.shape[1]}"
                )
        return X

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


class Standardizer(_Preprocessor):
    """Per-feature standardisation: ``(X - mean) / std`` with training statistics.

    ``std`` is the biased (population) std; a feature whose std is below
    ``eps`` (constant on the training set) is only centred, never divided by ~0.
    Attributes after fit: ``mean_`` (D,), ``std_`` (D,), ``n_features_``.
    """

    def __init__(self, eps=1e-8):
        self.eps = V.real("Standardizer", "eps", eps, low=0)
        self.mean_ = self.std_ = None

    def fit(self, X):
        X = self._check_X(X, "fit")
        xp = get_array_module(X)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.std_ = xp.where(std < self.eps, 1.0, std)
        self.n_features_ = X.shape[1]
        return self

    def transform(self, X):
        X = self._check_X(X, "transform")
        return (X - self.mean_) / self.std_

    def inverse_transform(self, Z):
        Z = self._check_X(Z, "inverse_transform")
        return Z * self.std_ + self.mean_

    def __repr__(self):
        return f"Standardizer(eps={self.eps})"


class _Whitening(_Preprocessor):
    """Eigen-decomposition of the training covariance, shared by PCA and ZCA."""

    def __init__(self, eps=1e-5):
        self.eps = V.real(type(self).__name__, "eps", eps, low=0, low_open=True)
        self.mean_ = self.eigenvalues_ = self.eigenvectors_ = None

    def _fit_eig(self, X):
        """(mean, eigenvalues descending, eigenvectors as columns) of the training set,
        computed without touching ``self`` (``fit`` assigns once everything is checked)."""
        X = self._check_X(X, "fit")
        xp = get_array_module(X)
        mean = X.mean(axis=0)
        Xc = X - mean
        cov = Xc.T @ Xc / X.shape[0]  # biased covariance, (D, D)
        lam, U = xp.linalg.eigh(cov)  # ascending; columns of U are eigenvectors
        order = xp.argsort(lam)[::-1]
        # Round-off can make tiny eigenvalues negative; they are 0.
        return xp, mean, xp.maximum(lam[order], 0.0), U[:, order]

    def _set_eig(self, mean, lam, U):
        self.mean_, self.eigenvalues_, self.eigenvectors_ = mean, lam, U
        self.n_features_ = U.shape[0]


class PCAWhitening(_Whitening):
    """PCA whitening: rotate onto the principal axes and divide by their std.

    ``Z = (X - mean) @ U_k / sqrt(lambda_k + eps)`` with the top ``k =
    n_components`` eigenvectors ``U_k`` (D, k) and eigenvalues ``lambda_k`` of
    the training covariance. ``eps`` guards small eigenvalues (the notes'
    regulariser): the whitened training covariance is ``diag(lambda / (lambda +
    eps))``, close to the identity where ``lambda >> eps``. Output (N, k).

    Attributes after fit: ``mean_`` (D,), ``eigenvalues_`` (D,) descending,
    ``eigenvectors_`` (D, D) as columns, ``components_`` (k, D).
    """

    def __init__(self, n_components=None, eps=1e-5):
        super().__init__(eps)
        if n_components is not None:
            V.positive_int("PCAWhitening", "n_components (or None)", n_components)
        self.n_components = n_components

    def fit(self, X):
        k = self.n_components
        if k is not None:  # the attribute may have been changed since __init__
            V.positive_int("PCAWhitening.fit", "n_components (or None)", k)
        X = self._check_X(X, "fit")
        d = X.shape[1]
        k = d if k is None else int(k)
        if k > d:
            raise ValueError(
                f"PCAWhitening.fit: expected n_components in 1..{d} for {d} features, "
                f"got {self.n_components!r}"
            )
        xp, mean, lam, U = self._fit_eig(X)
        self._set_eig(mean, lam, U)
        self.n_components_ = k
        self.components_ = U[:, :k].T
        self._scale = xp.sqrt(lam[:k] + self.eps)
        return self

    def transform(self, X):
        X = self._check_X(X, "transform")
        return (X - self.mean_) @ self.components_.T / self._scale

    def inverse_transform(self, Z):
        """Back to input space; exact only when all components are kept."""
        if self.n_features_ is None:
            raise NotFittedError("PCAWhitening.inverse_transform: call fit(X_train) first")
        Z = get_array_module(Z).asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_components_:
            raise ValueError(
                f"PCAWhitening.inverse_transform: expected Z of shape (N, {self.n_components_}), "
                f"got {Z.shape}"
            )
        return (Z * self._scale) @ self.components_ + self.mean_

    def __repr__(self):
        return f"PCAWhitening(n_components={self.n_components}, eps={self.eps})"


class ZCAWhitening(_Whitening):
    """ZCA (Mahalanobis) whitening: PCA whitening rotated back to the input axes.

    ``Z = (X - mean) @ W`` with the symmetric ``W = U diag(1 / sqrt(lambda +
    eps)) U^T`` (D, D). Of all whitening transforms it changes the data least
    (minimum ``||Z - (X - mean)||``), so whitened images still look like images.

    Attributes after fit: ``mean_``, ``eigenvalues_``, ``eigenvectors_`` and
    ``W_`` (D, D).
    """

    def fit(self, X):
        xp, mean, lam, U = self._fit_eig(X)
        self._set_eig(mean, lam, U)
        self.W_ = (U / xp.sqrt(lam + self.eps)) @ U.T
        self._W_inv = (U * xp.sqrt(lam + self.eps)) @ U.T
        return self

    def transform(self, X):
        X = self._check_X(X, "transform")
        return (X - self.mean_) @ self.W_

    def inverse_transform(self, Z):
        Z = self._check_X(Z, "inverse_transform")
        return Z @ self._W_inv + self.mean_

    def __repr__(self):
        return f"ZCAWhitening(eps={self.eps})"
