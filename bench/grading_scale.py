"""Scaling: local ``--workers 2`` vs a 2-worker Dask cluster, and the cluster's dispatch cost.

In one run, on this machine:

1. ``grade --workers 2`` (process pool) and ``grade --scheduler`` on a local cluster of two
   ``dask worker`` processes (one thread each, started by :class:`autograder.executors.cluster.
   LocalProcesses` as ``make dask`` does, before the timing: a cluster outlives one run) on
   the same N perfect submissions of an assignment, sandbox on: submissions per minute and
   the ratio cluster / local (target >= 0.9);
2. the start-up cost a Dask ``LocalCluster`` of two worker processes would add to each
   ``grade --workers 2`` call (what decides that local grading stays a process pool);
3. dispatch overhead: 2,000 no-op grading tasks through the real scheduler, by the same
   executor the cluster run used, as seconds per task and as a fraction of one notebook's
   grading time (target < 1 %);
4. the projection table of ``docs/scaling.md``: hours to grade S students x A assignments on
   W workers, from the measured seconds per notebook per worker and dispatch cost.

Usage::

    python bench/grading_scale.py [--n 12] [--assignment 01_perceptron] [--noop 2000]
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from grading_throughput import full_marks, perfect  # noqa: E402

from autograder.config import Limits  # noqa: E402
from autograder.executors.base import Outcome, RunContext, Task  # noqa: E402
from autograder.executors.cluster import DaskExecutor, LocalProcesses  # noqa: E402


def noop(task, context_name):
    """A grading task that does nothing (measures the scheduler's round trip)."""
    return Outcome(task.student_id, [], "noop", "none", 0.0)


def grade(py, aid, subs, course, *where):
    cmd = [py, "-m", "autograder", "grade", aid, "--submissions", subs, "--course-dir", course]
    t0 = time.perf_counter()
    proc = subprocess.run([*map(str, cmd), *where, "--force"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"grade {where} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def notebook_seconds(log):
    """Mean per-submission seconds on the workers, from grade's per-host lines."""
    hosts = re.findall(r"host \S+: (\d+) submissions, ([\d.]+) s", log)
    n = sum(int(c) for c, _ in hosts)
    return sum(float(s) for _, s in hosts) / max(n, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="submissions graded by each run")
    ap.add_argument("--assignment", default="01_perceptron")
    ap.add_argument("--noop", type=int, default=2000, help="no-op tasks for the dispatch cost")
    args = ap.parse_args()
    aid, py = args.assignment, sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        course, subs = tmp / "course", tmp / "subs"
        subprocess.run(
            [py, "-m", "autograder", "release", aid, "--course-dir", course],
            check=True,
            capture_output=True,
        )
        for released in (course / "release" / aid).glob("*.ipynb"):
            good = perfect(
                nbformat.read(released, as_version=4),
                nbformat.read(ROOT / "notebooks" / aid / released.name, as_version=4),
            )
            for i in range(args.n):
                (subs / f"s{i:03d}" / aid).mkdir(parents=True, exist_ok=True)
                nbformat.write(good, subs / f"s{i:03d}" / aid / released.name)

        t_local, log_local = grade(py, aid, subs, course, "--workers", "2")
        local_full = full_marks(course, aid)
        cluster = LocalProcesses(tmp / "dask", workers=2)
        try:
            t_dask, log_dask = grade(py, aid, subs, course, "--scheduler", cluster.address)
            dask_full = full_marks(course, aid)
            context = RunContext(aid, Limits())
            with DaskExecutor(cluster.address, run=noop) as ex:
                for _ in ex.run(context, range(50), lambda i: Task(f"warm{i}", [])):
                    pass
                t0 = time.perf_counter()
                done = sum(
                    1 for _ in ex.run(context, range(args.noop), lambda i: Task(f"n{i}", []))
                )
                t_noop = time.perf_counter() - t0
        finally:
            cluster.stop()
        from distributed import LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc:
            lc.scale(2)
        t_localcluster = time.perf_counter() - t0

    per_nb = notebook_seconds(log_dask)
    per_task = t_noop / done
    rate_local, rate_dask = 60 * args.n / t_local, 60 * args.n / t_dask
    print(f"assignment {aid}, {args.n} perfect submissions, sandbox on")
    for name, rate, t, (full, n) in (
        ("grade --workers 2 (process pool)  ", rate_local, t_local, local_full),
        ("grade --scheduler (2 dask workers)", rate_dask, t_dask, dask_full),
    ):
        print(f"{name}: {rate:6.1f} /min ({t:.1f} s), full marks {full}/{n}")
    print(f"ratio cluster / local             : {t_local / t_dask:.2f}x (target >= 0.9)")
    print(f"LocalCluster(2 workers) start+stop: {t_localcluster:.1f} s per grade call")
    print(f"one notebook on a worker          : {per_nb:.2f} s")
    print(f"dispatch, {done} no-op tasks       : {t_noop:.2f} s, {1000 * per_task:.2f} ms per task")
    print(f"dispatch / notebook               : {100 * per_task / per_nb:.3f} % (target < 1 %)")
    print()
    print("projection (hours; one notebook per student and assignment, from the figures above):")
    print("| students x assignments | 2 workers | 16 workers | 64 workers | 256 workers |")
    print("|---|---|---|---|---|")
    for students, assignments in ((200, 9), (2000, 9), (20000, 9)):
        cells = []
        for workers in (2, 16, 64, 256):
            total = students * assignments
            # workers grade in parallel; the scheduler hands out tasks one after the other
            hours = max(total * per_nb / workers, total * per_task) / 3600
            cells.append(f"{hours:.2f}")
        print(f"| {students} x {assignments} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
