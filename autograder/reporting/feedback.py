"""``feedback``: one HTML page per student and notebook, without hidden-test source.

The page is built from three trusted sources, never from the outputs of the graded run
(during grading the student's kernel can see the hidden tests and could print them):

* the *release* notebook (instructor text, its formulas typeset as SVG by
  ``autograder.reporting.mathsvg``, and the grade cells' visible tests only),
* the student's *submitted* code and answers, shown as plain text,
* the grader's verdicts (marker file) and the answer key's labels and messages: each check
  passed, failed, not attempted (the code still raises the stub's ``NotImplementedError``) or
  not run (the cell stopped at an earlier failure), the first failure marked; visible labels
  with their message, hidden ones only as "hidden test k" with the author's hint (what the
  check probes, never its inputs or expected value) and at most a sentence about the
  student's own value (``score_cell``'s notes),
* the gradebook's hand grades: the points and comment a TA gave each written answer in
  formgrader, or that it is still waiting for one; the total counts both.
"""

from __future__ import annotations

import builtins
import html
import shutil
from pathlib import Path

import nbformat

from autograder.grading import marker
from autograder.grading.answer_key import is_auto_grade_cell, nbgrader_meta
from autograder.grading.marker import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED
from autograder.grading.pipeline import KEPT_FILES
from autograder.kernel import ERROR_NAME
from autograder.reporting import mathsvg
from autograder.term import calendar

STYLE = (
    """
body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;line-height:1.45}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;border-radius:4px}
.res{border-left:4px solid;padding:.3em .8em;margin:.5em 0 1.5em}
.pass{border-color:#2da44e}.fail{border-color:#cf222e}.manual{border-color:#bf8700}
li.first{background:#ffebe9;font-weight:bold}li.notrun{color:#57606a}
.hint{color:#57606a;font-style:italic}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}
"""
    + mathsvg.STYLE
)


