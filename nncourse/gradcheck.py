"""Gradient checking: compare a backward pass with centred finite differences.

The numerical derivative of a scalar function f at one entry x_i is

    (f(x + h e_i) - f(x - h e_i)) / (2 h),

whose error is O(h^2). Two gradients are compared with one relative error for
the whole tensor,

    rel_error(a, b) = max_i |a_i - b_i| / max(1e-8, max_i (|a_i| + |b_i|)),

which is scale-free and, unlike the entry-wise form, is not fooled by entries
that are (almost) zero in both gradients, e.g. behind a ReLU.

``check_layer`` and ``check_model`` run on a *deep copy* of the layer or model
cast to float64 (in float32 the differences carry ~1e-4 of rounding noise and
only errors above ~1e-3 mean anything); the caller's object is never touched.
Layers with randomness (Dropout) replay the same random numbers at every
evaluation, and buffers (BatchNorm's running statistics) are restored before
each one, so that every evaluation computes the same function.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import validation as V
from .backend import get_array_module, to_numpy
from .init import as_generator
from .layers import modules

__all__ = [
    "numerical_gradient",
    "rel_error",
    "check_layer",
    "check_model",
    "GradCheckReport",
    "GradCheckRow",
]


def rel_error(a, b) -> float:
    """max |a - b| / max(1e-8, max(|a| + |b|)) over all entries (0 for empty arrays)."""
    try:
        if any(
            isinstance(v, type) or (V.is_array(v) and v.dtype.kind not in "fiub") for v in (a, b)
        ):
            raise TypeError
        a = np.asarray(to_numpy(a), dtype=np.float64)
        b = np.asarray(to_numpy(b), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"rel_error: expected two real arrays, got {V.show(a)} and {V.show(b)}"
        ) from None
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error: expected arrays of the same shape, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def _scalar(value, who="numerical_gradient"):
    """The value of f(x) as a float: a real number, or a real array of one entry."""
    if V.is_array(value) and getattr(value, "size", 0) == 1 and value.dtype.kind in "fiub":
        return float(to_numpy(value).reshape(()))
    if isinstance(value, numbers.Real):
        return float(value)
    if V.is_array(value) and value.dtype.kind in "fiub":
        raise ValueError(
            f"{who}: expected f(x) to return a scalar (the loss), got an array of shape "
            f"{tuple(value.shape)}; reduce it, e.g. f = lambda x: g(x).sum()"
        )
    raise TypeError(f"{who}: expected f(x) to return a real number, got {V.show(value)}")


def _numerical_at(f, x, flat_indices, h):
    """Centred differences of the scalar f(x) at the given flat indices of x (1-D result).

    Every perturbed entry is put back to its exact original value, also when f raises
    or returns something that is not a scalar.
    """
    out = np.empty(len(flat_indices), dtype=np.float64)
    for k, flat in enumerate(flat_indices):
        idx = np.unravel_index(int(flat), x.shape)
        old = x[idx].copy()
        try:
            x[idx] = old + h
            f_plus = _scalar(f(x))
            x[idx] = old - h
            f_minus = _scalar(f(x))
        finally:
            x[idx] = old
        out[k] = (f_plus - f_minus) / (2.0 * h)
    return out


def numerical_gradient(f, x, h=1e-5):
    """df/dx by centred differences, an array of the shape of ``x`` (float64, on the host).

    ``f(x)`` must return a scalar; ``x`` (a float array) is perturbed *in place* one
    entry at a time and restored exactly afterwards, so ``f`` may also ignore its
    argument and read ``x`` from a closure (as a layer reads its parameters).
    """
    if not callable(f) or isinstance(f, type):
        raise TypeError(f"numerical_gradient: expected a function f(x) -> scalar, got {V.show(f)}")
    if not hasattr(x, "dtype") or x.dtype.kind != "f":
        raise TypeError(
            f"numerical_gradient: expected a float array to perturb in place, "
            f"got {getattr(x, 'dtype', type(x).__name__)}"
        )
    h = V.real("numerical_gradient", "step h", h, low=0, low_open=True)
    return _numerical_at(f, x, np.arange(x.size), h).reshape(x.shape)


# -- the report ----------------------------------------------------------------------


@dataclass
class GradCheckRow:
    """One checked tensor: its name, relative error, the entry where |analytic -
    numerical| is largest (``worst_index``), the tolerance and the verdict."""

    name: str
    rel_error: float
    passed: bool
    worst_index: tuple
    tol: float
    shape: tuple
    checked: int  # number of entries compared (all, or a random sample)
    analytic: float = 0.0  # the two gradients at worst_index
    numerical: float = 0.0


@dataclass
class GradCheckReport:
    """Result of :func:`check_layer` / :func:`check_model`; ``str()`` is a table."""

    rows: list = field(default_factory=list)
    dtype: str = "float64"
    h: float = 1e-5

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def __bool__(self):
        return self.passed

    def __getitem__(self, name):
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(
            f"GradCheckReport: no row named {name!r}; have {[r.name for r in self.rows]}"
        )

    def __str__(self):
        head = (
            "name",
            "shape",
            "checked",
            "rel_error",
            "worst index",
            "analytic",
            "numerical",
            "tol",
            "ok",
        )
        lines = [
            (
                r.name,
                str(r.shape),
                f"{r.checked}/{int(np.prod(r.shape))}",
                f"{r.rel_error:.2e}",
                str(r.worst_index),
                f"{r.analytic:+.6e}",
                f"{r.numerical:+.6e}",
                f"{r.tol:.0e}",
                "yes" if r.passed else "NO",
            )
            for r in self.rows
        ]
        widths = [max(len(c) for c in col) for col in zip(head, *lines)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        verdict = "PASSED" if self.passed else "FAILED"
        out = [
            f"gradient check ({self.dtype}, h={self.h:g}): {verdict}",
            fmt.format(*head).rstrip(),
        ]
        out += [fmt.format(*line).rstrip() for line in lines]
        return "\n".join(out)

    def _repr_pretty_(self, p, cycle):  # IPython/Jupyter show the table
        p.text(str(self))


# -- making every evaluation compute the same function ----------------------------------


class _Freeze:
    """Snapshot of buffers and random-generator states; ``restore()`` puts them back."""

    def __init__(self, *objs):
        self.buffers, self.rngs = [], []
        for obj in objs:
            for m in modules(obj):
                for name in getattr(m, "_buffers", ()):
                    self.buffers.append((m, name, getattr(m, name).copy()))
                for value in vars(m).values():
                    if isinstance(value, np.random.Generator):
                        self.rngs.append((m, value, copy.deepcopy(value.bit_generator.state)))

    def restore(self):
        for m, name, saved in self.buffers:
            getattr(m, name)[...] = saved
        for m, gen, state in self.rngs:
            gen.bit_generator.state = copy.deepcopy(state)
            if hasattr(m, "_gpu_rng"):  # re-seeded from the host generator on next use
                m._gpu_rng = None


def _cast(obj, dtype):
    """A deep copy of a layer/model/loss with its arrays cast to ``dtype``."""
    obj = copy.deepcopy(obj)
    if hasattr(obj, "astype"):
        return obj.astype(dtype)
    for m in modules(obj):  # a minimal user layer: params/grads dicts only
        for d in ("params", "grads"):
            arrays = getattr(m, d, None)
            if isinstance(arrays, dict):
                for k, v in arrays.items():
                    if v is not None:
                        arrays[k] = v.astype(dtype)
    return obj


def _named_params(obj):
    """(name, owning layer, key) for every trainable array of a layer or model."""
    if hasattr(obj, "parameters"):
        return [(p.name, p.layer, p.key) for p in obj.parameters()]
    return [(k, obj, k) for k in getattr(obj, "params", {})]


def _grad_of(layer, key, name):
    """A copy of the gradient that backward left for ``layer.params[key]``."""
    g = layer.grads.get(key)
    if g is None:
        raise ValueError(f"gradcheck: backward() left no gradient for parameter {name!r}")
    return g.copy()


def _check_dtype(who, dtype):
    dtype = V.float_dtype(who, dtype)
    if dtype != np.float64:
        warnings.warn(
            f"{who}: checking in {dtype}; rounding noise of the finite differences is then "
            f"about 1e-4 and relative errors below ~1e-3 mean nothing. Use dtype=np.float64.",
            UserWarning,
            stacklevel=3,
        )
    return dtype


def _check_settings(who, h, tol, atol, max_entries):
    """The finite-difference settings, checked: a step h > 0 (h = 0 divides by zero), a
    tolerance tol > 0, atol >= 0 and max_entries >= 1 (0 would check nothing and pass)."""
    return (
        V.real(who, "step h", h, low=0, low_open=True),
        V.real(who, "tol", tol, low=0, low_open=True),
        V.real(who, "atol", atol, low=0),
        V.positive_int(who, "max_entries", max_entries),
    )


def _compare(name, analytic, f, x, h, tol, atol, max_entries, rng):
    """Compare the analytic gradient with centred differences of f at (a sample of) x."""
    analytic = np.asarray(to_numpy(analytic), dtype=np.float64)
    if analytic.shape != tuple(x.shape):
        raise ValueError(
            f"gradcheck: the analytic gradient of {name} has shape {analytic.shape}, "
            f"expected the shape of {name}, {tuple(x.shape)}"
        )
    if x.size > max_entries:
        flat = np.sort(rng.choice(x.size, size=max_entries, replace=False))
    else:
        flat = np.arange(x.size)
    num = _numerical_at(f, x, flat, h)
    ana = analytic.reshape(-1)[flat]
    err = rel_error(ana, num)
    worst = int(np.argmax(np.abs(ana - num))) if len(flat) else 0
    max_abs = float(np.max(np.abs(ana - num))) if len(flat) else 0.0
    where = tuple(int(i) for i in np.unravel_index(int(flat[worst]), x.shape)) if len(flat) else ()
    return GradCheckRow(
        name=name,
        rel_error=err,
        passed=bool(err < tol or max_abs <= atol),
        worst_index=where,
        tol=tol,
        shape=tuple(x.shape),
        checked=len(flat),
        analytic=float(ana[worst]) if len(flat) else 0.0,
        numerical=float(num[worst]) if len(flat) else 0.0,
    )


def _check_model_like(who, obj, what="layer or model"):
    if isinstance(obj, type) or not (
        callable(getattr(obj, "forward", None)) and callable(getattr(obj, "backward", None))
    ):
        raise TypeError(
            f"{who}: expected a {what} with forward() and backward(), got {V.show(obj)}"
        )


def _as_input(who, x, dtype):
    if not V.is_array(x):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"{who}: expected x as a numeric array, got {V.show(x)}") from None
    V.array(who, "x (a batch)", x, ndim=2, kinds="fiu")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{who}: expected a numeric input array, got dtype {x.dtype}")
    return x.astype(dtype, copy=True)  # our own copy: the caller's x is never perturbed


def _upstream(dout, out, rng, xp, dtype):
    """check_layer's dout: random N(0, 1) by default, else a real array of out's shape."""
    if dout is None:
        dout = rng.standard_normal(out.shape)
    elif not V.is_array(dout) or dout.dtype.kind not in "fiu":
        raise TypeError(
            f"check_layer: expected dout as a real array of the output's shape "
            f"{tuple(out.shape)}, got {V.show(dout)}"
        )
    dout = xp.asarray(to_numpy(dout) if xp is np else dout, dtype=dtype)
    if tuple(dout.shape) != tuple(out.shape):
        raise ValueError(
            f"check_layer: expected dout of the output's shape {tuple(out.shape)}, "
            f"got {tuple(dout.shape)}"
        )
    return dout


def _regularizers(regularizers):
    """check_model's regularizers as a tuple of objects with penalty() and backward()."""
    regularizers = tuple(regularizers) if isinstance(regularizers, list | tuple) else None
    if regularizers is None or not all(
        callable(getattr(r, "penalty", None)) and callable(getattr(r, "backward", None))
        for r in regularizers
    ):
        raise TypeError("check_model: expected regularizers as a list of L2(...)/L1(...) objects")
    return regularizers


