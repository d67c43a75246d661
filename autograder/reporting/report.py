"""``report``: where the class struggled, as one self-contained HTML page per assignment.

The page is built from two trusted sources only, never by running student code:

* nbgrader's gradebook (scores with hand grades included, who still needs a human), and
* the marker files ``grade`` writes per student (``autograded/<sid>/<aid>/.autograder.json``):
  per grade cell the verdict of every check, why a notebook could not be graded, crashes,
  timeouts and seconds per notebook.

Labels and messages come from the answer key, visible checks only: a hidden check appears as
"hidden test k" with its counts, never with its label, source or expected value. Plots are
matplotlib PNGs embedded as ``data:`` URIs, so the page needs no network and no other file.

:func:`assignment_data` / :func:`course_data` compute the numbers (tested against
``grades.csv`` and the gradebook); :func:`write_report` renders them.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import statistics
from pathlib import Path

from autograder.files import atomic_write
from autograder.grading import marker
from autograder.reporting.export import gradebook_rows
from autograder.term import calendar

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em}
th{background:#f3f4f6;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:.5em 0}
.muted{color:#666}.warn{color:#9a6700}.bad{color:#cf222e}
"""


@dataclasses.dataclass
class LabelStats:
    """One check of one grade cell, over the class (graded notebooks only)."""

    exercise: str
    name: str  # the label for visible checks, "hidden test k" for hidden ones
    hidden: bool
    message: str  # the key's message of a visible check ("" for hidden ones)
    failed: int = 0
    not_run: int = 0
    not_attempted: int = 0  # the student's code still raised the stub's NotImplementedError
    first_failure: int = 0  # students for whom this was the first failure of the cell


@dataclasses.dataclass
class ExerciseStats:
    notebook: str
    grade_id: str
    points: float
    graded: int = 0  # students whose notebook was executed
    passed: int = 0  # with full marks
    not_attempted: int = 0  # every check not attempted (an untouched exercise)
    points_sum: float = 0.0  # the points the graded students earned (partial credit included)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0

    @property
    def not_attempted_rate(self) -> float:
        return self.not_attempted / self.graded if self.graded else 0.0

    @property
    def mean_points(self) -> float:
        return self.points_sum / self.graded if self.graded else 0.0


@dataclasses.dataclass
class AssignmentData:
    assignment: str
    rows: list[dict]  # gradebook rows (grades.csv), one per student
    exercises: list[ExerciseStats]
    labels: list[LabelStats]
    problems: list[dict]  # {student_id, notebook, kind, reason}
    seconds: dict[str, float]  # student -> grading seconds (all notebooks)
    manual: list[str]  # students whose written answers wait for a human
    changed: list[dict]  # {student_id, before, after}
    late: list = dataclasses.field(default_factory=list)  # calendar.Lateness: late or extended
    zone: str = "UTC"  # the course's display time zone

    @property
    def submitted(self) -> list[dict]:
        return [r for r in self.rows if r["submitted"]]

    @property
    def scores(self) -> list[float]:
        return [r["score"] for r in self.submitted]

    @property
    def max_score(self) -> float:
        return max((r["max_score"] for r in self.rows), default=0.0)

    def counts(self) -> dict:
        s = self.submitted
        return {
            "students": len(self.rows),
            "submitted": len(s),
            "missing": len(self.rows) - len(s),
            "full": sum(r["score"] >= r["max_score"] > 0 for r in s),
            "zero": sum(r["score"] == 0 for r in s),
            "mean": statistics.fmean(self.scores) if s else 0.0,
            "median": statistics.median(self.scores) if s else 0.0,
        }