def write_feedback(assignment, course) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<notebook>.html`` for every graded student.

    Each folder also gets the submission's ``timestamp.txt`` and ``submission_secret.txt``
    (:data:`grade.KEPT_FILES`), which nbgrader's ``release_feedback`` needs to hand the pages
    back through the exchange (it names the released page after a hash of the secret).
    """
    written = []
    late = calendar.lateness(course, assignment) if course.db_path.is_file() else {}
    policy, zone = (
        calendar.load_policy(course.source / assignment),
        calendar.display_zone(course),
    )
    hand = hand_grades(course, assignment)
    for sid, data in marker.of_assignment(course, assignment).items():
        folder = course.feedback / sid / assignment
        folder.mkdir(parents=True, exist_ok=True)
        dates = calendar.describe(late[sid], policy, zone) if sid in late else []
        for nb_id in course.notebooks(assignment):
            out = folder / f"{nb_id}.html"
            page = render(course, assignment, sid, nb_id, data, dates, hand.get((sid, nb_id)))
            out.write_text(page, encoding="utf-8")
            written.append(out)
        submitted = course.submitted / sid / assignment
        for name in KEPT_FILES:
            if (submitted / name).is_file() and not (submitted / name).is_symlink():
                shutil.copyfile(submitted / name, folder / name)
    return written


def hand_grades(course, aid) -> dict:
    """(student, notebook) -> {grade_id: {"score", "max_score", "comment"}} from the gradebook.

    ``score``: the TA's points, 0 for an answer left as released (nbgrader's "No response."),
    None while it waits for a person. Only the written answers' entries are read by the page.
    """
    if not course.db_path.is_file():
        return {}
    out: dict = {}
    with course.gradebook() as gb:
        try:
            subs = gb.assignment_submissions(aid)
        except Exception:  # noqa: BLE001 - an assignment the gradebook does not know
            return {}
        for sub in subs:
            for nb in sub.notebooks:
                comments = {c.cell.name: c for c in nb.comments}
                for g in nb.grades:
                    score = g.manual_score
                    if score is None and g.auto_score is not None and not g.needs_manual_grade:
                        score = float(g.auto_score)
                    c = comments.get(g.cell.name)
                    text = (c.manual_comment or c.auto_comment or "") if c is not None else ""
                    out.setdefault((sub.student.id, nb.name), {})[g.cell.name] = {
                        "score": None if score is None else float(score),
                        "max_score": float(g.max_score),
                        "comment": text,
                    }
    return out


def render(course, aid, sid, nb_id, data, dates=(), hand=None) -> str:
    """The feedback page of one notebook (a complete HTML document).

    ``dates``: the assignment's due date, submission time, extension and late penalty as
    sentences (:func:`calendar.describe`), shown under the score. ``hand``: the written
    answers' hand grades (:func:`hand_grades`; None: none recorded yet).
    """
    release = nbformat.read(str(course.release_dir / aid / f"{nb_id}.ipynb"), as_version=4)
    key = course.load_key(aid, nb_id)
    result = data["results"].get(nb_id, {})
    scores = result.get("scores", {})
    submitted = _student_sources(course.submitted / sid / aid / f"{nb_id}.ipynb")
    esc = html.escape
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{esc(nb_id)} - {esc(sid)}</title>",
        f"<style>{STYLE}</style><h1>{esc(aid)} / {esc(nb_id)}</h1>",
        f"<p>Student: <b>{esc(sid)}</b></p>",
    ]
    total = sum(s["score"] for s in scores.values())
    possible = sum(s["max_score"] for s in scores.values())
    parts.append(f"<p>{esc(total_line(total, possible, release, hand or {}))}</p>")
    if dates:
        parts.append("<ul class='dates'>" + "".join(f"<li>{esc(d)}</li>" for d in dates) + "</ul>")
    if result.get("problem"):
        parts.append(
            f"<p class='res fail'>This notebook could not be graded: {esc(result['problem'].text)}"
            "</p>"
        )
    parts.append("<table><tr><th>exercise</th><th>points</th><th>result</th></tr>")
    for gid, s in scores.items():
        parts.append(
            f"<tr><td>{esc(gid)}</td><td>{s['score']:g} / {s['max_score']:g}</td>"
            f"<td>{esc(_summary(s, key['cells'].get(gid, {})))}</td></tr>"
        )
    parts.append("</table><hr>")
    for cell in release.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if meta.get("solution"):
            text = submitted.get(gid, "(missing from the submission)")
            parts.append(f"<p><i>Your answer ({esc(gid)}):</i></p><pre>{esc(text)}</pre>")
            if meta.get("grade"):
                parts.append(_hand_box(meta, (hand or {}).get(gid)))
        elif cell.cell_type == "markdown":
            parts.append(mathsvg.markdown(cell.source))  # formulas typeset as SVG
        elif cell.cell_type == "code":
            parts.append(f"<pre>{esc(cell.source)}</pre>")
            if is_auto_grade_cell(cell) and gid in scores:
                parts.append(_result_box(scores[gid], key["cells"].get(gid, {})))
    return "\n".join(parts)


def written_answers(release) -> dict:
    """grade_id -> points of the manually graded answers of a release notebook."""
    out = {}
    for cell in release.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and meta.get("solution"):
            out[meta.get("grade_id")] = float(meta.get("points", 0) or 0)
    return out


def total_line(auto, auto_possible, release, hand) -> str:
    """The one total: auto points of auto possible, then the written answers' hand points
    (graded, or pending), then the sum when nothing is pending."""
    text = f"Auto-graded: {auto:g} / {auto_possible:g} points."
    answers = written_answers(release)
    if not answers:
        return text
    graded = {g: h for g, h in hand.items() if g in answers and h["score"] is not None}
    pending = [g for g in answers if g not in graded]
    got = sum(h["score"] for h in graded.values())
    possible = sum(answers.values())
    if pending:
        text += (
            f" Written answers: {possible:g} points, graded by hand; "
            f"{len(pending)} of {len(answers)} still pending"
        )
        text += f" ({got:g} points so far)." if graded else "."
        return text
    return text + (
        f" Written answers (graded by hand): {got:g} / {possible:g} points."
        f" Total: {auto + got:g} / {auto_possible + possible:g}."
    )


def _hand_box(meta, grade) -> str:
    esc = html.escape
    points = float(meta.get("points", 0) or 0)
    if grade is None or grade["score"] is None:
        return f"<div class='res manual'>Graded by hand ({points:g} points): pending.</div>"
    out = f"<div class='res manual'><b>{grade['score']:g} / {points:g} points</b>, graded by hand"
    if grade["comment"]:
        out += f"<br>Comment: {esc(grade['comment'])}"
    return out + "</div>"


NOT_RUN_WHY = {
    "missing": "the test cell was missing from the submission",
    "stopped": "an earlier check in this cell failed",
    "unreached": "the cell did not get this far",  # e.g. the notebook's time ran out before
}


def _rows(score, entry):
    """One dict per key label: name shown, state, message, hidden number (0: visible), first."""
    labels = score.get("labels", {})
    first = score.get("first_failure")
    notes = score.get("notes", {})
    numbers, rows = marker.hidden_numbers(entry.get("labels", {})), []
    for label, rec in entry.get("labels", {}).items():
        state = marker.state_of(labels.get(label, NOT_RUN))
        hidden = numbers[label]
        if hidden:
            hint = str(rec.get("hint") or "")
            name, msg = f"hidden test {hidden}", f"probes: {hint}" * bool(hint)
        else:
            name, msg = label, rec.get("msg") or ""
        if state != FAILED:
            msg = ""
        if state == FAILED and notes.get(label):
            msg = f"{msg} ({notes[label]})" if msg else notes[label]
        rows.append(
            {"name": name, "state": state, "msg": msg, "hidden": hidden, "first": label == first}
        )
    return rows


def _names(rows) -> str:
    """Names of a run of checks, consecutive hidden ones as "hidden tests 3-12"."""
    parts, i = [], 0
    while i < len(rows):
        j = i
        if rows[i]["hidden"]:
            while j + 1 < len(rows) and rows[j + 1]["hidden"]:
                j += 1
        if j > i:
            parts.append(f"hidden tests {rows[i]['hidden']}-{rows[j]['hidden']}")
        else:
            parts.append(rows[i]["name"])
        i = j + 1
    return ", ".join(parts)


def _summary(score, entry) -> str:
    """The result column of the overview table."""
    if score["score"] == score["max_score"]:
        return PASSED
    if score.get("error") == "missing":
        return "failed: test cell missing"
    rows = _rows(score, entry)
    if rows and all(r["state"] == NOT_ATTEMPTED for r in rows):
        return NOT_ATTEMPTED
    if entry.get("partial"):
        passed = sum(r["state"] == PASSED for r in rows)
        text = f"{passed} of {len(rows)} checks passed"
        untried = sum(r["state"] == NOT_ATTEMPTED for r in rows)
        return text + (f", {untried} not attempted" if untried else "")
    first = next((r["name"] for r in rows if r["first"]), None)
    return f"failed at {first}" if first else FAILED


def _result_box(score, entry) -> str:
    esc = html.escape
    ok = score["score"] == score["max_score"]
    out = [
        f"<div class='res {'pass' if ok else 'fail'}'>"
        f"<b>{score['score']:g} / {score['max_score']:g} points</b><ul>"
    ]
    error = score.get("error")
    if error == "missing":
        why = NOT_RUN_WHY["missing"]
    else:
        why = NOT_RUN_WHY["stopped" if score.get("first_failure") else "unreached"]
    rows = _rows(score, entry)
    i = 0
    while i < len(rows):
        row = rows[i]
        if row["state"] in (NOT_RUN, NOT_ATTEMPTED):  # a run of such checks: one line
            j = i
            while j + 1 < len(rows) and rows[j + 1]["state"] == row["state"]:
                j += 1
            names = _names(rows[i : j + 1])
            if row["state"] == NOT_ATTEMPTED:
                reason = "your code still raises NotImplementedError (YOUR CODE HERE)"
                out.append(f"<li class='notrun'>{esc(names)}: not attempted: {esc(reason)}</li>")
            else:
                out.append(f"<li class='notrun'>{esc(names)}: not run: {esc(why)}</li>")
            i = j + 1
            continue
        text = f"{esc(row['name'])}: {row['state']}"
        if row["msg"]:
            text += f" - {esc(row['msg'])}"
        if row["first"]:
            out.append(f"<li class='first'>{text} <i>(first failure)</i></li>")
        else:
            out.append(f"<li>{text}</li>")
        i += 1
    out.append("</ul>")
    if error == "missing":
        out.append("<p>This test cell was missing from the submission.</p>")
    elif entry.get("partial") or error == "NotImplementedError":
        pass  # every check is listed with its own verdict above
    elif error and error in dir(builtins):  # student-defined exception names are not shown
        out.append(f"<p>The test cell stopped with {esc(error)}.</p>")
    elif error == ERROR_NAME:
        out.append(
            "<p>The test cell did not complete (time limit, crash of the kernel or "
            "output limit).</p>"
        )
    elif error:
        out.append("<p>The test cell stopped with an error.</p>")
    out.append("</div>")
    return "".join(out)


def _student_sources(path: Path) -> dict:
    """grade_id -> source of the student's cells (empty if the file is unreadable)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - an invalid submission simply has no answers to show
        return {}
    sources = {}
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid and gid not in sources and isinstance(cell.get("source"), str):
            sources[gid] = cell.source[:20000]
    return sources
