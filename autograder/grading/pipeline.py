"""``grade``: autograde every submission of an assignment, in parallel sandboxes.

Per student:

1. *trusted parent*: find the notebooks (folder or zip), copy them to ``submitted/``, parse
   them (size limit, invalid JSON -> 0 with a reason) and run the sanitising preprocessors
   of ``nbgrader autograde`` (``sanitize.py``): locked cells, hidden tests included, come
   back from the gradebook. This happens just before the student's task goes to a worker, on one
   gradebook session for the whole run;
2. *worker* (``executors/``: this process, a local pool or a Dask cluster): execute each
   notebook in its own sandbox (``kernel.py``) and send the executed notebook back;
3. *trusted parent*: score the executed notebooks against the answer key (``scoring.py``,
   ``answer_key.py``: the key never leaves this process), write ``autograded/``, record the
   scores in nbgrader's gradebook (only the parent touches SQLite) and a marker file
   (``marker.py``) that makes a re-run skip this student unless the submission or the key
   changed.

Types: a :class:`Job` is one student staged in ``submitted/``; the executor turns it into a
``base.Task`` (sanitised notebooks) and returns a ``base.Outcome`` (executed notebooks, host,
mechanism), which :meth:`Run.score` turns into one :class:`NotebookResult` per notebook (a
``scoring.CellScore`` per grade cell, or the ``outcomes.Problem`` that kept it from running).
:class:`Run` holds what the parent knows for the run.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder import kernel, outcomes, release
from autograder.config import Limits
from autograder.course import Course
from autograder.executors.base import NotebookTask, Outcome, RunContext, Task
from autograder.executors.placement import make_executor
from autograder.grading import answer_key, marker, scoring, submissions
from autograder.grading.sanitize import Trusted, sanitize
from autograder.grading.scoring import CellScore
from autograder.outcomes import Problem
from autograder.reporting.export import export_csv
from autograder.term import calendar

log = logging.getLogger("autograder")
# besides the notebooks, what a submission folder keeps: nbgrader's submission time and the
# secret its release_feedback names the student's feedback page after
KEPT_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclasses.dataclass
class Job:
    """One student to grade, copied to ``submitted/``."""

    student_id: str
    hash: str  # of the submitted files and the answer key: the marker's "unchanged" test
    rejected: Problem | None = None  # why the whole submission is refused (a bad zip)
    submitted_at: datetime.datetime | None = None  # trusted submission time (naive UTC)
    time_source: str | None = None  # "exchange" (timestamp.txt) or "collection" (mtime)


@dataclasses.dataclass
class NotebookResult:
    """One notebook's grade; :meth:`as_json` is its entry in the marker's ``results``."""

    problem: Problem | None  # why it earned nothing without running
    info: dict | None  # from the worker: mechanism, restarts, failed_cells, seconds, host
    scores: dict[str, CellScore]  # grade_id -> its verdict
    nb: dict | None = None  # the executed notebook

    @classmethod
    def scored(cls, nb, problem, info, the_key) -> NotebookResult:
        nb = nbformat.from_dict(nb) if nb is not None else None
        return cls(problem, info, scoring.score_notebook(nb, the_key), nb)

    def as_json(self) -> dict:
        return {
            "problem": self.problem.as_json() if self.problem else None,
            "info": self.info,
            "scores": {gid: s.as_json() for gid, s in self.scores.items()},
        }


# --------------------------------------------------------------------------- parent side


def grade(
    assignment,
    submissions_dir,
    course: Course,
    workers=1,
    progress=True,
    force=False,
    executor=None,
) -> list[dict]:
    """Grade all submissions; returns one summary dict per student (see :meth:`Run.record`).

    ``executor`` (see ``executors/base.py``) defaults to ``make_executor(workers)``.
    """
    course.ensure()
    notebooks = course.notebooks(assignment)
    if not notebooks:
        raise ValueError(f"grade: assignment {assignment!r} is not released in {course.root}")
    keys = {nb: course.load_key(assignment, nb) for nb in notebooks}
    limits = course.limits(assignment)
    context = RunContext.from_release(assignment, limits, course.release_dir / assignment)
    executor = executor if executor is not None else make_executor(workers)
    rows = []
    per_host = collections.defaultdict(lambda: [0, 0.0])  # (host, mechanism) -> [n, seconds]
    # one gradebook session for the whole run: only this (parent) process uses SQLite
    with (
        tempfile.TemporaryDirectory(prefix="autograder-zips-") as staging,
        course.gradebook() as gb,
        executor,
    ):
        run = Run(course, assignment, notebooks, keys, limits, gb)
        others = [p.name for p in course.source.iterdir() if p.is_dir() and p.name != assignment]
        subs, lost = submissions.scan(
            Path(submissions_dir), assignment, Path(staging), limits.max_zip_mb, others
        )
        for item in lost:
            log.warning("not graded: %s: %s", item.entry, item.reason)
        course.write_not_graded(assignment, lost)
        for warning in release.edited_since_release(course, assignment):
            log.warning("warning: %s", warning)
        jobs = []
        for sub in subs:
            job = run.stage(sub)
            previous = None if force else run.finished(job)
            if previous is not None:
                run.write_time(job, kept=True)
                rows.append(previous)
            else:
                jobs.append(job)
        log.info(
            "%d submissions, %d already graded%s; sandbox: %s",
            len(subs),
            len(subs) - len(jobs),
            f", {len(lost)} not graded (listed above)" if lost else "",
            executor.describe(),
        )
        results = executor.run(context, jobs, run.task)
        for job, outcome in _progress(results, len(jobs), assignment, progress):
            summary = run.record(job, outcome, run.score(job, outcome))
            rows.append(summary)
            if isinstance(outcome, Outcome):
                per_host[outcome.host, outcome.mechanism][0] += 1
                per_host[outcome.host, outcome.mechanism][1] += outcome.seconds
        # due date, extension and policy as they are now: changed ones re-score every
        # student here, finished ones included, from the gradebook alone (no notebook runs)
        late = calendar.apply_policy(course, assignment, gb)
        for r in rows:
            if r["student_id"] in late:
                cal = late[r["student_id"]]
                r.update(raw_score=cal.raw_score, late_penalty=cal.penalty, score=cal.score)
    for (host, mechanism), (count, seconds) in sorted(per_host.items()):
        log.info("host %s: %d submissions, %.1f s (sandbox: %s)", host, count, seconds, mechanism)
    export_csv(course)
    return sorted(rows, key=lambda r: r["student_id"])


def _progress(results, total, aid, progress):
    """``results`` passed through, with a tqdm bar over the students (on stderr)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = tqdm(total=total, unit="student", desc=f"grading {aid}", disable=not progress)
    with logging_redirect_tqdm(), bar:  # a line logged meanwhile prints above the bar
        for item in results:
            yield item
            bar.update()


