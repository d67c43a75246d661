"""The instructor's report and the LMS exports, built from a real graded class.

One module fixture releases the fixture assignment and ``01_perceptron`` into a course and
grades a small class with the real ``grade`` command (sandbox on): full marks, partial,
empty, a crashing kernel, a hanging cell, invalid JSON, an unsafe zip, a written answer that
waits for a human, and a student with no submission for the real assignment. Every number on
the page is then recomputed here from ``grades.csv`` and the gradebook.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from support.assignments import perfect_submission
from support.grader import FIXTURES, cli, fixture_subs

from autograder.course import Course
from autograder.grading import marker
from autograder.grading.answer_key import HIDDEN_BEGIN, HIDDEN_END
from autograder.reporting import report

ROOT = Path(__file__).resolve().parents[1]
REAL = "01_perceptron"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    course = tmp / "course"
    cli("release", "00_fixture", "--course-dir", course, "--notebooks", FIXTURES / "notebooks")
    cli("release", REAL, "--course-dir", course)
    release = fixture_subs.load(course / "release" / "00_fixture" / "fixture.ipynb")
    attacks = fixture_subs.attacks(release)
    written = fixture_subs.filled(release)
    for cell in written.cells:
        if fixture_subs._gid(cell) == "q_written":
            cell.source = "Because exp of a large score overflows to inf."
    fixture_class = {
        "good": fixture_subs.filled(release),
        "written": written,
        "partial": fixture_subs.filled(
            release, mse_sol=fixture_subs.WRONG_MSE, count_sol=fixture_subs.WRONG_COUNT
        ),
        "empty": copy.deepcopy(release),
        "crash": attacks["kill_kernel"][0],
        "hang": attacks["loop"][0],
        "broken": '{"cells": [ this is not json',
    }
    subs = tmp / "subs"
    for sid, nb in fixture_class.items():
        folder = subs / sid / "00_fixture"
        folder.mkdir(parents=True)
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        (folder / "fixture.ipynb").write_text(text)
    with zipfile.ZipFile(subs / "unsafe.zip", "w") as zf:
        zf.writestr("00_fixture/fixture.ipynb", nbformat.writes(fixture_subs.filled(release)))
        zf.writestr("../../escaped.txt", "x")
    cli("grade", "00_fixture", "--submissions", subs, "--course-dir", course, "--workers", "2")

    # the real assignment: perfect, one typical mistake, unfilled; the others did not submit
    name = f"{REAL}.ipynb"
    released = nbformat.read(course / "release" / REAL / name, as_version=4)
    source = nbformat.read(ROOT / "notebooks" / REAL / name, as_version=4)
    perfect = perfect_submission(released, source)
    mistake = json.loads((ROOT / "tests" / "notebook_mistakes" / f"{REAL}.json").read_text())[0]
    partial = copy.deepcopy(perfect)
    for cell in partial.cells:
        if fixture_subs._gid(cell) == mistake["cell"]:
            assert mistake["find"] in cell.source
            cell.source = cell.source.replace(mistake["find"], mistake["replace"])
    real_subs = tmp / "real"
    for sid, nb in {"good": perfect, "partial": partial, "empty": released}.items():
        (real_subs / sid / REAL).mkdir(parents=True)
        nbformat.write(nb, real_subs / sid / REAL / name)
    cli("grade", REAL, "--submissions", real_subs, "--course-dir", course, "--workers", "2")
    cli("report", "00_fixture", "--course-dir", course)
    cli("report", REAL, "--course-dir", course)
    cli("report", "--course-dir", course)
    return Course(course)


def grades_csv(course, aid):
    cli("export", "--course-dir", course.root)
    return [r for r in csv.DictReader(open(course.grades_csv)) if r["assignment"] == aid]


class Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts; and every <img> src."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.images, self._row, self._cell = [], [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_with(tables, *header):
    """The table whose header row starts with ``header``."""
    found = [t for t in tables if t and tuple(t[0][: len(header)]) == header]
    assert found, f"no table with header {header!r}"
    return found[0]


def page(course, name):
    return (course.root / "reports" / f"{name}.html").read_text()


@pytest.mark.parametrize("aid", ["00_fixture", REAL])
def test_summary_numbers_equal_grades_csv(graded, aid):
    rows = grades_csv(graded, aid)
    scores = [float(r["score"]) for r in rows if r["submitted"] == "True"]
    text = page(graded, aid)
    mean = sum(scores) / len(scores)
    median = sorted(scores)[len(scores) // 2] if len(scores) % 2 else None
    assert f"{len(rows)} students, {len(scores)} graded, {len(rows) - len(scores)} missing" in text
    assert f"Mean {mean:.2f}" in text
    if median is not None:
        assert f"median {median:g} " in text
    full = sum(float(r["score"]) >= float(r["max_score"]) for r in rows if r["submitted"] == "True")
    zero = sum(float(r["score"]) == 0 for r in rows if r["submitted"] == "True")
    assert f"{full} with full marks, {zero} with zero" in text
    students = table_with(Tables(text).tables, "student", "score", "max")
    assert {r[0]: float(r[1]) for r in students[1:]} == {
        r["student_id"]: float(r["score"]) for r in rows
    }


def test_missing_students_are_counted(graded):
    rows = {r["student_id"]: r for r in grades_csv(graded, REAL)}
    assert rows["crash"]["submitted"] == "False"  # graded on 00_fixture only
    assert "0 missing" not in page(graded, REAL)


@pytest.mark.parametrize("aid", ["00_fixture", REAL])
def test_exercise_pass_rates_equal_the_gradebook(graded, aid):
    with graded.gradebook() as gb:
        keys = {nb: graded.load_key(aid, nb) for nb in graded.notebooks(aid)}
        auto = {gid for k in keys.values() for gid in k["cells"]}
        passed, graded_n = {}, {}
        for sub in gb.assignment_submissions(aid):
            executed = sub.student.id not in ("broken", "unsafe")
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell.name in auto and executed:
                        graded_n[g.cell.name] = graded_n.get(g.cell.name, 0) + 1
                        passed[g.cell.name] = passed.get(g.cell.name, 0) + (
                            g.auto_score == g.max_score
                        )
    table = table_with(Tables(page(graded, aid)).tables, "notebook", "exercise")
    shown = {r[1]: (int(r[3]), int(r[4])) for r in table[1:]}
    assert list(shown) == [gid for k in keys.values() for gid in k["cells"]]  # notebook order
    assert shown == {gid: (graded_n[gid], passed.get(gid, 0)) for gid in shown}


def test_check_counts_follow_the_verdicts(graded):
    data = report.assignment_data(graded, "00_fixture")
    mse = {s.name: s for s in data.labels if s.exercise == "ex_mse"}
    first = mse["mse([1,2],[1,4])"]
    # partial fails the visible mse check first; empty did not attempt it (the stub raised)
    assert first.failed >= 1 and first.first_failure >= 1 and first.not_attempted >= 1
    ex = next(e for e in data.exercises if e.grade_id == "ex_mse")
    assert ex.not_attempted >= 1  # the empty submission
    assert first.message  # the key's visible message is what the students saw
    table = table_with(Tables(page(graded, "00_fixture")).tables, "exercise", "check")
    assert any(r[1] == "mse([1,2],[1,4])" and int(r[2]) == first.failed for r in table[1:])


def test_no_hidden_test_appears_on_any_page(graded):
    pages = [page(graded, "00_fixture"), page(graded, REAL), page(graded, "course")]
    for aid in ("00_fixture", REAL):
        for nb_id in graded.notebooks(aid):
            source = nbformat.read(graded.source / aid / f"{nb_id}.ipynb", as_version=4)
            for cell in source.cells:
                text = cell.source
                if HIDDEN_BEGIN not in text:
                    continue
                hidden = text.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0]
                for line in hidden.splitlines():
                    line = line.strip()
                    if len(line) > 12 and not line.startswith("#"):
                        for p in pages:
                            assert html.escape(line) not in p and line not in p, line
            key = graded.load_key(aid, nb_id)
            for entry in key["cells"].values():
                for label, rec in entry["labels"].items():
                    if rec.get("hidden") and len(label) > 3:
                        for p in pages:
                            assert f">{html.escape(label)}<" not in p, label


def test_problems_waiting_and_times_are_listed(graded):
    data = report.assignment_data(graded, "00_fixture")
    kinds = {(p["student_id"], p["kind"]) for p in data.problems}
    assert ("crash", "crash") in kinds
    assert ("hang", "timeout") in kinds
    assert ("broken", "rejected") in kinds
    assert ("unsafe", "rejected") in kinds
    assert data.manual == ["written"]
    assert set(data.seconds) >= {"good", "crash", "hang"}
    table = table_with(Tables(page(graded, "00_fixture")).tables, "student", "notebook", "kind")
    assert {r[0] for r in table} >= {"crash", "hang", "broken", "unsafe"}
    assert "Grading time per student: median" in page(graded, "00_fixture")


def test_course_overview_lists_every_student_and_assignment(graded):
    rows = list(csv.DictReader(open(graded.grades_csv)))
    table = table_with(Tables(page(graded, "course")).tables, "student", "00_fixture")
    assert table[0][1:3] == ["00_fixture", REAL]
    shown = {r[0]: r[1:3] for r in table[1:]}
    for r in rows:
        col = 0 if r["assignment"] == "00_fixture" else 1
        want = f"{float(r['score']):g}" if r["submitted"] == "True" else "missing"
        assert shown[r["student_id"]][col] == want


def test_report_of_unknown_assignment_is_a_clear_error(graded):
    proc = cli("report", "99_nothing", "--course-dir", graded.root, check=False)
    assert proc.returncode == 2
    assert "no grades for assignment '99_nothing'" in proc.stderr


@pytest.mark.browser
def test_pages_show_their_images_offline_in_chromium(graded):
    from browser_support import chromium, pixels, record_errors

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        blocked = []

        def route(r):
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        for name in ("00_fixture", REAL, "course"):
            p = context.new_page()
            errors = record_errors(p)
            p.goto((graded.root / "reports" / f"{name}.html").as_uri())
            images = p.locator("img")
            assert images.count() == len(Tables(page(graded, name)).images) >= 1
            for i in range(images.count()):
                img = images.nth(i)
                assert img.evaluate("e => e.complete && e.naturalWidth > 0"), f"{name} img {i}"
                shot = pixels(img.screenshot())
                assert shot.std() > 10, f"{name}: image {i} is blank"
            assert not errors, errors
            p.close()
        context.close()
    assert not blocked, blocked


# ------------------------------------------------------------------------------- export


def read_csv(path):
    return list(csv.reader(open(path, newline="", encoding="utf-8")))


def test_canvas_export_layout(graded):
    out = cli("export", "--format", "canvas", "--course-dir", graded.root).stdout
    rows = read_csv(graded.root / "grades_canvas.csv")
    assert "grades_canvas.csv" in out
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "00_fixture",
        REAL,
    ]
    assert rows[1][0].strip() == "Points Possible"
    with graded.gradebook() as gb:
        want = {a.name: f"{a.max_score:g}" for a in gb.assignments}
        students = sorted(s.id for s in gb.students)
    assert rows[1][5:] == [want["00_fixture"], want[REAL]]
    assert sorted(r[3] for r in rows[2:]) == students  # one row per student, by login id
    by_login = {r[3]: r for r in rows[2:]}
    csv_rows = list(csv.DictReader(open(graded.grades_csv)))
    for r in csv_rows:
        col = 5 if r["assignment"] == "00_fixture" else 6
        assert float(by_login[r["student_id"]][col]) == float(r["score"])


def test_moodle_export_layout(graded):
    cli("export", "--format", "moodle", "--course-dir", graded.root)
    rows = read_csv(graded.root / "grades_moodle.csv")
    assert rows[0][:5] == ["Username", "ID number", "Email address", "First name", "Last name"]
    assert rows[0][5:] == ["00_fixture", REAL]
    with graded.gradebook() as gb:
        assert sorted(r[0] for r in rows[1:]) == sorted(s.id for s in gb.students)
    assert all(re.fullmatch(r"\d+(\.\d+)?", v) for r in rows[1:] for v in r[5:])


def test_exports_include_hand_grades_and_names(graded, tmp_path):
    """A hand grade entered in formgrader (here: straight into nbgrader's gradebook)."""
    with graded.gradebook() as gb:
        grade = gb.find_grade("q_written", "fixture", "00_fixture", "written")
        grade.manual_score = 2.0
        grade.needs_manual_grade = False  # as formgrader's grade handler does
        student = gb.find_student("written")
        student.first_name, student.last_name, student.email = "Ada", "Lovelace", "ada@x.org"
        student.lms_user_id = "4242"
        gb.db.commit()
        expected = float(gb.find_submission("00_fixture", "written").score)
    assert expected == 12.0
    cli("export", "--course-dir", graded.root)
    cli("export", "--format", "canvas", "--course-dir", graded.root)
    cli("export", "--format", "moodle", "--course-dir", graded.root)
    ours = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(open(graded.grades_csv))}
    assert float(ours[("written", "00_fixture")]["score"]) == expected
    canvas = {r[3]: r for r in read_csv(graded.root / "grades_canvas.csv")[2:]}
    assert canvas["written"][:2] == ["Lovelace, Ada", "4242"]
    assert float(canvas["written"][5]) == expected
    moodle = {r[0]: r for r in read_csv(graded.root / "grades_moodle.csv")[1:]}
    assert moodle["written"][2:5] == ["ada@x.org", "Ada", "Lovelace"]
    assert float(moodle["written"][5]) == expected
    proc = cli("report", "00_fixture", "--course-dir", graded.root)
    assert proc.returncode == 0
    waiting = page(graded, "00_fixture").split("Waiting for a human")[1].split("<h2>")[0]
    assert "written" not in waiting  # graded by hand now


