"""Throughput: `nbgrader autograde` (sequential, as shipped) vs `python -m autograder grade`.

Releases one assignment, writes N copies of a perfect submission (the released notebook with
the source's solutions filled in), then grades them with ``nbgrader autograde`` and with
``python -m autograder grade --workers W`` (sandbox on; the mechanism is printed) in the same
course, one after the other, and prints submissions per minute and the ratio. Both runs must
give every submission full auto-graded marks, else the timing is not comparable. Usage:

    python bench/grading_throughput.py [--n 40] [--workers 2] [--assignment 00_fixture] [--cold]

``--cold`` adds a third run with cold kernels (``AUTOGRADER_FORKSERVER=0``: no warm fork
server), the grader as it was before it. ``--assignment`` is the fixture ``00_fixture``
(default: tiny, measures the per-submission overhead) or any ``notebooks/NN_name`` (for
example ``01_perceptron``).
"""

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "autograder" / "notebooks"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def perfect(released, source):
    """The released notebook with every solution cell filled from the source notebook."""

    def gid(cell):
        return (cell.metadata.get("nbgrader") or {}).get("grade_id")

    sol = {
        gid(c): "\n".join(ln for ln in c.source.splitlines() if ln.strip() not in MARKERS)
        for c in source.cells
        if (c.metadata.get("nbgrader") or {}).get("solution")
    }
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        if gid(cell) in sol:
            cell.source = sol[gid(cell)]
    return nb


def full_marks(course, aid):
    """(submissions with every auto-graded point, submissions) from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    warnings.filterwarnings("ignore")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="nncourse") as gb:
        subs = gb.assignment_submissions(aid)
        full = 0
        for sub in subs:
            cells = [g for nb in sub.notebooks for g in nb.grades if g.cell.type == "code"]
            full += all(g.auto_score == g.max_score for g in cells)
        return full, len(subs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="number of submissions")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--assignment", default="00_fixture")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="also grade with cold kernels (AUTOGRADER_FORKSERVER=0), as before the fork server",
    )
    args = ap.parse_args()
    aid = args.assignment
    folder = FIXTURE_DIR if aid == "00_fixture" else ROOT / "notebooks"
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        release = [py, "-m", "autograder", "release", aid, "--course-dir", course]
        subprocess.run([*release, "--notebooks", folder], check=True, capture_output=True)
        subs = Path(tmp) / "subs"
        for released_path in (course / "release" / aid).glob("*.ipynb"):
            source = nbformat.read(folder / aid / released_path.name, as_version=4)
            good = perfect(nbformat.read(released_path, as_version=4), source)
            for i in range(args.n):
                d = subs / f"s{i:03d}" / aid
                d.mkdir(parents=True, exist_ok=True)
                nbformat.write(good, d / released_path.name)

        # nbgrader as shipped: its own submitted/ layout, sequential autograde
        shutil.copytree(subs, course / "submitted", dirs_exist_ok=True)
        released_db = Path(tmp) / "gradebook-released.db"
        shutil.copyfile(course / "gradebook.db", released_db)
        t0 = time.perf_counter()
        subprocess.run(
            [str(Path(py).parent / "nbgrader"), "autograde", aid, "--force"],
            cwd=course,
            check=True,
            capture_output=True,
        )
        t_nbg = time.perf_counter() - t0
        nbg_full = full_marks(course, aid)
        shutil.rmtree(course / "autograded")
        shutil.copyfile(released_db, course / "gradebook.db")  # both start from the release

        grade = [py, "-m", "autograder", "grade", aid, "--submissions", subs]
        grade += ["--course-dir", course, "--workers", str(args.workers), "--force"]
        runs = []  # (label, seconds, full marks)
        for label, forkserver in [("autograder", "1")] + [("cold kernels", "0")] * args.cold:
            env = {**os.environ, "AUTOGRADER_FORKSERVER": forkserver}
            t0 = time.perf_counter()
            proc = subprocess.run(grade, check=True, capture_output=True, text=True, env=env)
            runs.append((f"{label} -w {args.workers}", time.perf_counter() - t0))
            runs[-1] += (full_marks(course, aid),)
            if label == "autograder":
                sandbox = re.search(r"sandbox: (.*)", proc.stdout)

    def rate(t):
        return 60 * args.n / t

    print(f"assignment {aid}, {args.n} submissions")
    print(f"autograder sandbox : {sandbox.group(1) if sandbox else '?'}")
    for name, t, (full, n) in [("nbgrader autograde", t_nbg, nbg_full), *runs]:
        print(f"{name:<19}: {rate(t):6.1f} submissions/min ({t:.1f} s), full marks {full}/{n}")
    print(f"{'ratio':<19}: {t_nbg / runs[0][1]:.2f}x")
    if args.cold:
        print(f"{'ratio, cold kernels':<19}: {t_nbg / runs[1][1]:.2f}x")


if __name__ == "__main__":
    main()
