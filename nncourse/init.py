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
from . import validation as V

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
    who = f"init.{who}"
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise TypeError(
            f"{who}: expected a shape (fan_out, fan_in) of positive ints, got {V.show(shape)}"
        )
    for size in shape:
        try:
            V.positive_int(who, "size", size)
        except (TypeError, ValueError) as err:
            raise type(err)(
                f"{who}: expected a shape of positive sizes (ints), got {tuple(shape)}"
            ) from None
    shape = tuple(int(size) for size in shape)
    fan_out = shape[0]
    fan_in = shape[1] if len(shape) > 1 else shape[0]
    return shape, fan_in, fan_out


def _out(a, dtype, who):
    dtype = V.float_dtype(f"init.{who}", dtype)
    with np.errstate(over="ignore"):
        a = np.asarray(a, dtype=dtype)
    if not np.isfinite(a).all():  # e.g. constant(value=1e300) in float32
        raise ValueError(f"init.{who}: the values overflow {dtype} (inf); use smaller ones")
    return backend.asarray(a)


def zeros(shape, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "zeros")
    return _out(np.zeros(shape), dtype, "zeros")


def constant(shape, value=0.0, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "constant")
    value = V.real("init.constant", "value", value)
    return _out(np.full(shape, value), dtype, "constant")


def normal(shape, std=0.01, mean=0.0, rng=None, dtype=np.float32):
    """N(mean, std^2): the "small random numbers" initialisation (CS231n uses std 0.01)."""
    shape, _, _ = _fans(shape, "normal")
    std = V.real("init.normal", "std", std, low=0)
    mean = V.real("init.normal", "mean", mean)
    rng = as_generator(rng, who="init.normal")
    return _out(rng.normal(mean, std, size=shape), dtype, "normal")


def uniform(shape, low=-0.05, high=0.05, rng=None, dtype=np.float32):
    shape, _, _ = _fans(shape, "uniform")
    low, high = V.real("init.uniform", "low", low), V.real("init.uniform", "high", high)
    if not low <= high:
        raise ValueError(f"init.uniform: expected low <= high, got low={low:g}, high={high:g}")
    rng = as_generator(rng, who="init.uniform")
    return _out(rng.uniform(low, high, size=shape), dtype, "uniform")


def xavier_uniform(shape, rng=None, gain=1.0, dtype=np.float32):
    """U[-b, b], b = gain * sqrt(6 / (fan_in + fan_out))."""
    shape, fan_in, fan_out = _fans(shape, "xavier_uniform")
    b = V.real("init.xavier_uniform", "gain", gain, low=0) * math.sqrt(6.0 / (fan_in + fan_out))
    rng = as_generator(rng, who="init.xavier_uniform")
    return _out(rng.uniform(-b, b, size=shape), dtype, "xavier_uniform")


def xavier_normal(shape, rng=None, gain=1.0, dtype=np.float32):
    """N(0, gain^2 * 2 / (fan_in + fan_out))."""
    shape, fan_in, fan_out = _fans(shape, "xavier_normal")
    std = V.real("init.xavier_normal", "gain", gain, low=0) * math.sqrt(2.0 / (fan_in + fan_out))
    rng = as_generator(rng, who="init.xavier_normal")
    return _out(rng.normal(0.0, std, size=shape), dtype, "xavier_normal")


def he_uniform(shape, rng=None, dtype=np.float32):
    """U[-b, b], b = sqrt(6 / fan_in): variance 2 / fan_in."""
    shape, fan_in, _ = _fans(shape, "he_uniform")
    b = math.sqrt(6.0 / fan_in)
    rng = as_generator(rng, who="init.he_uniform")
    return _out(rng.uniform(-b, b, size=shape), dtype, "he_uniform")


def he_normal(shape, rng=None, dtype=np.float32):
    """N(0, 2 / fan_in)."""
    shape, fan_in, _ = _fans(shape, "he_normal")
    rng = as_generator(rng, who="init.he_normal")
    return _out(rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape), dtype, "he_normal")


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


def get(init, who="init.get"):
    """An initialiser from its name (``'he_normal'``) or a callable, returned unchanged.

    The one resolver of ``init=`` arguments (``Linear``, ``Maxout``): an unknown name is a
    ValueError, anything that is neither a name nor a function (a class, a list) a
    TypeError; ``who`` names the caller in the message.
    """
    if callable(init) and not isinstance(init, type):
        return init
    if isinstance(init, str) and init in _BY_NAME:
        return _BY_NAME[init]
    raise (ValueError if isinstance(init, str) else TypeError)(
        f"{who}: expected init one of {sorted(_BY_NAME)} or a callable "
        f"init(shape, rng=..., dtype=...), got {V.show(init)}"
    )
