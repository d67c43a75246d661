"""autograder.course: the course folder's paths and the record of what ``grade`` could not
grade (``not_graded.json``), which the pipeline writes and the exports and report read."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from autograder.course import Course
from autograder.reporting import export


def lost(*pairs):
    return [SimpleNamespace(entry=e, reason=r) for e, r in pairs]


def test_not_graded_is_kept_per_assignment_and_replaced_by_the_next_run(tmp_path):
    course = Course(tmp_path)
    course.write_not_graded("01_a", [])
    assert not course.not_graded_json.exists()  # nothing lost, nothing written
    course.write_not_graded("01_a", lost(("x.zip", "not a zip file"), ("y", "no notebook")))
    course.write_not_graded("02_b", lost(("z", "two notebooks")))
    assert course.not_graded("01_a") == [
        {"entry": "x.zip", "reason": "not a zip file"},
        {"entry": "y", "reason": "no notebook"},
    ]
    assert sorted(course.not_graded_all()) == ["01_a", "02_b"]
    course.write_not_graded("01_a", [])  # a later run graded everything
    assert course.not_graded("01_a") == [] and list(course.not_graded_all()) == ["02_b"]
    assert json.loads(course.not_graded_json.read_text()) == {
        "02_b": [{"entry": "z", "reason": "two notebooks"}]
    }


@pytest.mark.parametrize("text", ["not json", "[1, 2]", ""])
def test_an_unreadable_record_reads_as_nothing_not_graded(tmp_path, text):
    course = Course(tmp_path)
    course.not_graded_json.write_text(text)
    assert course.not_graded_all() == {} and course.not_graded("01_a") == []
    course.write_not_graded("01_a", lost(("x", "why")))
    assert course.not_graded("01_a") == [{"entry": "x", "reason": "why"}]


def test_the_export_rows_of_entries_not_graded_come_from_the_course(tmp_path):
    course = Course(tmp_path)
    course.write_not_graded("01_a", lost(("x.zip", "not a zip file")))
    assert export.not_graded_rows(course) == [
        {"student_id": "x.zip", "assignment": "01_a", "submitted": False,
         "not_graded": "not a zip file"}
    ]  # fmt: skip


def test_export_writes_files_only_and_names_the_formats(tmp_path):
    course = Course(tmp_path)
    with pytest.raises(ValueError, match="lti writes no file; autograder.term.lti.export_lti"):
        export.export(course, "lti")
    with pytest.raises(ValueError, match="one of csv, canvas, moodle, lti, got 'xls'"):
        export.export(course, "xls")
