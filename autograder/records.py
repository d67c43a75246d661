"""The record a check emits, and what every kind of check shares.

A check in a grade cell emits a *record* (:func:`make_record`): the value the student's code
produced, encoded so that NaN and inf survive JSON (:func:`encode_value`), under the private
MIME type :data:`MIME`. The trusted grader decodes it (:func:`decode_value`) and decides it
with the check's :class:`Kind`. The comparison of numbers within tolerances (:func:`decide_close`,
:func:`explain_close`) and the plain description of a value that is not a number
(:func:`not_a_number`) are used by the basic kinds (``checks.py``) and the property kinds
(``properties.py``) alike; this module imports neither of them.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable

import numpy as np

#: MIME type of the records a check emits (a JSON object, see :func:`make_record`).
MIME = "application/vnd.nncourse.check+json"

#: MIME type of the record a ``case`` block emits when it ends: its name, the labels its
#: checks recorded (in order), the labels that failed in the kernel with their messages,
#: and the error its code raised (None, or the exception's class name; ``attempted`` is
#: False for ``NotImplementedError``).
CASE_MIME = "application/vnd.nncourse.case+json"

#: Default of ``equal``'s ``expected``: decide against the answer key only.
KEY = type("KeyOnly", (), {"__repr__": lambda self: "KEY"})()


class CheckMisuse(ValueError):
    """A grade cell uses :class:`Check` wrongly (the author's mistake, never the student's):
    raised through ``case`` blocks instead of being counted as the block's error."""


# --------------------------------------------------------------------------- values


def encode_value(value):
    """Serialise a value for a record.

    Numbers, booleans and (nested) sequences of them become ``{"dtype", "shape", "b64"}``
    with dtype float64, int64 or bool (little-endian bytes, so NaN and inf survive).
    Strings and None are stored as ``{"json": value}``; anything else as ``{"repr": ...}``.
    """
    if value is None or isinstance(value, str):
        return {"json": value}
    arr = as_numpy(value)
    if arr is None:
        return {"repr": repr(value)[:2000]}
    if arr.dtype == np.bool_:
        arr = arr.astype(np.bool_)
    elif np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype("<i8")
    else:
        arr = arr.astype("<f8")
    data = np.ascontiguousarray(arr).tobytes()
    return {
        "dtype": arr.dtype.name,
        "shape": list(arr.shape),
        "b64": base64.b64encode(data).decode("ascii"),
    }


def decode_value(enc):
    """Inverse of :func:`encode_value`: a numpy array, or a str/None/repr string."""
    if not isinstance(enc, dict):
        raise ValueError(f"decode_value: expected a dict, received {type(enc).__name__}")
    if "json" in enc:
        return enc["json"]
    if "repr" in enc:
        return ("repr", str(enc["repr"]))
    dtype = {"float64": "<f8", "int64": "<i8", "bool": "?"}.get(enc.get("dtype"))
    if dtype is None:
        raise ValueError(f"decode_value: unknown dtype {enc.get('dtype')!r}")
    shape = tuple(int(s) for s in enc["shape"])
    raw = base64.b64decode(enc["b64"], validate=True)
    arr = np.frombuffer(raw, dtype=dtype)
    if arr.size != math.prod(shape):
        raise ValueError("decode_value: data does not match shape")
    return arr.reshape(shape).copy()


def as_numpy(value):
    """Plain numpy array for numbers/arrays/sequences (CuPy arrays included), else None."""
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    if isinstance(value, bool | int | float | np.generic | np.ndarray | list | tuple):
        try:
            arr = np.array(value)
        except (ValueError, TypeError):
            return None
        if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.number):
            if np.iscomplexobj(arr):
                return None
            return arr
    return None


def make_record(
    check_id,
    label,
    kind,
    value,
    params=None,
    line=None,
    expected=None,
    msg="",
    case=None,
    weight=1.0,
    hint="",
):
    """The JSON object a check emits (``expected`` only in the trusted key run).

    ``case``: the ``case`` block the check ran in (None outside one); ``weight`` and ``hint``
    are the author's, and the grader takes them from the answer key only.
    """
    record = {
        "check": str(check_id),
        "label": str(label),
        "kind": kind,
        "value": encode_value(value),
        "params": params or {},
        "line": line,
        "msg": str(msg)[:1000],
        "case": None if case is None else str(case),
        "weight": float(weight),
        "hint": str(hint)[:300],
    }
    if expected is not None:
        record["expected"] = encode_value(expected)
    return record


