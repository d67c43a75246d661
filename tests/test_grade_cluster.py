"""Grading through a real Dask cluster: a ``dask scheduler`` and ``dask worker`` processes.

The module's cluster (one scheduler, two workers with nannies, on 127.0.0.1, random ports,
no dashboard) speaks ``tls://`` with certificates made for this run, so every cluster test
here is a TLS run; the lost-scheduler test starts a ``tcp://`` cluster of its own. The
scheduler allows one worker death per task (``allowed-failures=1``): the first SIGKILL of a
task's worker reruns it elsewhere, the second ends it as ``KilledWorker``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from support.assignments import NOTEBOOKS, perfect_submission
from support.grader import ASSIGNMENTS, ROOT, cli, fixture_subs, gradebook_scores
from support.process import pids_matching, read_until, wait_gone

from autograder.executors.cluster import LocalProcesses
from autograder.grading import marker as marker_mod

PY = sys.executable
AID = fixture_subs.AID
SLOW = "\nimport time\ntime.sleep({})"


# ------------------------------------------------------------------ a real cluster


def _certificates(folder: Path) -> dict:
    """A throw-away CA and one certificate it signed for 127.0.0.1 (openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the TLS test certificates")
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "node.key", "-out", "node.csr")  # fmt: skip
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "node.pem")  # fmt: skip
    return {
        k: str(folder / v) for k, v in (("ca", "ca.pem"), ("cert", "node.pem"), ("key", "node.key"))
    }


class Cluster(LocalProcesses):
    """The local cluster of ``make dask``, with what the fault tests need."""

    def __init__(self, folder, workers=2, tls=None, allowed_failures=1):
        env = {
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "10s",
        }
        super().__init__(folder, workers=workers, tls=tls, env=env)

    def worker_running(self, student, timeout=60):
        """pid of the worker process that is executing ``student``'s task now."""
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while time.monotonic() < deadline:
                try:  # a lambda travels by value (the workers cannot import this module)
                    running = c.run(
                        lambda dask_worker: (
                            os.getpid(),
                            [str(ts.key) for ts in dask_worker.state.executing],
                        )
                    )
                except Exception:  # noqa: BLE001 - a worker that has just died
                    running = {}
                for pid, keys in running.values():
                    if any(f"-{student}-" in k for k in keys):
                        return pid
                time.sleep(0.1)
        raise AssertionError(f"no worker picked up {student} within {timeout} s")


def grade_cmd(course, subs, cluster, aid=AID):
    return [PY, "-m", "autograder", "grade", aid, "--submissions", str(subs)] + [
        "--course-dir",
        str(course),
        "--scheduler",
        cluster.address,
    ]


def grade_on(cluster, course, subs, aid=AID, check=True, timeout=600):
    cmd = grade_cmd(course, subs, cluster, aid)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=cluster.env
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"grade failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    c = Cluster(tmp / "cluster", workers=2, tls=_certificates(tmp / "certs"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The fixture assignment released once; tests copy the course folder."""
    course = tmp_path_factory.mktemp("released") / "course"
    aid, folder = ASSIGNMENTS[0]
    cli("release", aid, "--course-dir", course, "--notebooks", folder)
    return course


def fresh_course(released, tmp_path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(released, course)
    text = (course / "nbgrader_config.py").read_text().replace(str(released), str(course))
    (course / "nbgrader_config.py").write_text(text)
    return course


def markers(course, aid=AID) -> dict:
    out = {}
    for path in (course / "autograded").glob(f"*/{aid}/{marker_mod.NAME}"):
        out[path.parents[1].name] = json.loads(path.read_text())
    return out


def submission_counts(course) -> dict:
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"
        ).fetchall()
    return dict(rows)


def write_subs(folder: Path, cases: dict) -> None:
    for sid, nb in cases.items():
        (folder / sid / AID).mkdir(parents=True)
        (folder / sid / AID / "fixture.ipynb").write_text(nbformat.writes(nb))


def slow(release, seconds, **sources):
    good = fixture_subs.GOOD
    return fixture_subs.filled(
        release, sigmoid_sol=good["sigmoid_sol"] + SLOW.format(seconds), **sources
    )


# ------------------------------------------------------------------ fast


def test_scheduler_address_must_be_tcp_or_tls():
    from autograder.executors.placement import make_executor

    with pytest.raises(ValueError, match=r"--scheduler must be tcp://host:port or tls://"):
        make_executor(scheduler="127.0.0.1:8786")
    with pytest.raises(ValueError, match=r"--workers must be a positive integer, received 0"):
        make_executor(workers=0)


