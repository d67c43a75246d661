"""``grade``: the progress bar, and resuming an interrupted run (the zip tests are in
test_grade_submissions.py).

The end-to-end helpers (``cli``, the fixture submissions) come from ``test_autograder.py``.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest
from support.grader import ASSIGNMENTS, ROOT, cli, fixture_subs, gradebook_scores

from autograder.grading import marker as marker_mod
from autograder.grading import pipeline as grade_mod

# ------------------------------------------------------------------ progress bar (fast)


def test_progress_bar_counts_students_and_can_be_turned_off(capsys):
    """``grade`` shows a tqdm bar over the students it grades (on stderr)."""
    from autograder.config import Limits
    from autograder.executors.base import RunContext, Task
    from autograder.executors.local import InProcess

    def fake_run(task, context_name):
        return task.student_id

    def run(progress):
        jobs = [f"s{i}" for i in range(3)]
        results = InProcess(fake_run).run(
            RunContext("00_fixture", Limits()), jobs, lambda sid: Task(sid, [])
        )
        out = grade_mod._progress(results, len(jobs), "00_fixture", progress)
        return [outcome for _, outcome in out]

    assert run(progress=True) == ["s0", "s1", "s2"]
    err = capsys.readouterr().err
    assert "grading 00_fixture" in err and "3/3" in err and "student" in err
    assert run(progress=False) == ["s0", "s1", "s2"]
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ interrupted grade (slow)

SLOW = "\nimport time\ntime.sleep(2)"  # each student takes a few seconds to grade


def _markers(course):
    """{student: (mtime_ns, text)} of the 'graded' marker files written so far."""
    out = {}
    for path in (course / "autograded").glob(f"*/{fixture_subs.AID}/{marker_mod.NAME}"):
        st = path.stat()
        out[path.parents[1].name] = (st.st_mtime_ns, path.read_text())
    return out


@pytest.mark.slow
def test_interrupted_grade_resumes_without_regrading_finished_students(tmp_path):
    aid, folder = ASSIGNMENTS[0]
    course, subs = tmp_path / "course", tmp_path / "subs"
    cli("release", aid, "--course-dir", course, "--notebooks", folder)
    release = fixture_subs.load(course / "release" / aid / "fixture.ipynb")
    good, full, expect = fixture_subs.GOOD, fixture_subs.FULL, fixture_subs.expect
    cases = {
        "a_good": (fixture_subs.filled(release, sigmoid_sol=good["sigmoid_sol"] + SLOW), full),
        "b_partial": (
            fixture_subs.filled(
                release,
                sigmoid_sol=good["sigmoid_sol"] + SLOW,
                mse_sol=fixture_subs.WRONG_MSE,
                count_sol=fixture_subs.WRONG_COUNT,
            ),
            expect(ex_mse=1, ex_count=1),
        ),
        "c_empty": (copy.deepcopy(release), expect(ex_sigmoid=1, ex_mse=1, ex_count=1)),
        "d_good": (fixture_subs.filled(release, mse_sol=good["mse_sol"] + SLOW), full),
    }
    cases["c_empty"][0].cells.insert(2, nbformat.v4.new_code_cell(SLOW.strip()))
    for sid, (nb, _) in cases.items():
        (subs / sid / aid).mkdir(parents=True)
        (subs / sid / aid / "fixture.ipynb").write_text(nbformat.writes(nb))

    # first run: interrupted (as Ctrl-C does: SIGINT to the process group) once a student is done
    args = ["grade", aid, "--submissions", subs, "--course-dir", course, "--workers", "1"]
    cmd = [sys.executable, "-m", "autograder", *map(str, args)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 40
    while not _markers(course) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        first_log = proc.communicate(timeout=15)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        first_log = proc.communicate()[0].decode(errors="replace")
    assert proc.returncode != 0, f"grade was not interrupted:\n{first_log}"
    if proc.returncode == 130:  # SIGINT reached it: a short message, no traceback
        assert "run `grade` again to continue" in first_log and "Traceback" not in first_log
    finished = _markers(course)
    assert 1 <= len(finished) < len(cases), f"finished before the interruption: {sorted(finished)}"
    assert not (course / "grades.csv").exists()  # written at the end of a run only

    # second run: grades only the others, leaves the finished ones untouched
    time.sleep(0.01)  # so that rewriting a marker would change its mtime
    second = cli(*args)
    log = second.stdout + second.stderr
    left = len(cases) - len(finished)
    assert f"{len(cases)} submissions, {len(finished)} already graded" in log, log
    assert f"{left}/{left}" in second.stderr  # the progress bar counts the students left
    after = _markers(course)
    assert sorted(after) == sorted(cases)
    for sid, marker in finished.items():
        assert after[sid] == marker, f"{sid} was graded again after the interruption"

    # every student has the expected scores, once, and grades.csv agrees
    expected = {sid: exp for sid, (_, exp) in cases.items()}
    assert gradebook_scores(course) == expected, f"{first_log}\n{log}"
    for marker in after.values():
        summary = json.loads(marker[1])["summary"]
        assert summary["score"] == sum(expected[summary["student_id"]].values())
    assert "OperationalError" not in first_log + log
    assert "database is locked" not in first_log + log
    with sqlite3.connect(course / "gradebook.db") as db:
        subs_rows = db.execute(
            "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"
        ).fetchall()
        dup_grades = db.execute(
            "SELECT COUNT(*) FROM (SELECT notebook_id, cell_id FROM grade"
            " GROUP BY notebook_id, cell_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert dict(subs_rows) == dict.fromkeys(cases, 1)
    assert dup_grades == 0
    rows = (course / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(cases)
