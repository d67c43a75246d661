"""``grade``: autograde every submission of an assignment, in parallel sandboxes.

Per student:

1. *trusted parent*: find the notebooks (folder or zip), copy them to ``submitted/``, parse
   them (size limit, invalid JSON -> 0 with a reason) and run nbgrader's sanitising
   preprocessors (``ClearOutput``, ``OverwriteKernelspec``,
   ``OverwriteCells`` with missing grade cells added back, ``CheckCellMetadata``; duplicated
   or unknown grade ids lose their nbgrader metadata first): locked cells,
   hidden tests included, come back from the gradebook;
2. *worker process*: execute each notebook in its own sandbox (``execute.py``) and score it
   against the answer key (``key.py``) outside the sandbox;
3. *trusted parent*: write ``autograded/``, record the scores in nbgrader's gradebook (only
   the parent touches SQLite, so workers never contend for it) and a marker file that makes
   a re-run skip this student unless the submission or the key changed.
"""

from __future__ import annotations

import concurrent.futures as cf
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
    with tempfile.TemporaryDirectory(prefix="autograder-zips-") as staging:
        subs = submissions.collect(
            Path(submissions_dir), assignment, Path(staging), limits.max_zip_mb
        )
        jobs = []
        for sub in subs:
            prepared = _prepare(course, assignment, sub, notebooks, limits, key_hash, force)
            if prepared.get("done"):
                rows.append(prepared["done"])
            else:
                jobs.append(prepared)
        log.info(
            "%d submissions, %d already graded; sandbox: %s",
            len(subs),
            len(subs) - len(jobs),
            sandbox.describe(),
        )
        for job, results in _run_jobs(jobs, keys, limits, course, assignment, workers, progress):
            rows.append(_record(course, assignment, job, results))
    export_csv(course)
    return sorted(rows, key=lambda r: r["student_id"])


def _prepare(course, aid, sub, notebooks, limits, key_hash, force=False):
    """Copy and sanitise one submission in the parent; returns a job dict."""
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
    job = {"student_id": sid, "hash": digest, "notebooks": {}, "rejected": sub.rejected}
    for nb_id in notebooks:
        if sub.rejected:
            job["notebooks"][nb_id] = {"nb": None, "reason": sub.rejected}
            continue
        nb, reason = sanitize(course, aid, sid, nb_id, dest / f"{nb_id}.ipynb", limits)
        job["notebooks"][nb_id] = {"nb": nb, "reason": reason}
    return job


