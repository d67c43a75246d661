"""``export``: grades.csv from nbgrader's gradebook (one row per student and assignment)."""

from __future__ import annotations

import csv

COLUMNS = [
    "student_id",
    "assignment",
    "score",
    "max_score",
    "auto_score",
    "needs_manual_grade",
    "submitted",
]


def gradebook_rows(course) -> list[dict]:
    """Rows for every student and assignment in the gradebook (missing submissions score 0)."""
    from nbgrader.api import MissingEntry

    rows = []
    with course.gradebook() as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                try:
                    sub = gb.find_submission(assignment.name, student.id)
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
                        }
                    )
                    continue
                auto = sum(g.auto_score or 0 for nb in sub.notebooks for g in nb.grades)
                rows.append(
                    {
                        "student_id": student.id,
                        "assignment": assignment.name,
                        "score": float(sub.score),
                        "max_score": float(sub.max_score),
                        "auto_score": float(auto),
                        "needs_manual_grade": bool(sub.needs_manual_grade),
                        "submitted": True,
                    }
                )
    return rows


def export_csv(course) -> str:
    """Write ``course/grades.csv``; returns its path."""
    rows = gradebook_rows(course)
    tmp = course.grades_csv.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **row,
                    "score": f"{row['score']:g}",
                    "max_score": f"{row['max_score']:g}",
                    "auto_score": f"{row['auto_score']:g}",
                }
            )
    tmp.replace(course.grades_csv)
    return str(course.grades_csv)
