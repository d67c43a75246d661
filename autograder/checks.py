"""The test helper every grade cell uses.

A grade cell looks like this (see docs/grading.md)::

    from autograder.checks import Check
    c = Check("ex_sigmoid")                      # the cell's grade_id
    with c.case("sigmoid(0)"):
        c.close("sigmoid(0)", sigmoid(0.0), 0.5, msg="sigmoid(0) should be 1/2")
    ### BEGIN HIDDEN TESTS
    with c.case("random 4x3"):
        x = np.random.default_rng(0).normal(size=(4, 3))
        with c.forbid("nncourse.functional.sigmoid"):
            got = sigmoid(x)
        c.close("random 4x3", got, rtol=1e-6, hint="negative inputs")  # the key supplies it
    ### END HIDDEN TESTS
    c.done()

Each ``with c.case(...)`` block runs on its own: a check that fails inside it, or the
student's code raising inside it, fails that block's checks only, and the blocks after it
still run. ``c.done()`` ends the cell with one compact :class:`ChecksFailed` error (label,
verdict, message, got against expected for visible checks; no traceback through this file)
when anything failed, so nbgrader's Validate and Run All still stop there. A block whose code
raised ``NotImplementedError`` (the stub of an untouched ``YOUR CODE HERE``) is *not
attempted*. The grader splits the cell's points over its checks (``weight=``, 1 by default).

The older form, checks outside any ``case`` block, still works: the first failing check
raises ``AssertionError`` and the cell is all-or-nothing.

Two things happen for every check:

1. It behaves like an ordinary test: when it fails it raises ``AssertionError`` (or, inside
   a ``case`` block, notes the failure for ``done``) with a message that says what was
   expected.
2. *Before* deciding, it emits a machine-readable **record** of the value the student's code
   produced: a ``display_data`` output with the private MIME type :data:`MIME`. The record
   never contains the expected value.

The verdict that counts is not the one taken in the student's kernel (student code can
monkeypatch anything there). The trusted grader (``autograder.grading``) compares the records
of the graded notebook with an *answer key*: the records of the instructor's source notebook,
executed at release time, with the tolerances stored there. To forge a record a student has to
produce the right value, which is the exercise.

Each kind of check (``close``, ``equal``, ...) is one entry of :data:`KINDS`: its decision and
its failure message, used alike by the kernel and by the grader, next to each other; the
:class:`Check` method of the same name only says what is recorded.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import re
import sys

import numpy as np

from autograder import properties
from autograder.records import (
    CASE_MIME,
    KEY,
    MIME,
    CheckMisuse,
    Kind,
    as_numpy,
    decide_close,
    decode_value,
    encode_value,
    explain_close,
    make_record,
    not_a_number,
    short_repr,
)

_KEY_RUN_ENV = "AUTOGRADER_KEY_RUN"  # set by the trusted answer-key run only


# --------------------------------------------------------------------------- kinds


def _decide_equal(got, reference, params):
    if isinstance(got, tuple) or isinstance(reference, tuple):  # ("repr", text) values
        return isinstance(got, tuple) and isinstance(reference, tuple) and got == reference
    return values_equal(got, reference)


def _explain_equal(got, expected, params):
    if got is None or isinstance(got, BaseException):
        return f"expected {short_repr(expected)}, {not_a_number(got)}"
    return f"expected {short_repr(expected)}, got {short_repr(got)}"


def _decide_true(got, reference, params):
    return isinstance(got, np.ndarray) and got.shape == () and bool(got) is True


def _explain_true(got, expected, params):
    return "condition is false"


def _single_number(got):
    """The float in a decoded one-number array, else None (NaN stays NaN)."""
    if not isinstance(got, np.ndarray) or got.size != 1:
        return None
    return float(got.reshape(()))


def _decide_at_least(got, reference, params):
    value = _single_number(got)
    return value is not None and not math.isnan(value) and value >= float(params["threshold"])


def _decide_at_most(got, reference, params):
    value = _single_number(got)
    return value is not None and not math.isnan(value) and value <= float(params["threshold"])


def _explain_at_least(got, expected, params):
    return f"expected at least {params['threshold']}, {_got_one_number(got)}"


def _explain_at_most(got, expected, params):
    return f"expected at most {params['threshold']}, {_got_one_number(got)}"


def _got_one_number(got):
    arr = as_numpy(got)
    if arr is None:
        return not_a_number(got)
    if arr.size != 1:
        return f"got {arr.size} numbers (shape {arr.shape}) instead of one"
    if not np.isfinite(float(arr.reshape(()))):
        return f"got {short_repr(got)}: not a finite number (an overflow, 0/0 or log(0)?)"
    return f"got {short_repr(got)}"


def _decide_accuracy(got, reference, params):
    if not isinstance(got, np.ndarray) or not isinstance(reference, np.ndarray):
        return False
    if got.shape != reference.shape or not got.size:
        return False
    return float(np.mean(got == reference)) >= float(params["threshold"])


def _explain_accuracy(got, expected, params):
    if as_numpy(got) is None:
        return f"expected an array of predictions, {not_a_number(got)}"
    pred, targ = np.asarray(as_numpy(got)), np.asarray(as_numpy(expected))
    if pred.shape != targ.shape:
        return f"expected predictions of shape {targ.shape}, got {pred.shape}"
    acc = float(np.mean(pred == targ)) if targ.size else 0.0
    return f"accuracy {acc:.3f} is below {params['threshold']}"


#: Every kind of check, by name. A new kind is one entry here plus a method of
#: :class:`Check` of the same name that calls ``self._check`` (the record side: which value
#: is recorded, with which parameters); ``tests/test_checks.py`` keeps the two in step.
KINDS = {
    k.name: k
    for k in (
        Kind("close", decide_close, explain_close, uses_reference=True, numeric=True),
        Kind("equal", _decide_equal, _explain_equal, uses_reference=True, numeric=False),
        Kind("true", _decide_true, _explain_true, uses_reference=False, numeric=False),
        Kind("at_least", _decide_at_least, _explain_at_least, uses_reference=False, numeric=True),
        Kind("at_most", _decide_at_most, _explain_at_most, uses_reference=False, numeric=True),
        Kind("accuracy", _decide_accuracy, _explain_accuracy, uses_reference=True, numeric=True),
        *(Kind(*spec) for spec in properties.KIND_SPECS),  # inputs kept, rng, edges, ...
    )
}


# --------------------------------------------------------------------------- failure text


def failure_prefix(gid, label) -> str:
    """How the ``AssertionError`` of a failed check begins: ``[grade_id] label: ``, then the
    message (read back by :func:`parse_failure`)."""
    return f"[{gid}] {label}: "


_FAILURE = re.compile(r"\[([^\]\s]+)\] (.*?): (.*)", re.DOTALL)


def parse_failure(text, gid=None, label=None) -> tuple[str, str, str] | None:
    """``(grade_id, label, message)`` of the text of a failed check's ``AssertionError``
    (:func:`failure_prefix`), or None when the text is not one (or not ``gid``'s ``label``).

    Without ``label``, the label is read up to the first ``": "``: a label that holds one
    is read whole only when it is given.
    """
    text = str(text)
    if gid is not None and label is not None:
        prefix = failure_prefix(gid, label)
        if text.startswith(prefix) or text == prefix.rstrip():
            return str(gid), str(label), text[len(prefix) :]
        return None
    found = _FAILURE.fullmatch(text) or _FAILURE.fullmatch(text + " ")
    if found is None or (gid is not None and found[1] != str(gid)):
        return None
    return found[1], found[2], found[3]


# --------------------------------------------------------------------------- Check


class ChecksFailed(AssertionError):
    """The end of a grade cell in which some checks failed or were not attempted.

    It carries the cell's verdict as a few plain lines (see :meth:`Check.done`) and renders
    itself: IPython calls ``_render_traceback_`` instead of printing a traceback, so the
    student sees the verdict and no frame of the grader's code.
    """

    def __init__(self, check_id, lines):
        self.check_id = check_id
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))

    def _render_traceback_(self):
        return [f"\x1b[1;31m{self.lines[0]}\x1b[0m", *self.lines[1:]]


class Check(properties.PropertyChecks):
    """Checks of one grade cell; ``check_id`` must be the cell's nbgrader ``grade_id``.

    Every method takes a ``label`` (unique within the cell: it names the test in feedback
    and in the answer key), an optional ``msg`` shown to the student on failure, a
    ``weight`` (its share of the cell's points, relative to the cell's other checks) and a
    ``hint``: for a hidden check, a few words on what it probes ("very large inputs"), shown
    in the feedback when it fails (never its inputs or expected value).
    """

    def __init__(self, check_id):
        if not isinstance(check_id, str) or not check_id:
            raise TypeError(f"Check: check_id must be a non-empty str, received {check_id!r}")
        self.id = check_id
        self._labels = set()
        self._case = None  # the open case block: {"case", "labels", "failed"}
        self._cases = []  # finished case blocks, in order (the case records)

    def __repr__(self):
        return f"Check({self.id!r})"

    # -- the checks -----------------------------------------------------------

    def close(self, label, got, expected=None, rtol=1e-6, atol=1e-8, msg="", weight=1, hint=""):
        """``got`` has the shape of ``expected`` and is elementwise close to it.

        ``|got - expected| <= atol + rtol * |expected|`` (numpy.allclose), NaN never passes.
        With ``expected=None`` (recommended in hidden tests) nothing is decided in the kernel:
        the grader compares ``got`` with the value the instructor's solution produced.
        """
        params = {"rtol": float(rtol), "atol": float(atol)}
        expected = KEY if expected is None else expected
        self._check("close", label, got, expected, params, msg, weight, hint)

    def equal(self, label, got, expected=KEY, msg="", weight=1, hint=""):
        """``got == expected`` exactly (arrays: same shape and all entries equal).

        Without ``expected`` (recommended in hidden tests) the grader compares ``got`` with the
        value the instructor's solution produced; nothing is decided in the kernel.
        """
        self._check("equal", label, got, expected, {}, msg, weight, hint)

    def true(self, label, condition, msg="", weight=1, hint=""):
        """``condition`` is true. Weak against forgery: prefer close/equal in hidden tests."""
        self._check("true", label, bool(condition) is True, KEY, {}, msg, weight, hint)

    def at_least(self, label, value, threshold, msg="", weight=1, hint=""):
        """The number ``value >= threshold``."""
        params = {"threshold": float(threshold)}
        self._check("at_least", label, value, KEY, params, msg, weight, hint)

    def at_most(self, label, value, threshold, msg="", weight=1, hint=""):
        """The number ``value <= threshold``."""
        params = {"threshold": float(threshold)}
        self._check("at_most", label, value, KEY, params, msg, weight, hint)

    def accuracy(self, label, predictions, targets, threshold, msg="", weight=1, hint=""):
        """The fraction of ``predictions == targets`` is at least ``threshold``.

        The record holds the predictions (not the accuracy), so the grader recomputes the
        accuracy against the targets stored in the answer key: a forged number does not pass.
        """
        targ = np.asarray(as_numpy(targets))
        params = {"threshold": float(threshold)}
        self._check("accuracy", label, predictions, targ, params, msg, weight, hint)

    # -- case blocks ----------------------------------------------------------

    @contextlib.contextmanager
    def case(self, name):
        """A block of the cell that runs and counts on its own.

        A check failing inside it is noted, not raised; an exception raised by the code inside
        (the student's function) ends the block, and the block's checks that did not record
        fail (or are *not attempted*, for ``NotImplementedError``). Either way the cell goes on
        with the next block; :meth:`done` raises at the end if anything failed. On exit the
        block emits its record (:data:`CASE_MIME`), which the grader uses to tell checks that
        ran in the block from records published by anything else.
        """
        name = str(name)
        if self._case is not None:
            raise CheckMisuse(
                f"Check({self.id!r}): case {name!r} opened inside case {self._case['case']!r}"
            )
        if any(done["case"] == name for done in self._cases):
            raise CheckMisuse(f"Check({self.id!r}): case {name!r} is used twice in this cell")
        self._case = {"case": name, "labels": [], "failed": {}}
        error = None
        try:
            yield self
        except CheckMisuse:
            raise
        except Exception as exc:  # noqa: BLE001 - the student's code: any error ends the block
            error = exc
        finally:
            block, self._case = self._case, None
            block["error"] = None if error is None else type(error).__name__
            block["attempted"] = not isinstance(error, NotImplementedError)
            block["message"] = "" if error is None else _error_text(error)
            self._cases.append(block)
            _publish_case({**block, "check": self.id})

    def done(self):
        """End of the cell: raise :class:`ChecksFailed` if a check failed or was not attempted.

        The error's text is the verdict, one block per cell::

            ex_prelu: 2 of 3 checks passed (1 failed)
              passed         prelu forward
              FAILED         slope at the kink: ...
                               got:      [[0.]]
                               expected: [[-0.5]]
        """
        if self._case is not None:
            raise CheckMisuse(f"Check({self.id!r}): done() inside case {self._case['case']!r}")
        lines, passed, failed, stopped, untried = [], 0, 0, 0, 0
        for block in self._cases:
            for label in block["labels"]:
                if label in block["failed"]:
                    failed += 1
                    lines.append(f"  FAILED         {label}: {_indent(block['failed'][label])}")
                else:
                    passed += 1
                    lines.append(f"  passed         {label}")
            if block["error"] is not None:
                untried += not block["attempted"]
                stopped += block["attempted"]
                state = "not attempted " if not block["attempted"] else "FAILED        "
                lines.append(f"  {state} {block['case']}: {_indent(block['message'])}")
        if not failed and not stopped and not untried:
            return
        parts = [f"{failed} failed"] if failed else []
        if stopped:
            parts.append(f"{stopped} block{'s' * (stopped > 1)} stopped by an error")
        if untried:
            parts.append(f"{untried} block{'s' * (untried > 1)} not attempted")
        head = f"{self.id}: {passed} of {passed + failed} checks passed ({', '.join(parts)})"
        if not passed + failed:
            head = f"{self.id}: no check passed ({', '.join(parts)})"
        raise ChecksFailed(self.id, [head, *lines])

    @contextlib.contextmanager
    def forbid(self, *names, msg=""):
        """Make reference implementations raise inside the block.

        ``names`` are dotted paths such as ``"nncourse.functional.sigmoid"`` or
        ``"nncourse.layers.Linear.forward"``. Inside the ``with`` block each one is replaced by
        a function raising ``AssertionError``; aliases of the same object in the notebook's
        namespace (``from nncourse.functional import sigmoid``) are replaced too. Everything is
        restored on exit. Use it around the checks that call the student's code.
        """
        saved = []  # (namespace or object, attribute name, original)
        try:
            for name in names:
                owner, attr, original, raw = _resolve(name)
                text = msg or (
                    f"{name} is the reference solution: this exercise must be solved "
                    "without calling it"
                )
                blocker = _blocker(name, text)
                saved.append((owner, attr, raw))
                setattr(owner, attr, blocker)
                main = sys.modules.get("__main__")
                for key, val in list(vars(main).items()) if main else []:
                    if val is original:
                        saved.append((main, key, original))
                        setattr(main, key, blocker)
            yield self
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)

    # -- internals ------------------------------------------------------------

    def _check(self, kind, label, value, expected, params, msg, weight=1, hint=""):
        """Record ``value``, then decide it here as the grader would (see :class:`Kind`).

        ``expected`` is :data:`KEY` when the cell passes none: a kind that compares with a
        reference then decides nothing in the kernel (the answer key will), except that a
        non-number can never pass a numeric kind and fails at once.
        """
        weight = float(weight)
        if not (math.isfinite(weight) and weight > 0):
            raise CheckMisuse(f"Check({self.id!r}): weight of {label!r} must be > 0, got {weight}")
        spec = KINDS[kind]
        given = expected is not KEY
        self._emit(label, kind, value, params, expected if given else None, msg, weight, hint)
        if spec.uses_reference and not given:
            if spec.numeric and as_numpy(value) is None:
                self._fail(label, msg, spec.explain(value, None, params))
            return
        got = decode_value(encode_value(value))
        reference = decode_value(encode_value(expected)) if given else None
        if not spec.decide(got, reference, params):
            self._fail(label, msg, spec.explain(value, expected if given else None, params))

    def _emit(self, label, kind, value, params, expected=None, msg="", weight=1.0, hint=""):
        label = str(label)
        if label in self._labels:
            raise CheckMisuse(f"Check({self.id!r}): label {label!r} is used twice in this cell")
        self._labels.add(label)
        key_run = os.environ.get(_KEY_RUN_ENV) == "1"
        case = self._case["case"] if self._case is not None else None
        record = make_record(
            self.id,
            label,
            kind,
            value,
            params,
            line=_caller_line(),
            expected=expected if key_run else None,
            msg=msg,
            case=case,
            weight=weight,
            hint=hint,
        )
        _publish(record)
        if self._case is not None:
            self._case["labels"].append(label)

    def _fail(self, label, msg, detail):
        if self._case is not None:  # inside a case block: noted, the cell goes on
            self._case["failed"][str(label)] = f"{msg}\n{detail}" if msg else detail
            return
        raise AssertionError(
            failure_prefix(self.id, label) + (f"{msg}\n  {detail}" if msg else detail)
        )


def _error_text(error) -> str:
    """What the student is told about an exception that ended a case block.

    The exception's class and message, and where it came from: the innermost frame outside
    this package (the student's function, or the grade cell), never a frame of the grader.
    """
    if isinstance(error, NotImplementedError):
        return "your code still raises NotImplementedError (the YOUR CODE HERE stub)"
    text = f"{type(error).__name__}: {_short_text(str(error))}" if str(error) else ""
    text = text or type(error).__name__
    here = os.path.dirname(os.path.abspath(__file__))
    where = None
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(here + os.sep):
            where = (tb.tb_frame.f_code.co_name, tb.tb_lineno)
        tb = tb.tb_next
    if where is not None and where[0] != "<module>":
        text += f" (raised in {where[0]}, line {where[1]})"
    return f"your code raised {text}"


def _short_text(text, limit=300):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _indent(text):
    """Continuation lines of a message, indented under the verdict column."""
    return str(text).replace("\n", "\n" + " " * 19)


def values_equal(a, b):
    """Exact equality used by :meth:`Check.equal` (never calls a student ``__eq__``)."""
    a_arr, b_arr = as_numpy(a), as_numpy(b)
    if a_arr is not None and b_arr is not None:
        return a_arr.shape == b_arr.shape and bool(np.array_equal(a_arr, b_arr))
    if type(a) is str and type(b) is str:
        return str.__eq__(a, b)
    if a is None or b is None:
        return a is b
    return False


def _resolve(name):
    """``"pkg.mod.obj.attr"`` -> (owner, attribute name, value, raw value to restore)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:-1]:
            owner = getattr(owner, part)
        attr = parts[-1]
        value = getattr(owner, attr)
        # restore a class attribute exactly (staticmethod/classmethod objects included)
        raw = vars(owner).get(attr, value) if isinstance(owner, type) else value
        return owner, attr, value, raw
    raise ValueError(f"Check.forbid: cannot resolve {name!r} (expected 'module.attribute')")


def _blocker(name, text):
    def blocked(*args, **kwargs):
        raise AssertionError(text)

    blocked.__name__ = name.rsplit(".", 1)[-1]
    blocked.__qualname__ = f"forbidden {name}"
    return blocked


def _caller_line():
    """Line number of the grade-cell line that called the check (None if unknown)."""
    frame = sys._getframe(1)
    here = (__file__, properties.__file__)
    while frame is not None and frame.f_code.co_filename in here:
        frame = frame.f_back
    return frame.f_lineno if frame is not None else None


def _publish(record):
    """Emit a check record as display_data in a kernel; outside IPython, do nothing."""
    _display(record, MIME)


def _publish_case(record):
    """Emit a case block's record (:data:`CASE_MIME`), as :func:`_publish` does."""
    _display(record, CASE_MIME)


def _display(record, mime):
    try:
        from IPython import get_ipython
        from IPython.display import publish_display_data
    except ImportError:  # pragma: no cover - IPython is always installed with jupyter
        return
    if get_ipython() is None:
        return
    # text/plain is empty so that notebooks show nothing for a record
    publish_display_data({mime: json.loads(json.dumps(record)), "text/plain": ""})