def _as_targets(y, n, dtype):
    """check_model's targets: n labels or rows; float targets cast to ``dtype``."""
    if not V.is_array(y):
        try:
            y = np.asarray(y)
        except (TypeError, ValueError):
            raise TypeError(f"check_model: expected y as an array, got {V.show(y)}") from None
    V.array("check_model", "y", y, ndim=(1, 2), kinds="fiu")
    if len(y) != n:
        raise ValueError(f"check_model: expected {n} targets for {n} inputs, got {len(y)}")
    return y.astype(dtype) if y.dtype.kind == "f" else y


def _report(obj, dx, f, x, settings, rng, check_input, dtype):
    """Compare the gradients backward left in ``obj`` (and ``dx``) with finite differences
    of ``f``: one row for the input (when ``check_input``), one per parameter."""
    h, tol, atol, max_entries = settings
    named = _named_params(obj)
    analytic = {name: _grad_of(owner, key, name) for name, owner, key in named}
    report = GradCheckReport(dtype=str(dtype), h=h)
    if check_input:
        report.rows.append(_compare("input", dx, f, x, h, tol, atol, max_entries, rng))
    for name, owner, key in named:
        row = _compare(name, analytic[name], f, owner.params[key], h, tol, atol, max_entries, rng)
        report.rows.append(row)
    return report


