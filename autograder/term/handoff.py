"""The hand-grading handoff: ``pdf`` for teaching assistants, ``import-grades`` back.

``pdf ASSIGNMENT`` writes ``pdf/<assignment>/<student>.pdf`` per graded student: for each
manually graded cell (a written answer: nbgrader grade + solution cell) the instructor's text
just above it in the released notebook and the student's answer, and optionally chosen
solution cells (``--cells``) with the outputs the student's own run left in the submission
(their plots). Nothing else of the notebook is shown, so no grade cell and no hidden test is
ever in a PDF. Next to the PDFs, ``scores.csv`` lists every student and written answer with an
empty ``score`` column, to be filled in and passed to ``import-grades``.

The PDF is nbconvert's ``WebPDFExporter`` (its ``webpdf`` HTML template) printed by the system
Chromium through Playwright, launched once per run from ``executable_path`` (never
downloaded). Student content is untrusted: a written answer is shown as typed (HTML in it is
text, not markup), only text and PNG/JPEG outputs are kept, and the page runs without
JavaScript, under a content security policy that allows only inline styles and ``data:``
images, with every request refused (so LaTeX in answers shows as its source).

``import-grades ASSIGNMENT FILE.csv`` reads columns ``student_id``, ``grade_id``, ``score`` and,
optionally, ``notebook`` (needed only when two notebooks share a grade id), ``comment`` and
``points`` (ignored: the template's reminder). Every row is checked before anything is
written; one bad row refuses the whole file with each problem's row number. Scores go to
nbgrader's ``Grade.manual_score`` (which replaces the automatic score, as a formgrader grade
does) and comments to ``Comment.manual_comment``, so formgrader, ``nbgrader export`` and our
exports show them; the late penalty is then re-applied and ``grades.csv`` rewritten.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import html
import math
import os
from pathlib import Path

import nbformat

from autograder.grading.answer_key import nbgrader_meta

CHROMIUM = os.environ.get("AUTOGRADER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # Chromium's own sandbox needs user namespaces as non-root; no JS runs
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEPT_MIME = ("image/png", "image/jpeg", "text/plain")
TEMPLATE_COLUMNS = ["student_id", "notebook", "grade_id", "points", "score", "comment"]
PAGE_TIMEOUT_MS = 60_000
# the page may load nothing but its own inline styles and data: images
CSP = (
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
    "img-src data:; style-src 'unsafe-inline'; font-src data:\">"
)


@dataclasses.dataclass(frozen=True)
class Cell:
    """A manually graded cell of the assignment (from the gradebook)."""

    notebook: str
    grade_id: str
    points: float


def manual_cells(gb, aid) -> list[Cell]:
    """The written answers: cells that are both grade and solution cells, in notebook order."""
    from autograder.term.calendar import released_assignment

    out = []
    for book in sorted(released_assignment(gb, aid).notebooks, key=lambda b: b.name):
        solutions = {c.name for c in book.solution_cells}
        out += [
            Cell(book.name, c.name, float(c.max_score))
            for c in book.grade_cells
            if c.name in solutions
        ]
    return out


# ----------------------------------------------------------------------------- pdf


def handoff_notebook(course, aid, sid, cells: list[Cell], code_ids=()) -> nbformat.NotebookNode:
    """One notebook for student ``sid``: a title, then per notebook the chosen cells."""
    title = f"# {aid}: {sid}\n\nWritten answers" + (" and chosen code cells" if code_ids else "")
    out = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title)])
    for nb_id in course.notebooks(aid):
        wanted = {c.grade_id for c in cells if c.notebook == nb_id} | set(code_ids)
        release = nbformat.read(str(course.release_dir / aid / f"{nb_id}.ipynb"), as_version=4)
        submitted = _read(course.submitted / sid / aid / f"{nb_id}.ipynb")
        answers = {}
        for cell in submitted.cells if submitted else []:
            gid = nbgrader_meta(cell).get("grade_id")
            if gid in wanted and gid not in answers and isinstance(cell.get("source"), str):
                answers[gid] = cell
        context: list = []  # instructor's markdown since the last nbgrader cell
        section = [nbformat.v4.new_markdown_cell(f"## {nb_id}")]
        for cell in release.cells:
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if not meta:
                if cell.cell_type == "markdown":
                    context.append(copy.deepcopy(cell))
                continue
            if gid in wanted:
                points = next((c.points for c in cells if c.grade_id == gid), None)
                head = f"**{gid}**" + (f" ({points:g} points)" if points is not None else "")
                section += [*context, nbformat.v4.new_markdown_cell(head)]
                section.append(_answer(answers.get(gid), cell.cell_type))
            context = []
        if len(section) > 1:
            out.cells += section
    return out


def _read(path: Path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable submission has no answers to show
        return None


def _answer(cell, cell_type: str):
    """The student's cell, stripped of nbgrader metadata and of all but safe outputs."""
    if cell is None:
        return nbformat.v4.new_markdown_cell("*(no answer in the submission)*")
    if cell.cell_type == "markdown":  # shown as written: HTML in it is text, never markup
        out = nbformat.v4.new_markdown_cell(html.escape(cell.source, quote=False))
        if isinstance(cell.get("attachments"), dict):  # pasted images
            out.attachments = cell.attachments
        return out
    if cell.cell_type != "code":
        return nbformat.v4.new_markdown_cell("*(the answer cell changed type)*")
    out = nbformat.v4.new_code_cell(cell.source)
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            out.outputs.append(output)
        elif kind in ("display_data", "execute_result"):
            data = {k: v for k, v in output.get("data", {}).items() if k in KEPT_MIME}
            if data:
                out.outputs.append(nbformat.v4.new_output("display_data", data=data))
        elif kind == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            out.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=text))
    return out


