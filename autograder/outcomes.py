"""Why a notebook, or one of its cells, could not be graded: a small type made where it happens.

A :class:`Problem` is created by the code that meets it (sanitising a submission, the kernel
run, the parent when a worker crashes), travels with the notebook to the parent, and is stored
in the marker file as ``{"kind": ..., "text": ...}``. Readers (report, feedback) take the kind
from there; nothing re-reads the text to guess it. The kinds are:

* ``rejected``: the submission or notebook cannot be run (not a notebook, too large, another
  notebook, a bad zip, broken nbgrader metadata);
* ``missing notebook``: the notebook was not submitted;
* ``timeout``: a cell, or the notebook, ran out of time;
* ``crash``: the kernel died, failed or did not start (the student's code, or the sandbox);
* ``not run``: a cell left out after too many crashes or once the notebook's time ran out;
* ``grader crash``: the grader itself failed on this student (graded again on the next run).
"""

from __future__ import annotations

import dataclasses

REJECTED = "rejected"
MISSING = "missing notebook"
TIMEOUT = "timeout"
CRASH = "crash"
NOT_RUN = "not run"
GRADER_CRASH = "grader crash"
KINDS = (REJECTED, MISSING, TIMEOUT, CRASH, NOT_RUN, GRADER_CRASH)
#: the kind of a problem read from a marker written before problems had kinds
UNCLASSIFIED = "unclassified"
MAX_TEXT = 300


@dataclasses.dataclass(frozen=True)
class Problem:
    """What went wrong (``kind``, one of :data:`KINDS`) and the sentence a person reads."""

    kind: str
    text: str

    def __post_init__(self):
        if self.kind not in (*KINDS, UNCLASSIFIED):
            raise ValueError(f"Problem: kind must be one of {KINDS}, received {self.kind!r}")
        object.__setattr__(self, "text", str(self.text)[:MAX_TEXT])

    def __str__(self) -> str:
        return self.text

    def as_json(self) -> dict:
        return {"kind": self.kind, "text": self.text}

    @classmethod
    def from_json(cls, value) -> Problem | None:
        """The problem a marker holds: ``{"kind", "text"}``, None, or (markers written before
        kinds were stored) a bare sentence, whose kind is then :data:`UNCLASSIFIED`."""
        if value is None:
            return None
        if isinstance(value, dict) and value.get("kind") in KINDS:
            return cls(value["kind"], str(value.get("text", "")))
        text = value.get("text", value) if isinstance(value, dict) else value
        return cls(UNCLASSIFIED, str(text))


def rejected(text: str) -> Problem:
    return Problem(REJECTED, text)


def missing(text: str = "notebook not submitted") -> Problem:
    return Problem(MISSING, text)


def timeout(text: str) -> Problem:
    return Problem(TIMEOUT, text)


def crash(text: str) -> Problem:
    return Problem(CRASH, text)


def not_run(text: str) -> Problem:
    return Problem(NOT_RUN, text)


def grader_crash(exc: BaseException) -> Problem:
    """A worker or executor failure: not the student's fault, graded again next run."""
    return Problem(GRADER_CRASH, f"grader crashed: {type(exc).__name__}: {exc}")


def exception_chain(exc: BaseException | None, *, translated: bool = False):
    """``exc``, then the exceptions behind it (``__cause__``, else ``__context__``), each once.

    ``translated=True`` stops where code raised ``... from None``: a deliberate translation,
    whose hidden error is not the one to tell the user about."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        hidden = translated and exc.__suppress_context__
        exc = exc.__cause__ or (None if hidden else exc.__context__)


def interruption(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM (a ``KeyboardInterrupt``) behind ``exc``, if any: clean-up code
    may replace it by an error of its own (nbclient's ``assert self.km is not None``, a
    database's "Cannot operate on a closed database")."""
    return next((e for e in exception_chain(exc) if isinstance(e, KeyboardInterrupt)), None)
