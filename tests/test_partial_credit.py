"""Partial credit end to end: a small assignment in the case-block form, graded for real.

``release`` builds its key, ``grade`` runs a small class in the sandbox, and every view
must say the same: the gradebook's auto scores (what formgrader shows), ``grades.csv``, the
Canvas and Moodle files, the report, the feedback pages and ``check``. A first check that
fails, or the student's code raising inside it, costs that check's share only; an untouched
notebook is "not attempted" everywhere; a record forged for a check that never ran earns
nothing; the kernel's verdict holds no line of the grader's source.
"""

from __future__ import annotations

import copy
import csv
import re
from pathlib import Path

import nbformat
import pytest
from support.grader import cli

from autograder.course import Course
from autograder.reporting import report

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
AID, NB = "00_cases", "cases"


def meta(grade_id, *, grade=False, solution=False, locked=False, points=0):
    nb = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3}
    nb.update({"solution": solution, "task": False})
    if grade:
        nb["points"] = points
    return {"nbgrader": nb}


DOUBLE = '''def double(x):
    """Twice x, elementwise."""
    ### BEGIN SOLUTION
    return 2 * np.asarray(x, dtype=float)
    ### END SOLUTION'''
HALVE = '''def halve(x):
    """Half of x, elementwise."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) / 2
    ### END SOLUTION'''
EX_DOUBLE = """from autograder.checks import Check

c = Check("ex_double")
with c.case("scalar"):
    c.close("double(1)", double(1.0), 2.0, msg="2 * 1 = 2")
with c.case("vector"):
    c.close("double([1, 2])", double([1.0, 2.0]), [2.0, 4.0])
### BEGIN HIDDEN TESTS
with c.case("random"):
    c.close("random 5", double(np.random.default_rng(1).normal(size=5)), hint="random vectors")
### END HIDDEN TESTS
c.done()"""
EX_HALVE = """from autograder.checks import Check

c = Check("ex_halve")
with c.case("halve(4)"):
    c.close("halve(4)", halve(4.0), 2.0)
### BEGIN HIDDEN TESTS
with c.case("negative"):
    c.close("halve(-3)", halve(-3.0), hint="negative inputs")
### END HIDDEN TESTS
c.done()"""

CELLS = [
    ("code", "import numpy as np", meta("imports", locked=True)),
    ("code", DOUBLE, meta("double_sol", solution=True)),
    ("code", EX_DOUBLE, meta("ex_double", grade=True, locked=True, points=3)),
    ("code", HALVE, meta("halve_sol", solution=True)),
    ("code", EX_HALVE, meta("ex_halve", grade=True, locked=True, points=2)),
    ("markdown", "Why is halving, $h(x) = \\frac{x}{2}$, linear?", None),
    (
        "markdown",
        "Because $h(x) = x/2$ scales.",
        meta("q_why", grade=True, solution=True, points=2),
    ),
]

SCALAR_WRONG = (
    "def double(x):\n    x = np.asarray(x, dtype=float)\n    return 3 * x if x.ndim == 0 else 2 * x"
)
SCALAR_RAISES = (
    "def double(x):\n    x = np.asarray(x, dtype=float)\n"
    "    if x.ndim == 0:\n        raise ValueError('no scalars')\n    return 2 * x"
)
# publishes the record of the scalar check with the right value, then raises before it runs
FORGER = (
    "from autograder import checks as _c\n"
    "def double(x):\n    x = np.asarray(x, dtype=float)\n"
    "    if x.ndim == 0:\n"
    "        _c._publish(_c.make_record('ex_double', 'double(1)', 'close', 2.0,\n"
    "                                   {'rtol': 1e-6, 'atol': 1e-8}, case='scalar'))\n"
    "        raise ValueError('stop')\n"
    "    return 2 * x"
)
NEGATIVE_WRONG = "def halve(x):\n    return np.abs(np.asarray(x, dtype=float)) / 2"
RIGHT = {
    "double_sol": "def double(x):\n    return 2 * np.asarray(x, dtype=float)",
    "halve_sol": "def halve(x):\n    return np.asarray(x, dtype=float) / 2",
}

# student -> (solution sources, expected auto scores per cell)
CLASS = {
    "good": ({}, {"ex_double": 3.0, "ex_halve": 2.0}),
    "firstwrong": ({"double_sol": SCALAR_WRONG}, {"ex_double": 2.0, "ex_halve": 2.0}),
    "raises": ({"double_sol": SCALAR_RAISES}, {"ex_double": 2.0, "ex_halve": 2.0}),
    "forger": ({"double_sol": FORGER}, {"ex_double": 2.0, "ex_halve": 2.0}),
    "hiddenwrong": ({"halve_sol": NEGATIVE_WRONG}, {"ex_double": 3.0, "ex_halve": 1.0}),
    "untouched": (None, {"ex_double": 0.0, "ex_halve": 0.0}),
}


def source_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, (kind, source, md) in enumerate(CELLS):
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cell = new(source)
        if md:
            cell.metadata.update(md)
        cell["id"] = f"cell-{i}"
        nb.cells.append(cell)
    return nb


def filled(release, sources):
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in RIGHT:
            cell.source = sources.get(gid, RIGHT[gid])
        if gid == "q_why":
            cell.source = "It is multiplication by 1/2."
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cases")
    folder = tmp / "notebooks" / AID
    folder.mkdir(parents=True)
    nbformat.write(source_notebook(), str(folder / f"{NB}.ipynb"))
    (folder / "autograder.json").write_text('{"cell_timeout_s": 20, "notebook_timeout_s": 120}')
    course = tmp / "course"
    cli("release", AID, "--course-dir", course, "--notebooks", tmp / "notebooks")
    release = nbformat.read(str(course / "release" / AID / f"{NB}.ipynb"), as_version=4)
    subs = tmp / "subs"
    for sid, (sources, _) in CLASS.items():
        nb = copy.deepcopy(release) if sources is None else filled(release, sources)
        (subs / sid / AID).mkdir(parents=True)
        nbformat.write(nb, str(subs / sid / AID / f"{NB}.ipynb"))
    cli("grade", AID, "--submissions", subs, "--course-dir", course, "--workers", "2")
    return {"course": Course(course), "root": course, "release": release, "tmp": tmp}


