"""Why a notebook failed is a type made where it happens (``outcomes.Problem``), stored in the
marker by one module (``grading/marker.py``) and read from there, never guessed from its text."""

from __future__ import annotations

import json

import nbformat
import pytest
import zmq

from autograder import kernel, outcomes
from autograder.config import Limits
from autograder.grading import marker
from autograder.outcomes import Problem


def test_a_kernel_lost_to_a_zmq_error_is_a_crash_not_a_rejection(tmp_path, monkeypatch):
    """The report used to read "the kernel failed ... (ZMQError)" as a rejected notebook."""
    calls = []

    async def broken_wire(self, cell, index, **kw):
        calls.append(index)
        raise zmq.ZMQError(zmq.ETERM, "Context was terminated")

    monkeypatch.setattr(kernel.LimitedClient, "async_execute_cell", broken_wire)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    out, info = kernel.execute_notebook(
        nb, tmp_path / "work", Limits(cell_timeout_s=30, max_restarts=0)
    )
    problem = info["failed_cells"][0]
    assert calls == [0]
    assert problem == Problem(
        outcomes.CRASH, "the kernel failed while running this cell (ZMQError)"
    )
    assert out.cells[0].outputs[0]["evalue"] == problem.text  # what the student reads


def test_the_marker_keeps_the_kind_it_was_given(tmp_path):
    crash = outcomes.crash("the kernel failed while running this cell (ZMQError)")
    marker.write(
        tmp_path,
        {
            "hash": "h",
            "summary": {"score": 1.0},
            "results": {
                "nb": {
                    "problem": outcomes.missing().as_json(),
                    "info": {"failed_cells": {"3": crash.as_json()}},
                    "scores": {},
                    "notes": [],
                }
            },
        },
    )
    data = marker.read(tmp_path / marker.NAME)
    assert marker.current(data)
    result = data["results"]["nb"]
    assert result["problem"] == Problem(outcomes.MISSING, "notebook not submitted")
    assert result["info"]["failed_cells"] == {"3": crash}
    assert [p.name for p in tmp_path.iterdir()] == [marker.NAME]  # no temporary file left


def test_a_marker_from_an_older_grader_is_read_but_regraded(tmp_path):
    """Before kinds were stored a problem was a sentence: it stays a sentence (unclassified),
    and the pipeline grades that student again rather than trust the old marker."""
    (tmp_path / marker.NAME).write_text(
        json.dumps(
            {
                "hash": "h",
                "summary": {},
                "results": {"nb": {"reason": "kernel error: no", "info": {}, "scores": {}}},
            }
        )
    )
    data = marker.read(tmp_path / marker.NAME)
    assert data["results"]["nb"]["problem"] == Problem(outcomes.UNCLASSIFIED, "kernel error: no")
    assert not marker.current(data)


@pytest.mark.parametrize("text", ["", "[1, 2]", "{", "null"])
def test_an_unreadable_marker_is_no_marker(tmp_path, text):
    (tmp_path / marker.NAME).write_text(text)
    assert marker.read(tmp_path / marker.NAME) is None


def test_a_problem_kind_is_one_of_the_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        Problem("oops", "text")
    assert Problem.from_json(None) is None
    assert Problem.from_json({"kind": "timeout", "text": "t"}) == outcomes.timeout("t")
    assert len(outcomes.crash("x" * 1000).text) == outcomes.MAX_TEXT


def test_a_worker_failure_is_the_graders_not_the_students():
    problem = outcomes.grader_crash(OSError("disk full"))
    assert problem.kind == outcomes.GRADER_CRASH and problem.text.startswith("grader crashed")


def _raised(make):
    try:
        make()
    except BaseException as exc:  # noqa: BLE001 - the test builds chains of any kind
        return exc
    raise AssertionError("nothing raised")


def test_the_exception_chain_follows_causes_and_contexts_once_each():
    def nested():
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise OSError("closed database")  # noqa: B904 - a context, as clean-up makes
        except OSError as exc:
            raise ValueError("translated") from exc

    exc = _raised(nested)
    kinds = [type(e).__name__ for e in outcomes.exception_chain(exc)]
    assert kinds == ["ValueError", "OSError", "KeyboardInterrupt"]
    assert isinstance(outcomes.interruption(exc), KeyboardInterrupt)
    assert outcomes.interruption(ValueError("plain")) is None
    assert outcomes.interruption(None) is None
    looped = ValueError("a")
    looped.__context__ = RuntimeError("b")
    looped.__context__.__context__ = looped  # a cycle ends the walk
    assert len(list(outcomes.exception_chain(looped))) == 2


def test_a_translation_from_none_hides_what_it_translated_only_when_asked():
    def hidden():
        try:
            raise OSError("the one translated")
        except OSError:
            raise ValueError("no line items URL") from None

    exc = _raised(hidden)
    assert [type(e) for e in outcomes.exception_chain(exc, translated=True)] == [ValueError]
    assert [type(e) for e in outcomes.exception_chain(exc)] == [ValueError, OSError]
