"""The hand-grading handoff (autograder/term/handoff.py) on a real graded class.

One module fixture releases the fixture assignment, grades three students with the real
``grade`` command and writes their PDFs with the real ``pdf`` command (nbconvert's WebPDF on
the system Chromium). The PDFs are read back with poppler (``pdftoppm`` renders every page,
``pdftotext`` gives their text); hand grades go back in with ``import-grades``.
"""

from __future__ import annotations

import base64
import csv
import io
import shutil
import subprocess

import nbformat
import pytest
from support.grader import FIXTURES, cli, fixture_subs

from autograder.course import Course

AID = "00_fixture"
ANSWERS = {
    "ann": "Exp of a large score overflows ANSWER-OF-ANN. <script>document.title='x'</script>",
    "bob": "Softmax is shift invariant ANSWER-OF-BOB, so $e^{x - m}$ keeps the result.",
}
pytestmark = pytest.mark.slow


def png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def poppler(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not found: apt-get install poppler-utils")
    return path


@pytest.fixture(scope="module")
def handed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("handoff")
    course = Course(tmp / "course")
    cli("release", AID, "--course-dir", course.root, "--notebooks", FIXTURES / "notebooks")
    release = fixture_subs.load(course.release_dir / AID / "fixture.ipynb")
    subs = tmp / "subs"
    for sid in ("ann", "bob", "cat"):
        nb = fixture_subs.filled(release) if sid != "cat" else release
        for cell in nb.cells:
            gid = fixture_subs._gid(cell)
            if gid == "q_written" and sid in ANSWERS:
                cell.source = ANSWERS[sid]
            if gid == "sigmoid_sol" and sid == "ann":  # the student's own run left a plot
                cell.outputs = [
                    nbformat.v4.new_output("display_data", data={"image/png": png()}),
                    nbformat.v4.new_output(
                        "display_data", data={"text/html": "<b>HTML-OUTPUT-OF-ANN</b>"}
                    ),
                    nbformat.v4.new_output("stream", name="stdout", text="PRINTED-BY-ANN\n"),
                ]
        (subs / sid / AID).mkdir(parents=True)
        nbformat.write(nb, subs / sid / AID / "fixture.ipynb")
    cli("grade", AID, "--submissions", subs, "--course-dir", course.root, "--workers", "2")
    proc = cli("pdf", AID, "--cells", "sigmoid_sol", "--course-dir", course.root)
    return {"course": course, "log": proc.stdout, "tmp": tmp}


def pdf_text(path) -> str:
    out = subprocess.run(
        [poppler("pdftotext"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_one_pdf_per_student_every_page_renders(handed, tmp_path):
    folder = handed["course"].root / "pdf" / AID
    assert sorted(p.name for p in folder.glob("*.pdf")) == ["ann.pdf", "bob.pdf", "cat.pdf"]
    for pdf in folder.glob("*.pdf"):
        info = subprocess.run(
            [poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        pages = int(
            next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
        )
        out = tmp_path / pdf.stem
        subprocess.run(
            [poppler("pdftoppm"), "-r", "30", "-png", str(pdf), str(out)], timeout=120, check=True
        )
        rendered = list(tmp_path.glob(f"{pdf.stem}-*.png"))
        assert pages >= 1 and len(rendered) == pages, (pdf.name, pages, rendered)
        assert all(p.stat().st_size > 100 for p in rendered)


def test_pdf_holds_each_written_answer_and_no_hidden_test(handed):
    folder = handed["course"].root / "pdf" / AID
    texts = {sid: pdf_text(folder / f"{sid}.pdf") for sid in ("ann", "bob", "cat")}
    flat = {sid: " ".join(t.split()) for sid, t in texts.items()}
    assert "ANSWER-OF-ANN" in flat["ann"] and "ANSWER-OF-BOB" not in flat["ann"]
    assert "ANSWER-OF-BOB" in flat["bob"] and "ANSWER-OF-ANN" not in flat["bob"]
    assert "YOUR ANSWER HERE" in flat["cat"]  # left as released
    for sid, text in flat.items():
        assert f"{AID}: {sid}" in text
        assert "Why subtract the maximum before exponentiating in softmax?" in text  # the question
        assert "q_written (2 points)" in text
        # nothing of the grade cells, so no hidden test (labels, data, markers)
        for secret in ("BEGIN HIDDEN", "random 50", "default_rng", 'Check("ex_', "ex_sigmoid"):
            assert secret not in text, (sid, secret)
    # the chosen code cell: the student's code, printed output and plot, not raw HTML
    assert "def sigmoid(x):" in flat["ann"] and "PRINTED-BY-ANN" in flat["ann"]
    assert "HTML-OUTPUT-OF-ANN" not in flat["ann"]  # an HTML output is dropped
    assert "<script>document.title='x'</script>" in flat["ann"]  # HTML in an answer is text
    images = subprocess.run(
        [poppler("pdfimages"), "-list", str(folder / "ann.pdf")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert len(images.strip().splitlines()) >= 3  # header, rule, the plot
    assert (
        len(
            subprocess.run(
                [poppler("pdfimages"), "-list", str(folder / "bob.pdf")],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            .stdout.strip()
            .splitlines()
        )
        == 2
    )  # bob's submission has no plot


def test_pdf_refuses_cells_that_are_not_student_code(handed):
    proc = cli(
        "pdf", AID, "--cells", "ex_sigmoid", "--course-dir", handed["course"].root, check=False
    )
    assert proc.returncode == 2
    assert "--cells takes solution cells of 00_fixture" in proc.stderr
    assert "received ['ex_sigmoid']" in proc.stderr


def manual_state(course):
    with course.gradebook() as gb:
        out = {}
        for sub in gb.find_assignment(AID).submissions:
            for nb in sub.notebooks:
                for g in nb.grades:
                    out[sub.student.id, g.name] = (g.manual_score, g.needs_manual_grade)
                for c in nb.comments:
                    out[sub.student.id, c.name, "comment"] = c.manual_comment
        return out


def fill_template(course, scores, path):
    rows = list(csv.DictReader(open(course.root / "pdf" / AID / "scores.csv")))
    assert [(r["student_id"], r["grade_id"], r["points"]) for r in rows] == [
        (sid, "q_written", "2") for sid in ("ann", "bob", "cat")
    ]
    for r in rows:
        r["score"], r["comment"] = scores[r["student_id"]]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_import_round_trip_reaches_formgrader_and_exports(handed, tmp_path):
    course = handed["course"]
    path = tmp_path / "scores.csv"
    fill_template(
        course, {"ann": ("1.5", "overflow: right"), "bob": ("2", ""), "cat": ("0", "")}, path
    )
    proc = cli("import-grades", AID, path, "--course-dir", course.root)
    assert "imported 3 hand grade(s)" in proc.stdout
    state = manual_state(course)
    assert state["ann", "q_written"] == (1.5, False) and state["bob", "q_written"] == (2.0, False)
    assert state["ann", "q_written", "comment"] == "overflow: right"
    # formgrader's backend and nbgrader's export see the hand grades, as do ours
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.plugins.export import CsvExportPlugin
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.db_url
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    expected = {"ann": 11.5, "bob": 12.0, "cat": 0.0}
    assert {sid: api.get_submission(AID, sid)["score"] for sid in expected} == expected
    assert not any(api.get_submission(AID, sid)["needs_manual_grade"] for sid in expected)
    rows = {r["student_id"]: r for r in csv.DictReader(open(course.grades_csv))}
    assert {sid: float(rows[sid]["score"]) for sid in expected} == expected
    out = tmp_path / "nbgrader.csv"
    with course.gradebook() as gb:
        CsvExportPlugin(to=str(out)).export(gb)
    assert {r["student_id"]: float(r["score"]) for r in csv.DictReader(open(out))} == expected


def test_a_bad_csv_is_refused_whole(handed, tmp_path):
    course = handed["course"]
    before = manual_state(course)
    path = tmp_path / "bad.csv"
    path.write_text(
        "student_id,grade_id,score,comment\n"
        "bob,q_written,1,fine row\n"  # row 2: valid, yet not imported
        "zed,q_written,1,\n"  # 3
        "ann,ex_sigmoid,1,\n"  # 4: auto-graded, not a written answer
        "ann,q_written,3,\n"  # 5: above the cell's 2 points
        "cat,q_written,two,\n"  # 6
        "bob,q_written,1,again\n"  # 7: duplicate of row 2
    )
    proc = cli("import-grades", AID, path, "--course-dir", course.root, check=False)
    assert proc.returncode == 2
    err = proc.stderr
    assert f"nothing imported from {path}, 5 bad row(s)" in err
    assert "row 3: unknown student 'zed' (no graded submission of 00_fixture)" in err
    assert (
        "row 4: unknown cell 'ex_sigmoid'; the written answers of 00_fixture are ['q_written']"
        in err
    )
    assert "row 5: score of 'q_written' must be a number from 0 to 2, received '3'" in err
    assert "row 6: score of 'q_written' must be a number from 0 to 2, received 'two'" in err
    assert "row 7: bob / q_written already given in row 2" in err
    assert "row 2" not in err.replace("in row 2", "")
    assert manual_state(course) == before
    path.write_text("student,cell,points\nann,q_written,1\n")
    proc = cli("import-grades", AID, path, "--course-dir", course.root, check=False)
    assert proc.returncode == 2 and "needs the columns student_id, grade_id, score" in proc.stderr
    assert manual_state(course) == before


def test_an_empty_csv_and_a_missing_chromium_are_refused(handed, tmp_path, monkeypatch):
    from autograder.term import handoff

    course = handed["course"]
    path = tmp_path / "empty.csv"
    path.write_text("student_id,grade_id,score\n")
    with pytest.raises(ValueError, match=r"has a header but no rows"):
        handoff.import_grades(course, AID, path)
    with monkeypatch.context() as m:  # an assignment without written answers
        m.setattr(handoff, "manual_cells", lambda gb, aid: [])
        with pytest.raises(ValueError, match=r"has no written answers .* --cells \(\["):
            handoff.write_pdfs(course, AID)
    monkeypatch.setattr(handoff, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(ValueError, match=r"pdf: no Chromium at .*no-chromium \(apt-get install"):
        handoff.write_pdfs(course, AID)
