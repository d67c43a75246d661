"""``feedback``: one HTML page per student and notebook, without hidden-test source.

The page is built from three trusted sources, never from the outputs of the graded run
(during grading the student's kernel can see the hidden tests and could print them):

* the *release* notebook (instructor text and the grade cells' visible tests only),
* the student's *submitted* code and answers, shown as plain text,
* the grader's verdicts (marker file) and the answer key's labels and messages: each check
  passed, failed or not run (the cell stopped at an earlier failure), the first failure
  marked; visible labels with their message, hidden ones only as "hidden test k", with at
  most a sentence about the student's own value (``score_cell``'s notes).
"""

from __future__ import annotations

import builtins
import html
import json
import shutil
from pathlib import Path

import nbformat

from . import calendar
from .execute import ERROR_NAME
from .grade import KEPT_FILES, MARKER
from .key import FAILED, NOT_RUN, PASSED, is_auto_grade_cell, label_state, nbgrader_meta

STYLE = """
body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;line-height:1.45}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;border-radius:4px}
.res{border-left:4px solid;padding:.3em .8em;margin:.5em 0 1.5em}
.pass{border-color:#2da44e}.fail{border-color:#cf222e}.manual{border-color:#bf8700}
li.first{background:#ffebe9;font-weight:bold}li.notrun{color:#57606a}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}
"""


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
    for marker in sorted(course.autograded.glob(f"*/{assignment}/{MARKER}")):
        sid = marker.parent.parent.name
        data = json.loads(marker.read_text())
        folder = course.feedback / sid / assignment
        folder.mkdir(parents=True, exist_ok=True)
        dates = calendar.describe(late[sid], policy, zone) if sid in late else []
        for nb_id in course.notebooks(assignment):
            out = folder / f"{nb_id}.html"
            page = render(course, assignment, sid, nb_id, data, dates)
            out.write_text(page, encoding="utf-8")
            written.append(out)
        submitted = course.submitted / sid / assignment
        for name in KEPT_FILES:
            if (submitted / name).is_file() and not (submitted / name).is_symlink():
                shutil.copyfile(submitted / name, folder / name)
    return written


def render(course, aid, sid, nb_id, data, dates=()) -> str:
    """The feedback page of one notebook (a complete HTML document).

    ``dates``: the assignment's due date, submission time, extension and late penalty as
    sentences (:func:`calendar.describe`), shown under the score.
    """
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

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
    parts.append(f"<p>Auto-graded score: <b>{total:g} / {possible:g}</b></p>")
    if dates:
        parts.append("<ul class='dates'>" + "".join(f"<li>{esc(d)}</li>" for d in dates) + "</ul>")
    if result.get("reason"):
        parts.append(
            f"<p class='res fail'>This notebook could not be graded: {esc(result['reason'])}</p>"
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
                parts.append(
                    "<div class='res manual'>Graded by hand "
                    f"({float(meta.get('points', 0)):g} points).</div>"
                )
        elif cell.cell_type == "markdown":
            parts.append(markdown2html_mistune(cell.source))
        elif cell.cell_type == "code":
            parts.append(f"<pre>{esc(cell.source)}</pre>")
            if is_auto_grade_cell(cell) and gid in scores:
                parts.append(_result_box(scores[gid], key["cells"].get(gid, {})))
    return "\n".join(parts)


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
    hidden_n, rows = 0, []
    for label, rec in entry.get("labels", {}).items():
        state = label_state(labels.get(label, NOT_RUN))
        hidden = 0
        if rec.get("hidden"):
            hidden_n += 1
            hidden, name, msg = hidden_n, f"hidden test {hidden_n}", ""
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
    first = next((r["name"] for r in _rows(score, entry) if r["first"]), None)
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
        if row["state"] == NOT_RUN:  # a run of checks that did not run: one line
            j = i
            while j + 1 < len(rows) and rows[j + 1]["state"] == NOT_RUN:
                j += 1
            names = _names(rows[i : j + 1])
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
