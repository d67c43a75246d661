"""Weight initialisers.

Every initialiser takes ``shape = (fan_out, fan_in)`` (the layout of
``Linear.W``) and an explicit random source ``rng`` (a ``numpy.random.Generator``
or an int seed; ``None`` draws fresh entropy). Numbers are drawn on the host
with NumPy, so a seed gives the same weights on every backend, then moved to the
active backend.

Glorot & Bengio (2010), the recipe in the notes: ``U[-b, b]`` with
``b = sqrt(6) / sqrt(fan_in + fan_out)``, i.e. variance ``2 / (fan_in + fan_out)``.
He et al. (2015) for ReLU: variance ``2 / fan_in`` (the extra factor 2 makes up
for ReLU zeroing half of its inputs).
"""

from __future__ import annotations

import math

import numpy as np

from . import backend

__all__ = [
    "as_generator",
    "zeros",
    "constant",
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "get",
]


def as_generator(rng=None, who="rng") -> np.random.Generator:
    """``rng`` as a ``numpy.random.Generator``: pass a Generator through, seed an int.

    ``None`` draws fresh entropy. ``who`` names the caller in the error message
    (``Dropout``, ``Trainer``, ...): every random source of the library comes here.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(
                f"{who}: expected a numpy.random.Generator, an int seed >= 0 or None "
                f"as rng, got the negative seed {rng}"
            )
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{who}: expected a numpy.random.Generator, an int seed >= 0 or None as rng, "
        f"got {type(rng).__name__} {rng!r}"
    )


def _fans(shape, who):
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"init.{who}: expected a shape of positive sizes, got {shape}")
    fan_out = shape[0]
    fan_in = shape[1] if len(shape) > 1 else shape[0]
    return shape, fan_in, fan_out


def _out(a, dtype):
    return backend.asarray(np.asarray(a, dtype=dtype))


def zeros(shape, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "zeros")
    return _out(np.zeros(shape), dtype)


def constant(shape, value=0.0, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "constant")
    return _out(np.full(shape, value), dtype)


def normal(shape, std=0.01, mean=0.0, rng=None, dtype=np.float32):
    """N(mean, std^2): the "small random numbers" initialisation (CS231n uses std 0.01)."""
    shape, _, _ = _fans(shape, "normal")
    if std < 0:
        raise ValueError(f"init.normal: expected std >= 0, got {std}")
    return _out(as_generator(rng).normal(mean, std, size=shape), dtype)


def uniform(shape, low=-0.05, high=0.05, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "uniform")
    if not low <= high:
        raise ValueError(f"init.uniform: expected low <= high, got low={low}, high={high}")
    return _out(as_generator(rng).uniform(low, high, size=shape), dtype)


def xavier_uniform(shape, rng=None, gain=1.0, dtype=np.float32):
    """U[-b, b], b = gain * sqrt(6 / (fan_in + fan_out))."""
    shape, fan_in, fan_out = _fans(shape, "xavier_uniform")
    b = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _out(as_generator(rng).uniform(-b, b, size=shape), dtype)


def xavier_normal(shape, rng=None, gain=1.0, dtype=np.float32):
    """N(0, gain^2 * 2 / (fan_in + fan_out))."""
    shape, fan_in, fan_out = _fans(shape, "xavier_normal")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _out(as_generator(rng).normal(0.0, std, size=shape), dtype)


def he_uniform(shape, rng=None, dtype=np.float32):
    """U[-b, b], b = sqrt(6 / fan_in): variance 2 / fan_in."""
    shape, fan_in, _ = _fans(shape, "he_uniform")
    b = math.sqrt(6.0 / fan_in)
    return _out(as_generator(rng).uniform(-b, b, size=shape), dtype)


def he_normal(shape, rng=None, dtype=np.float32):
    """N(0, 2 / fan_in)."""
    shape, fan_in, _ = _fans(shape, "he_normal")
    return _out(as_generator(rng).normal(0.0, math.sqrt(2.0 / fan_in), size=shape), dtype)


_BY_NAME = {
    "zeros": zeros,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
}


def get(init):
    """An initialiser from its name (``'he_normal'``) or a callable, unchanged."""
    if callable(init):
        return init
    if init in _BY_NAME:
        return _BY_NAME[init]
    raise ValueError(f"init.get: unknown initialiser {init!r}; expected one of {sorted(_BY_NAME)}")
