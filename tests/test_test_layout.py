"""How `make test` spreads the suite over its workers (tests/conftest.py's scheduler)."""

from __future__ import annotations

import conftest
import pytest


def test_notebook_runs_spread_and_every_other_file_stays_whole(pytestconfig, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.setattr(pytestconfig.option, "dist", "loadscope", raising=False)
    monkeypatch.setattr(pytestconfig.option, "numprocesses", 2, raising=False)
    monkeypatch.setattr(pytestconfig.option, "tx", ["popen", "popen"], raising=False)
    sched = conftest.pytest_xdist_make_scheduler(pytestconfig, None)
    scope = sched._split_scope
    a = "tests/test_notebooks.py::test_assignment_notebook[01_perceptron]"
    b = "tests/test_notebooks.py::test_assignment_notebook[02_neurons]"
    assert scope(a) != scope(b)  # one unit each: they go to different workers
    c = "tests/test_autograder_notebooks.py::test_perfect_gets_full_marks_and_empty_gets_zero[x]"
    assert scope(c) == c
    hub = ["tests/test_hub.py::test_student_fetches", "tests/test_hub.py::Klass::test_other"]
    assert {scope(n) for n in hub} == {"tests/test_hub.py"}  # one module fixture, one worker
    monkeypatch.setattr(pytestconfig.option, "dist", "load")
    assert conftest.pytest_xdist_make_scheduler(pytestconfig, None) is None