@pytest.mark.slow  # the released fixture builds an answer key (20 s)
def test_unreachable_scheduler_is_one_line(tmp_path, released):
    course = fresh_course(released, tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "subs").mkdir()
    proc = subprocess.run(
        [PY, "-m", "autograder", "grade", AID, "--submissions", tmp_path / "subs"]
        + ["--course-dir", course, "--scheduler", f"tcp://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
    )
    assert proc.returncode == 3, proc.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_support_files_reach_the_work_folder_without_a_shared_file_system(tmp_path):
    """The context carries the support files' bytes; ``install`` writes them per worker."""
    from autograder.config import Limits
    from autograder.executors import base

    release = tmp_path / "release"
    (release / "data").mkdir(parents=True)
    (release / "data" / "points.csv").write_text("1,2\n")
    (release / "student.ipynb").write_text("{}")  # notebooks are not support files
    ctx = base.RunContext.from_release("a1", Limits(), release)
    assert ctx.support == (("data/points.csv", b"1,2\n"),)
    shutil.rmtree(release)  # a worker elsewhere: nothing of the release folder is reachable
    base.install(ctx)
    folder = base.support_folder(ctx.name)
    assert (folder / "data" / "points.csv").read_text() == "1,2\n"
    bad = base.RunContext("a1", Limits(), (("../escape.txt", b"x"),))
    with pytest.raises(ValueError, match="outside the work folder"):
        base.install(bad)


def test_sandbox_uids_are_distinct_per_concurrent_notebook():
    """Every notebook graded at the same time on one host (here: in threads of two
    processes) holds a uid of its own for as long as it runs."""
    code = (
        "import threading, time; from autograder import sandbox; out = []\n"
        "held = threading.Barrier(4)\n"
        "def lease():\n"
        "    with sandbox.leased_uid() as uid:\n"
        "        out.append(uid); held.wait(); time.sleep(3)\n"
        "ts = [threading.Thread(target=lease) for _ in range(3)]\n"
        "[t.start() for t in ts]\n"
        "with sandbox.leased_uid() as uid:\n"
        "    held.wait(); print(*out, uid, flush=True); time.sleep(3)\n"
        "[t.join() for t in ts]"
    )
    procs = [
        subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(2)
    ]
    try:
        outs = [read_until(p, lambda text: text.endswith("\n"), timeout=60) for p in procs]
        for p in procs:
            p.wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    uids = [int(u) for out in outs for u in out.split()]
    per_process = [uids[:4], uids[4:]]
    assert all(len(set(u[:3])) == 3 and u[3] not in u[:3] for u in per_process), uids
    assert len(set(uids)) == 8, uids  # both processes ran at the same time: no uid shared


# ------------------------------------------------------------------ through the cluster (slow)


@pytest.mark.slow
def test_fixture_through_tls_cluster_scores_attacks_and_hosts(cluster, released, tmp_path):
    """Good, partial, empty, invalid JSON, zips and the attacks that matter on a remote node."""
    course = fresh_course(released, tmp_path)
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    subs = tmp_path / "subs"
    expected = fixture_subs.build(release, subs, port=listener.getsockname()[1])
    keep = {"good", "partial", "empty", "broken_json", "zipped", "zipslip", "network"}
    keep |= {"read_secrets", "write_outside", "memory_bomb", "fork_bomb", "edited_grade_cell"}
    for sid in set(expected) - keep:
        shutil.rmtree(subs / sid)
        del expected[sid]
    proc = grade_on(cluster, course, subs)
    listener.close()
    log = proc.stdout + proc.stderr
    assert gradebook_scores(course) == expected, log
    assert not Path(fixture_subs.REPO, "pwned").exists()
    host = socket.gethostname()
    for sid, marker in markers(course).items():
        summary = marker["summary"]
        assert summary["host"] == host and summary["mechanism"] in ("bwrap", "unshare", "rlimits")
        executed = [r["info"] for r in marker["results"].values() if r["info"]]
        assert all(i["host"] == host and i["mechanism"] == summary["mechanism"] for i in executed)
        assert marker["hash"], sid
    assert f"host {host}: {len(expected)} submissions" in log
    assert f"[{host}, " in proc.stdout  # the per-student line says where it was graded
    assert submission_counts(course) == dict.fromkeys(expected, 1)


@pytest.mark.slow
def test_real_assignment_through_cluster_equals_local_workers(cluster, tmp_path):
    aid = "01_perceptron"
    course_local, course_dask = tmp_path / "local", tmp_path / "dask"
    cli("release", aid, "--course-dir", course_local)
    shutil.copytree(course_local, course_dask)
    cfg = course_dask / "nbgrader_config.py"
    cfg.write_text(cfg.read_text().replace(str(course_local), str(course_dask)))
    subs = tmp_path / "subs"
    for released_path in sorted((course_local / "release" / aid).glob("*.ipynb")):
        released = nbformat.read(released_path, as_version=4)
        perfect = perfect_submission(
            released, nbformat.read(NOTEBOOKS / aid / released_path.name, as_version=4)
        )
        partial = copy.deepcopy(perfect)
        sol = [
            c
            for c in partial.cells
            if c.cell_type == "code" and (c.metadata.get("nbgrader") or {}).get("solution")
        ]
        sol[0].source = released.cells[partial.cells.index(sol[0])].source  # first one unsolved
        for sid, nb in (("perfect", perfect), ("partial", partial), ("empty", released)):
            (subs / sid / aid).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, subs / sid / aid / released_path.name)
        (subs / "invalid" / aid).mkdir(parents=True, exist_ok=True)
        (subs / "invalid" / aid / released_path.name).write_text('{"cells": [ nope')
        with zipfile.ZipFile(subs / "zipped.zip", "a") as zf:
            zf.writestr(f"{aid}/{released_path.name}", nbformat.writes(perfect))
    args = ["--submissions", subs]
    cli("grade", aid, *args, "--course-dir", course_local, "--workers", "2")
    proc = grade_on(cluster, course_dask, subs, aid=aid)
    local = gradebook_scores(course_local, aid)
    assert gradebook_scores(course_dask, aid) == local, proc.stdout
    totals = {
        m["summary"]["student_id"]: m["summary"]["score"]
        for m in markers(course_local, aid).values()
    }
    assert totals["perfect"] == totals["zipped"] > totals["partial"] > totals["empty"] == 0
    assert totals["invalid"] == 0
    dask_markers = markers(course_dask, aid)
    for sid, m in markers(course_local, aid).items():
        assert dask_markers[sid]["summary"]["score"] == m["summary"]["score"], sid