# -- the checks ------------------------------------------------------------------------------


def check_layer(
    layer,
    x,
    *,
    dout=None,
    h=1e-5,
    tol=1e-7,
    atol=0.0,
    dtype=np.float64,
    max_entries=200,
    rng=271828,
    check_input=True,
):
    """Check ``layer.backward`` against finite differences of sum(layer(x) * dout).

    Args:
        layer: any object with ``forward``/``backward`` and ``params``/``grads``
            (a layer or a ``Sequential``); it is deep-copied and cast to ``dtype``,
            its train/eval mode is kept.
        x: input batch, shape (N, D).
        dout: upstream gradient of the output's shape; random N(0, 1) by default.
        h, tol: finite-difference step and the largest relative error that passes.
        atol: a row also passes when max |analytic - numerical| <= atol. Useful where
            the true gradient is exactly 0 (a Linear bias right before BatchNorm): the
            relative error then compares rounding noise (~1e-11) with the 1e-8 floor.
        dtype: precision of the check (float64; float32 warns).
        max_entries: tensors with more entries are checked on a random sample of
            this many entries, drawn with ``rng`` (a seed or numpy Generator).
        check_input: also check dL/dx (one row named ``'input'``).

    Returns:
        :class:`GradCheckReport`, one row for the input and one per parameter.
    """
    _check_model_like("check_layer", layer)
    dtype = _check_dtype("check_layer", dtype)
    h, tol, atol, max_entries = _check_settings("check_layer", h, tol, atol, max_entries)
    check_input = V.boolean("check_layer", "check_input", check_input)
    rng = as_generator(rng, who="check_layer")
    layer = _cast(layer, dtype)
    x = _as_input("check_layer", x, dtype)
    frozen = _Freeze(layer)

    dout = _upstream(dout, layer.forward(x), rng, get_array_module(x), dtype)
    frozen.restore()
    layer.forward(x)
    dx = layer.backward(dout)

    def f(_):
        frozen.restore()
        return (layer.forward(x) * dout).sum()

    report = _report(layer, dx, f, x, (h, tol, atol, max_entries), rng, check_input, dtype)
    frozen.restore()
    return report


