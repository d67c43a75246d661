"""``export``: the gradebook as CSV, for us (``grades.csv``) and for a learning management system.

``csv``     ``grades.csv``: one row per student and assignment (the pinned columns below).
``canvas``  ``grades_canvas.csv``: Canvas's gradebook import layout. Columns ``Student``, ``ID``,
            ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment named
            after it (a name Canvas does not know creates that assignment); the second row is
            ``Points Possible``. Students are matched by ``ID`` (nbgrader's ``lms_user_id``, when
            the roster has it) or else by ``SIS Login ID`` (the nbgrader student id).
``lti``     posts each score to the LMS through LTI Advantage's Assignment and Grade Services
            (``autograder/term/lti.py``); the per-student report goes to ``lti_passback.txt``.
``moodle``  ``grades_moodle.csv``: for Moodle's "Import: CSV file". Columns ``Username``,
            ``ID number``, ``Email address``, ``First name``, ``Last name``, then one column per
            assignment; on import, map ``Username`` to the user field ``username`` and each
            assignment column to its grade item (or "new grade item").

Scores are nbgrader's submission scores: hand grades from formgrader replace the automatic
score of the cells they grade; a missing submission scores 0, as in ``grades.csv``. The
``score`` of every format is the final one, after the late penalty (``autograder/term/calendar.py``)
and as ``nbgrader export`` computes it: ``max(0, raw_score - late_submission_penalty)``.
"""

from __future__ import annotations

import csv
import io

from autograder.files import atomic_write

COLUMNS = [
    "student_id",
    "assignment",
    "score",  # final: raw_score - late_submission_penalty
    "max_score",
    "auto_score",
    "needs_manual_grade",
    "submitted",
    "raw_score",
    "late_submission_penalty",
    "timestamp",  # trusted submission time, UTC
    "seconds_late",  # after the due date plus any extension
    "not_graded",  # why an entry of --submissions was not graded (its row has no score)
]


def gradebook_rows(course) -> list[dict]:
    """Rows for every student and assignment in the gradebook (missing submissions score 0).

    Late penalties are brought up to date first (``calendar.apply_policy``: a hand grade, a new
    due date, extension or policy changes them), so nbgrader's own export agrees afterwards.
    """
    from nbgrader.api import MissingEntry

    from autograder.term.calendar import apply_policy, is_placeholder, show_iso

    rows = []
    with course.gradebook() as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            late = apply_policy(course, assignment.name, gb)
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                    if is_placeholder(sub):  # an extension granted before submitting
                        raise MissingEntry()
                except MissingEntry:
                    rows.append(
                        {
                            "student_id": student.id,
                            "assignment": assignment.name,
                            "score": 0.0,
                            "max_score": float(assignment.max_score),
                            "auto_score": 0.0,
                            "needs_manual_grade": False,
                            "submitted": False,
                            "raw_score": 0.0,
                            "late_submission_penalty": 0.0,
                            "timestamp": "",
                            "seconds_late": 0.0,
                        }
                    )
                    continue
                auto = sum(g.auto_score or 0 for nb in sub.notebooks for g in nb.grades)
                cal = late[student.id]
                rows.append(
                    {
                        "student_id": student.id,
                        "assignment": assignment.name,
                        "score": cal.score,
                        "max_score": float(sub.max_score),
                        "auto_score": float(auto),
                        "needs_manual_grade": bool(sub.needs_manual_grade),
                        "submitted": True,
                        "raw_score": cal.raw_score,
                        "late_submission_penalty": cal.penalty,
                        "timestamp": show_iso(cal.timestamp),
                        "seconds_late": cal.seconds_late,
                    }
                )
    return rows