# --------------------------------------------------------------------------- kinds


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of check: how a recorded value is decided, and why it failed.

    ``decide(got, reference, params) -> bool`` works on *decoded* record values
    (:func:`decode_value`: numpy arrays, str, None or ``("repr", text)``) and never calls
    student code. The same function decides in the student's kernel (visible checks, against
    the expected value the cell passes) and in the trusted grader (``autograder.grading``,
    against the answer key's reference and tolerances), so the two can only disagree when
    their expected values differ. ``reference`` is the key's ``expected`` when the solution's
    cell passed one, else the solution's own recorded value.

    ``explain(got, expected, params) -> str`` says why a value failed, for the student: it
    takes the kernel's values (or decoded ones) and names a value that is not a number plainly.

    ``uses_reference``: the kind compares with an expected value (without one, in hidden
    tests, the kernel records and the grader decides). ``numeric``: only numbers can pass,
    so anything else fails in the kernel at once, hidden test or not.
    """

    name: str
    decide: Callable[[object, object, dict], bool]
    explain: Callable[[object, object, dict], str]
    uses_reference: bool
    numeric: bool


def not_a_number(value, echo=True) -> str:
    """Say plainly what came instead of a number or an array of numbers ("got None: ...").

    Takes a kernel value or a decoded record value (``("repr", text)``); it only describes the
    student's value, never an expected one. The grader passes ``echo=False``: text and reprs
    come from student code, and grading output must not carry what that code chose to say
    (it can read the hidden tests while it runs).
    """
    if value is None:
        return (
            "got None: no value came back (a missing `return`, or a computation that failed "
            "and left the variable unset?)"
        )
    if isinstance(value, BaseException):
        shown = f": {short_repr(str(value))}" if echo else ""
        return f"got the exception {type(value).__name__}{shown} instead of a value"
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "repr":
        shown = short_repr(value[1]) if echo else "an object"
        return f"got {shown}, which is not a number or an array of numbers"
    if isinstance(value, str):
        return (
            f"got the text {short_repr(value)}, not a number" if echo else "got text, not a number"
        )
    if isinstance(value, np.ndarray) and value.dtype == object:
        return "got an array of Python objects, not of numbers"
    return f"got a {type(value).__name__}, not a number or an array of numbers"


def decide_close(got, reference, params):
    if not isinstance(got, np.ndarray) or not isinstance(reference, np.ndarray):
        return False
    got, reference = got.astype(np.float64), reference.astype(np.float64)
    return got.shape == reference.shape and bool(
        np.allclose(got, reference, rtol=params["rtol"], atol=params["atol"])
    )


def explain_close(got, expected, params):
    got_arr = as_numpy(got)
    if got_arr is None:
        return f"expected an array or number, {not_a_number(got)}"
    exp_arr = np.asarray(as_numpy(expected), dtype=np.float64)
    got_arr = got_arr.astype(np.float64)
    if got_arr.shape != exp_arr.shape:
        return f"expected shape {exp_arr.shape}, got shape {got_arr.shape}"
    rtol, atol = params["rtol"], params["atol"]
    bad = int(np.count_nonzero(~np.isfinite(got_arr)))
    if np.isnan(exp_arr).any():  # NaN never passes: the cell computed it from broken state
        detail = (
            "the expected value itself contains NaN (not a number): the test computes it from "
            "results of your earlier code, which are broken; fix those first"
        )
    elif bad and np.all(np.isfinite(exp_arr)):
        what = "a NaN or infinite value" if got_arr.size == 1 else f"{bad} of {got_arr.size} values"
        detail = (
            f"your result has {what} (NaN: not a number, or inf) where a finite number is "
            "expected: an overflow (exp of a large number), 0/0 or log(0) on the way?"
        )
        if not np.isnan(got_arr).any():  # only +-inf: returned on purpose as often as overflowed
            detail = (
                f"your result has {what.replace('a NaN or infinite', 'an infinite')} (inf or -inf) "
                "where a finite number is expected: an infinite value chosen or returned (a "
                "candidate such as -inf, a max over nothing), or an overflow on the way?"
            )
    else:
        err = np.max(np.abs(got_arr - exp_arr)) if got_arr.size else 0.0
        detail = f"values differ (max abs difference {err:.3g}, rtol={rtol}, atol={atol})"
    if got_arr.size <= 12:
        # prefix: the rows of a matrix line up under its first row
        detail += f"\n  got:      {np.array2string(got_arr, precision=6, prefix='  got:      ')}"
        detail += f"\n  expected: {np.array2string(exp_arr, precision=6, prefix='  expected: ')}"
    return detail


def short_repr(value):
    """``repr`` cut to 200 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