def test_unknown_export_format_is_refused(graded):
    proc = cli("export", "--format", "xlsx", "--course-dir", graded.root, check=False)
    assert proc.returncode == 2
    assert "xlsx" in proc.stderr


def test_regrading_lists_whose_score_changed(graded, tmp_path):
    """Only students whose score the latest run changed; the submission secret is kept."""
    before = {
        s: m["summary"]["score"] for s, m in marker.of_assignment(graded, "00_fixture").items()
    }
    release = fixture_subs.load(graded.release_dir / "00_fixture" / "fixture.ipynb")
    folder = tmp_path / "again" / "partial" / "00_fixture"
    folder.mkdir(parents=True)
    nbformat.write(fixture_subs.filled(release), folder / "fixture.ipynb")
    (folder / "submission_secret.txt").write_text("5ecret")
    cli("grade", "00_fixture", "--submissions", tmp_path / "again", "--course-dir", graded.root)
    data = report.assignment_data(graded, "00_fixture")
    after = marker.of_assignment(graded, "00_fixture")["partial"]["summary"]["score"]
    assert after > before["partial"]
    assert data.changed == [{"student_id": "partial", "before": before["partial"], "after": after}]
    cli("report", "00_fixture", "--course-dir", graded.root)
    changed = table_with(Tables(page(graded, "00_fixture")).tables, "student", "before", "after")
    assert changed[1:] == [["partial", f"{before['partial']:g}", f"{after:g}"]]
    # nbgrader's release_feedback needs the secret next to the feedback page
    assert (graded.submitted / "partial" / "00_fixture" / "submission_secret.txt").is_file()
    cli("feedback", "00_fixture", "--course-dir", graded.root)
    secret = graded.feedback / "partial" / "00_fixture" / "submission_secret.txt"
    assert secret.read_text() == "5ecret"
