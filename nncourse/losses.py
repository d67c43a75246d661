"""Losses: ``forward(scores, y) -> float`` (mean over the batch), ``backward() -> dscores``.

The loss is the empirical risk of the notes, (1/N) sum_n l(f(x_n), y_n), so every
gradient carries the factor 1/N. ``accuracy(scores, y)`` turns scores into the
fraction of correct predictions where that makes sense (``None`` otherwise).

On NumPy ``forward`` returns a ``numpy.float64`` (a ``float``); on CuPy it returns
a 0-d device array, so a training step never waits for the GPU unless the value
is printed or converted with ``float()``.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import validation as V
from .backend import get_array_module

__all__ = [
    "Loss",
    "MSELoss",
    "BCEWithLogitsLoss",
    "SoftmaxCrossEntropyLoss",
    "MulticlassHingeLoss",
    "MaxMarginLoss",
]


def _as_array(loss, name, a, like):
    xp = get_array_module(like)
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        try:
            a = xp.asarray(a)
        except (TypeError, ValueError):  # ragged lists, objects
            raise TypeError(f"{loss}: expected {name} as an array, got {V.show(a)}") from None
    return a


def _check_scores(loss, s):
    if not hasattr(s, "ndim") or s.dtype.kind != "f":
        raise TypeError(
            f"{loss}: expected float scores, got {getattr(s, 'dtype', type(s).__name__)}"
        )
    if s.ndim == 0:
        raise ValueError(f"{loss}: expected scores with a batch axis, got a 0-d array")
    if isinstance(s, np.ndarray) and not np.isfinite(s).all():
        raise V.NonFiniteError(
            f"{loss}: expected finite scores, got {int((~np.isfinite(s)).sum())} NaN/inf "
            f"value(s); if this happens while training, the learning rate is probably too large"
        )
    if s.shape[0] == 0:
        raise ValueError(f"{loss}: expected a non-empty batch, got scores of shape {s.shape}")


def _check_targets(loss, y):
    """Real-valued targets: a real dtype and, on the host, no NaN/inf (one pass)."""
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{loss}: expected numeric targets, got dtype {y.dtype}")
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and not np.isfinite(y).all():
        raise V.NonFiniteError(
            f"{loss}: expected finite targets, got {int((~np.isfinite(y)).sum())} NaN/inf "
            f"value(s) in the targets (the data, not the model: check how y was made)"
        )


def _check_labels(loss, s, y):
    """Integer class labels of shape (N,) in [0, C) for scores (N, C)."""
    if s.ndim != 2:
        raise ValueError(f"{loss}: expected scores of shape (N, C), got {tuple(s.shape)}")
    y = _as_array(loss, "y", y, s)
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{loss}: expected integer class labels (dtype int), got dtype {y.dtype}; "
            f"convert with y.astype(int) (one-hot targets are not accepted)"
        )
    if y.shape != (s.shape[0],):
        raise ValueError(f"{loss}: expected labels of shape ({s.shape[0]},), got {tuple(y.shape)}")
    if isinstance(y, np.ndarray) and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(
            f"{loss}: expected labels in [0, {s.shape[1] - 1}] for {s.shape[1]} classes, "
            f"got values from {y.min()} to {y.max()}"
        )
    return y


class Loss:
    """Base class: keeps the cache; ``__call__`` is ``forward``."""

    def __init__(self):
        self.cache = None

    def __call__(self, scores, y):
        return self.forward(scores, y)

    def check(self, scores, y):
        """Check ``scores`` and targets ``y`` as ``forward`` does, without computing or
        caching anything; returns ``y`` as ``forward`` uses it. ``Trainer.fit`` calls it
        once on the whole training set, so a bad label fails before the first step."""
        _check_scores(self, scores)
        return _as_array(self, "y", y, scores)

    def _need_cache(self):
        if self.cache is None:
            raise ValueError(f"{self}: backward() called before forward()")
        return self.cache

    def accuracy(self, scores, y):
        return None

    def __repr__(self):
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean over all elements of (s - y)^2 (as ``torch.nn.MSELoss``)."""

    def check(self, scores, y):
        y = super().check(scores, y)
        if y.shape != scores.shape:
            if scores.ndim == 2 and scores.shape[1] == 1 and y.shape == (scores.shape[0],):
                y = y.reshape(-1, 1)
            else:
                raise ValueError(
                    f"{self}: expected targets of shape {tuple(scores.shape)}, got {tuple(y.shape)}"
                )
        _check_targets(self, y)
        return y

    def forward(self, scores, y):
        y = self.check(scores, y)
        diff = scores - y.astype(scores.dtype, copy=False)
        self.cache = diff
        return (diff * diff).mean()

    def backward(self):
        diff = self._need_cache()
        return diff * (2.0 / diff.size)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits s with targets y in [0, 1]:
    l = -y log sigmoid(s) - (1 - y) log(1 - sigmoid(s)) = max(s, 0) - s y + log(1 + e^{-|s|}).

    Scores of shape (N,) or (N, 1); targets of the same number of elements.
    """

    def check(self, scores, y):
        y = super().check(scores, y)
        if scores.ndim == 2 and scores.shape[1] == 1:
            y = y.reshape(-1, 1) if y.shape == (scores.shape[0],) else y
        if y.shape != scores.shape or scores.ndim > 2:
            raise ValueError(
                f"{self}: expected scores (N,) or (N, 1) and targets of the same shape, "
                f"got scores {tuple(scores.shape)} and targets {tuple(y.shape)}"
            )
        _check_targets(self, y)
        if isinstance(y, np.ndarray) and (y.min() < 0 or y.max() > 1):
            raise ValueError(
                f"{self}: expected targets in [0, 1], got values in [{y.min()}, {y.max()}]"
            )
        return y

    def forward(self, scores, y):
        y = self.check(scores, y)
        xp = get_array_module(scores)
        y = y.astype(scores.dtype, copy=False)
        self.cache = (scores, y)
        return (xp.maximum(scores, 0) - scores * y + xp.log1p(xp.exp(-xp.abs(scores)))).mean()

    def backward(self):
        s, y = self._need_cache()
        return (F.sigmoid(s) - y) / s.size

    def accuracy(self, scores, y):
        """Fraction of examples where (score > 0) agrees with (target > 0.5)."""
        y = self.check(scores, y)
        return float(((scores > 0) == (y > 0.5)).mean())


class SoftmaxCrossEntropyLoss(Loss):
    """Categorical cross-entropy of softmax(scores) against integer labels:
    l = -log softmax(s)_y = logsumexp(s) - s_y; gradient (p - onehot(y)) / N.

    Stable for logits of any size (max-subtraction inside log_softmax).
    """

    def check(self, scores, y):
        _check_scores(self, scores)
        return _check_labels(self, scores, y)

    def forward(self, scores, y):
        y = self.check(scores, y)
        xp = get_array_module(scores)
        logp = F.log_softmax(scores, axis=1)
        n = scores.shape[0]
        rows = xp.arange(n)
        self.cache = (logp, y, rows)
        return -logp[rows, y].mean()

    def backward(self):
        logp, y, rows = self._need_cache()
        n = logp.shape[0]
        xp = get_array_module(logp)
        d = xp.exp(logp)
        d[rows, y] -= 1.0
        d *= 1.0 / n
        return d

    def accuracy(self, scores, y):
        """Fraction of examples whose highest score is at the true label."""
        y = self.check(scores, y)
        return float((scores.argmax(axis=1) == y).mean())


class MulticlassHingeLoss(Loss):
    """Weston-Watkins multiclass SVM: l = sum_{j != y} max(0, s_j - s_y + margin),
    averaged over the batch (CS231n ``svm_loss``)."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = V.real("MulticlassHingeLoss", "margin", margin, low=0)

    def check(self, scores, y):
        _check_scores(self, scores)
        return _check_labels(self, scores, y)

    def forward(self, scores, y):
        y = self.check(scores, y)
        xp = get_array_module(scores)
        rows = xp.arange(scores.shape[0])
        margins = xp.maximum(0, scores - scores[rows, y][:, None] + self.margin)
        margins[rows, y] = 0
        self.cache = (margins, y, rows)
        return margins.sum() / scores.shape[0]

    def backward(self):
        margins, y, rows = self._need_cache()
        d = (margins > 0).astype(margins.dtype)
        d[rows, y] = -d.sum(axis=1)
        return d / margins.shape[0]

    def accuracy(self, scores, y):
        """Fraction of examples whose highest score is at the true label."""
        y = self.check(scores, y)
        return float((scores.argmax(axis=1) == y).mean())

    def __repr__(self):
        return f"MulticlassHingeLoss(margin={self.margin})"


class MaxMarginLoss(Loss):
    """The pairwise max-margin objective of the notes: J = max(0, margin + s_c - s),
    where ``s`` scores a true example and ``s_c`` a corrupted one (mean over pairs).

    ``forward(s, s_c)`` takes two score arrays of the same shape; ``backward()``
    returns the pair ``(ds, ds_c)``.
    """

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = V.real("MaxMarginLoss", "margin", margin, low=0)

    def check(self, s, s_c):
        _check_scores(self, s)
        s_c = _as_array(self, "s_c", s_c, s)
        if s_c.shape != s.shape:
            raise ValueError(
                f"{self}: expected true and corrupt scores of the same shape, "
                f"got {tuple(s.shape)} and {tuple(s_c.shape)}"
            )
        _check_scores(self, s_c)
        return s_c

    def forward(self, s, s_c):
        s_c = self.check(s, s_c)
        xp = get_array_module(s)
        j = xp.maximum(0, self.margin + s_c - s)
        self.cache = j
        return j.mean()

    def backward(self):
        j = self._need_cache()
        active = (j > 0).astype(j.dtype) / j.size
        return -active, active

    def __repr__(self):
        return f"MaxMarginLoss(margin={self.margin})"
