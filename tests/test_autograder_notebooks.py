"""The real assignment notebooks through the real autograder (nbgrader underneath).

For every ``notebooks/NN_name/`` on disk: ``release`` it into a temporary course, build two
submissions in nbgrader's submitted layout and grade both in one ``grade --workers 2`` call:

* ``perfect``: the released student version with every solution cell filled from the source
  notebook (markers removed), i.e. what a perfect student hands in. It must get every
  auto-graded point.
* ``empty``: the released student version as is. It must get 0.

Scores are read from the exported ``grades.csv`` and checked against the gradebook and the
answer key (the auto-graded points of each notebook).
"""

from __future__ import annotations

import csv
import json

import nbformat
import pytest
from support.assignments import NOTEBOOKS, perfect_submission
from support.grader import cli  # one way to call the command line in tests

from autograder.course import Course

ASSIGNMENTS = sorted(
    p.name
    for p in NOTEBOOKS.iterdir()
    if p.is_dir() and p.name[:2].isdigit() and p.name[2:3] == "_" and any(p.glob("*.ipynb"))
)


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_perfect_gets_full_marks_and_empty_gets_zero(aid, tmp_path):
    course = tmp_path / "course"
    cli("release", aid, "--course-dir", course)
    subs = tmp_path / "subs"
    names = []
    keys = {}
    for released_path in sorted((course / "release" / aid).glob("*.ipynb")):
        name = released_path.name
        names.append(released_path.stem)
        released = nbformat.read(released_path, as_version=4)
        source = nbformat.read(NOTEBOOKS / aid / name, as_version=4)
        for student, nb in (
            ("perfect", perfect_submission(released, source)),
            ("empty", released),
        ):
            (subs / student / aid).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, subs / student / aid / name)
        keys[released_path.stem] = json.loads(
            (course / "keys" / aid / f"{released_path.stem}.json").read_text()
        )
    assert names, f"{aid}: release produced no student notebook"
    auto_points = sum(c["points"] for k in keys.values() for c in k["cells"].values())
    assert auto_points > 0, f"{aid}: the answer key has no auto-graded points"

    proc = cli("grade", aid, "--submissions", subs, "--course-dir", course, "--workers", "2")
    cli("export", "--course-dir", course)
    rows = {r["student_id"]: r for r in csv.DictReader(open(course / "grades.csv"))}

    # per grade cell, from the gradebook: which cells lost points, for a readable failure
    with Course(course).gradebook() as gb:
        per_cell = {
            sub.student.id: {
                g.cell.name: g.auto_score
                for nb in sub.notebooks
                for g in nb.grades
                if any(g.cell.name in k["cells"] for k in keys.values())
            }
            for sub in gb.assignment_submissions(aid)
        }
    full = {gid: c["points"] for k in keys.values() for gid, c in k["cells"].items()}
    lost = {gid: got for gid, got in per_cell["perfect"].items() if got != full[gid]}
    assert not lost, f"{aid}: the perfect submission lost points in {lost}\n{proc.stdout}"
    earned = {gid: got for gid, got in per_cell["empty"].items() if got}
    assert not earned, f"{aid}: the unfilled submission earned points in {earned}\n{proc.stdout}"

    assert float(rows["perfect"]["auto_score"]) == pytest.approx(auto_points)
    assert float(rows["empty"]["auto_score"]) == 0.0
    assert float(rows["empty"]["score"]) == 0.0
    for row in rows.values():
        assert row["assignment"] == aid
        assert float(row["max_score"]) >= auto_points  # plus the manually graded answers