def assignment_data(course, aid) -> AssignmentData:
    """Every number the assignment's page shows, from the gradebook and the markers."""
    rows = [r for r in gradebook_rows(course) if r["assignment"] == aid]
    if not rows:
        raise ValueError(f"report: no grades for assignment {aid!r} in {course.db_path}")
    found = marker.of_assignment(course, aid)
    exercises, labels = [], []
    by_cell: dict[tuple, tuple[ExerciseStats, dict[str, LabelStats]]] = {}
    for nb_id in course.notebooks(aid):
        key = course.load_key(aid, nb_id)
        for gid, entry in key["cells"].items():
            ex = ExerciseStats(nb_id, gid, float(entry["points"]))
            exercises.append(ex)
            cell_labels, numbers = {}, marker.hidden_numbers(entry["labels"])
            for label, rec in entry["labels"].items():
                if numbers[label]:
                    stats = LabelStats(gid, f"hidden test {numbers[label]}", True, "")
                else:
                    stats = LabelStats(gid, label, False, rec.get("msg") or "")
                cell_labels[label] = stats
                labels.append(stats)
            by_cell[(nb_id, gid)] = (ex, cell_labels)
    problems, seconds = [], {}
    for item in course.not_graded(aid):  # entries of --submissions that no student got
        problems.append(
            {
                "student_id": item["entry"],
                "notebook": "",
                "kind": "not graded",
                "reason": item["reason"],
            }
        )
    for sid, data in found.items():
        for nb_id, result in data.get("results", {}).items():
            for note in result.get("notes") or []:  # graded, except what the note names
                problems.append(
                    {"student_id": sid, "notebook": nb_id, "kind": "partly graded", "reason": note}
                )
            problem = result.get("problem")
            if problem is not None:
                problems.append(
                    {
                        "student_id": sid,
                        "notebook": nb_id,
                        "kind": problem.kind,
                        "reason": problem.text,
                    }
                )
            info = result.get("info") or {}
            seconds[sid] = seconds.get(sid, 0.0) + float(info.get("seconds") or 0.0)
            for why in (info.get("failed_cells") or {}).values():
                problems.append(
                    {"student_id": sid, "notebook": nb_id, "kind": why.kind, "reason": why.text}
                )
            if problem is not None:
                continue  # not executed: no verdicts to count
            for gid, score in result.get("scores", {}).items():
                if (nb_id, gid) not in by_cell:
                    continue
                ex, cell_labels = by_cell[(nb_id, gid)]
                ex.graded += 1
                ex.passed += score["score"] >= score["max_score"]
                ex.points_sum += float(score["score"])
                states = [marker.state_of(v) for v in score.get("labels", {}).values()]
                ex.not_attempted += bool(states) and all(st == "not attempted" for st in states)
                first = score.get("first_failure")
                for label, verdict in score.get("labels", {}).items():
                    stats = cell_labels.get(label)
                    if stats is None:
                        continue
                    state = marker.state_of(verdict)
                    if state == "failed":
                        stats.failed += 1
                        if first is None:  # older markers: the first failed label in key order
                            first = label
                    elif state == "not run":
                        stats.not_run += 1
                    elif state == "not attempted":
                        stats.not_attempted += 1
                if first in cell_labels:
                    cell_labels[first].first_failure += 1
    changed = score_changes(found)
    manual = sorted(r["student_id"] for r in rows if r["needs_manual_grade"])
    late = [c for _, c in sorted(calendar.lateness(course, aid).items()) if c.late or c.extension]
    zone = calendar.display_zone(course)
    return AssignmentData(
        aid, rows, exercises, labels, problems, seconds, manual, changed, late, zone
    )


def score_changes(found: dict[str, dict]) -> list[dict]:
    """Students whose score the latest ``grade`` run changed: {student_id, before, after}.

    Each marker's summary holds the run's stamp (``graded_at``) and the score the student
    had before that run (``previous_score``, None the first time); students an earlier run
    graded, or that this run skipped as unchanged, are not listed.
    """
    stamps = [m.get("summary", {}).get("graded_at") for m in found.values()]
    latest = max((s for s in stamps if s), default=None)
    out = []
    for sid, data in found.items():
        summary = data.get("summary", {})
        before = summary.get("previous_score")
        if latest is None or summary.get("graded_at") != latest or before is None:
            continue
        if float(before) != float(summary["score"]):
            out.append({"student_id": sid, "before": float(before), "after": summary["score"]})
    return out


# ------------------------------------------------------------------------------- plots


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(width, height):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def histogram(scores, max_score) -> str:
    fig, ax = _figure(6, 3)
    bins = min(20, max(1, int(max_score) + 1)) if max_score else 10
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#4477aa", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title("score distribution")
    return _png(fig)


def pass_rate_bars(exercises) -> str:
    fig, ax = _figure(max(4, 0.5 * len(exercises) + 2), 3.2)
    names = [e.grade_id for e in exercises]
    ax.bar(range(len(names)), [100 * e.pass_rate for e in exercises], color="#228833")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("pass rate (%)")
    ax.set_title("exercises in notebook order")
    return _png(fig)


