"""Run an assignment notebook and many mutated versions of it, fast.

    python tests/notebook_runner.py SOURCE.ipynb JOB.json RESULT.json

Used by tests/test_notebooks.py in a subprocess. Executing a notebook once per
mutated solution cell would cost minutes per notebook, so this runner executes
the *source* notebook cell by cell in one IPython shell and, at each solution
cell that has mutations, forks: the child runs the mutated cell and the cells
after it until a grade cell loses its points, then reports. The parent goes on
with the original cell.

Verdicts use the autograder's own trusted logic (``autograder.grading.answer_key``): a first
pass over the source builds the answer key, exactly as ``release`` does; each
run is then scored with ``score_cell``, as ``grade`` does. Hidden checks that
decide nothing in the kernel are therefore decided here too.

Each child also notes what the student would *see*: the first visible check that fails in
its kernel (the AssertionError that stopped a grade cell, when the check it names sits in
the visible part) and the visible checks its kernel passed that the key fails. A mutation
that carries ``"message"`` runs on past the first losing cell until a visible check fails
(or the notebook ends), so that a mistake caught first by a hidden check still shows which
visible message, if any, the student gets; the others stop at the first loss as before.

JOB.json: {"mutations": [{"id", "cell" (grade_id of a solution cell), "source",
                          "message" (optional)}],
           "student": optional path of a student-version notebook to score,
           "max_seconds": per child run}
RESULT.json: {"base": {grade_id: score dict}, "base_seconds": float,
              "errors": {cell: ename} of the base run,
              "mutations": {id: {"failed": [grade_ids], "error": str|None,
                                 "first_visible": {"cell", "label", "message"} | None,
                                 "kernel_passed": [[grade_id, label], ...]}},
              "student": {"scores": {...}, "errors": {cell_id: ename}}}

``mistake_mutations`` turns a ``tests/notebook_mistakes/*.json`` list into mutations;
``run_job`` runs this file on a job in a subprocess and returns RESULT.json as a dict.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

if __name__ == "__main__":  # the runner's own process draws nothing; importers keep their env
    os.environ.setdefault("MPLBACKEND", "Agg")

import nbformat  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from autograder import checks  # noqa: E402
from autograder.grading import answer_key, scoring  # noqa: E402

MIME = checks.MIME


class Recorder:
    """Collects what Check publishes, per cell, as nbgrader-style outputs."""

    def __init__(self):
        self.outputs: list = []

    def publish(self, record, mime=MIME):
        self.outputs.append(
            {"output_type": "display_data", "data": {mime: json.loads(json.dumps(record))}}
        )

    def publish_case(self, record):
        self.publish(record, checks.CASE_MIME)


def _cell_id(cell, i):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {i}"


def run_cell(shell, rec, cell, source):
    """Execute one code cell; return nbformat-like outputs (records + an error)."""
    rec.outputs = []
    result = shell.run_cell(source, store_history=False, silent=False)
    outputs = list(rec.outputs)
    err = result.error_before_exec or result.error_in_exec
    if err is not None:
        outputs.append({"output_type": "error", "ename": type(err).__name__, "evalue": str(err)})
    return outputs


def executed_cell(cell, outputs):
    c = nbformat.from_dict(dict(cell))
    c["outputs"] = outputs
    return c


def quiet():
    """Send the shell's printing (tracebacks, prints, tqdm) to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def new_shell(workdir):
    os.chdir(workdir)
    shell = InteractiveShell.instance()
    # `%matplotlib inline` asks for a GUI event loop, which a plain shell lacks
    shell.enable_gui = lambda gui=None: None
    shell.run_cell("import matplotlib; matplotlib.use('Agg')", store_history=False)
    rec = Recorder()
    checks._publish = rec.publish  # Check looks _publish up at call time
    checks._publish_case = rec.publish_case
    # plt.show() in a cell must not block or warn
    shell.run_cell(
        "import matplotlib.pyplot as _plt; _plt.show = lambda *a, **k: _plt.close('all')"
    )
    return shell, rec


