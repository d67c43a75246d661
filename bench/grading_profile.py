"""Where one submission's grading time goes, per assignment (``grade --workers 1``, sandbox on).

For each assignment: release it into a temporary course, write one perfect submission (the
released notebook with the source's solutions filled in) and grade it in this process with
the in-process executor, timing each part with wrappers around the functions that do it:

    sanitize     nbgrader's preprocessors in the parent (pipeline.sanitize)
    sandbox      bwrap/prlimit argv, work folder and its ownership
    kernel start starting the sandboxed kernel until it answers (nbclient's start + client)
    imports      set-up cells, mostly imports (numpy, matplotlib, nncourse ...)
    cells        the other non-grade code cells (solutions, demos)
    grade cells  the locked grade cells (visible and hidden tests)
    figures      part of the above: cells whose outputs hold a PNG (rendered in the kernel)
    outputs      nbclient's handling of output messages (inside the cell times)
    kernel stop  killing the kernel and its sandbox
    scoring      the answer-key comparison (scoring.score_notebook)
    gradebook    nbgrader's gradebook, autograded/ and the marker (Run.record)
    other        the rest of the total: the run's set-up (course, gradebook session, first
                 imports), waiting for the kernel's last outputs, the loop between cells

and prints one row per assignment, in seconds (the best of ``--repeat`` gradings of the same
submission, ``--force``). Kernels are forked from the warm fork server (``forkserver.py``)
where the sandbox is bubblewrap; the server is started, and its start timed, before the
first row, since a worker pays it once, and the first assignment is graded once untimed
(the parent's one-off set-up, also paid once per run). ``--cold`` adds, per assignment, a
row graded with cold kernels (``AUTOGRADER_FORKSERVER=0``: an interpreter start and the imports per
notebook), ``--rendering`` a row graded as before the grader stopped rendering figures
(no startup file: ``%matplotlib inline`` renders PNGs), and ``--before`` a row with both (cold
kernels that render figures: grading as it was before either), in the same run. Usage::

    python bench/grading_profile.py [--assignments 01_perceptron ...] [--repeat 1] [--cold]
                                    [--rendering] [--before]
"""

import argparse
import collections
import functools
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from grading_throughput import perfect  # noqa: E402

from autograder import kernel, sandbox  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.executors.local import InProcess  # noqa: E402
from autograder.grading import answer_key, pipeline, scoring  # noqa: E402
from autograder.sandbox import forkserver  # noqa: E402

PARTS = ["sanitize", "sandbox", "kernel start", "imports", "cells", "grade cells", "figures"]
PARTS += ["outputs", "kernel stop", "scoring", "gradebook"]
NESTED = {"figures", "outputs"}  # already counted inside the cell times
TIMES = collections.defaultdict(float)


def other(total, parts):
    """What the parts do not account for (the nested ones are inside the cell times)."""
    return total - sum(parts.get(p, 0.0) for p in PARTS if p not in NESTED)


def timed(part, fn):
    """``fn`` (sync or async) with its wall time added to TIMES[part]."""
    import inspect

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                TIMES[part] += time.perf_counter() - t0

    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                TIMES[part] += time.perf_counter() - t0

    return wrapper


def is_import_cell(source: str) -> bool:
    """A set-up cell: at least half of its statements are imports (magics left out)."""
    import ast

    code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith("%"))
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    imports = sum(isinstance(n, ast.Import | ast.ImportFrom) for n in body)
    return bool(body) and 2 * imports >= len(body)