def sanitize(course, aid, sid, nb_id, path: Path, limits):
    """Read a submitted notebook and restore it with nbgrader; returns (nb dict | None, reason)."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        OverwriteCells,
        OverwriteKernelspec,
    )

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
    with course.gradebook() as gb:  # the trusted nbgrader metadata of every known cell
        book = gb.find_notebook(nb_id, aid)
        points = {c.name: float(c.max_score) for c in book.grade_cells}
        solutions = {c.name for c in book.solution_cells}
        known = {c.name: c.locked for c in book.source_cells}
    seen = set()
    for cell in nb.cells:  # student metadata is replaced; unknown or duplicate ids dropped
        meta = cell.setdefault("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = meta["nbgrader"].get("grade_id") if isinstance(meta["nbgrader"], dict) else None
        if gid not in known or gid in seen:
            del meta["nbgrader"]
            continue
        seen.add(gid)
        trusted = {
            "grade": gid in points,
            "grade_id": gid,
            "locked": known[gid],
            "schema_version": 3,
            "solution": gid in solutions,
            "task": False,
        }
        if gid in points:
            trusted["points"] = points[gid]
        meta["nbgrader"] = trusted
    resources = {
        "nbgrader": {"notebook": nb_id, "assignment": aid, "student": sid, "db_url": course.db_url}
    }
    try:
        for pp in (
            ClearOutput(),
            OverwriteKernelspec(),
            OverwriteCells(add_missing_cells=True),
            CheckCellMetadata(),
        ):
            nb, resources = pp.preprocess(nb, resources)
    except Exception as exc:  # noqa: BLE001
        return None, f"invalid nbgrader metadata ({type(exc).__name__}: {str(exc)[:200]})"
    return nb, None


def _run_jobs(jobs, keys, limits, course, aid, workers, progress):
    """Yield (job, results) as jobs finish; workers > 1 uses a process pool."""
    from tqdm import tqdm

    support = course.release_dir / aid
    bar = tqdm(total=len(jobs), unit="student", desc=f"grading {aid}", disable=not progress)
    try:
        if workers <= 1:
            _init_worker(None)
            for job in jobs:
                yield job, grade_job(job, keys, limits, support)
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        with cf.ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(counter,)
        ) as pool:
            futures = {pool.submit(grade_job, job, keys, limits, support): job for job in jobs}
            try:
                for fut in cf.as_completed(futures):
                    job = futures[fut]
                    try:
                        results = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a worker crash hits one student
                        results = _failed_results(job, keys, f"{CRASH}: {exc}"[:300])
                    yield job, results
                    bar.update()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        bar.close()


def _record(course, aid, job, results) -> dict:
    """Write autograded notebooks, gradebook grades and the marker for one student."""
    from nbgrader import utils as nbg_utils

    sid = job["student_id"]
    out_dir = course.autograded / sid / aid
    out_dir.mkdir(parents=True, exist_ok=True)
    with course.gradebook() as gb:
        gb.update_or_create_student(sid)
        timestamp = _timestamp(course.submitted / sid / aid)
        gb.update_or_create_submission(aid, sid, **({"timestamp": timestamp} if timestamp else {}))
        for nb_id, res in results.items():
            nb = nbformat.from_dict(res["nb"]) if res["nb"] is not None else None
            if nb is not None:
                execute.write_notebook(nb, out_dir / f"{nb_id}.ipynb")
            cells = {key.nbgrader_meta(c).get("grade_id"): c for c in (nb.cells if nb else [])}
            notebook = gb.find_notebook(nb_id, aid)
            for gc in notebook.grade_cells:
                grade = gb.find_grade(gc.name, nb_id, aid, sid)
                if gc.name in res["scores"]:
                    grade.auto_score = res["scores"][gc.name]["score"]
                    grade.needs_manual_grade = grade.manual_score is not None
                else:  # manually graded answer: 0 if left as released, else needs a human
                    cell = cells.get(gc.name)
                    auto = nbg_utils.determine_grade(cell)[0] if cell is not None else 0
                    grade.auto_score = auto
                    grade.needs_manual_grade = auto is None or grade.manual_score is not None
            for sc in notebook.solution_cells:
                comment = gb.find_comment(sc.name, nb_id, aid, sid)
                cell = cells.get(sc.name)
                unchanged = cell is None or (
                    key.nbgrader_meta(cell).get("checksum") == nbg_utils.compute_checksum(cell)
                )
                comment.auto_comment = "No response." if unchanged else None
        gb.db.commit()
        sub = gb.find_submission(aid, sid)
        summary = _summary(sid, aid, sub, results, job)
    crashed = any(r.get("reason", "") and r["reason"].startswith(CRASH) for r in results.values())
    marker = {
        "hash": None if crashed else job["hash"],
        "summary": summary,
        "results": _strip(results),
    }
    (out_dir / MARKER).write_text(json.dumps(marker))  # hash None: graded again next time
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


def _init_worker(counter):
    """Give each worker process its own sandbox uid (so RLIMIT_NPROC is per student)."""
    global _UID
    if counter is None:
        _UID = sandbox.FIRST_UID
        return
    with counter.get_lock():
        _UID = sandbox.FIRST_UID + 1 + counter.value
        counter.value += 1


def grade_job(job, keys, limits, support: Path) -> dict:
    """Execute and score one student's notebooks (runs in a worker process)."""
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