def build_key(nb, workdir):
    """First pass: execute the source with AUTOGRADER_KEY_RUN=1 and build the key."""
    os.environ["AUTOGRADER_KEY_RUN"] = "1"
    shell, rec = new_shell(workdir)
    executed = []
    errors = {}
    t0 = time.perf_counter()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            executed.append(cell)
            continue
        outs = run_cell(shell, rec, cell, cell.source)
        executed.append(executed_cell(cell, outs))
        if outs and outs[-1]["output_type"] == "error":
            errors[_cell_id(cell, i)] = outs[-1]["ename"]
    seconds = time.perf_counter() - t0
    shell.cleanup() if hasattr(shell, "cleanup") else None
    InteractiveShell.clear_instance()
    os.environ["AUTOGRADER_KEY_RUN"] = "0"
    ran = nbformat.from_dict(dict(nb))
    ran.cells = executed
    the_key, _ = answer_key.build_key(ran, "nb") if not errors else (None, None)
    return (
        the_key,
        _as_json(scoring.score_notebook(ran, the_key)) if the_key else {},
        errors,
        seconds,
    )


def _as_json(scores: dict) -> dict:
    """{grade_id: CellScore} as the JSON the result file holds (the marker's form)."""
    return {gid: s.as_json() for gid, s in scores.items()}


def mistake_mutations(nb, mistakes) -> tuple[list[dict], list[str]]:
    """(mutations, problems) for the entries of a notebook_mistakes file.

    Each entry replaces its ``find`` text, which must occur exactly once in the solution
    cell ``cell``, by ``replace``; its optional ``message`` travels with the mutation. An
    entry whose mutated cell is exactly an earlier entry's is a problem: it would cost a run
    and test nothing new (pin a longer ``message`` on the first instead).
    """
    by_id = {}
    for c in nb.cells:
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid is not None:
            by_id[gid] = c
    mutations, problems = [], []
    for k, m in enumerate(mistakes):
        cell = by_id.get(m["cell"])
        if cell is None or cell.source.count(m["find"]) != 1:
            problems.append(f"mistake {k} ({m['mistake']}): 'find' must occur once in {m['cell']}")
            continue
        mutation = {
            "id": f"mistake {k}: {m['mistake']} in {m['cell']}",
            "cell": m["cell"],
            "source": cell.source.replace(m["find"], m["replace"]),
        }
        twin = next(
            (o for o in mutations if (o["cell"], o["source"]) == (m["cell"], mutation["source"])),
            None,
        )
        if twin is not None:
            problems.append(f"mistake {k} ({m['mistake']}): the same mutation as {twin['id']}")
            continue
        if "message" in m:
            mutation["message"] = m["message"]
        mutations.append(mutation)
    return mutations, problems