def instrument():
    """Wrap the functions that do each part (this process only: --workers 1)."""
    pipeline.Run.task = timed("sanitize", pipeline.Run.task)
    pipeline.Run.record = timed("gradebook", pipeline.Run.record)
    scoring.score_notebook = timed("scoring", scoring.score_notebook)
    sandbox.prefix = timed("sandbox", sandbox.prefix)
    sandbox.prepare_workdir = timed("sandbox", sandbox.prepare_workdir)
    kernel._kill = timed("kernel stop", kernel._kill)
    client = kernel.LimitedClient
    client.async_start_new_kernel = timed("kernel start", client.async_start_new_kernel)
    client.async_start_new_kernel_client = timed(
        "kernel start", client.async_start_new_kernel_client
    )
    client.output = timed("outputs", client.output)
    execute_cell = client.async_execute_cell

    async def per_cell(self, cell, cell_index, **kwargs):
        t0 = time.perf_counter()
        try:
            return await execute_cell(self, cell, cell_index, **kwargs)
        finally:
            elapsed = time.perf_counter() - t0
            if answer_key.is_auto_grade_cell(cell):
                TIMES["grade cells"] += elapsed
            elif is_import_cell(cell.source):
                TIMES["imports"] += elapsed
            else:
                TIMES["cells"] += elapsed
            if any("image/png" in (o.get("data") or {}) for o in cell.get("outputs", [])):
                TIMES["figures"] += elapsed

    client.async_execute_cell = per_cell


def profile(aid, repeat, tmp: Path):
    course_dir, subs = tmp / aid / "course", tmp / aid / "subs"
    subprocess.run(
        [sys.executable, "-m", "autograder", "release", aid, "--course-dir", course_dir],
        check=True,
        capture_output=True,
    )
    for released in (course_dir / "release" / aid).glob("*.ipynb"):
        good = perfect(
            nbformat.read(released, as_version=4),
            nbformat.read(ROOT / "notebooks" / aid / released.name, as_version=4),
        )
        (subs / "s000" / aid).mkdir(parents=True, exist_ok=True)
        nbformat.write(good, subs / "s000" / aid / released.name)
    course = Course(course_dir)
    best = None
    for _ in range(repeat):
        TIMES.clear()
        t0 = time.perf_counter()
        rows = pipeline.grade(aid, subs, course, progress=False, force=True, executor=InProcess())
        total = time.perf_counter() - t0
        if rows[0]["score"] < sum(
            c["points"]
            for nb in course.notebooks(aid)
            for c in course.load_key(aid, nb)["cells"].values()
        ):
            raise SystemExit(f"{aid}: the perfect submission lost points: {rows[0]}")
        if best is None or total < best[0]:
            best = (total, dict(TIMES))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", nargs="*", help="default: every notebooks/NN_name")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--rendering", action="store_true", help="also grade rendering figures")
    ap.add_argument("--before", action="store_true", help="also grade cold and rendering")
    ap.add_argument("--cold", action="store_true", help="also grade with cold kernels")
    args = ap.parse_args()
    aids = args.assignments or sorted(
        p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir() and p.name[:2].isdigit()
    )
    warnings.filterwarnings("ignore")
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    instrument()
    print(
        f"sandbox: {sandbox.describe()}; seconds for one perfect submission (best of {args.repeat})"
    )
    t0 = time.perf_counter()
    server = forkserver.for_thread()
    if server is None:
        print(f"fork server: not used ({forkserver._DISABLED['reason'] or 'not enabled'})")
    else:
        print(f"fork server: started once in {time.perf_counter() - t0:.2f} s (probe included)")
    head = ["assignment", "total", *PARTS, "other"]
    startup = kernel.GRADING_STARTUP
    with tempfile.TemporaryDirectory() as tmp:
        # the parent's one-off costs (nbgrader's and SQLAlchemy's first use) belong to the
        # run, not to the first row: one untimed grading first
        total, parts = profile(aids[0], 1, Path(tmp) / "warm-up")
        rest = other(total, parts)
        print(f"warm-up: {aids[0]} graded once before the table ({total:.2f} s, other {rest:.2f})")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        variants = [("", False, False)]
        if args.cold:
            variants.append((" (cold kernels)", True, False))
        if args.rendering:
            variants.append((" (figures rendered)", False, True))
        if args.before:
            variants.append((" (before: cold, figures rendered)", True, True))
        for aid in aids:
            for label, cold, rendering in variants:
                kernel.GRADING_STARTUP = "" if rendering else startup
                os.environ["AUTOGRADER_FORKSERVER"] = "0" if cold else "1"
                folder = Path(tmp) / f"{aid}{label}"
                total, parts = profile(aid, args.repeat, folder)
                cells = [f"{parts.get(p, 0.0):.2f}" for p in PARTS] + [f"{other(total, parts):.2f}"]
                print(f"| {aid}{label} | {total:.2f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