@dataclasses.dataclass
class Run:
    """What the trusted parent holds for one ``grade`` run (one gradebook session)."""

    course: Course
    assignment: str
    notebooks: list[str]
    keys: dict  # notebook id -> answer key
    limits: Limits
    gb: object  # nbgrader.api.Gradebook, open for the whole run

    def __post_init__(self):
        self.notes: dict[str, dict[str, list]] = {}  # student -> notebook -> notes
        self.key_hash = _hash_bytes(json.dumps(self.keys, sort_keys=True).encode())
        # one stamp per run: the report tells this run's score changes from older ones
        self.started = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
        self.trusted = {nb: Trusted.load(self.gb, self.assignment, nb) for nb in self.notebooks}

    def folder(self, sid) -> Path:
        return self.course.submitted / sid / self.assignment

    def stage(self, sub) -> Job:
        """Copy one submission to ``submitted/`` and hash it."""
        dest = self.folder(sub.student_id)
        max_bytes = self.limits.max_notebook_mb * 2**20
        if sub.folder is not None and sub.folder.resolve() != dest.resolve():
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            for path in sub.folder.iterdir():
                if (
                    path.is_file()
                    and not path.is_symlink()
                    # a zip is the student's own: a timestamp.txt in it is never kept
                    and (path.suffix == ".ipynb" or (path.name in KEPT_FILES and not sub.from_zip))
                    and path.stat().st_size <= max_bytes
                ):
                    shutil.copyfile(path, dest / path.name)
        parts = [self.key_hash.encode(), str(sub.rejected or "").encode()]
        if dest.is_dir() and sub.rejected is None:
            parts += [  # the time is not content: a new time re-scores, it does not re-run
                p.name.encode() + p.read_bytes()
                for p in sorted(dest.iterdir())
                if p.is_file() and p.name != "timestamp.txt"
            ]
        exchange = None if sub.from_zip else _timestamp(dest)
        return Job(
            sub.student_id,
            _hash_bytes(b"\0".join(parts)),
            sub.rejected,
            exchange or calendar.collection_time(sub.received),
            "exchange" if exchange else "collection",
        )

    def write_time(self, job: Job, kept=False) -> None:
        """Keep nbgrader's ``submitted/.../timestamp.txt`` and the gradebook's time in step.

        A collection time is written as that file: nbgrader's tools read the time there
        (formgrader counts a submission as autograded when it equals the gradebook's).
        ``kept``: the notebooks are unchanged since they were graded; a collection time then
        stays the one recorded at that grading, while an exchange time (the same notebooks
        submitted again) replaces the gradebook's.
        """
        from nbgrader.api import MissingEntry

        when = job.submitted_at
        if when is None or job.rejected:
            return
        if job.time_source == "exchange":
            if kept:
                self.gb.update_or_create_submission(self.assignment, job.student_id, timestamp=when)
            return
        if kept:
            try:
                sub = self.gb.find_submission(self.assignment, job.student_id)
            except MissingEntry:
                sub = None
            if sub is not None and sub.timestamp is not None:
                when = sub.timestamp
            elif sub is not None:  # graded before times were recorded: record this one
                sub.timestamp = when
                self.gb.db.commit()
        path = self.folder(job.student_id) / "timestamp.txt"
        if path.parent.is_dir():
            path.write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))

    def finished(self, job: Job) -> dict | None:
        """The summary of an earlier run if it graded exactly this submission, else None.

        The gradebook is the truth: the marker only says the notebooks ran on this very
        submission. Its scores come from the gradebook, and a submission the gradebook does
        not have (a deleted or replaced ``gradebook.db``) is graded again.
        """
        from nbgrader.api import MissingEntry

        old = marker.read(marker.path(self.course, job.student_id, self.assignment))
        if not marker.current(old) or old.get("hash") != job.hash:
            return None  # a marker of an older grader: its problems have no kinds
        try:
            summary = dict(old["summary"])
        except (KeyError, TypeError, ValueError):
            return None
        try:
            sub = self.gb.find_submission(self.assignment, job.student_id)
            summary.update(
                score=float(sub.score),
                max_score=float(sub.max_score),
                needs_manual_grade=bool(sub.needs_manual_grade),
            )
        except MissingEntry:
            return None
        return summary

    def task(self, job: Job) -> Task:
        """Sanitise one student's notebooks (called just before the task goes to a worker)."""
        items = []
        for nb_id in self.notebooks:
            if job.rejected:
                items.append(NotebookTask(nb_id, None, job.rejected))
                continue
            path = self.folder(job.student_id) / f"{nb_id}.ipynb"
            notes = self.notes.setdefault(job.student_id, {}).setdefault(nb_id, [])
            nb, problem = sanitize(
                self.trusted[nb_id], self.gb, job.student_id, path, self.limits, notes
            )
            items.append(NotebookTask(nb_id, nb, problem))
        return Task(job.student_id, items)

    def score(self, job: Job, outcome) -> dict[str, NotebookResult]:
        """Score a worker's :class:`Outcome` (or the exception that ended the task)."""
        if not isinstance(outcome, Outcome):
            problem = outcomes.grader_crash(outcome)
            return {
                nb_id: NotebookResult.scored(None, problem, None, self.keys[nb_id])
                for nb_id in self.notebooks
            }
        return {
            ex.notebook_id: NotebookResult.scored(
                ex.nb, ex.problem, ex.info, self.keys[ex.notebook_id]
            )
            for ex in outcome.notebooks
        }

    def record(self, job: Job, outcome, results: dict[str, NotebookResult]) -> dict:
        """Write autograded notebooks, gradebook grades and the marker for one student."""
        from nbgrader import utils as nbg_utils

        gb, aid, sid = self.gb, self.assignment, job.student_id
        out_dir = self.course.autograded / sid / aid
        out_dir.mkdir(parents=True, exist_ok=True)
        gb.update_or_create_student(sid)
        gb.update_or_create_submission(aid, sid, timestamp=job.submitted_at)
        self.write_time(job)
        for nb_id, res in results.items():
            if res.nb is not None:
                kernel.write_notebook(res.nb, out_dir / f"{nb_id}.ipynb")
            cells = {
                answer_key.nbgrader_meta(c).get("grade_id"): c
                for c in (res.nb.cells if res.nb else [])
            }
            for gid in self.trusted[nb_id].points:
                grade = gb.find_grade(gid, nb_id, aid, sid)
                if gid in res.scores:
                    grade.auto_score = res.scores[gid].score
                    grade.needs_manual_grade = grade.manual_score is not None
                else:  # manually graded answer: 0 if left as released, else needs a human
                    cell = cells.get(gid)
                    auto = nbg_utils.determine_grade(cell)[0] if cell is not None else 0
                    grade.auto_score = auto
                    grade.needs_manual_grade = auto is None or grade.manual_score is not None
            for gid in self.trusted[nb_id].solutions:
                comment = gb.find_comment(gid, nb_id, aid, sid)
                cell = cells.get(gid)
                unchanged = cell is None or (
                    answer_key.nbgrader_meta(cell).get("checksum")
                    == nbg_utils.compute_checksum(cell)
                )
                comment.auto_comment = "No response." if unchanged else None
        gb.db.commit()
        sub = gb.find_submission(aid, sid)
        graded = isinstance(outcome, Outcome)
        notes = self.notes.pop(sid, {}) if graded else {}
        try:  # the score this student had before this run (None: graded for the first time)
            previous = marker.read(out_dir / marker.NAME)["summary"]["score"]
        except (KeyError, TypeError):
            previous = None
        summary = {
            "student_id": sid,
            "assignment": aid,
            "score": float(sub.score),
            "max_score": float(sub.max_score),
            "needs_manual_grade": bool(sub.needs_manual_grade),
            "problems": "; ".join(
                [f"{nb}: {r.problem}" for nb, r in results.items() if r.problem]
                + [f"{nb}: {note}" for nb, ns in notes.items() for note in ns if nb in results]
            ),
            "mechanism": outcome.mechanism if graded else None,  # None: the grader crashed
            "host": outcome.host if graded else None,
            "previous_score": previous,
            "graded_at": self.started,
            "time_source": job.time_source,
        }
        record = {
            "hash": job.hash if graded else None,  # None: graded again next time
            "summary": summary,
            "results": {
                nb_id: {**r.as_json(), "notes": notes.get(nb_id, [])}
                for nb_id, r in results.items()
            },
        }
        marker.write(out_dir, record)
        return summary


def _timestamp(folder: Path):
    path = folder / "timestamp.txt"
    if path.is_file():
        from nbgrader.utils import parse_utc

        text = path.read_text(errors="replace").strip()[:100]
        try:
            return parse_utc(text)
        except Exception:  # noqa: BLE001 - an unreadable timestamp: the collection time
            log.warning(
                "%s: timestamp.txt holds no time (%r): the collection time is used instead",
                folder.parent.name,
                text[:40],
            )
            return None
    return None


def _hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