def run_job(source_path, job: dict, tmp_path, cwd=None) -> dict:
    """Run this runner on ``source_path`` with ``job`` in a fresh single-threaded process."""
    import subprocess
    from pathlib import Path

    job_path, out = Path(tmp_path) / "job.json", Path(tmp_path) / "result.json"
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, __file__, str(source_path), str(job_path), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=cwd,
    )
    if proc.returncode != 0 or not out.exists():
        raise AssertionError(f"runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def message_problems(mutations, results) -> list[str]:
    """What is wrong with the messages of the mutations that expect one ("message").

    The expected text must occur in the message of the first visible check that fails in
    the student's kernel; a visible check the kernel passes but the key fails is a problem
    too (the feedback would contradict the notebook).
    """
    problems = []
    for m in mutations:
        if "message" not in m:
            continue
        r = results.get(m["id"]) or {}
        seen = r.get("first_visible")
        if r.get("error"):
            problems.append(f"{m['id']}: the run failed ({r['error']})")
        elif seen is None:
            problems.append(
                f"{m['id']}: no visible check fails in the student's kernel "
                f"(the entry expects a message containing {m['message']!r})"
            )
        elif m["message"] not in seen["message"]:
            problems.append(
                f"{m['id']}: the first visible failure ({seen['cell']}, {seen['label']!r}) "
                f"says {seen['message'][:400]!r}, without {m['message']!r}"
            )
        for gid, label in r.get("kernel_passed", []):
            problems.append(
                f"{m['id']}: visible check {gid} / {label!r} passes in the kernel but fails "
                "against the key (its expected value is computed from the student's code)"
            )
    return problems


def visible_failure(cell, entry):
    """The visible check whose AssertionError stopped an executed grade cell, or None.

    In the case-block form: the first visible check a case block's record lists as failed
    in the kernel, with its message.
    """
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    for out in cell.get("outputs", []):
        block = (out.get("data") or {}).get(checks.CASE_MIME)
        if not isinstance(block, dict) or block.get("check") != gid:
            continue
        for label, message in (block.get("failed") or {}).items():
            in_key = entry["labels"].get(label)
            if in_key is not None and not in_key.get("hidden"):
                text = checks.failure_prefix(gid, label) + message  # as the older form's
                return {"cell": gid, "label": label, "message": text}
    ran = [r["label"] for r in answer_key.records_in(cell) if r.get("check") == gid]
    error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
    if not ran or error is None or error.get("ename") != "AssertionError":
        return None
    label, message = ran[-1], str(error.get("evalue", ""))
    in_key = entry["labels"].get(label)
    if in_key is None or in_key.get("hidden") or checks.parse_failure(message, gid, label) is None:
        return None
    return {"cell": gid, "label": label, "message": message}


def run_child(nb, start, source, the_key, shell, rec, deadline, out_path, want_message=False):
    """In a forked child: run cell ``start`` with ``source``, then the rest, until a loss
    (and, with ``want_message``, until a visible check has failed in the kernel)."""
    failed, error, first_visible, kernel_passed = [], None, None, []
    try:
        signal.alarm(max(1, int(deadline)))
        for i in range(start, len(nb.cells)):
            cell = nb.cells[i]
            if cell.cell_type != "code":
                continue
            outs = run_cell(shell, rec, cell, source if i == start else cell.source)
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in the_key["cells"]:
                ran = executed_cell(cell, outs)
                verdict = scoring.score_cell(ran, the_key["cells"][gid])
                kernel_passed += [[gid, label] for label in verdict.kernel_passed]
                if first_visible is None:
                    first_visible = visible_failure(ran, the_key["cells"][gid])
                if verdict.score < verdict.max_score and not failed:
                    failed.append(gid)
                if failed and (first_visible is not None or not want_message):
                    break
    except BaseException as exc:  # timeout (alarm) or a crash: report, never hang
        error = f"{type(exc).__name__}: {exc}"
    with open(out_path, "w") as f:
        json.dump(
            {
                "failed": failed,
                "error": error,
                "first_visible": first_visible,
                "kernel_passed": kernel_passed,
            },
            f,
        )


def _alarm(signum, frame):
    raise TimeoutError("mutated run exceeded its time limit")


def main(src_path, job_path, result_path):
    job = json.load(open(job_path))
    nb = nbformat.read(src_path, as_version=4)
    workdir = os.path.dirname(os.path.abspath(src_path))
    quiet()
    the_key, base_scores, errors, seconds = build_key(nb, workdir)
    result = {"base": base_scores, "base_seconds": seconds, "errors": errors, "mutations": {}}
    if the_key is None:
        json.dump(result, open(result_path, "w"), indent=1)
        return

    if job.get("student"):
        student = nbformat.read(job["student"], as_version=4)
        shell, rec = new_shell(workdir)
        executed, st_errors = [], {}
        for i, cell in enumerate(student.cells):
            if cell.cell_type == "code":
                outs = run_cell(shell, rec, cell, cell.source)
                cell = executed_cell(cell, outs)
                if outs and outs[-1]["output_type"] == "error":
                    st_errors[_cell_id(cell, i)] = outs[-1]["ename"]
            executed.append(cell)
        InteractiveShell.clear_instance()
        student.cells = executed
        result["student"] = {
            "scores": _as_json(scoring.score_notebook(student, the_key)),
            "errors": st_errors,
        }

    by_cell: dict[str, list] = {}
    for m in job.get("mutations", []):
        by_cell.setdefault(m["cell"], []).append(m)
    signal.signal(signal.SIGALRM, _alarm)
    shell, rec = new_shell(workdir)
    tmp = result_path + ".child"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for m in by_cell.pop(_cell_id(cell, i), []):
            pid = os.fork()
            if pid == 0:  # child
                try:
                    run_child(
                        nb,
                        i,
                        m["source"],
                        the_key,
                        shell,
                        rec,
                        job["max_seconds"],
                        tmp,
                        want_message="message" in m,
                    )
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            try:
                result["mutations"][m["id"]] = json.load(open(tmp))
                os.remove(tmp)
            except (OSError, ValueError):
                result["mutations"][m["id"]] = {
                    "failed": [],
                    "error": "child died",
                    "first_visible": None,
                    "kernel_passed": [],
                }
        run_cell(shell, rec, cell, cell.source)
    for cell_id, ms in by_cell.items():  # mutations naming a cell that does not exist
        for m in ms:
            result["mutations"][m["id"]] = {
                "failed": [],
                "error": f"no cell {cell_id!r}",
                "first_visible": None,
                "kernel_passed": [],
            }
    json.dump(result, open(result_path, "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
