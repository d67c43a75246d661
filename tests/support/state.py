"""State snapshots for the tests of wrong calls: a wrong call must leave everything as it was."""

from __future__ import annotations

import numpy as np


def same(a, b) -> bool:
    """Deep equality of states (dicts, sequences, arrays with NaN compared equal)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b
