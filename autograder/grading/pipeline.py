"""``grade``: autograde every submission of an assignment, in parallel sandboxes.

Per student:

1. *trusted parent*: find the notebooks (folder or zip), copy them to ``submitted/``, parse
   them (size limit, invalid JSON -> 0 with a reason) and run the sanitising preprocessors
   of ``nbgrader autograde`` (:func:`sanitize`): locked cells, hidden tests included, come
   back from the gradebook. This happens just before the student's task goes to a worker, on one
   gradebook session for the whole run;
2. *worker* (``executor.py``: this process, a local pool or a Dask cluster): execute each
   notebook in its own sandbox (``kernel.py``) and send the executed notebook back;
3. *trusted parent*: score the executed notebooks against the answer key (``answer_key.py``: the
   key never leaves this process), write ``autograded/``, record the scores in nbgrader's
   gradebook (only the parent touches SQLite) and a marker file that makes a re-run skip
   this student unless the submission or the key changed.

Types: a :class:`Job` is one student staged in ``submitted/``; the executor turns it into an
``executor.Task`` (sanitised notebooks) and returns an ``executor.Outcome`` (executed
notebooks, host, mechanism), which :meth:`Run.score` turns into one
:class:`NotebookResult` per notebook. :class:`Run` holds what the parent knows for the run.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder import kernel
from autograder.config import Limits
from autograder.course import Course
from autograder.executors.base import NotebookTask, Outcome, RunContext, Task
from autograder.executors.placement import make_executor
from autograder.grading import answer_key, submissions
from autograder.reporting.export import export_csv
from autograder.term import calendar

log = logging.getLogger("autograder")
MARKER = ".autograder.json"
# besides the notebooks, what a submission folder keeps: nbgrader's submission time and the
# secret its release_feedback names the student's feedback page after
KEPT_FILES = ("timestamp.txt", "submission_secret.txt")
CRASH = "grader crashed"  # reason of a worker failure (not the student's fault: retried)


@dataclasses.dataclass
class Job:
    """One student to grade, copied to ``submitted/``."""

    student_id: str
    hash: str  # of the submitted files and the answer key: the marker's "unchanged" test
    rejected: str | None = None  # why the whole submission is refused (a bad zip)
    submitted_at: datetime.datetime | None = None  # trusted submission time (naive UTC)
    time_source: str | None = None  # "exchange" (timestamp.txt) or "collection" (mtime)


@dataclasses.dataclass
class NotebookResult:
    """One notebook's grade; :meth:`marker` is its entry in the marker's ``results``."""

    reason: str | None  # why it earned nothing without running (or CRASH)
    info: dict | None  # from the worker: mechanism, restarts, failed_cells, seconds, host
    scores: dict  # grade_id -> answer_key.score_cell(...)
    nb: dict | None = None  # the executed notebook

    @classmethod
    def scored(cls, nb, reason, info, the_key) -> NotebookResult:
        nb = nbformat.from_dict(nb) if nb is not None else None
        return cls(reason, info, answer_key.score_notebook(nb, the_key), nb)

    def marker(self) -> dict:
        return {"reason": self.reason, "info": self.info, "scores": self.scores}


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

    ``executor`` (see ``executor.py``) defaults to ``make_executor(workers)``.
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
        write_not_graded(course, assignment, lost)
        for warning in course.edited_since_release(assignment):
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
        parts = [self.key_hash.encode(), (sub.rejected or "").encode()]
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

        marker = self.course.autograded / job.student_id / self.assignment / MARKER
        if not marker.is_file():
            return None
        try:
            old = json.loads(marker.read_text())
            if old.get("hash") != job.hash:
                return None
            summary = dict(old["summary"])
        except (ValueError, KeyError, TypeError):
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
            nb, reason = sanitize(
                self.trusted[nb_id], self.gb, job.student_id, path, self.limits, notes
            )
            items.append(NotebookTask(nb_id, nb, reason))
        return Task(job.student_id, items)

    def score(self, job: Job, outcome) -> dict[str, NotebookResult]:
        """Score a worker's :class:`Outcome` (or the exception that ended the task)."""
        if not isinstance(outcome, Outcome):
            reason = f"{CRASH}: {type(outcome).__name__}: {outcome}"[:300]
            return {
                nb_id: NotebookResult.scored(None, reason, None, self.keys[nb_id])
                for nb_id in self.notebooks
            }
        return {
            ex.notebook_id: NotebookResult.scored(
                ex.nb, ex.reason, ex.info, self.keys[ex.notebook_id]
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
                    grade.auto_score = res.scores[gid]["score"]
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
            previous = json.loads((out_dir / MARKER).read_text())["summary"]["score"]
        except (OSError, ValueError, KeyError, TypeError):
            previous = None
        summary = {
            "student_id": sid,
            "assignment": aid,
            "score": float(sub.score),
            "max_score": float(sub.max_score),
            "needs_manual_grade": bool(sub.needs_manual_grade),
            "problems": "; ".join(
                [f"{nb}: {r.reason}" for nb, r in results.items() if r.reason]
                + [f"{nb}: {note}" for nb, ns in notes.items() for note in ns if nb in results]
            ),
            "mechanism": outcome.mechanism if graded else None,  # None: the grader crashed
            "host": outcome.host if graded else None,
            "previous_score": previous,
            "graded_at": self.started,
            "time_source": job.time_source,
        }
        marker = {
            "hash": job.hash if graded else None,  # None: graded again next time
            "summary": summary,
            "results": {
                nb_id: {**r.marker(), "notes": notes.get(nb_id, [])} for nb_id, r in results.items()
            },
        }
        tmp = out_dir / f"{MARKER}.tmp"
        tmp.write_text(json.dumps(marker))
        tmp.replace(out_dir / MARKER)  # atomic: an interrupted run leaves no half marker
        return summary


@dataclasses.dataclass
class Trusted:
    """What the gradebook knows about one source notebook, read once per ``grade`` run."""

    assignment: str
    notebook: str
    points: dict  # grade_id -> max score of every grade cell
    solutions: set  # grade_ids of solution cells
    locked: dict  # grade_id -> locked, for every source cell
    kernelspec: dict | None
    order: tuple = ()  # (grade_id, cell_type, source) of the source cells, in notebook order

    @classmethod
    def load(cls, gb, aid, nb_id):
        book = gb.find_notebook(nb_id, aid)
        return cls(
            assignment=aid,
            notebook=nb_id,
            points={c.name: float(c.max_score) for c in book.grade_cells},
            solutions={c.name for c in book.solution_cells},
            locked={c.name: c.locked for c in book.source_cells},
            kernelspec=json.loads(book.kernelspec) if book.kernelspec else None,
            order=tuple((c.name, c.cell_type, c.source or "") for c in book.source_cells),
        )


def sanitize(trusted: Trusted, gb, sid, path: Path, limits, notes: list | None = None):
    """Read a submitted notebook and restore it; returns (nb | None, reason).

    ``notes`` (a list) receives what could not be graded in a notebook that is graded
    nonetheless (an answer cell deleted, or found only by its place and content).

    The restoring is nbgrader's: the preprocessors ``nbgrader autograde`` runs before it
    executes a submission, in its order (:func:`sanitizers`). Our own code does only what
    they cannot, each step tested against nbgrader's behaviour in tests/test_grade_sanitize.py:

    * a file too large or not a notebook gets a reason for this student (nbgrader raises);
    * every cell's nbgrader flags come from the gradebook (:func:`_restore_flags`):
      ``OverwriteCells`` restores ``locked``, ``points``, the checksum and locked sources, but
      keeps a student's ``grade: false`` on a grade cell and then fails on the whole notebook
      ("Inconsistent checksums"), and for an unknown grade id removes only the id and then
      fails on the whole notebook too (KeyError): one edited flag would cost every exercise.
      Ours restores the flags, and drops the metadata of a cell with an unknown id, so that
      only its exercise is lost (the grade cell is added back);
    * ``DeduplicateIds`` leaves ``nbgrader: {}`` on the duplicates it clears, on which
      ``OverwriteCells`` fails when it adds missing task cells: we remove those dicts;
    * cells without nbgrader metadata (copied into a fresh notebook, which students do) are
      matched to the source cells by content (locked cells) and place (answer cells)
      (:func:`_identify_cells`): what is found is graded, what is not is named in ``notes``;
      a notebook none of whose cells belongs to this one is another notebook, and is called so
      (:func:`_foreign`). nbgrader's ``add_missing_grade_cells`` fails on the whole notebook
      when the answer cell before a deleted grade cell is gone too: ours puts the grade cell
      after the nearest cell that is still there;
    * ``OverwriteKernelspec`` and ``OverwriteCells`` open a new ``Gradebook`` per notebook:
      ours run the same steps on the run's open session ``gb``.
    """
    if not path.is_file():
        return None, "notebook not submitted"
    if path.stat().st_size > limits.max_notebook_mb * 2**20:
        return None, f"notebook larger than {limits.max_notebook_mb} MB"
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a notebook"
        return None, f"not a valid notebook ({type(exc).__name__})"
    resources = {
        "nbgrader": {
            "notebook": trusted.notebook,
            "assignment": trusted.assignment,
            "student": sid,
            "db_url": str(gb.engine.url),
        }
    }
    notes = [] if notes is None else notes
    foreign = _foreign(nb, trusted, gb)
    if foreign:
        return None, foreign
    present, matched = _identify_cells(nb, trusted)
    if not present:
        return None, (
            f"wrong notebook: none of its cells is a cell of {trusted.assignment}/"
            f"{trusted.notebook}.ipynb (another assignment's notebook?)"
        )
    if matched:
        notes.append(
            f"nbgrader metadata missing: {len(matched)} cell(s) found by content and place "
            f"({', '.join(matched)})"
        )
    for gid, _, _ in trusted.order:
        if gid in trusted.solutions and gid not in present:
            notes.append(
                f"answer cell {gid} not found (deleted, or copied without its metadata): its "
                "tests ran on what the rest of the notebook defines"
            )
    try:
        _restore_flags(nb, trusted)
        for pp in sanitizers(gb):
            nb, resources = pp.preprocess(nb, resources)
    except Exception as exc:  # noqa: BLE001
        return None, f"invalid nbgrader metadata ({type(exc).__name__}: {str(exc)[:200]})"
    return nb, None


def _foreign(nb, trusted: Trusted, gb) -> str | None:
    """Why ``nb`` is another notebook: its cells carry grade ids, none of them this one's."""
    ids = {answer_key.nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    if not ids or ids & set(trusted.locked):
        return None
    from nbgrader.api import SourceCell

    where = sorted(
        {
            f"{cell.notebook.assignment.name}/{cell.notebook.name}.ipynb"
            for cell in gb.db.query(SourceCell).filter(SourceCell.name.in_(sorted(ids))).limit(50)
        }
    )
    other = f"it is {' or '.join(where[:2])}" if where else "its cells belong to another notebook"
    return (
        f"wrong assignment: not {trusted.assignment}/{trusted.notebook}.ipynb ({other}); "
        "ask the student for the right notebook"
    )


def _identify_cells(nb, trusted: Trusted) -> tuple[set, list]:
    """Give cells without nbgrader metadata the grade id of the source cell they are.

    A locked cell is found by its content (as released: without hidden tests); an answer cell
    by its place: the one unmatched cell of its type between the cells found before and after
    it (several: the one that defines what the released stub defines). Returns the grade ids
    now present and those found here (in notebook order).
    """

    def gid_of(cell):
        return answer_key.nbgrader_meta(cell).get("grade_id")

    present = {gid_of(c) for c in nb.cells} & set(trusted.locked)
    bare = [i for i, c in enumerate(nb.cells) if "nbgrader" not in c.get("metadata", {})]
    if not bare:
        return present, []
    found: dict[int, str] = {}
    for gid, cell_type, source in trusted.order:
        if gid in present or not trusted.locked[gid]:
            continue
        shown = _as_released(nbformat.from_dict({"cell_type": cell_type, "source": source}))
        for i in bare:
            cell = nb.cells[i]
            if (
                i not in found
                and cell.cell_type == cell_type
                and cell.source.strip()
                in (
                    shown.strip(),
                    source.strip(),
                )
            ):
                found[i] = gid
                break

    def position(gid):
        idx = [i for i, c in enumerate(nb.cells) if gid_of(c) == gid] or [
            i for i, g in found.items() if g == gid
        ]
        return idx[0] if idx else None

    names = [g for g, _, _ in trusted.order]
    for k, (gid, cell_type, source) in enumerate(trusted.order):
        if gid in present or trusted.locked[gid]:
            continue
        before = [p for g in names[:k] if (p := position(g)) is not None]
        after = [p for g in names[k + 1 :] if (p := position(g)) is not None]
        low, high = max(before, default=-1), min(after, default=len(nb.cells))
        cands = [
            i
            for i in bare
            if low < i < high and i not in found and nb.cells[i].cell_type == cell_type
        ]
        if len(cands) > 1:
            stub = re.findall(r"^\s*def (\w+)", source, re.M)
            cands = [i for i in cands if stub and f"def {stub[0]}" in nb.cells[i].source]
        if len(cands) == 1:
            found[cands[0]] = gid
    for i, gid in found.items():
        nb.cells[i].metadata["nbgrader"] = {"grade_id": gid}  # flags: _restore_flags
    return present | set(found.values()), [found[i] for i in sorted(found)]


def _restore_flags(nb, trusted: Trusted) -> None:
    """Replace each cell's nbgrader metadata by the gradebook's; drop unknown grade ids."""
    for cell in nb.cells:
        meta = cell.setdefault("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = meta["nbgrader"].get("grade_id") if isinstance(meta["nbgrader"], dict) else None
        if gid not in trusted.locked:
            del meta["nbgrader"]
            continue
        meta["nbgrader"] = {
            "grade": gid in trusted.points,
            "grade_id": gid,
            "locked": trusted.locked[gid],
            "schema_version": 3,
            "solution": gid in trusted.solutions,
            "task": False,
        }
        if gid in trusted.points:
            meta["nbgrader"]["points"] = trusted.points[gid]


def sanitizers(gb) -> list:
    """``nbgrader autograde``'s sanitising preprocessors, in its order, on the open ``gb``."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput

    classes = _gradebook_classes()
    return [
        ClearOutput(),
        classes["DeduplicateIds"](),
        classes["OverwriteKernelspec"](gb),
        classes["OverwriteCells"](gb),
        CheckCellMetadata(),
    ]


@functools.cache
def _gradebook_classes() -> dict:
    from nbgrader.preprocessors import (
        DeduplicateIds,
        NbGraderPreprocessor,
        OverwriteCells,
        OverwriteKernelspec,
    )

    class Deduplicate(DeduplicateIds):
        """nbgrader's ``DeduplicateIds``, without the empty ``nbgrader`` dicts it leaves."""

        def preprocess(self, nb, resources):
            nb, resources = super().preprocess(nb, resources)
            for cell in nb.cells:
                if cell.get("metadata", {}).get("nbgrader") == {}:
                    del cell.metadata["nbgrader"]
            return nb, resources

    class OverwriteKernelspecOnGradebook(OverwriteKernelspec):
        """nbgrader's ``OverwriteKernelspec`` on an already open gradebook."""

        def __init__(self, gb):
            super().__init__()
            self.gradebook = gb

        def preprocess(self, nb, resources):
            book = self.gradebook.find_notebook(
                resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]
            )
            if book.kernelspec:
                nb.metadata["kernelspec"] = json.loads(book.kernelspec)
            return nb, resources

    class OverwriteCellsOnGradebook(OverwriteCells):
        """nbgrader's ``OverwriteCells(add_missing_cells=True)`` on an already open gradebook.

        nbgrader's ``preprocess`` opens a ``Gradebook`` and then runs these three steps.
        Changes are reported in one line per student and notebook, and only where the
        student changed a locked cell: nbgrader warns for every grade cell with hidden
        tests, whose release copy never matches the source it puts back.
        """

        def __init__(self, gb):
            super().__init__(add_missing_cells=True)
            self.gradebook = gb
            self.changed: list[str] = []

        def report_change(self, name, attr, old, new):
            self.changed.append(name if attr == "checksum" else f"{name} ({attr})")

        def preprocess_cell(self, cell, resources, index):
            submitted = cell.get("source")
            before = len(self.changed)
            cell, resources = super().preprocess_cell(cell, resources, index)
            if (
                len(self.changed) > before
                and self.changed[-1] == cell.metadata.get("nbgrader", {}).get("grade_id")
                and _as_released(cell) == submitted
            ):
                self.changed.pop()  # only the hidden tests came back
            return cell, resources

        def preprocess(self, nb, resources):
            self.notebook_id = resources["nbgrader"]["notebook"]
            self.assignment_id = resources["nbgrader"]["assignment"]
            self.db_url = resources["nbgrader"]["db_url"]
            self.changed = []
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # per cell
            if self.changed:
                log.warning(
                    "%s: %s.ipynb: changed locked cells restored from the release: %s",
                    resources["nbgrader"].get("student"),
                    self.notebook_id,
                    ", ".join(dict.fromkeys(self.changed)),
                )
            nb, resources = self.add_missing_grade_cells(nb, resources)
            return self.add_missing_task_cells(nb, resources)

        def add_missing_grade_cells(self, nb, resources):
            """nbgrader's, placing a missing grade cell after the nearest earlier source cell
            still in the notebook (nbgrader's takes the one just before it, and fails on the
            whole notebook when that one is missing too)."""
            book = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            names = [c.name for c in book.source_cells]
            solutions = {c.name for c in book.solution_cells}
            for grade_cell in book.grade_cells:
                where = {
                    answer_key.nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(nb.cells)
                }
                if grade_cell.name in where:
                    continue
                self.log.info(
                    "Missing grade cell %s encountered, adding to notebook", grade_cell.name
                )
                k = names.index(grade_cell.name)
                earlier = [where[n] for n in names[:k] if n in where]
                cell = self.missing_cell_transform(
                    book.source_cells[k],
                    grade_cell.max_score,
                    is_solution=grade_cell.name in solutions,
                )
                if nb.get("nbformat_minor", 0) >= 5:  # cell ids since nbformat 4.5
                    cell["id"] = re.sub(r"[^A-Za-z0-9_-]", "-", f"restored-{grade_cell.name}")[:64]
                nb.cells.insert(max(earlier, default=-1) + 1, cell)
            return nb, resources

    return {
        "DeduplicateIds": Deduplicate,
        "OverwriteKernelspec": OverwriteKernelspecOnGradebook,
        "OverwriteCells": OverwriteCellsOnGradebook,
    }


def _as_released(cell) -> str:
    """A restored cell's source as the release shows it: without its hidden tests."""
    from nbgrader.preprocessors import ClearHiddenTests

    copy = nbformat.from_dict({"cell_type": cell.cell_type, "metadata": {}, "source": cell.source})
    ClearHiddenTests()._remove_hidden_test_region(copy)
    return copy.source


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


NOT_GRADED = "not_graded.json"  # COURSE/not_graded.json: assignment -> [{entry, reason}]


def write_not_graded(course: Course, assignment: str, lost) -> None:
    """Record the entries of this run's ``--submissions`` that were not graded, and why."""
    path = course.root / NOT_GRADED
    data = read_not_graded_all(course)
    data[assignment] = [{"entry": u.entry, "reason": u.reason} for u in lost]
    if not data[assignment]:
        del data[assignment]
    if not data and not path.exists():
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read_not_graded_all(course: Course) -> dict:
    try:
        data = json.loads((course.root / NOT_GRADED).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def not_graded(course: Course, assignment: str) -> list[dict]:
    """``[{entry, reason}]``: what the last ``grade`` of ``assignment`` could not grade."""
    return list(read_not_graded_all(course).get(assignment, []))


def _hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
