"""autograder.reporting.feedback: each check passed, failed or not run, the first failure marked,
hidden tests never named, from the grader's verdicts (no kernels: a course folder by hand)."""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder import checks
from autograder.course import Course
from autograder.grading import scoring
from autograder.grading.marker import NAME as MARKER
from autograder.reporting import feedback

AID, NB = "00_demo", "demo"
GRADE = {"grade": True, "solution": False, "locked": True, "points": 4, "schema_version": 3}
VISIBLE = 'c = Check("ex_bn")\nc.close("mean 0", mu, 0.0, msg="subtract the batch mean")'
HIDDEN = "### BEGIN HIDDEN TESTS\nc.close('secret label', got)\n### END HIDDEN TESTS"


def the_key(n_hidden=12):
    labels = {"mean 0": ("close", 0.0, 0.0, False), "var 1": ("close", 1.0, 1.0, False)}
    labels.update({f"secret {k}": ("close", float(k), None, True) for k in range(n_hidden)})
    entry = {"points": 4.0, "labels": {}}
    for label, (kind, value, expected, hidden) in labels.items():
        rec = checks.make_record(
            "ex_bn", label, kind, value, {"rtol": 1e-6, "atol": 1e-8}, expected=expected
        )
        rec["msg"] = {"mean 0": "subtract the batch mean", "var 1": "biased variance"}.get(
            label, ""
        )
        entry["labels"][label] = {**rec, "hidden": hidden}
    return {"notebook": NB, "cells": {"ex_bn": entry}}


def executed(records, error=None):
    cell = nbformat.v4.new_code_cell(VISIBLE, metadata={"nbgrader": {**GRADE, "grade_id": "ex_bn"}})
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={checks.MIME: checks.make_record("ex_bn", lb, "close", v, {})},
        )
        for lb, v in records
    ]
    if error:
        cell.outputs.append(
            nbformat.v4.new_output("error", ename=error[0], evalue=error[1], traceback=[])
        )
    return cell


def as_json(scores):
    """A cell's verdict as the marker holds it (a dict: a marker from an older grader)."""
    return scores if isinstance(scores, dict) else scores.as_json()


def course_with(tmp_path, scores, k=None):
    """A graded course folder: release notebook, key, submission and marker of student s1."""
    course = Course(tmp_path / "course")
    k = k or the_key()
    release = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Batch norm"),
            nbformat.v4.new_code_cell(
                VISIBLE, metadata={"nbgrader": {**GRADE, "grade_id": "ex_bn"}}
            ),
        ]
    )
    for folder in (course.source / AID, course.release_dir / AID, course.submitted / "s1" / AID):
        folder.mkdir(parents=True)
        nbformat.write(release, folder / f"{NB}.ipynb")
    course.key_path(AID, NB).parent.mkdir(parents=True)
    course.key_path(AID, NB).write_text(json.dumps(k))
    marker = course.autograded / "s1" / AID / MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text(
        json.dumps(
            {
                "hash": "x",
                "summary": {},
                "results": {
                    NB: {"problem": None, "info": {}, "scores": {"ex_bn": as_json(scores)}}
                },
            }
        )
    )
    return course


def page(tmp_path, scores, k=None):
    course = course_with(tmp_path, scores, k)
    (path,) = feedback.write_feedback(AID, course)
    return path.read_text()


def test_checks_after_the_failing_one_are_not_run_not_failed(tmp_path):
    """The batch-norm case of issue 16: one visible failure, twelve hidden checks not reached."""
    scores = scoring.score_cell(
        executed([("mean 0", 0.0), ("var 1", 1.5)], ("AssertionError", "[ex_bn] var 1: no")),
        the_key()["cells"]["ex_bn"],
    )
    html = page(tmp_path, scores)
    assert "<li>mean 0: passed</li>" in html
    assert "<li class='first'>var 1: failed - biased variance <i>(first failure)</i></li>" in html
    assert "hidden tests 1-12: not run: an earlier check in this cell failed" in html
    assert html.count(": failed") == 1  # before: all twelve hidden checks "failed" too
    assert "failed at var 1" in html  # the overview names the first failure
    assert "secret" not in html and "BEGIN HIDDEN" not in html


def test_all_three_states_and_a_hidden_first_failure_with_its_note(tmp_path):
    records = [("mean 0", 0.0), ("var 1", 1.0), ("secret 0", 0.0), ("secret 1", None)]
    scores = scoring.score_cell(
        executed(records, ("AssertionError", "[ex_bn] secret 1: got None")),
        the_key()["cells"]["ex_bn"],
    )
    html = page(tmp_path, scores)
    assert "<li>mean 0: passed</li>" in html and "<li>hidden test 1: passed</li>" in html
    assert (
        "<li class='first'>hidden test 2: failed - your value: got None: no value came back"
    ) in html
    assert "hidden tests 3-12: not run" in html and "failed at hidden test 2" in html


def test_visible_failure_the_kernel_passed_is_explained(tmp_path):
    """Kernel passed it (no error), the key did not: the page says why they differ."""
    k = the_key(n_hidden=1)
    records = [("mean 0", 0.5), ("var 1", 1.0), ("secret 0", 0.0)]
    scores = scoring.score_cell(executed(records), k["cells"]["ex_bn"])
    html = page(tmp_path, scores, k)
    assert "mean 0: failed - subtract the batch mean (passed in your notebook" in html
    assert "<li>var 1: passed</li>" in html and "<li>hidden test 1: passed</li>" in html


def test_a_missing_cell_and_full_marks(tmp_path):
    html = page(tmp_path, scoring.score_cell(None, the_key()["cells"]["ex_bn"]))
    assert "not run: the test cell was missing from the submission" in html
    assert "failed: test cell missing" in html and "(first failure)" not in html
    records = [("mean 0", 0.0), ("var 1", 1.0), *((f"secret {k}", float(k)) for k in range(12))]
    scores = scoring.score_cell(executed(records), the_key()["cells"]["ex_bn"])
    html = page(tmp_path / "full", scores)
    assert "4 / 4 points" in html and "failed" not in html and "not run" not in html


@pytest.mark.parametrize("legacy, shown", [(True, "passed"), (False, "failed")])
def test_markers_from_before_the_three_states_still_render(tmp_path, legacy, shown):
    labels = dict.fromkeys(the_key()["cells"]["ex_bn"]["labels"], legacy)
    scores = {"score": 0.0, "max_score": 4.0, "error": None, "labels": labels}
    assert f"<li>mean 0: {shown}" in page(tmp_path, scores)


def test_a_cell_that_never_ran_does_not_blame_an_earlier_check(tmp_path):
    """No records and no error (the notebook's time ran out before it): nothing failed."""
    scores = scoring.score_cell(executed([]), the_key()["cells"]["ex_bn"])
    assert scores.first_failure is None and scores.score == 0.0
    html = page(tmp_path, scores)
    assert "not run: the cell did not get this far" in html
    assert "an earlier check" not in html


def test_folders_are_ready_for_nbgraders_release_feedback(tmp_path):
    """release_feedback needs the submission's timestamp and secret next to the pages."""
    course = course_with(tmp_path, scoring.score_cell(None, the_key()["cells"]["ex_bn"]))
    submitted = course.submitted / "s1" / AID
    (submitted / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (submitted / "submission_secret.txt").write_text("c0ffee")
    (path,) = feedback.write_feedback(AID, course)
    assert (path.parent / "timestamp.txt").read_text() == "2026-12-01 10:00:00.000000 UTC"
    assert (path.parent / "submission_secret.txt").read_text() == "c0ffee"