class _Chromium:
    """The system Chromium through Playwright's sync API, started once; closed on exit."""

    def __enter__(self):
        if not os.access(CHROMIUM, os.X_OK):
            raise ValueError(
                f"pdf: no Chromium at {CHROMIUM} (apt-get install chromium, or set "
                "AUTOGRADER_CHROMIUM to its path)"
            )
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        try:
            self.browser = self.pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Exception as exc:
            self.pw.stop()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"pdf: Chromium at {CHROMIUM} did not start: {first}") from None
        return self

    def __exit__(self, *exc):
        try:
            self.browser.close()
        finally:
            self.pw.stop()

    def print_pdf(self, text: str) -> bytes:
        context = self.browser.new_context(java_script_enabled=False)
        try:
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.route("**/*", lambda route: route.abort())  # no request leaves the page
            page.set_content(text.replace("<head>", f"<head>{CSP}", 1), wait_until="load")
            page.emulate_media(media="print")
            return page.pdf(print_background=True)
        finally:
            context.close()


def _exporter(browser: _Chromium):
    from nbconvert.exporters import WebPDFExporter

    class ChromiumPDF(WebPDFExporter):
        """nbconvert's WebPDF, printed by our already running system Chromium."""

        def run_playwright(self, html):
            return browser.print_pdf(html)

    return ChromiumPDF(exclude_input_prompt=True, exclude_output_prompt=True)


def write_pdfs(course, aid, code_cells=()) -> list[Path]:
    """Write ``pdf/<aid>/<student>.pdf`` for every student with a submission, and scores.csv.

    ``code_cells``: grade ids of solution cells to include besides the written answers.
    """
    from autograder.term.calendar import is_placeholder

    course.ensure()
    with course.gradebook() as gb:
        cells = manual_cells(gb, aid)
        solutions = {
            c.name for book in gb.find_assignment(aid).notebooks for c in book.solution_cells
        }
        students = sorted(
            s.student.id for s in gb.find_assignment(aid).submissions if not is_placeholder(s)
        )
    manual = {c.grade_id for c in cells}
    bad = [gid for gid in code_cells if gid not in solutions or gid in manual]
    if bad:
        choices = sorted(solutions - manual)
        raise ValueError(f"pdf: --cells takes solution cells of {aid} ({choices}), received {bad}")
    if not cells and not code_cells:
        raise ValueError(
            f"pdf: {aid} has no written answers (manually graded cells); "
            f"name solution cells with --cells ({sorted(solutions)})"
        )
    if not students:
        raise ValueError(f"pdf: no graded submissions of {aid}: run `grade {aid}` first")
    folder = course.root / "pdf" / aid
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with _Chromium() as browser:
        exporter = _exporter(browser)
        for sid in students:
            nb = handoff_notebook(course, aid, sid, cells, code_cells)
            data, _ = exporter.from_notebook_node(nb)
            path = folder / f"{sid}.pdf"
            path.write_bytes(data)
            written.append(path)
    with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(TEMPLATE_COLUMNS)
        for sid in students:
            writer.writerows([sid, c.notebook, c.grade_id, f"{c.points:g}", "", ""] for c in cells)
    return written