def heat_map(students, assignments, fraction) -> str:
    import numpy as np

    fig, ax = _figure(max(4, 0.6 * len(assignments) + 2), max(2.5, 0.25 * len(students) + 1))
    grid = np.array([[fraction.get((s, a), np.nan) for a in assignments] for s in students])
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(assignments)), assignments, rotation=45, ha="right")
    ax.set_yticks(range(len(students)), students)
    fig.colorbar(im, ax=ax, label="score / max")
    ax.set_title("score per student and assignment (blank: no grade)")
    return _png(fig)


# ------------------------------------------------------------------------------- pages


def _table(head, body, numeric=()) -> str:
    esc = html.escape
    out = ["<table><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for row in body:
        out.append("<tr>")
        for i, value in enumerate(row):
            cls = " class='n'" if i in numeric else ""
            text = f"{value:g}" if isinstance(value, float) else str(value)
            out.append(f"<td{cls}>{esc(text)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _page(title, body) -> str:
    esc = html.escape
    return (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style><body><h1>{esc(title)}</h1>{body}</body></html>"
    )


def similarity_href(course, aid) -> str | None:
    """The file name of the assignment's similarity page beside the report, if written."""
    path = course.root / "reports" / f"{aid}-similarity.html"
    return path.name if path.is_file() else None


def render_assignment(data: AssignmentData, similarity: str | None = None) -> str:
    """The assignment's page; ``similarity``: the similarity page to link (None: not written)."""
    sections = (
        _summary_section(data, similarity),
        _exercises_section(data),
        _checks_section(data),
        _problems_section(data),
        _late_section(data),
        _manual_section(data),
        _changes_section(data),
        _students_section(data),
    )
    return _page(f"Report: {data.assignment}", "".join(sections))


def _or_none(table: str | None, none: str = "None.") -> str:
    return table if table else f"<p>{none}</p>"


def _summary_section(data: AssignmentData, similarity: str | None) -> str:
    esc = html.escape
    c = data.counts()
    if similarity:
        similar = (
            f"<p><a href='{esc(similarity)}'>Solutions that look alike</a>: pairs of students "
            "whose code of an exercise is similar, for you to judge.</p>"
        )
    else:
        similar = (
            "<p class='muted'>No similarity page yet: <code>python -m autograder similarity "
            f"{esc(data.assignment)}</code> writes one beside this page.</p>"
        )
    return (
        f"<p>{c['students']} students, {c['submitted']} graded, {c['missing']} missing. "
        f"Mean {c['mean']:.2f}, median {c['median']:g} of {data.max_score:g}; "
        f"{c['full']} with full marks, {c['zero']} with zero.</p>"
        + similar
        + f"<img alt='score distribution' src='{histogram(data.scores, data.max_score)}'>"
    )


def _exercises_section(data: AssignmentData) -> str:
    head = (
        "<h2>Exercises</h2><p class='muted'>Passed: full marks. Mean points: over the graded "
        "students, partial credit included. Not attempted: every check of the exercise still "
        "raised NotImplementedError.</p>"
    )
    if data.exercises:
        head += f"<img alt='pass rate per exercise' src='{pass_rate_bars(data.exercises)}'>"
    columns = ["notebook", "exercise", "points", "graded", "passed", "pass rate"]
    rows = [
        (
            e.notebook,
            e.grade_id,
            e.points,
            e.graded,
            e.passed,
            f"{100 * e.pass_rate:.0f} %",
            f"{e.mean_points:.2f}",
            f"{100 * e.not_attempted_rate:.0f} %",
        )
        for e in data.exercises
    ]
    columns += ["mean points", "not attempted"]
    return head + _table(columns, rows, numeric=(2, 3, 4, 5, 6, 7))


def _checks_section(data: AssignmentData) -> str:
    head = (
        "<h2>Checks</h2><p class='muted'>Failed: the check ran and failed. Not attempted: the "
        "student's code still raised the stub's NotImplementedError. Not run: an earlier check "
        "of the same cell failed first (older grade cells), or the cell never got there. First "
        "failure: the message the student saw. Checks nobody failed are left out.</p>"
    )
    ranked = sorted(data.labels, key=lambda s: (-s.first_failure, -s.failed))
    rows = [
        (s.exercise, s.name, s.failed, s.not_attempted, s.not_run, s.first_failure, s.message)
        for s in ranked
        if s.failed or s.not_run or s.not_attempted
    ]
    columns = ["exercise", "check", "failed", "not attempted", "not run", "first failure"]
    return head + _table([*columns, "message"], rows, numeric=(2, 3, 4, 5))


def _problems_section(data: AssignmentData) -> str:
    head = "<h2>Crashes, timeouts, rejected and ungraded submissions</h2>"
    rows = [(p["student_id"], p["notebook"], p["kind"], p["reason"]) for p in data.problems]
    body = _or_none(rows and _table(["student", "notebook", "kind", "reason"], rows))
    if data.seconds:
        times = sorted(data.seconds.values())
        body += (
            f"<p>Grading time per student: median {statistics.median(times):.1f} s, "
            f"longest {times[-1]:.1f} s ({len(times)} students).</p>"
        )
    return head + body


def _late_section(data: AssignmentData) -> str:
    show, duration = calendar.show_time, calendar.show_duration
    rows = [
        (
            c.student_id,
            show(c.timestamp, data.zone) if c.timestamp else "not yet",
            show(c.duedate, data.zone) if c.duedate else "none",
            duration(c.extension.total_seconds()) if c.extension else "",
            duration(c.seconds_late) if c.late else "on time",
            float(c.penalty),
        )
        for c in data.late
    ]
    columns = ["student", "submitted", "due (with extension)", "extension", "late by", "penalty"]
    table = rows and _table(columns, rows, numeric=(5,))
    return "<h2>Late submissions and extensions</h2>" + _or_none(table)


def _manual_section(data: AssignmentData) -> str:
    who = f"<p>{html.escape(', '.join(data.manual))}</p>" if data.manual else "<p>Nobody.</p>"
    return "<h2>Waiting for a human (formgrader)</h2>" + who


def _changes_section(data: AssignmentData) -> str:
    rows = [(ch["student_id"], ch["before"], float(ch["after"])) for ch in data.changed]
    table = rows and _table(["student", "before", "after"], rows, numeric=(1, 2))
    return "<h2>Scores changed since the previous grading run</h2>" + _or_none(table)


def _students_section(data: AssignmentData) -> str:
    rows = [
        (
            r["student_id"],
            r["score"],
            r["max_score"],
            "yes" if r["submitted"] else "no",
            "yes" if r["needs_manual_grade"] else "",
        )
        for r in data.rows
    ]
    columns = ["student", "score", "max", "submitted", "needs a human"]
    return "<h2>Students</h2>" + _table(columns, rows, numeric=(1, 2))


def course_data(course) -> dict:
    """{'students', 'assignments', 'rows'} over every assignment in the gradebook."""
    rows = gradebook_rows(course)
    if not rows:
        raise ValueError(f"report: the gradebook {course.db_path} has no grades yet")
    return {
        "students": sorted({r["student_id"] for r in rows}),
        "assignments": sorted({r["assignment"] for r in rows}),
        "rows": rows,
    }


def render_course(data) -> str:
    students, assignments, rows = data["students"], data["assignments"], data["rows"]
    fraction = {
        (r["student_id"], r["assignment"]): (r["score"] / r["max_score"] if r["max_score"] else 0.0)
        for r in rows
        if r["submitted"]
    }
    score = {(r["student_id"], r["assignment"]): r for r in rows}
    total_max = sum(
        max((r["max_score"] for r in rows if r["assignment"] == a), default=0) for a in assignments
    )
    body = [f"<img alt='heat map' src='{heat_map(students, assignments, fraction)}'>"]
    table = []
    for s in students:
        cells = []
        for a in assignments:
            r = score.get((s, a))
            cells.append(f"{r['score']:g}" if r and r["submitted"] else "missing")
        total = sum(score[(s, a)]["score"] for a in assignments if (s, a) in score)
        table.append((s, *cells, f"{total:g} / {total_max:g}"))
    body.append(_table(["student", *assignments, "total"], table))
    per_assignment = []
    for a in assignments:
        got = [r["score"] for r in rows if r["assignment"] == a and r["submitted"]]
        mx = max((r["max_score"] for r in rows if r["assignment"] == a), default=0.0)
        mean = statistics.fmean(got) if got else 0.0
        per_assignment.append((a, len(got), f"{mean:.2f}", mx))
    body.append(_table(["assignment", "graded", "mean", "max"], per_assignment, numeric=(1, 2, 3)))
    return _page("Course overview", "".join(body))


def write_report(course, assignment=None) -> Path:
    """Write ``reports/<assignment>.html`` (or ``reports/course.html``); returns its path."""
    if assignment is None:
        page, name = render_course(course_data(course)), "course"
    else:
        data = assignment_data(course, assignment)
        page, name = render_assignment(data, similarity_href(course, assignment)), assignment
    out = course.root / "reports" / f"{name}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, page)