def pending_warning(course, rows=None) -> str | None:
    """One line when written answers still wait for a person, else None.

    Their points count 0 in every export until a TA grades them in formgrader (a perfect
    student's 115 of 127 is not a final grade); ``report`` lists the students too.
    """
    rows = gradebook_rows(course) if rows is None else rows
    waiting = [r for r in rows if r["needs_manual_grade"]]
    if not waiting:
        return None
    names = ", ".join(f"{r['student_id']}/{r['assignment']}" for r in waiting[:8])
    names += f" and {len(waiting) - 8} more" if len(waiting) > 8 else ""
    return (
        f"warning: hand grading pending for {len(waiting)} submission"
        f"{'s' * (len(waiting) > 1)} ({names}): their written answers count 0 in this export "
        "until graded in formgrader"
    )


FORMATS = ("csv", "canvas", "moodle", "lti")
CANVAS_ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_ID_COLUMNS = ["Username", "ID number", "Email address", "First name", "Last name"]


def roster(course) -> dict[str, dict]:
    """student id -> {first_name, last_name, email, lms_user_id} ("" where unknown)."""
    fields = ("first_name", "last_name", "email", "lms_user_id")
    with course.gradebook() as gb:
        return {s.id: {f: getattr(s, f, None) or "" for f in fields} for s in gb.students}


def export(course, fmt="csv") -> str:
    """Write the export file of format ``fmt`` (csv, canvas or moodle); returns its path.

    ``lti`` is no file: it posts the scores to the LMS (:func:`autograder.term.lti.export_lti`,
    which reads these rows; the ``export`` command calls it for ``--format lti``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"export: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "lti":
        raise ValueError("export: lti writes no file; autograder.term.lti.export_lti posts it")
    if fmt == "csv":
        return export_csv(course)
    rows = gradebook_rows(course)
    people = roster(course)
    assignments = sorted({r["assignment"] for r in rows})
    points = {r["assignment"]: r["max_score"] for r in rows}
    scores = {(r["student_id"], r["assignment"]): r["score"] for r in rows}
    students = sorted({r["student_id"] for r in rows} | set(people))
    table = []
    for sid in students:
        p = people.get(sid, {})
        first, last = p.get("first_name", ""), p.get("last_name", "")
        if fmt == "canvas":
            name = f"{last}, {first}" if last and first else (last or first or sid)
            ids = [name, p.get("lms_user_id", ""), "", sid, ""]
        else:
            ids = [sid, "", p.get("email", ""), first, last]
        table.append(ids + [f"{scores.get((sid, a), 0.0):g}" for a in assignments])
    if fmt == "canvas":
        header = CANVAS_ID_COLUMNS + assignments
        table.insert(
            0, ["    Points Possible", "", "", "", ""] + [f"{points[a]:g}" for a in assignments]
        )
    else:
        header = MOODLE_ID_COLUMNS + assignments
    path = course.root / f"grades_{fmt}.csv"
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(table)
    return str(atomic_write(path, text.getvalue()))


def not_graded_rows(course) -> list[dict]:
    """A row per entry the last ``grade`` of each assignment could not attribute or read
    (``Course.not_graded``): named as in ``--submissions``, no score, the reason."""
    rows = []
    for aid, items in sorted(course.not_graded_all().items()):
        for item in items:
            rows.append(
                {
                    "student_id": item.get("entry", "?"),
                    "assignment": aid,
                    "submitted": False,
                    "not_graded": item.get("reason", ""),
                }
            )
    return rows


def export_csv(course) -> str:
    """Write ``course/grades.csv``; returns its path."""
    rows = gradebook_rows(course)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                **row,
                "score": f"{row['score']:g}",
                "max_score": f"{row['max_score']:g}",
                "auto_score": f"{row['auto_score']:g}",
                "raw_score": f"{row['raw_score']:g}",
                "late_submission_penalty": f"{row['late_submission_penalty']:g}",
                "seconds_late": f"{row['seconds_late']:g}",
            }
        )
    writer.writerows(not_graded_rows(course))
    return str(atomic_write(course.grades_csv, text.getvalue()))