def check_model(
    model,
    loss,
    x,
    y,
    *,
    regularizers=(),
    h=1e-5,
    tol=1e-7,
    atol=0.0,
    dtype=np.float64,
    max_entries=200,
    rng=271828,
    check_input=True,
):
    """Check a whole model: dL/dparam for every parameter and dL/dx, where
    ``L = loss(model(x), y) + sum(r.penalty(model) for r in regularizers)``.

    ``model`` and ``loss`` are deep-copied and cast to ``dtype``; float targets ``y``
    are cast too, integer labels are kept. Other arguments as in :func:`check_layer`.
    """
    _check_model_like("check_model", model)
    _check_model_like("check_model", loss, "loss")
    regularizers = _regularizers(regularizers)
    dtype = _check_dtype("check_model", dtype)
    h, tol, atol, max_entries = _check_settings("check_model", h, tol, atol, max_entries)
    check_input = V.boolean("check_model", "check_input", check_input)
    rng = as_generator(rng, who="check_model")
    x = _as_input("check_model", x, dtype)
    y = _as_targets(y, len(x), dtype)
    model = _cast(model, dtype)
    loss = copy.deepcopy(loss)
    frozen = _Freeze(model, loss)

    def objective():
        frozen.restore()
        value = float(loss.forward(model.forward(x), y))
        return value + sum(float(r.penalty(model)) for r in regularizers)

    objective()
    dx = model.backward(loss.backward())
    for r in regularizers:
        r.backward(model)
    settings = (h, tol, atol, max_entries)
    report = _report(model, dx, lambda _: objective(), x, settings, rng, check_input, dtype)
    frozen.restore()
    return report