def run_and_kill(cluster, course, subs, kills):
    """Run ``grade`` on the cluster; SIGKILL the worker executing each student of ``kills``
    (in order) 2.5 s into its notebook. Returns the log."""
    proc = subprocess.Popen(
        grade_cmd(course, subs, cluster),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cluster.env,
    )
    try:
        for student in kills:
            pid = cluster.worker_running(student, timeout=120)
            time.sleep(2.5)  # in the middle of the notebook
            os.kill(pid, signal.SIGKILL)
        log = proc.communicate(timeout=300)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log
    cluster.wait_for_workers(2)  # the nannies restart the killed workers
    return log


@pytest.mark.slow
def test_sigkilled_worker_mid_notebook_costs_nothing(cluster, released, tmp_path):
    course = fresh_course(released, tmp_path)
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    subs = tmp_path / "subs"
    cases = {"a_killed": slow(release, 5), "b": slow(release, 1), "c": fixture_subs.filled(release)}
    write_subs(subs, cases)
    log = run_and_kill(cluster, course, subs, ["a_killed"])
    assert gradebook_scores(course) == dict.fromkeys(cases, fixture_subs.FULL), log
    assert submission_counts(course) == dict.fromkeys(cases, 1), log  # recorded once each
    got = markers(course)
    assert all(m["hash"] and not m["summary"]["problems"] for m in got.values()), log


@pytest.mark.slow
def test_submission_that_keeps_killing_workers_gets_grader_crashed_then_regraded(
    cluster, released, tmp_path
):
    """Its task loses two workers (more than allowed-failures=1): 0 with "grader crashed",
    the run ends normally, and the next run grades it again."""
    course = fresh_course(released, tmp_path)
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    subs = tmp_path / "subs"
    write_subs(subs, {"killer": slow(release, 5)})  # under the 6 s cell limit
    log = run_and_kill(cluster, course, subs, ["killer", "killer"])
    assert gradebook_scores(course) == {"killer": dict.fromkeys(fixture_subs.FULL, 0.0)}, log
    marker = markers(course)["killer"]
    assert "grader crashed: KilledWorker" in marker["summary"]["problems"], log
    assert marker["hash"] is None and marker["summary"]["host"] is None
    again = grade_on(cluster, course, subs)
    assert "1 submissions, 0 already graded" in again.stdout + again.stderr
    assert gradebook_scores(course) == {"killer": fixture_subs.FULL}
    assert markers(course)["killer"]["hash"]
    assert submission_counts(course) == {"killer": 1}