# ----------------------------------------------------------------------------- import


@dataclasses.dataclass
class HandGrade:
    row: int  # in the file, the header being row 1
    student_id: str
    cell: Cell
    score: float | None
    comment: str | None


def read_grades(path, gb, aid) -> list[HandGrade]:
    """Every row of ``path`` checked against the gradebook; ValueError listing all problems."""
    from nbgrader.api import MissingEntry

    from autograder.term.calendar import is_placeholder

    cells = manual_cells(gb, aid)
    by_id: dict[str, list[Cell]] = {}
    for c in cells:
        by_id.setdefault(c.grade_id, []).append(c)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"import-grades: cannot read {path}: {exc}") from None
    missing = {"student_id", "grade_id", "score"} - set(header)
    unknown = set(header) - set(TEMPLATE_COLUMNS) - {None}
    if missing or unknown:
        raise ValueError(
            f"import-grades: {path} needs the columns student_id, grade_id, score (optional: "
            f"notebook, comment, points); received {list(header) or 'an empty file'}"
        )
    if not rows:
        raise ValueError(f"import-grades: {path} has a header but no rows")
    problems, grades, seen = [], [], {}
    for n, row in enumerate(rows, start=2):
        if None in row:
            problems.append(f"row {n}: more fields than the header has columns")
            continue
        sid = (row.get("student_id") or "").strip()
        gid = (row.get("grade_id") or "").strip()
        nb_id = (row.get("notebook") or "").strip()
        text, comment = (row.get("score") or "").strip(), row.get("comment")
        comment = comment.strip() if comment and comment.strip() else None
        try:
            sub = gb.find_submission(aid, sid)
            if is_placeholder(sub):
                raise MissingEntry()
        except MissingEntry:
            problems.append(f"row {n}: unknown student {sid!r} (no graded submission of {aid})")
            continue
        matches = [c for c in by_id.get(gid, []) if not nb_id or c.notebook == nb_id]
        if len(matches) != 1:
            where = f" in notebook {nb_id!r}" if nb_id else ""
            names = sorted(by_id)
            why = "ambiguous: give its notebook" if len(matches) > 1 else "unknown cell"
            problems.append(
                f"row {n}: {why} {gid!r}{where}; the written answers of {aid} are {names}"
            )
            continue
        cell = matches[0]
        score = None
        if text:
            try:
                score = float(text)
            except ValueError:
                score = math.nan
            if not math.isfinite(score) or not 0 <= score <= cell.points:
                problems.append(
                    f"row {n}: score of {gid!r} must be a number from 0 to {cell.points:g}, "
                    f"received {text!r}"
                )
                continue
        key = (sid, cell)
        if key in seen:
            problems.append(f"row {n}: {sid} / {gid} already given in row {seen[key]}")
            continue
        seen[key] = n
        if score is not None or comment is not None:
            grades.append(HandGrade(n, sid, cell, score, comment))
    if problems:
        listed = "\n  ".join(problems)
        raise ValueError(
            f"import-grades: nothing imported from {path}, {len(problems)} bad row(s):\n  {listed}"
        )
    return grades


def import_grades(course, aid, path) -> list[HandGrade]:
    """Check every row of ``path``, then write all hand scores and comments in one commit."""
    from autograder.reporting.export import export_csv
    from autograder.term.calendar import apply_policy

    course.ensure()
    with course.gradebook() as gb:
        grades = read_grades(path, gb, aid)
        try:
            for g in grades:
                c = g.cell
                if g.score is not None:
                    grade = gb.find_grade(c.grade_id, c.notebook, aid, g.student_id)
                    grade.manual_score = g.score
                    grade.needs_manual_grade = False
                if g.comment is not None:
                    comment = gb.find_comment(c.grade_id, c.notebook, aid, g.student_id)
                    comment.manual_comment = g.comment
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise
        apply_policy(course, aid, gb)  # a percentage penalty follows the new raw score
    export_csv(course)
    return grades