def auto_scores(course):
    out = {}
    with course.gradebook() as gb:
        for sub in gb.assignment_submissions(AID):
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell.name.startswith("ex_"):
                        out.setdefault(sub.student.id, {})[g.cell.name] = g.auto_score
    return out


def test_gradebook_holds_the_partial_scores(graded):
    got = auto_scores(graded["course"])
    expected = {sid: exp for sid, (_, exp) in CLASS.items()}
    assert got == expected  # shares of 1 point: exact


def test_every_export_shows_the_same_scores(graded):
    root = graded["root"]
    proc = cli("export", "--course-dir", root)
    # the written answer waits for a person: the export says so
    assert "hand grading pending" in proc.stderr
    totals = {sid: sum(exp.values()) for sid, (_, exp) in CLASS.items()}
    with open(root / "grades.csv") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == AID}
    assert {sid: float(r["score"]) for sid, r in rows.items()} == pytest.approx(totals)
    assert {sid: float(r["auto_score"]) for sid, r in rows.items()} == pytest.approx(totals)
    for fmt, id_col in (("canvas", "SIS Login ID"), ("moodle", "Username")):
        cli("export", "--course-dir", root, "--format", fmt)
        with open(root / f"grades_{fmt}.csv") as fh:
            table = [r for r in csv.DictReader(fh) if r[id_col].strip() in totals]
        assert {r[id_col]: float(r[AID]) for r in table} == pytest.approx(totals)


def test_report_numbers_match_the_gradebook(graded):
    data = report.assignment_data(graded["course"], AID)
    got = auto_scores(graded["course"])
    for ex in data.exercises:
        scores = [got[sid][ex.grade_id] for sid in got]
        assert ex.graded == len(scores)
        assert ex.mean_points == pytest.approx(sum(scores) / len(scores))
        assert ex.passed == sum(s == ex.points for s in scores)
        assert ex.not_attempted == 1  # the untouched notebook
    labels = {(s.exercise, s.name): s for s in data.labels}
    first = labels[("ex_double", "double(1)")]
    assert (first.failed, first.not_attempted) == (3, 1)  # firstwrong, raises, forger
    assert labels[("ex_double", "double([1, 2])")].failed == 0
    assert labels[("ex_halve", "hidden test 1")].failed == 1
    assert "good" in data.manual and "untouched" not in data.manual  # answers wait for a TA
    page = report.render_assignment(data)
    assert "not attempted" in page


def test_feedback_says_not_attempted_hints_and_the_hand_grade(graded):
    root, course = graded["root"], graded["course"]
    with course.gradebook() as gb:
        grade = gb.find_grade("q_why", NB, AID, "good")
        grade.manual_score = 1.5
        comment = gb.find_comment("q_why", NB, AID, "good")
        comment.manual_comment = "Right idea; say what linear means."
        gb.db.commit()
    cli("feedback", AID, "--course-dir", root)

    def page(sid):
        return (root / "feedback" / sid / AID / f"{NB}.html").read_text()

    untouched = page("untouched")
    assert "not attempted" in untouched and "failed at" not in untouched
    assert "2 of 3 checks passed" in page("firstwrong")
    hidden = page("hiddenwrong")
    assert "hidden test 1: failed" in hidden and "negative inputs" in hidden
    assert "halve(-3)" not in hidden  # never the hidden label
    # the release's formula typeset offline: SVG in the page, no TeX, no script
    assert "<svg" in untouched and "\\frac{x}{2}" not in untouched and "<script" not in untouched
    good = page("good")
    assert "1.5 / 2 points" in good and "Right idea; say what linear means." in good
    assert "Total: 6.5 / 7" in good
    assert "pending" in page("firstwrong")  # nobody graded that written answer yet


def test_kernel_verdict_holds_no_line_of_the_grader(graded):
    path = graded["root"] / "autograded" / "firstwrong" / AID / f"{NB}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex_double"
    )
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "ChecksFailed"
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    grader = set()
    for src in (ROOT / "autograder").glob("*.py"):
        grader |= {ln.strip() for ln in src.read_text().splitlines() if len(ln.strip()) > 12}
    shown = [ln.strip() for ln in text.splitlines() if ln.strip()]
    assert not [ln for ln in shown if ln in grader]
    assert "autograder/" not in text and "File " not in text
    assert "got:      3." in text and "expected: 2." in text


def test_check_prints_got_expected_and_not_attempted(graded):
    tmp = graded["tmp"]
    release = graded["release"]
    folder = tmp / "student"
    folder.mkdir()
    nbformat.write(filled(release, {"double_sol": SCALAR_WRONG}), str(folder / "wrong.ipynb"))
    nbformat.write(release, str(folder / "untouched.ipynb"))
    out = cli("check", folder / "wrong.ipynb", check=False).stdout
    assert "FAILED" in out and "double(1)" in out and "got:      3." in out
    assert "expected: 2." in out
    assert re.search(r"ex_double\s+1\.5/3 ", out)  # visible checks: 1 of 2 passed
    assert "+ 2 points of written answers (q_why)" in out
    out = cli("check", folder / "untouched.ipynb", check=False).stdout
    assert "not attempted" in out and "FAILED" not in out