@pytest.mark.slow
def test_interrupted_cluster_run_resumes(cluster, released, tmp_path):
    course = fresh_course(released, tmp_path)
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    subs = tmp_path / "subs"
    write_subs(subs, {f"s{i}": slow(release, 2) for i in range(5)})
    proc = subprocess.Popen(
        grade_cmd(course, subs, cluster),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cluster.env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not markers(course) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does
    first = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 130, first
    assert "run `grade` again to continue" in first and "Traceback" not in first
    finished = {sid: m for sid, m in markers(course).items()}
    assert 1 <= len(finished) < 5, first
    second = grade_on(cluster, course, subs)
    assert f"5 submissions, {len(finished)} already graded" in second.stdout + second.stderr
    after = markers(course)
    assert sorted(after) == [f"s{i}" for i in range(5)]
    for sid, marker in finished.items():
        assert after[sid] == marker, f"{sid} was graded again"
    assert all(v == fixture_subs.FULL for v in gradebook_scores(course).values())
    assert submission_counts(course) == {f"s{i}": 1 for i in range(5)}


@pytest.mark.slow
def test_lost_scheduler_stops_with_one_line_and_next_run_resumes(released, tmp_path):
    course = fresh_course(released, tmp_path)
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    subs = tmp_path / "subs"
    write_subs(subs, {f"s{i}": slow(release, 2) for i in range(4)})
    plain = Cluster(tmp_path / "plain", workers=1)
    try:
        proc = subprocess.Popen(
            grade_cmd(course, subs, plain),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=plain.env,
        )
        deadline = time.monotonic() + 120
        while not markers(course) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(plain.scheduler.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        plain.stop()
    assert proc.returncode == 3, out + err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert lines == [
        f"error: lost the Dask scheduler at {plain.address}; run `grade` again to continue"
    ], err
    assert "Traceback" not in err, err
    finished = markers(course)
    assert 1 <= len(finished) < 4
    again = Cluster(tmp_path / "again", workers=1)
    try:
        second = grade_on(again, course, subs)
    finally:
        again.stop()
    assert f"4 submissions, {len(finished)} already graded" in second.stdout + second.stderr
    assert all(v == fixture_subs.FULL for v in gradebook_scores(course).values())
    assert submission_counts(course) == {f"s{i}": 1 for i in range(4)}


def start_make_dask(folder: Path) -> subprocess.Popen:
    """``python -m autograder.executors.cluster`` (what ``make dask`` runs), its output in a
    pipe, as a user's shell starts it: no PYTHONUNBUFFERED (CI sets it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen(
        [PY, "-m", "autograder.executors.cluster", "--workers", "1", "--folder", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def grade_line_address(proc) -> str:
    out = read_until(proc, lambda text: "Ctrl-C stops the cluster" in text, timeout=120)
    (line,) = [ln for ln in out.splitlines() if "--scheduler tcp://127.0.0.1:" in ln]
    assert "python -m autograder grade ASSIGNMENT --submissions DIR" in line, out
    return line.split("--scheduler ")[1].strip()


@pytest.mark.slow
def test_make_dask_prints_the_grade_line_and_ctrl_c_stops_the_cluster(tmp_path):
    """``make dask`` runs ``python -m autograder.executors.cluster``: its grade line reaches a
    pipe."""
    proc = start_make_dask(tmp_path / "dask")
    try:
        address = grade_line_address(proc)
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as c:
            assert len(c.scheduler_info()["workers"]) == 1
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in its terminal
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    left = wait_gone(str(tmp_path / "dask"), timeout=5)
    assert not left, f"cluster processes left running: {left}"


@pytest.mark.slow
def test_killed_parent_takes_the_cluster_with_it(tmp_path):
    """A test run (or ``make dask``) killed with SIGKILL cannot stop its cluster itself: the
    scheduler and workers end with their parent all the same."""
    proc = start_make_dask(tmp_path / "dask")
    try:
        grade_line_address(proc)
        assert len(pids_matching(str(tmp_path / "dask"))) >= 2  # scheduler, worker (nanny)
        proc.kill()
        proc.wait(timeout=10)
        left = wait_gone(str(tmp_path / "dask"), timeout=30)
    finally:
        for pid in pids_matching(str(tmp_path / "dask")):  # only if the test failed
            os.kill(pid, signal.SIGKILL)
    assert not left, f"cluster processes outlived their killed parent: {left}"
