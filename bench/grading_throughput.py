"""Throughput: `nbgrader autograde` (sequential, as shipped) vs `python -m autograder grade`.

Grades the same N good submissions of the fixture assignment both ways and prints
submissions per minute and the ratio. Usage:
    python bench/grading_throughput.py [--n 40] [--workers 2]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "autograder"))
import submissions as fx  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        subprocess.run(
            [
                py,
                "-m",
                "autograder",
                "release",
                fx.AID,
                "--course-dir",
                course,
                "--notebooks",
                ROOT / "tests/fixtures/autograder/notebooks",
            ],
            check=True,
        )
        good = fx.filled(fx.load(course / "release" / fx.AID / "fixture.ipynb"))
        subs = Path(tmp) / "subs"
        for i in range(args.n):
            d = subs / f"s{i:03d}" / fx.AID
            d.mkdir(parents=True)
            (d / "fixture.ipynb").write_text(fx.nbformat.writes(good))
        # nbgrader as shipped: its own submitted/ layout, sequential autograde
        shutil.copytree(subs, course / "submitted", dirs_exist_ok=True)
        bindir = str(Path(py).parent)
        t0 = time.perf_counter()
        subprocess.run(
            [f"{bindir}/nbgrader", "autograde", fx.AID, "--force"],
            cwd=course,
            check=True,
            capture_output=True,
        )
        t_nbg = time.perf_counter() - t0
        shutil.rmtree(course / "autograded")
        t0 = time.perf_counter()
        subprocess.run(
            [
                py,
                "-m",
                "autograder",
                "grade",
                fx.AID,
                "--submissions",
                subs,
                "--course-dir",
                course,
                "--workers",
                str(args.workers),
                "--force",
            ],
            check=True,
            capture_output=True,
        )
        t_ag = time.perf_counter() - t0
    rate = lambda t: 60 * args.n / t
    print(f"nbgrader autograde : {rate(t_nbg):6.1f} submissions/min ({t_nbg:.1f} s)")
    print(f"autograder -w {args.workers:<3} : {rate(t_ag):6.1f} submissions/min ({t_ag:.1f} s)")
    print(f"ratio              : {t_nbg / t_ag:.2f}x")


if __name__ == "__main__":
    main()
