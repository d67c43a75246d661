"""Argument checks shared by the whole library: one place, one message style.

Every public constructor and method checks its arguments *at the door*, before it
changes anything, with these helpers. A failed check raises

- ``TypeError`` when the kind of thing is wrong (a string for a size, a bool for a
  count, a class instead of an instance, a list where an array is needed);
- ``ValueError`` when the kind is right but the value is not (a negative size, NaN
  as a learning rate, a shape that does not fit),

with a message in the house style ``"<callee>: expected <what>, got <value>"``, where
the callee is the class or function the student called (``"Linear"``,
``"SGD.step"``, ``"Trainer.fit"``). Checks run once per call on whole arrays (one
vectorised pass at most), never per element in Python: they sit on the training
path. ``NonFiniteError`` marks NaN/inf found in data or scores, so that the training
loop can tell divergence from other errors by type, not by reading messages.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "NonFiniteError",
    "callee",
    "is_array",
    "show",
    "integer",
    "positive_int",
    "real",
    "boolean",
    "choice",
    "float_dtype",
    "array",
    "finite_array",
]


class NonFiniteError(ValueError):
    """An array that must be finite holds NaN or inf (data, targets, scores, gradients)."""


def callee(owner) -> str:
    """The name used in messages: a string as it is, a layer as its repr
    (``Linear(in_features=4, out_features=2, bias=True)``), else the class name."""
    if isinstance(owner, str):
        return owner
    if callable(getattr(owner, "extra_repr", None)):
        return repr(owner)
    return type(owner).__name__


def show(v) -> str:
    """A short description of a received value: its repr, plus its type where the repr
    alone would mislead (``True`` is a bool, ``'3'`` a str, ``ReLU`` a class)."""
    if isinstance(v, type):
        return f"the class {v.__name__} (an instance is needed: {v.__name__}(...))"
    if hasattr(v, "shape") and hasattr(v, "dtype") and getattr(v, "ndim", 0) > 0:
        return f"an array of shape {tuple(v.shape)} and dtype {v.dtype}"
    text = repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(v, bool | str | np.bool_) or v is None:
        return f"{text} ({type(v).__name__})"
    return text


def is_array(x) -> bool:
    """An array instance (NumPy or CuPy): has shape and dtype, and is not a class."""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


def _fail(exc, who, what, v):
    raise exc(f"{callee(who)}: expected {what}, got {show(v)}")


def integer(who, name, v, low=None, high=None) -> int:
    """``v`` as an int (bools rejected), optionally with ``low <= v <= high``."""
    bounds, what = "", None
    if low == 1 and high is None:
        what = f"a positive int {name}"
    elif low is not None and high is not None:
        bounds = f" in [{low}, {high}]"
    elif low is not None:
        bounds = f" >= {low}"
    elif high is not None:
        bounds = f" <= {high}"
    what = what or f"an int {name}{bounds}"
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral):
        _fail(TypeError, who, what, v)
    if (low is not None and v < low) or (high is not None and v > high):
        _fail(ValueError, who, what, v)
    return int(v)


def positive_int(who, name, v) -> int:
    """``v`` as an int >= 1 (a size, a count)."""
    return integer(who, name, v, low=1)


def _range(name, low, high, low_open, high_open):
    """'0 <= p < 1', 'lr >= 0', ... or None without bounds."""
    lo_op, hi_op = ("<" if low_open else "<="), ("<" if high_open else "<=")
    if low is not None and high is not None:
        return f"{low} {lo_op} {name} {hi_op} {high}"
    if low is not None:
        return f"{name} {'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{name} {hi_op} {high}"
    return None


def real(who, name, v, low=None, high=None, low_open=False, high_open=False, finite=True):
    """``v`` as a float (bools rejected, NaN always rejected, inf unless ``finite=False``),
    optionally inside ``[low, high]`` (``low_open``/``high_open`` exclude the ends)."""
    rng = _range(name, low, high, low_open, high_open)
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
        _fail(TypeError, who, f"a real number {name}" + (f" ({rng})" if rng else ""), v)
    if rng is None:
        what = f"a {'finite ' if finite else ''}number {name}"
    elif low is not None and high is not None:
        what = rng
    else:
        what = f"a {'finite ' if finite else ''}{rng}"
    f = float(v)
    if math.isnan(f) or (finite and math.isinf(f)):
        _fail(ValueError, who, what, v)
    if low is not None and (f <= low if low_open else f < low):
        _fail(ValueError, who, what, v)
    if high is not None and (f >= high if high_open else f > high):
        _fail(ValueError, who, what, v)
    return f


def boolean(who, name, v) -> bool:
    """``v`` as a bool: True/False (NumPy bools too); 0/1 and strings are rejected."""
    if not isinstance(v, bool | np.bool_):
        _fail(TypeError, who, f"{name}=True or False", v)
    return bool(v)


def choice(who, name, v, options):
    """``v`` unchanged when it is one of ``options`` (compared with ==)."""
    try:
        ok = isinstance(v, str | int | float | type(None)) and v in options
    except TypeError:
        ok = False
    if not ok:
        _fail(ValueError, who, f"{name} one of {list(options)}", v)
    return v


def float_dtype(who, dtype):
    """``dtype`` as a NumPy floating dtype (``np.float32``, ``'float64'``)."""
    what = "a float dtype such as np.float32 or np.float64"
    try:
        dt = np.dtype(dtype)
    except TypeError:  # 'foo', a list, an object
        _fail(TypeError, who, what, dtype)
    if dtype is None:  # np.dtype(None) is float64: a silent default, not a choice
        _fail(TypeError, who, what, dtype)
    if dt.kind != "f":
        raise TypeError(f"{callee(who)}: expected {what}, got dtype {dt}")
    return dt


def array(who, name, x, ndim=None, kinds="fiub"):
    """``x`` unchanged when it is an array (NumPy or CuPy) of a numeric dtype whose
    ``ndim`` is one of ``ndim`` (an int or a tuple); lists, strings, None are rejected."""
    if not (is_array(x) and hasattr(x, "ndim")):
        _fail(TypeError, who, f"{name} as an array (np.asarray(...))", x)
    if x.dtype.kind not in kinds:
        kind = "a real float" if kinds == "f" else "a real numeric"
        raise TypeError(f"{callee(who)}: expected {name} of {kind} dtype, got dtype {x.dtype}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            raise ValueError(
                f"{callee(who)}: expected {name} as a {want} array, got shape {tuple(x.shape)}"
            )
    return x


def finite_array(who, name, x):
    """Raise :class:`NonFiniteError` when a host float array holds NaN or inf (one pass).

    Device (CuPy) arrays are not inspected: that would cost a device-to-host sync on
    every call; the training loop checks the loss once per epoch there instead.
    """
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc" and not np.isfinite(x).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise NonFiniteError(
            f"{callee(who)}: expected finite {name}, got {x[bad]} at index {bad} "
            f"({int((~np.isfinite(x)).sum())} NaN/inf value(s) in all)"
        )
    return x
