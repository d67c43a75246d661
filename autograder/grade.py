"""``grade``: autograde every submission of an assignment, in parallel sandboxes.

Per student:

1. *trusted parent*: find the notebooks (folder or zip), copy them to ``submitted/``, parse
   them (size limit, invalid JSON -> 0 with a reason) and run nbgrader's sanitising
   preprocessors (``ClearOutput``, ``OverwriteCells`` with missing grade cells added back,
   ``CheckCellMetadata``; duplicated or unknown grade ids lose their nbgrader metadata and
   the kernelspec is reset first): locked cells, hidden tests included, come back from the
   gradebook. This happens just before the job goes to a worker, on one gradebook session
   for the whole run;
2. *worker process*: execute each notebook in its own sandbox (``execute.py``) and score it
   against the answer key (``key.py``) outside the sandbox;
3. *trusted parent*: write ``autograded/``, record the scores in nbgrader's gradebook (only
   the parent touches SQLite, so workers never contend for it) and a marker file that makes
   a re-run skip this student unless the submission or the key changed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import json
import logging
import multiprocessing
import shutil
import tempfile
from pathlib import Path

import nbformat

from . import execute, key, sandbox, submissions
from .course import Course, copy_support_files
from .export import export_csv

log = logging.getLogger("autograder")
MARKER = ".autograder.json"
CRASH = "grader crashed"  # reason of a worker failure (not the student's fault: retried)


# --------------------------------------------------------------------------- parent side


def grade(
    assignment, submissions_dir, course: Course, workers=1, progress=True, force=False
) -> list[dict]:
    """Grade all submissions; returns one summary dict per student (see :func:`_summary`)."""
    course.ensure()
    notebooks = course.notebooks(assignment)
    if not notebooks:
        raise ValueError(f"grade: assignment {assignment!r} is not released in {course.root}")
    keys = {nb: course.load_key(assignment, nb) for nb in notebooks}
    limits = course.limits(assignment)
    key_hash = _hash_bytes(json.dumps(keys, sort_keys=True).encode())
    rows = []
    # one gradebook session for the whole run: only this (parent) process uses SQLite
    with (
        tempfile.TemporaryDirectory(prefix="autograder-zips-") as staging,
        course.gradebook() as gb,
    ):
        subs = submissions.collect(
            Path(submissions_dir), assignment, Path(staging), limits.max_zip_mb
        )
        jobs = []
        for sub in subs:
            job = _job(course, assignment, sub, limits, key_hash, force)
            if job.get("done"):
                rows.append(job["done"])
            else:
                jobs.append(job)
        log.info(
            "%d submissions, %d already graded; sandbox: %s",
            len(subs),
            len(subs) - len(jobs),
            sandbox.describe(),
        )
        trusted = {nb: Trusted.load(gb, assignment, nb) for nb in notebooks}

        def sanitize_job(job):  # in the parent, just before the job goes to a worker
            for nb_id in notebooks:
                if job["rejected"]:
                    job["notebooks"][nb_id] = {"nb": None, "reason": job["rejected"]}
                    continue
                path = course.submitted / job["student_id"] / assignment / f"{nb_id}.ipynb"
                nb, reason = sanitize(trusted[nb_id], gb, job["student_id"], path, limits)
                job["notebooks"][nb_id] = {"nb": nb, "reason": reason}
            return job

        graded = _run_jobs(jobs, sanitize_job, keys, limits, course, assignment, workers, progress)
        for job, results in graded:
            rows.append(_record(gb, course, assignment, job, results, trusted))
    export_csv(course)
    return sorted(rows, key=lambda r: r["student_id"])


def _job(course, aid, sub, limits, key_hash, force=False):
    """Copy one submission to ``submitted/``; a job dict, or ``{"done": summary}`` if unchanged."""
    sid = sub.student_id
    dest = course.submitted / sid / aid
    if sub.folder is not None and sub.folder.resolve() != dest.resolve():
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for path in sub.folder.iterdir():
            if (
                path.is_file()
                and not path.is_symlink()
                and (path.suffix == ".ipynb" or path.name == "timestamp.txt")
                and path.stat().st_size <= limits.max_notebook_mb * 2**20
            ):
                shutil.copyfile(path, dest / path.name)
    parts = [key_hash.encode(), (sub.rejected or "").encode()]
    if dest.is_dir() and sub.rejected is None:
        parts += [p.name.encode() + p.read_bytes() for p in sorted(dest.iterdir()) if p.is_file()]
    digest = _hash_bytes(b"\0".join(parts))
    marker = course.autograded / sid / aid / MARKER
    if marker.is_file() and not force:
        try:
            old = json.loads(marker.read_text())
            if old.get("hash") == digest:
                return {"done": old["summary"]}
        except (ValueError, KeyError):
            pass
    return {"student_id": sid, "hash": digest, "notebooks": {}, "rejected": sub.rejected}


@dataclasses.dataclass
class Trusted:
    """What the gradebook knows about one source notebook, read once per ``grade`` run."""

    assignment: str
    notebook: str
    points: dict  # grade_id -> max score of every grade cell
    solutions: set  # grade_ids of solution cells
    locked: dict  # grade_id -> locked, for every source cell
    kernelspec: dict | None

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
        )


def sanitize(trusted: Trusted, gb, sid, path: Path, limits):
    """Read a submitted notebook and restore it with nbgrader; returns (nb dict | None, reason).

    ``gb`` is the open gradebook of the run (nbgrader's preprocessors would open one each).
    """
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput

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
    seen = set()
    for cell in nb.cells:  # student metadata is replaced; unknown or duplicate ids dropped
        meta = cell.setdefault("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = meta["nbgrader"].get("grade_id") if isinstance(meta["nbgrader"], dict) else None
        if gid not in trusted.locked or gid in seen:
            del meta["nbgrader"]
            continue
        seen.add(gid)
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
    if trusted.kernelspec:  # as nbgrader's OverwriteKernelspec
        nb.metadata["kernelspec"] = trusted.kernelspec
    resources = {
        "nbgrader": {
            "notebook": trusted.notebook,
            "assignment": trusted.assignment,
            "student": sid,
            "db_url": str(gb.engine.url),
        }
    }
    try:
        for pp in (ClearOutput(), _overwrite_cells_class()(gb), CheckCellMetadata()):
            nb, resources = pp.preprocess(nb, resources)
    except Exception as exc:  # noqa: BLE001
        return None, f"invalid nbgrader metadata ({type(exc).__name__}: {str(exc)[:200]})"
    return nb, None


@functools.cache
def _overwrite_cells_class():
    from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells

    class OverwriteCellsOnGradebook(OverwriteCells):
        """nbgrader's ``OverwriteCells(add_missing_cells=True)`` on an already open gradebook.

        nbgrader's own ``preprocess`` opens a new ``Gradebook`` for every notebook; this one
        does the same steps on the session of the ``grade`` run.
        """

        def __init__(self, gb):
            super().__init__(add_missing_cells=True)
            self.gradebook = gb

        def preprocess(self, nb, resources):
            self.notebook_id = resources["nbgrader"]["notebook"]
            self.assignment_id = resources["nbgrader"]["assignment"]
            self.db_url = resources["nbgrader"]["db_url"]
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # per cell
            nb, resources = self.add_missing_grade_cells(nb, resources)
            return self.add_missing_task_cells(nb, resources)

    return OverwriteCellsOnGradebook


def _run_jobs(jobs, sanitize_job, keys, limits, course, aid, workers, progress):
    """Yield (job, results) as jobs finish; workers > 1 uses a process pool.

    Jobs are sanitised (``sanitize_job``, in this process) just before they are handed to a
    worker, and each worker always has one more job queued, so the workers never wait for
    the parent while it sanitises or records.
    """
    from tqdm import tqdm

    support = course.release_dir / aid
    bar = tqdm(total=len(jobs), unit="student", desc=f"grading {aid}", disable=not progress)
    try:
        if workers <= 1:
            _init_worker(None, keys, limits, support)
            for job in jobs:
                yield job, grade_job(sanitize_job(job))
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        todo = iter(jobs)
        with cf.ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(counter, keys, limits, support),
        ) as pool:
            pending = {}

            def submit_next():
                job = next(todo, None)
                if job is not None:
                    pending[pool.submit(grade_job, sanitize_job(job))] = job

            try:
                for _ in range(2 * workers):
                    submit_next()
                while pending:
                    done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        submit_next()  # first: keep the workers busy
                        job = pending.pop(fut)
                        try:
                            results = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a worker crash hits one student
                            results = _failed_results(job, keys, f"{CRASH}: {exc}"[:300])
                        yield job, results
                        bar.update()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        bar.close()


def _record(gb, course, aid, job, results, trusted) -> dict:
    """Write autograded notebooks, gradebook grades and the marker for one student."""
    from nbgrader import utils as nbg_utils

    sid = job["student_id"]
    out_dir = course.autograded / sid / aid
    out_dir.mkdir(parents=True, exist_ok=True)
    gb.update_or_create_student(sid)
    timestamp = _timestamp(course.submitted / sid / aid)
    gb.update_or_create_submission(aid, sid, **({"timestamp": timestamp} if timestamp else {}))
    for nb_id, res in results.items():
        nb = nbformat.from_dict(res["nb"]) if res["nb"] is not None else None
        if nb is not None:
            execute.write_notebook(nb, out_dir / f"{nb_id}.ipynb")
        cells = {key.nbgrader_meta(c).get("grade_id"): c for c in (nb.cells if nb else [])}
        for gid in trusted[nb_id].points:
            grade = gb.find_grade(gid, nb_id, aid, sid)
            if gid in res["scores"]:
                grade.auto_score = res["scores"][gid]["score"]
                grade.needs_manual_grade = grade.manual_score is not None
            else:  # manually graded answer: 0 if left as released, else needs a human
                cell = cells.get(gid)
                auto = nbg_utils.determine_grade(cell)[0] if cell is not None else 0
                grade.auto_score = auto
                grade.needs_manual_grade = auto is None or grade.manual_score is not None
        for gid in trusted[nb_id].solutions:
            comment = gb.find_comment(gid, nb_id, aid, sid)
            cell = cells.get(gid)
            unchanged = cell is None or (
                key.nbgrader_meta(cell).get("checksum") == nbg_utils.compute_checksum(cell)
            )
            comment.auto_comment = "No response." if unchanged else None
    gb.db.commit()
    summary = _summary(sid, aid, gb.find_submission(aid, sid), results, job)
    crashed = any(r.get("reason", "") and r["reason"].startswith(CRASH) for r in results.values())
    marker = {
        "hash": None if crashed else job["hash"],  # None: graded again next time
        "summary": summary,
        "results": _strip(results),
    }
    tmp = out_dir / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(marker))
    tmp.replace(out_dir / MARKER)  # atomic: an interrupted run leaves no half marker
    return summary


def _summary(sid, aid, sub, results, job):
    return {
        "student_id": sid,
        "assignment": aid,
        "score": float(sub.score),
        "max_score": float(sub.max_score),
        "needs_manual_grade": bool(sub.needs_manual_grade),
        "problems": "; ".join(
            f"{nb}: {r['reason']}" for nb, r in results.items() if r.get("reason")
        ),
        "mechanism": next(
            (r["info"]["mechanism"] for r in results.values() if r.get("info")), sandbox.mechanism()
        ),
    }


def _strip(results):
    """Results without the notebooks (for the marker file and feedback)."""
    return {nb: {k: v for k, v in r.items() if k != "nb"} for nb, r in results.items()}


def _timestamp(folder: Path):
    path = folder / "timestamp.txt"
    if path.is_file():
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(path.read_text().strip()[:100])
        except Exception:  # noqa: BLE001 - an unreadable timestamp is ignored
            return None
    return None


def _hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- worker side

_UID = sandbox.FIRST_UID
_WORKER = {}  # keys, limits and support folder of the run, set once per worker process


def _init_worker(counter, keys, limits, support):
    """Give each worker process its own sandbox uid (so RLIMIT_NPROC is per student)."""
    global _UID
    _WORKER.update(keys=keys, limits=limits, support=support)
    if counter is None:
        _UID = sandbox.FIRST_UID
        return
    with counter.get_lock():
        _UID = sandbox.FIRST_UID + 1 + counter.value
        counter.value += 1


def grade_job(job) -> dict:
    """Execute and score one student's notebooks (runs in a worker process)."""
    keys, limits, support = _WORKER["keys"], _WORKER["limits"], _WORKER["support"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        for nb_id, item in job["notebooks"].items():
            if item["nb"] is None:
                results[nb_id] = {
                    "nb": None,
                    "reason": item["reason"],
                    "info": None,
                    "scores": key.score_notebook(None, keys[nb_id]),
                }
                continue
            nb = nbformat.from_dict(item["nb"])
            workdir = Path(tmp) / nb_id / "work"
            copy_support_files(support, workdir)
            nb, info = execute.execute_notebook(nb, workdir, limits, uid=_UID)
            info["failed_cells"] = {str(k): v for k, v in info["failed_cells"].items()}
            results[nb_id] = {
                "nb": nb,
                "reason": None,
                "info": info,
                "scores": key.score_notebook(nb, keys[nb_id]),
            }
    return results


def _failed_results(job, keys, reason):
    return {
        nb_id: {
            "nb": None,
            "reason": reason,
            "info": None,
            "scores": key.score_notebook(None, keys[nb_id]),
        }
        for nb_id in job["notebooks"]
    }
