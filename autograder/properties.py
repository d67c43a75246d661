"""Check kinds for properties every exercise has, whatever its formula.

Each test of a grade cell looks at one return value of one fresh object called once with
ordinary inputs; the mistakes students really make hide elsewhere. The kinds here call the
student's code the way the rest of the notebook will, and record what they saw:

==============  ==========================================================================
``unchanged``   a call leaves its array arguments as they were (``z -= z.max()`` in a
                softmax destroys the caller's scores)
``same_twice``  the same call twice gives the same result: ``backward`` overwrites its
                gradients (``self.grads["W"] += ...`` doubles them on the second call)
``honours_rng`` a function draws from the generator it is given: the same state gives the
                same result, two states two results, and NumPy's global state is untouched
``at_points``   an element-wise function at its edge points (kinks, exact zeros, both signs)
``strict``      a call at large magnitudes with every floating-point warning an error
``fitted_on``   a fitted step holds the training set's statistics (no validation or test
                rows: data leakage); ``trained_on`` records through it how many held-out
                rows a model was trained on (``watch_fit``, a spy on ``Trainer.fit``,
                collects the rows)
==============  ==========================================================================

Trust model, as for every kind (see :mod:`autograder.checks`): the record holds the raw
observations (the arguments after the call, both results, the draws), never a verdict, and
the trusted grader decides them again with the same function. ``same_twice`` and
``honours_rng`` decide the property on the observations alone (the kernel has no reference, and
the two must agree); a wrong value is left to the value checks beside them. The kinds copy their own
reference values before the student's code runs, so aliasing in that code can never change
what they compare with. Each failure message names the mistake in the student's words.

:mod:`autograder.checks` builds its ``KINDS`` table from :data:`KIND_SPECS` and its ``Check``
class inherits the methods of :class:`PropertyChecks` (one per kind, of the same name, and
``watch_fit``, which records nothing: it collects the rows ``trained_on`` reads).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import warnings

import numpy as np

from autograder.records import (
    KEY,
    CheckMisuse,
    as_numpy,
    decide_close,
    explain_close,
    not_a_number,
)

#: The global NumPy seed :meth:`PropertyChecks.honours_rng` sets before its first call; the
#: grader recomputes the draws it must find after the calls from it.
GLOBAL_SEED = 20_240_531
GLOBAL_DRAWS = 3


def _flat(values):
    """One float64 vector of every array (or number) in ``values`` (arrays, dicts, lists)."""
    parts = []
    for v in values:
        if isinstance(v, dict):
            parts.append(_flat([v[k] for k in sorted(v)]))
        elif isinstance(v, list | tuple):
            parts.append(_flat(v))
        else:
            arr = _numeric(v)
            if arr is None:
                return None
            parts.append(arr.astype(np.float64).ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def _numeric(value):
    arr = as_numpy(value)
    return None if arr is None or arr.dtype == object else np.array(arr, dtype=np.float64)


def _arrays_in(args):
    """The numpy arrays among call arguments (positional and keyword), in order."""
    return [a for a in args if isinstance(a, np.ndarray) and a.dtype != object]


def _name(params):
    return str(params.get("name") or "function")


def _is_array(value):
    return isinstance(value, np.ndarray) and value.dtype != object


# --------------------------------------------------------------------------- unchanged


def _decide_unchanged(got, reference, params):
    if not _is_array(got) or not _is_array(reference):
        return False
    got, reference = got.astype(np.float64), reference.astype(np.float64)
    return got.shape == reference.shape and bool(np.array_equal(got, reference, equal_nan=True))


def _explain_unchanged(got, expected, params):
    after, before = _numeric(got), _numeric(expected)
    name = _name(params)
    head = f"your {name} changed the array it was given: work on a copy"
    hint = " (z = z - z.max(...), not z -= ...; x = x - step, not x -= step)"
    if after is None or before is None or after.shape != before.shape:
        return head + hint
    changed = np.flatnonzero(~((after == before) | (np.isnan(after) & np.isnan(before))))
    if not changed.size:
        return head + hint
    i = int(changed[0])
    was, now = _distinct_texts(float(before[i]), float(after[i]))
    return f"{head}{hint}; {changed.size} of {before.size} entries changed, e.g. {was} became {now}"


def _distinct_texts(a: float, b: float) -> tuple[str, str]:
    """Two different numbers printed with the fewest digits (6 to 17) that tell them apart:
    a value changed and restored in place differs from the original by a rounding error."""
    for digits in (6, 10, 14, 17):
        texts = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if texts[0] != texts[1]:
            return texts
    return repr(a), repr(b)


# --------------------------------------------------------------------------- same_twice


def _decide_same_twice(got, reference, params):
    # the property only, never the values: the kernel (no reference) and the grader must
    # agree, and a wrong gradient is the business of the checks of its value
    if not _is_array(got) or got.ndim != 2 or got.shape[0] != 2:
        return False
    first, second = got.astype(np.float64)
    return bool(np.allclose(second, first, rtol=params["rtol"], atol=params["atol"]))


def _explain_same_twice(got, expected, params):
    name = _name(params)
    arr = _numeric(got)
    if arr is None or arr.ndim != 2 or arr.shape[0] != 2:
        return f"calling {name} twice on the same input should give the same values twice"
    first, second = arr
    moved = ~np.isclose(second, first, rtol=params["rtol"], atol=params["atol"])
    doubled = moved.any() and np.allclose(second[moved], 2.0 * first[moved], rtol=1e-6, atol=1e-12)
    if doubled and params.get("overwrite", True):
        return (
            f"your {name} added to the gradients of the previous call: called twice on the "
            "same input it gave twice the gradients. Overwrite them "
            '(self.grads["W"] = ...), do not accumulate (+=)'
        )
    err = float(np.max(np.abs(second - first))) if first.size else 0.0
    return (
        f"calling {name} twice on the same input gave different values the second time "
        f"(max difference {err:.3g}): it keeps something from the previous call "
        "(a += on stored state, or a cache that is not refreshed?)"
    )


# --------------------------------------------------------------------------- honours_rng


def _global_draws():
    return np.random.RandomState(GLOBAL_SEED).random_sample(GLOBAL_DRAWS)


def _rng_parts(got, params):
    """(same state, other global state, other state, global draws) or None."""
    if not _is_array(got) or got.ndim != 1:
        return None
    # the size comes from the record itself: the key's parameters hold the solution's size
    n, rest = divmod(got.size - GLOBAL_DRAWS, 3)
    if n < 0 or rest:
        return None
    got = got.astype(np.float64)
    return got[:n], got[n : 2 * n], got[2 * n : 3 * n], got[3 * n :]


def _rng_problem(got, params):
    """The first broken promise, as a short key, or None when every one holds."""
    parts = _rng_parts(got, params)
    if parts is None:
        return "shape"
    first, again, other, draws = parts
    if not np.array_equal(draws, _global_draws()):
        return "global"
    if not np.allclose(first, again, rtol=1e-12, atol=1e-12, equal_nan=True):
        return "same"
    if first.size and np.allclose(first, other, rtol=1e-12, atol=1e-12, equal_nan=True):
        return "ignored"
    return None


def _decide_honours_rng(got, reference, params):
    # the property only (see _decide_same_twice); the draws are checked against the global
    # seed, which the grader knows without the kernel's help
    return _rng_problem(got, params) is None


def _explain_honours_rng(got, expected, params):
    name = _name(params)
    problem = _rng_problem(_numeric(got), params)
    if problem == "global":
        return (
            f"your {name} used or reseeded NumPy's global random state (np.random.seed, "
            "np.random.normal, ...): draw only from the generator it is given (rng.normal, ...)"
        )
    if problem == "same":
        return (
            f"your {name} gave two different results for the same generator state: it draws "
            "from somewhere else than the generator it is given (np.random.* instead of rng.*?)"
        )
    if problem == "ignored":
        return (
            f"your {name} gave the same result for two different generator states: it ignores "
            "its rng argument (a fixed seed inside, np.random.default_rng(0)?)"
        )
    return f"your {name} should return arrays of numbers of the same size on every call"


# --------------------------------------------------------------------------- at_points


def _decide_at_points(got, reference, params):
    if not _is_array(got) or not _is_array(reference):
        return False
    if got.ndim != 2 or got.shape[0] != 2 or got.shape != reference.shape:
        return False
    got, reference = got.astype(np.float64), reference.astype(np.float64)
    return bool(np.array_equal(got[0], reference[0])) and bool(
        np.allclose(got[1], reference[1], rtol=params["rtol"], atol=params["atol"])
    )


def _explain_at_points(got, expected, params):
    name = _name(params)
    arr, ref = _numeric(got), _numeric(expected)
    if arr is None or ref is None or arr.shape != ref.shape:
        return f"your {name} should return one value per input point, of the input's shape"
    rtol, atol = params["rtol"], params["atol"]
    bad = ~np.isclose(arr[1], ref[1], rtol=rtol, atol=atol)
    var = str(params.get("var") or "x")
    where = ", ".join(
        f"{var} = {ref[0, i]:g}: got {arr[1, i]:.6g}, expected {ref[1, i]:.6g}"
        for i in np.flatnonzero(bad)[:4]
    )
    what = str(params.get("what") or "the edge points")
    return f"your {name} is wrong at {what}: {where}"


# --------------------------------------------------------------------------- strict


def _decide_strict(got, reference, params):
    if not _is_array(got) or not _is_array(reference):
        return False
    got, reference = got.astype(np.float64), reference.astype(np.float64)
    return (
        got.shape == reference.shape
        and bool(np.all(np.isfinite(got)))
        and bool(np.allclose(got, reference, rtol=params["rtol"], atol=params["atol"]))
    )


def _explain_strict(got, expected, params):
    name = _name(params)
    scale = float(params.get("magnitude", 0.0))
    if isinstance(got, str) or (isinstance(got, tuple) and got and got[0] == "repr"):
        return (
            f"your {name} overflowed or warned for inputs of magnitude up to {scale:g} "
            f"({got if isinstance(got, str) else 'a floating-point warning'}): no intermediate "
            "value may overflow (exp of a large number, a square of a huge one); rewrite it "
            "with exp(-|x|) or in terms of functions that stay bounded"
        )
    if _numeric(got) is None:
        return f"expected an array or number, {not_a_number(got)}"
    if expected is None:
        return f"your {name} is wrong for inputs of magnitude up to {scale:g}"
    return f"your {name} at magnitudes up to {scale:g}: " + explain_close(got, expected, params)


# --------------------------------------------------------------------------- fitted_on


def _explain_fitted_on(got, expected, params):
    name = _name(params)
    arr = _numeric(got)
    if params.get("held_out") is not None and arr is not None and arr.size == 1:
        return _explain_trained_on(float(arr.ravel()[0]), params)
    leaked = params.get("leaked")
    if arr is not None and leaked is not None:
        leaked = np.asarray(leaked, dtype=np.float64)
        if leaked.shape == arr.shape and np.allclose(arr, leaked, rtol=1e-6, atol=1e-9):
            return (
                f"your {name} was fitted on more than the training set (validation or test rows "
                "too): that is data leakage, the held-out score no longer measures anything. "
                "Fit on the training set only"
            )
    return (
        f"your {name} does not hold the training set's statistics: fit it on the training "
        "set, exactly once, before using it on other data"
    )


def _explain_trained_on(used, params):
    """The message of :meth:`PropertyChecks.trained_on`: how many held-out rows were used."""
    name, what = _name(params), str(params.get("what") or "held-out rows")
    if used > 0:
        return (
            f"your {name} was trained on {used:g} of the {params['held_out']} {what}: that is "
            "data leakage, their score no longer measures how it does on data it has not "
            f"seen. Train on the training rows only; the {what} are for measuring"
        )
    return f"your {name} should be trained on the training rows only"


#: (name, decide, explain, uses_reference, numeric) of every property kind, in the order of
#: :class:`autograder.checks.Kind`'s fields.
KIND_SPECS = (
    ("unchanged", _decide_unchanged, _explain_unchanged, True, True),
    ("same_twice", _decide_same_twice, _explain_same_twice, False, True),
    ("honours_rng", _decide_honours_rng, _explain_honours_rng, False, True),
    ("at_points", _decide_at_points, _explain_at_points, True, True),
    ("strict", _decide_strict, _explain_strict, True, True),
    ("fitted_on", decide_close, _explain_fitted_on, True, True),  # the statistics, within tol
)


class PropertyChecks:
    """The record side of the property kinds, inherited by :class:`autograder.checks.Check`.

    Each method calls the student's code itself (so it controls copies, repeats and random
    states), records what it saw through ``self._check`` and returns what the student's
    call returned, so the cell can go on checking values.
    """

    def unchanged(self, label, fn, *args, name="", msg="", weight=1, hint="", **kwargs):
        """``fn(*args, **kwargs)`` leaves every numpy array among its arguments unchanged.

        Records the arguments after the call; the reference is a copy taken before it.
        Returns the call's result.
        """
        arrays = _arrays_in([*args, *kwargs.values()])
        if not arrays:
            raise self._misuse(label, "unchanged() needs at least one numpy array argument")
        before = _flat([a.copy() for a in arrays])
        result = fn(*args, **kwargs)
        after = _flat(arrays)
        params = {"name": name or getattr(fn, "__name__", "function")}
        self._check("unchanged", label, after, before, params, msg, weight, hint)
        return result

    def same_twice(
        self, label, call, name="", rtol=1e-10, atol=1e-12, overwrite=True, msg="", weight=1,
        hint="",
    ):  # fmt: skip
        """``call()`` twice gives the same numbers twice (e.g. a backward pass and its grads).

        ``call`` takes no argument and returns what is compared: an array, or a dict / list
        of arrays (``lambda: (layer.backward(dout), layer.grads)``). The first result is
        copied before the second call. Records both, stacked (2, n). Returns the second.
        ``overwrite=False`` where adding is right and state kept between calls is the
        mistake (a penalty's backward adds into p.grad): a doubled result is then not read as
        ``+=`` instead of ``=``.
        """
        first = _flat([copy.deepcopy(call())])
        second_raw = call()
        second = _flat([second_raw])
        value = None
        if first is not None and second is not None and first.shape == second.shape:
            value = np.stack([first, second])
        params = {"name": name or "the call", "rtol": float(rtol), "atol": float(atol)}
        if not overwrite:
            params["overwrite"] = False
        self._check("same_twice", label, value, KEY, params, msg, weight, hint)
        return second_raw

    def honours_rng(self, label, fn, name="", seeds=(1, 2), msg="", weight=1, hint=""):
        """``fn(rng)`` draws only from the ``numpy.random.Generator`` it is given.

        Calls ``fn`` with a generator seeded ``seeds[0]`` under two different global NumPy
        states, then with one seeded ``seeds[1]``, and draws from the global state after the
        first call. Records the three results and those draws; the global state is restored
        afterwards. Returns the first result.
        """
        saved = np.random.get_state()  # noqa: NPY002 - the global state is what is checked
        try:
            np.random.seed(GLOBAL_SEED)  # noqa: NPY002 - the global state is what is checked
            first_raw = fn(np.random.default_rng(seeds[0]))
            draws = np.random.random_sample(GLOBAL_DRAWS)  # noqa: NPY002 - the global state is what is checked
            np.random.seed(GLOBAL_SEED + 1)  # noqa: NPY002 - the global state is what is checked
            again = fn(np.random.default_rng(seeds[0]))
            other = fn(np.random.default_rng(seeds[1]))
        finally:
            np.random.set_state(saved)  # noqa: NPY002 - the global state is what is checked
        parts = [_flat([copy.deepcopy(first_raw)]), _flat([again]), _flat([other])]
        value = None
        if all(p is not None for p in parts) and len({p.size for p in parts}) == 1:
            value = np.concatenate([*parts, draws])
        params = {"name": name or getattr(fn, "__name__", "function")}
        self._check("honours_rng", label, value, KEY, params, msg, weight, hint)
        return first_raw

    def at_points(
        self,
        label,
        fn,
        points,
        expected=None,
        name="",
        what="",
        var="x",
        rtol=1e-6,
        atol=1e-8,
        msg="",
        weight=1,
        hint="",
    ):
        """The element-wise ``fn`` at ``points`` (a 1-D array of edge points) is ``expected``.

        ``fn`` gets a copy of the points. Records the points and the values, stacked (2, n);
        without ``expected`` (hidden tests) the grader compares with the solution's values.
        ``what`` names the points in the message ("the kink x = 0"); ``var`` is what a point
        is called there ("W = 1e-12: got ...", "p = 0.9: got ..."), ``x`` by default.
        """
        points = np.array(points, dtype=np.float64).ravel()
        got = _numeric(fn(points.copy()))
        value = None
        if got is not None and got.size == points.size:
            value = np.stack([points, got.ravel()])
        ref = KEY
        if expected is not None:
            ref = np.stack([points, np.array(expected, dtype=np.float64).ravel()])
        params = {
            "name": name or getattr(fn, "__name__", "function"),
            "what": what,
            "rtol": float(rtol),
            "atol": float(atol),
        }
        if var != "x":
            params["var"] = str(var)
        self._check("at_points", label, value, ref, params, msg, weight, hint)
        return got

    def strict(
        self, label, fn, *args, expected=None, name="", rtol=1e-6, atol=1e-8, msg="", weight=1,
        hint="", **kwargs,
    ):  # fmt: skip
        """``fn(*args)`` with every floating-point warning an error returns ``expected``.

        The arguments are copied; an overflow, invalid value or division by zero (or any
        ``RuntimeWarning``) is recorded as its text, which no numeric reference matches.
        Without ``expected`` (hidden tests) the grader compares with the solution's values.
        Returns the result (None after a warning).
        """
        arrays = _arrays_in([*args, *kwargs.values()])
        magnitude = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
        args = [copy.deepcopy(a) for a in args]
        kwargs = {k: copy.deepcopy(v) for k, v in kwargs.items()}
        result = None
        with (
            warnings.catch_warnings(),
            np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"),
        ):
            warnings.simplefilter("error", RuntimeWarning)
            try:
                result = fn(*args, **kwargs)
                value = result
            except (FloatingPointError, RuntimeWarning, OverflowError) as exc:
                value = f"{type(exc).__name__}: {str(exc)[:120]}"
        params = {
            "name": name or getattr(fn, "__name__", "function"),
            "magnitude": magnitude if math.isfinite(magnitude) else 0.0,
            "rtol": float(rtol),
            "atol": float(atol),
        }
        ref = KEY if expected is None else expected
        self._check("strict", label, value, ref, params, msg, weight, hint)
        return result

    def fitted_on(
        self, label, fitted, expected, leaked=None, name="", rtol=1e-6, atol=1e-9, msg="",
        weight=1, hint="",
    ):  # fmt: skip
        """The statistics a fitted step holds (``fitted``) are the training set's.

        ``expected``: the same statistics computed by the cell on the training set only;
        ``leaked`` (optional): computed on the data a leaking fit would use (training plus
        validation), so that the message can name the leak. Both are copied at once.
        """
        expected = _flat([copy.deepcopy(expected)])
        params = {"name": name or "fitted step", "rtol": float(rtol), "atol": float(atol)}
        if leaked is not None:
            params["leaked"] = [float(v) for v in _flat([leaked])]
        self._check("fitted_on", label, _flat([fitted]), expected, params, msg, weight, hint)

    def trained_on(
        self, label, rows, held_out, train=None, name="model", what="validation rows",
        decimals=4, msg="", weight=1, hint="",
    ):  # fmt: skip
        """No row of ``held_out`` is among ``rows``, the inputs a model was trained on.

        ``rows``: an (N, D) array, or a list of them (one per training call, as
        :meth:`watch_fit` collects them; an empty list when no call was seen). Rows are
        compared rounded to ``decimals`` places, so a float32 copy is still found.
        ``train`` (optional): the training rows; held-out rows that also occur among them
        (duplicate examples) are not counted. Records how many held-out rows were used, as a
        ``fitted_on`` check whose reference is 0; the message names data leakage. A model
        trained without the spied call (a loop of one's own) is not observed: 0 rows used.
        """
        used, allowed = set(_row_keys(rows, decimals)), set(_row_keys(train, decimals))
        held = [k for k in _row_keys(held_out, decimals) if k not in allowed]
        count = float(sum(k in used for k in held))
        params = {
            "name": name,
            "what": what,
            "held_out": len(held),
            "rtol": 0.0,
            "atol": 0.5,
        }
        self._check("fitted_on", label, [count], [0.0], params, msg, weight, hint)

    @staticmethod
    @contextlib.contextmanager
    def watch_fit(cls):
        """Within the block, note the rows of every ``cls.fit(X, y, val=(X_val, y_val))`` call
        (``Trainer``'s signature): yields a :class:`FitCalls` whose ``rows`` feed
        :meth:`trained_on`. Each call still trains; the class's own ``fit`` is back after the
        block, also when the student's code raised. Records nothing itself."""
        calls = FitCalls()
        real = cls.fit
        had_own = "fit" in vars(cls)
        own = vars(cls).get("fit")

        def spy(model, X, y, *args, **kwargs):
            calls.rows.append(np.array(X, dtype=np.float64))
            val = kwargs.get("val", args[0] if args else None)
            calls.val.append(None if val is None else np.array(val[0], dtype=np.float64))
            return real(model, X, y, *args, **kwargs)

        cls.fit = spy
        try:
            yield calls
        finally:
            if had_own:
                cls.fit = own
            else:
                del cls.fit

    def _misuse(self, label, text):
        return CheckMisuse(f"Check({self.id!r}) {label!r}: {text}")


@dataclasses.dataclass
class FitCalls:
    """What :meth:`PropertyChecks.watch_fit` saw, one entry per ``fit`` call, in order: the
    training inputs (float64 copies) and the validation inputs (None for a call without
    ``val``)."""

    rows: list = dataclasses.field(default_factory=list)
    val: list = dataclasses.field(default_factory=list)


def _row_keys(rows, decimals):
    """The rows of an (N, D) array, or of a list of such arrays, as tuples rounded to
    ``decimals`` places (a list, in order, multiplicity kept)."""
    if rows is None:
        return []
    parts = list(rows) if isinstance(rows, list | tuple) else [rows]
    if parts and not all(isinstance(p, np.ndarray) and p.ndim == 2 for p in parts):
        parts = [np.asarray(rows)]  # one array written as nested lists
    keys = []
    for part in parts:
        arr = np.round(np.asarray(part, dtype=np.float64), decimals) + 0.0  # -0.0 as 0.0
        keys += [tuple(r) for r in arr.reshape(len(arr), -1)] if arr.ndim else []
    return keys
