"""The instructor's commands under bad input and faults: nobody dropped, nothing lost, one line.

A corpus of cases, each run beside a control student with a perfect notebook whose grade must
not change. Every case has a verdict: ``ok`` when the command ends as docs/grading.md ("Exit
codes and messages") says (the documented exit code, one clear line on stderr naming the
thing, no traceback, nothing dropped without a word, no half-done course), else the failures
found. Submission cases share one grading run (one line each in ``SUBMISSIONS``); command
cases run the command line against a copy of a released and graded course.
``test_tally`` prints the count per verdict (run with ``-s`` to see it).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from support.grader import FIXTURES, ROOT, fixture_subs

AID = fixture_subs.AID
CONTROL = "control"
FULL = 10.0  # the control's auto score (12 with the hand-graded answer)
EXIT = {
    "ok": 0,
    "check failed": 1,
    "bad input": 2,
    "cluster": 3,
    "fault": 4,
    "sigint": 130,
    "sigterm": 143,
}
TALLY: dict[str, str] = {}  # case -> verdict

pytestmark = pytest.mark.slow  # a release and grading runs of the fixture course


def cli(*args, env=None, timeout=300, cwd=ROOT):
    """Run the command line; one that outlives ``timeout`` is killed (with what it started)
    and comes back with exit code -1 and "timed out" as its last line."""
    cmd = [sys.executable, "-m", "autograder", *map(str, args)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return subprocess.CompletedProcess(cmd, -1, out, err + f"\ntimed out after {timeout} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def scores(course: Path) -> dict[str, float]:
    """student -> auto score of the assignment, from the gradebook itself."""
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT s.student_id, SUM(COALESCE(g.auto_score, 0)) FROM grade g "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY s.student_id"
        ).fetchall()
    return {sid: float(score) for sid, score in rows}


def state(course: Path) -> dict[str, str]:
    """Digest of every file of source/, release/, keys/ and the gradebook's rows."""
    out = {}
    for folder in ("source", "release", "keys"):
        for path in sorted((course / folder).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(course))] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(course / "gradebook.db") as db:
        for table in ("assignment", "notebook", "base_cell", "grade", "submitted_assignment"):
            rows = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def judge(case, proc, code, *words, course=None, control=FULL, extra=()):
    """Record and return the verdict of one case: 'ok' or what went wrong."""
    text = proc.stdout + proc.stderr
    wrong = list(extra)
    if "Traceback" in text:
        wrong.append("traceback")
    if proc.returncode != EXIT[code]:
        wrong.append(f"exit {proc.returncode}, documented {EXIT[code]}")
    if code != "ok":
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        if not all(w.lower() in last.lower() for w in words):
            wrong.append(f"unclear: {last[:200]!r} lacks {words}")
    if course is not None and control is not None:
        got = scores(course).get(CONTROL)
        if got != control:
            wrong.append(f"control student scored {got}, not {control}")
    verdict = "ok" if not wrong else "; ".join(wrong)
    TALLY[case] = verdict
    return verdict


# ------------------------------------------------------------------ the course


def _good(release):
    return fixture_subs.filled(release)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A released fixture course with the control student graded; cases get a copy."""
    tmp = tmp_path_factory.mktemp("bad_input")
    course = tmp / "course"
    proc = cli("release", AID, "--course-dir", course, "--notebooks", FIXTURES / "notebooks")
    assert proc.returncode == 0, proc.stderr
    release = fixture_subs.load(course / "release" / AID / "fixture.ipynb")
    subs = tmp / "subs"
    (subs / CONTROL / AID).mkdir(parents=True)
    (subs / CONTROL / AID / "fixture.ipynb").write_text(nbformat.writes(_good(release)))
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course)
    assert proc.returncode == 0, proc.stderr
    assert scores(course) == {CONTROL: FULL}
    return {"tmp": tmp, "course": course, "subs": subs, "release": release}


@pytest.fixture
def course(base, tmp_path):
    """A copy of the graded course (and the control's submission) for one case."""
    dest = tmp_path / "course"
    shutil.copytree(base["course"], dest, symlinks=True)
    cfg = dest / "nbgrader_config.py"
    cfg.write_text(cfg.read_text().replace(str(base["course"]), str(dest)))
    subs = tmp_path / "subs"
    shutil.copytree(base["subs"], subs)
    return dest, subs


# ------------------------------------------------------------------ one run, many students


def _nb(nb):
    return nbformat.writes(nb)


def _put(subs, sid, nb, aid=AID, name="fixture.ipynb"):
    folder = subs / sid / aid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(nb if isinstance(nb, str) else _nb(nb))
    return folder


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)


def _stripped(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _without(nb, gid):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != gid]
    return nb


def _renamed_ids(nb):
    """The notebook of another assignment: every grade id is one this notebook lacks."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and "grade_id" in meta:
            meta["grade_id"] = "other_" + meta["grade_id"]
    return nb


# entry -> (how to make it, expected): ("graded", score[, words in problems]) or
# ("listed", words in the reason) or ("ignored",): junk beside submissions
def _submissions(subs: Path, release) -> dict:
    good = _good(release)
    cases = {}

    def case(name, expected, make):
        make()
        cases[name] = expected

    case("top", ("listed", "top of the student folder"), lambda: _top(subs, good))
    case("wrongaid", ("listed", "00-fixture"), lambda: _put(subs, "wrongaid", good, "00-fixture"))
    case("with space", ("listed", "not a student id"), lambda: _put(subs, "with space", good))
    case("zoë", ("listed", "not a student id"), lambda: _put(subs, "zoë", good))
    case(".dotted", ("listed", "not a student id"), lambda: _put(subs, ".dotted", good))
    case("x" * 200, ("listed", "at most 100"), lambda: _put(subs, "x" * 200, good))
    case("linked", ("listed", "symbolic link"), lambda: _linked(subs, good))
    case("class.zip", ("listed", "several students"), lambda: _class_zip(subs, good))
    case("dupe.zip", ("listed", "also has the folder"), lambda: _dupe(subs, good))
    case("dupe", ("graded", FULL), lambda: None)
    case("loose.ipynb", ("listed", "outside any student folder"), lambda: _loose(subs, good))
    case("bad name.zip", ("listed", "zip name"), lambda: _bad_zip_name(subs, good))
    case("00_fixture", ("listed", "assignment folder"), lambda: _put(subs, AID, good, AID + "x"))
    case(
        "stripped",
        ("graded", FULL, "metadata missing"),
        lambda: _put(subs, "stripped", _stripped(good)),
    )
    case(
        "no_sigmoid",
        ("graded", FULL - 4, "sigmoid_sol not found"),
        lambda: _put(subs, "no_sigmoid", _without(good, "sigmoid_sol")),
    )
    case(
        "no_sigmoid_cells",
        ("graded", FULL - 4, "sigmoid_sol not found"),
        lambda: _put(
            subs, "no_sigmoid_cells", _without(_without(good, "sigmoid_sol"), "ex_sigmoid")
        ),
    )
    case(
        "other_assignment",
        ("graded", 0.0, "wrong assignment"),
        lambda: _put(subs, "other_assignment", _renamed_ids(good)),
    )
    case("badtime", ("graded", FULL), lambda: _badtime(subs, good))
    case("empty_zip", ("graded", 0.0, "no notebooks"), lambda: _zip(subs / "empty_zip.zip", []))
    case(
        "corrupt_zip",
        ("graded", 0.0, "not a valid zip"),
        lambda: (subs / "corrupt_zip.zip").write_bytes(b"PK\x03\x04 not a zip"),
    )
    case("no_notebook", ("graded", 0.0, "not submitted"), lambda: _no_notebook(subs))
    case("bad_json", ("graded", 0.0, "not a valid notebook"), lambda: _put(subs, "bad_json", "{"))
    case(".DS_Store", ("ignored",), lambda: (subs / ".DS_Store").write_bytes(b"\0\1"))
    case("__MACOSX", ("ignored",), lambda: (subs / "__MACOSX").mkdir())
    return cases


def _top(subs, good):
    (subs / "top").mkdir()
    (subs / "top" / "fixture.ipynb").write_text(_nb(good))


def _linked(subs, good):
    target = subs.parent / "elsewhere"
    _put(target, "linked", good)
    (subs / "linked").symlink_to(target / "linked")


def _class_zip(subs, good):
    _zip(subs / "class.zip", [(f"{s}/{AID}/fixture.ipynb", _nb(good)) for s in ("ann", "ben")])


def _dupe(subs, good):
    _put(subs, "dupe", good)
    _zip(subs / "dupe.zip", [(f"{AID}/fixture.ipynb", _nb(good))])


def _loose(subs, good):
    (subs / "loose.ipynb").write_text(_nb(good))


def _bad_zip_name(subs, good):
    _zip(subs / "bad name.zip", [(f"{AID}/fixture.ipynb", _nb(good))])


def _badtime(subs, good):
    folder = _put(subs, "badtime", good)
    (folder / "timestamp.txt").write_text("garbage, not a time")


def _no_notebook(subs):
    (subs / "no_notebook" / AID).mkdir(parents=True)


@pytest.fixture(scope="module")
def class_run(base):
    tmp = base["tmp"]
    course = tmp / "class_course"
    shutil.copytree(base["course"], course, symlinks=True)
    subs = tmp / "class_subs"
    shutil.copytree(base["subs"], subs)
    cases = _submissions(subs, base["release"])
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course, "--workers", "2")
    report = cli("report", AID, "--course-dir", course)
    return {"course": course, "cases": cases, "proc": proc, "report": report}


def test_submission_cases_are_graded_or_listed_with_the_reason(class_run):
    course, proc = class_run["course"], class_run["proc"]
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    got = scores(course)
    rows = list(csv.DictReader(open(course / "grades.csv", encoding="utf-8")))
    listed = {r["student_id"]: r["not_graded"] for r in rows if r.get("not_graded")}
    summary = {
        line.split(" not graded: ")[0].strip(): line.split(" not graded: ")[1]
        for line in proc.stdout.splitlines()
        if " not graded: " in line
    }
    page = (course / "reports" / f"{AID}.html").read_text(encoding="utf-8")
    problems = {r["student_id"]: r for r in _summary_rows(proc.stdout)}
    failures = {}
    for entry, expected in class_run["cases"].items():
        wrong = []
        shown = entry if len(entry) <= 60 else entry[:50]
        if expected[0] == "listed":
            key = next((k for k in listed if k.startswith(shown)), None)
            if key is None:
                wrong.append("not in grades.csv")
            elif expected[1] not in listed[key]:
                wrong.append(f"reason {listed[key]!r} lacks {expected[1]!r}")
            if not any(k.startswith(shown[:40]) for k in summary):
                wrong.append("not in the run's summary")
            if shown[:40] not in page:
                wrong.append("not in the report")
            if any(sid.startswith(shown[:40]) for sid in got):
                wrong.append("in the gradebook")
        elif expected[0] == "graded":
            sid = Path(entry).stem
            if got.get(sid) != expected[1]:
                wrong.append(f"scored {got.get(sid)}, expected {expected[1]}")
            if len(expected) > 2 and expected[2] not in problems.get(sid, {}).get("problems", ""):
                wrong.append(f"problems lack {expected[2]!r}: {problems.get(sid)}")
        else:  # junk: in no list and not a student
            if entry in listed or entry in got:
                wrong.append("treated as a submission")
        if got.get(CONTROL) != FULL:
            wrong.append("control changed")
        TALLY[f"submissions: {entry[:40]}"] = "ok" if not wrong else "; ".join(wrong)
        if wrong:
            failures[entry] = wrong
    assert not failures, f"{failures}\n{proc.stdout}\n{proc.stderr[-2000:]}"
    assert "badtime: timestamp.txt holds no time" in proc.stderr
    assert set(got) == {CONTROL} | {
        Path(e).stem for e, x in class_run["cases"].items() if x[0] == "graded"
    }


def _summary_rows(stdout):
    """The per-student lines of `grade`: student, score and the problems in brackets."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "/" and " not graded: " not in line:
            problems = line.split("(", 1)[1].rsplit(")", 1)[0] if "(" in line else ""
            out.append({"student_id": parts[0], "problems": problems})
    return out


def test_a_second_run_keeps_the_list_and_grades_nobody_again(class_run):
    course = class_run["course"]
    subs = course.parent / "class_subs"
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course)
    verdict = judge("second run: listed again, nothing regraded", proc, "ok", course=course)
    assert verdict == "ok", proc.stderr[-2000:]
    graded = sum(1 for x in class_run["cases"].values() if x[0] == "graded") + 1
    assert f"{graded} submissions, {graded} already graded" in proc.stderr
    assert proc.stdout.count(" not graded: ") == sum(
        1 for x in class_run["cases"].values() if x[0] == "listed"
    )


# ------------------------------------------------------------------ command cases


def _cases():
    """(case, prepare(course, subs) -> args, exit, words in the last line of stderr)."""
    return [
        (
            "grade: --course-dir typo",
            lambda c, s: ["grade", AID, "--submissions", s, "--course-dir", str(c) + "x"],
            "bad input",
            ("no such folder",),
        ),
        (
            "grade: unknown assignment",
            lambda c, s: ["grade", "99_none", "--submissions", s, "--course-dir", c],
            "bad input",
            ("99_none", "not released"),
        ),
        (
            "grade: --submissions missing",
            lambda c, s: ["grade", AID, "--submissions", str(s) + "x", "--course-dir", c],
            "bad input",
            ("--submissions", "does not exist"),
        ),
        (
            "grade: --submissions is a file",
            lambda c, s: ["grade", AID, "--submissions", c / "gradebook.db", "--course-dir", c],
            "bad input",
            ("is not a folder",),
        ),
        (
            "grade: --workers 0",
            lambda c, s: ["grade", AID, "--submissions", s, "--course-dir", c, "--workers", "0"],
            "bad input",
            ("--workers",),
        ),
        (
            "grade: --workers -3",
            lambda c, s: ["grade", AID, "--submissions", s, "--course-dir", c, "--workers", "-3"],
            "bad input",
            ("--workers",),
        ),
        (
            "grade: --workers 1000",
            lambda c, s: ["grade", AID, "--submissions", s, "--course-dir", c, "--workers", "1000"],
            "bad input",
            ("--workers 1000", "at most"),
        ),
        (
            "grade: --scheduler-file missing",
            lambda c, s: [
                "grade",
                AID,
                "--submissions",
                s,
                "--course-dir",
                c,
                "--scheduler-file",
                c / "none.json",
            ],
            "bad input",
            ("--scheduler-file", "does not exist"),
        ),
        (
            "grade: --scheduler-file garbage",
            lambda c, s: [
                "grade",
                AID,
                "--submissions",
                s,
                "--course-dir",
                c,
                "--scheduler-file",
                _write(c / "sched.json", "{not json"),
            ],
            "bad input",
            ("sched.json", "not a Dask scheduler file"),
        ),
        (
            "grade: --scheduler without scheme",
            lambda c, s: [
                "grade",
                AID,
                "--submissions",
                s,
                "--course-dir",
                c,
                "--scheduler",
                "localhost:8786",
            ],
            "bad input",
            ("--scheduler", "tcp://"),
        ),
        (
            "grade: --scheduler nobody listens",
            lambda c, s: [
                "grade",
                AID,
                "--submissions",
                s,
                "--course-dir",
                c,
                "--scheduler",
                "tcp://127.0.0.1:9",
            ],
            "cluster",
            ("cannot reach", "127.0.0.1:9"),
        ),
        (
            "grade: gradebook deleted",
            lambda c, s: (
                _rm(c / "gradebook.db") or ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("gradebook.db", "release"),
        ),
        (
            "grade: gradebook truncated",
            lambda c, s: (
                _truncate(c / "gradebook.db")
                or ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "fault",
            ("gradebook", "cannot be read"),
        ),
        (
            "grade: gradebook is garbage",
            lambda c, s: (
                _write(c / "gradebook.db", "hello")
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "fault",
            ("gradebook", "cannot be read"),
        ),
        (
            "grade: answer key deleted",
            lambda c, s: (
                _rm(c / "keys" / AID / "fixture.json")
                or ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("answer key", "release"),
        ),
        (
            "grade: autograder.json syntax",
            lambda c, s: (
                _write(c / "source" / AID / "autograder.json", "{memory_mb: 1")
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("autograder.json", "not valid JSON"),
        ),
        (
            "grade: memory_mb 1e999",
            lambda c, s: (
                _write(c / "source" / AID / "autograder.json", '{"memory_mb": 1e999}')
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("autograder.json", "memory_mb"),
        ),
        (
            "grade: autograder.json a list",
            lambda c, s: (
                _write(c / "source" / AID / "autograder.json", "[1]")
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("autograder.json", "object"),
        ),
        (
            "grade: unknown limit",
            lambda c, s: (
                _write(c / "source" / AID / "autograder.json", '{"memmory_mb": 5}')
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("autograder.json", "unknown limit"),
        ),
        (
            "grade: negative limit",
            lambda c, s: (
                _write(c / "source" / AID / "autograder.json", '{"cpu_s": -1}')
                and ["grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "bad input",
            ("autograder.json", "cpu_s"),
        ),
        (
            "feedback: unknown assignment",
            lambda c, s: ["feedback", "99_none", "--course-dir", c],
            "bad input",
            ("99_none",),
        ),
        (
            "feedback: --course-dir typo",
            lambda c, s: ["feedback", AID, "--course-dir", str(c) + "x"],
            "bad input",
            ("no such folder",),
        ),
        (
            "export: unknown format",
            lambda c, s: ["export", "--format", "xls", "--course-dir", c],
            "bad input",
            ("format", "xls"),
        ),
        (
            "export: --course-dir typo",
            lambda c, s: ["export", "--course-dir", str(c) + "x"],
            "bad input",
            ("no such folder",),
        ),
        (
            "export: gradebook truncated",
            lambda c, s: _truncate(c / "gradebook.db") or ["export", "--course-dir", c],
            "fault",
            ("gradebook", "cannot be read"),
        ),
        (
            "report: unknown assignment",
            lambda c, s: ["report", "99_none", "--course-dir", c],
            "bad input",
            ("99_none",),
        ),
        (
            "report: --course-dir typo",
            lambda c, s: ["report", "--course-dir", str(c) + "x"],
            "bad input",
            ("no such folder",),
        ),
        (
            "release: unknown assignment",
            lambda c, s: [
                "release",
                "99_none",
                "--course-dir",
                c,
                "--notebooks",
                FIXTURES / "notebooks",
            ],
            "bad input",
            ("99_none", "00_fixture"),
        ),
        (
            "release: --notebooks missing",
            lambda c, s: ["release", AID, "--course-dir", c, "--notebooks", c / "nothing"],
            "bad input",
            ("--notebooks", "not a folder"),
        ),
        (
            "release: autograder.json syntax",
            lambda c, s: [
                "release",
                AID,
                "--course-dir",
                c,
                "--notebooks",
                _notebooks(c, config="{oops"),
            ],
            "bad input",
            ("autograder.json", "not valid JSON"),
        ),
        (
            "release: memory_mb 1e999",
            lambda c, s: [
                "release",
                AID,
                "--course-dir",
                c,
                "--notebooks",
                _notebooks(c, config='{"memory_mb": 1e999}'),
            ],
            "bad input",
            ("autograder.json", "memory_mb"),
        ),
        (
            "release: a cell removed after grading",
            lambda c, s: [
                "release",
                AID,
                "--course-dir",
                c,
                "--notebooks",
                _notebooks(c, drop="ex_count"),
            ],
            "bad input",
            ("Cannot add or remove cells", "new assignment id"),
        ),
        (
            "release: --due garbage",
            lambda c, s: [
                "release",
                AID,
                "--course-dir",
                c,
                "--notebooks",
                FIXTURES / "notebooks",
                "--due",
                "soonish",
            ],
            "bad input",
            ("soonish",),
        ),
        (
            "due: garbage date",
            lambda c, s: ["due", AID, "tomorrow-ish", "--course-dir", c],
            "bad input",
            ("tomorrow-ish",),
        ),
        (
            "extend: negative days",
            lambda c, s: ["extend", AID, CONTROL, "--days", "-2", "--course-dir", c],
            "bad input",
            ("--days", ">= 0"),
        ),
        (
            "check: no such notebook",
            lambda c, s: ["check", c / "none.ipynb"],
            "bad input",
            ("none.ipynb",),
        ),
        (
            "check: not a notebook",
            lambda c, s: ["check", _write(c / "x.ipynb", "{")],
            "bad input",
            ("x.ipynb",),
        ),
        (
            "grade: --debug shows the traceback",
            lambda c, s: (
                _truncate(c / "gradebook.db")
                or ["--debug", "grade", AID, "--submissions", s, "--course-dir", c]
            ),
            "fault",
            ("gradebook",),
        ),
    ]


def _write(path, text):
    path.write_text(text)
    return path


def _rm(path):
    path.unlink()


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _notebooks(course, config=None, drop=None):
    """A copy of the fixture's notebooks folder, with a broken config or a cell removed."""
    folder = course.parent / "notebooks"
    shutil.copytree(FIXTURES / "notebooks", folder, dirs_exist_ok=True)
    if config is not None:
        (folder / AID / "autograder.json").write_text(config)
    if drop is not None:
        path = folder / AID / "fixture.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != drop]
        nbformat.write(nb, str(path))
    return folder


# the gradebook is unusable in these cases: the control's grade is checked after the fault
BROKEN_GRADEBOOK = ("deleted", "truncated", "garbage", "--debug")
# env for the cluster cases: a short connect timeout (the wait is bounded and said)
CLUSTER_ENV = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}


@pytest.mark.parametrize("case", [c[0] for c in _cases()])
def test_command_case(course, case):
    course_dir, subs = course
    name, prepare, code, words = next(c for c in _cases() if c[0] == case)
    before = state(course_dir)
    args = prepare(course_dir, subs)
    start = time.monotonic()
    proc = cli(*args, env=CLUSTER_ENV, timeout=120)
    seconds = time.monotonic() - start
    extra = []
    if seconds > 60:
        extra.append(f"took {seconds:.0f} s")
    broken = any(b in case for b in BROKEN_GRADEBOOK)
    if "--debug" in case:
        if "Traceback" not in proc.stderr:
            extra.append("--debug printed no traceback")
        proc = subprocess.CompletedProcess(
            proc.args, proc.returncode, proc.stdout, "\n" + proc.stderr.splitlines()[-1]
        )
    if not broken and case.startswith("release") and state(course_dir) != before:
        extra.append("the course changed (half-done release)")
    if case.endswith("typo") and Path(str(course_dir) + "x").exists():
        extra.append("a course folder was created at the typo")
    verdict = judge(case, proc, code, *words, course=None if broken else course_dir, extra=extra)
    assert verdict == "ok", f"{verdict}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}"


# ------------------------------------------------------------------ course state over time


def test_deleted_gradebook_release_again_and_grade_recomputes(course):
    course_dir, subs = course
    (course_dir / "gradebook.db").unlink()
    proc = cli("release", AID, "--course-dir", course_dir, "--notebooks", FIXTURES / "notebooks")
    assert proc.returncode == 0, proc.stderr
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course_dir)
    verdict = judge("deleted gradebook, release, grade: recomputed", proc, "ok", course=course_dir)
    assert verdict == "ok", proc.stderr
    assert "1 submissions, 0 already graded" in proc.stderr
    rows = list(csv.DictReader(open(course_dir / "grades.csv")))
    assert [(r["student_id"], float(r["raw_score"])) for r in rows] == [(CONTROL, FULL)]


def test_hand_edited_marker_score_is_not_the_grade(course):
    course_dir, subs = course
    marker = course_dir / "autograded" / CONTROL / AID / ".autograder.json"
    data = json.loads(marker.read_text())
    data["summary"]["score"] = 99.0
    marker.write_text(json.dumps(data))
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course_dir)
    line = next(x for x in proc.stdout.splitlines() if x.startswith(CONTROL))
    extra = [] if " 99 " not in line and f"{FULL:g} /" in line else [f"printed {line!r}"]
    verdict = judge("hand-edited marker score", proc, "ok", course=course_dir, extra=extra)
    assert verdict == "ok", proc.stdout


def test_source_edited_after_release_is_warned(course):
    course_dir, subs = course
    path = course_dir / "source" / AID / "fixture.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[0].source += "\n# edited"
    nbformat.write(nb, str(path))
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course_dir)
    extra = [] if "changed since 00_fixture was released" in proc.stderr else ["no warning"]
    verdict = judge("source edited after release", proc, "ok", course=course_dir, extra=extra)
    assert verdict == "ok", proc.stderr


def test_feedback_after_release_folder_deleted(course):
    course_dir, _ = course
    shutil.rmtree(course_dir / "release")
    proc = cli("feedback", AID, "--course-dir", course_dir)
    verdict = judge(
        "feedback after release/ deleted",
        proc,
        "bad input",
        "does not exist",
        "run `release`",
        course=course_dir,
    )
    assert verdict == "ok", proc.stderr
    # what the line says to do works, and keeps the grades
    proc = cli("release", AID, "--course-dir", course_dir, "--notebooks", FIXTURES / "notebooks")
    assert proc.returncode == 0, proc.stderr
    proc = cli("feedback", AID, "--course-dir", course_dir)
    verdict = judge("feedback after release again", proc, "ok", course=course_dir)
    assert verdict == "ok", proc.stderr


def test_locked_gradebook(course):
    course_dir, subs = course
    db = sqlite3.connect(course_dir / "gradebook.db", timeout=1)
    try:
        db.execute("BEGIN EXCLUSIVE")
        proc = cli("grade", AID, "--submissions", subs, "--course-dir", course_dir, "--force")
    finally:
        db.rollback()
        db.close()
    verdict = judge("locked gradebook", proc, "fault", "locked", course=course_dir)
    assert verdict == "ok", proc.stderr[-2000:]
    again = cli("grade", AID, "--submissions", subs, "--course-dir", course_dir)
    assert judge("locked gradebook: the next run", again, "ok", course=course_dir) == "ok"


def test_check_copies_only_the_notebooks_support_files(tmp_path, base):
    folder = tmp_path / "repo"
    (folder / ".venv" / "lib").mkdir(parents=True)
    (folder / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (folder / ".venv" / "lib" / "big.bin").write_bytes(b"\0" * 2**20)
    (folder / "env" / "lib").mkdir(parents=True)
    (folder / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (folder / "data.csv").write_text("1,2\n")
    nb = _good(base["release"])
    nb.cells.insert(
        1,
        nbformat.v4.new_code_cell(
            "import os\nassert os.path.exists('data.csv')\n"
            "assert not os.path.exists('.venv') and not os.path.exists('env'), os.listdir('.')"
        ),
    )
    (folder / "fixture.ipynb").write_text(_nb(nb))
    proc = cli("check", folder / "fixture.ipynb")
    verdict = judge("check: only support files copied", proc, "ok")
    assert verdict == "ok", proc.stdout + proc.stderr


def test_check_names_a_syntax_error_and_a_cell_that_never_ends(tmp_path, base):
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copy(FIXTURES / "notebooks" / AID / "autograder.json", folder)
    broken = fixture_subs.filled(base["release"], sigmoid_sol="def sigmoid(x:\n    return x")
    (folder / "fixture.ipynb").write_text(_nb(broken))
    proc = cli("check", folder / "fixture.ipynb")
    row = next(x for x in proc.stdout.splitlines() if "ex_sigmoid" in x)
    extra = [] if "SyntaxError" in row and "NameError" not in row else [f"row {row!r}"]
    verdict = judge("check: syntax error named", proc, "check failed", extra=extra)
    loop = fixture_subs.filled(
        base["release"], sigmoid_sol=fixture_subs.GOOD["sigmoid_sol"] + "\nwhile True:\n    pass"
    )
    (folder / "fixture.ipynb").write_text(_nb(loop))
    proc2 = cli("check", folder / "fixture.ipynb")
    row2 = next(x for x in proc2.stdout.splitlines() if "ex_sigmoid" in x)
    extra2 = [] if "NameError" not in row2 and "time" in row2.lower() else [f"row {row2!r}"]
    verdict2 = judge("check: never-ending cell named", proc2, "check failed", extra=extra2)
    assert verdict == "ok", proc.stdout
    assert verdict2 == "ok", proc2.stdout


# ------------------------------------------------------------------ faults of the machine


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs (root only); unmounted at the end, also when the test fails."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "tmpfs"
    point.mkdir()
    mounted = []

    def mount(size_kb):
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for p in mounted:
        subprocess.run(["umount", "-l", str(p)], capture_output=True, timeout=30)


def _fill(folder: Path, leave_kb: int):
    """Fill the file system of ``folder`` but ``leave_kb``."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize - leave_kb * 1024
    if free > 0:
        with open(folder / "filler", "wb") as fh:
            fh.write(b"\0" * free)


def test_full_disk(course, tmpfs):
    course_dir, subs = course
    point = tmpfs(16 * 1024)
    shutil.copytree(course_dir, point / "course", symlinks=True)
    shutil.copytree(subs, point / "subs")
    cdir = point / "course"
    cfg = cdir / "nbgrader_config.py"
    cfg.write_text(cfg.read_text().replace(str(course_dir), str(cdir)))
    # one more student to grade: the run has to write
    release = fixture_subs.load(cdir / "release" / AID / "fixture.ipynb")
    _put(point / "subs", "second", _good(release))
    _fill(point, 8)
    proc = cli("grade", AID, "--submissions", point / "subs", "--course-dir", cdir)
    verdict = judge("full disk", proc, "fault", "no space left", course=cdir)
    assert verdict == "ok", proc.stderr[-2000:]
    (point / "filler").unlink()
    again = cli("grade", AID, "--submissions", point / "subs", "--course-dir", cdir)
    verdict = judge("full disk: the next run", again, "ok", course=cdir)
    assert verdict == "ok", again.stderr[-2000:]
    assert scores(cdir) == {CONTROL: FULL, "second": FULL}


def test_read_only_course_folder(course, tmpfs):
    course_dir, subs = course
    point = tmpfs(32 * 1024)
    shutil.copytree(course_dir, point / "course", symlinks=True)
    cdir = point / "course"
    cfg = cdir / "nbgrader_config.py"
    cfg.write_text(cfg.read_text().replace(str(course_dir), str(cdir)))
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, timeout=30)
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", cdir, "--force")
    verdict = judge("read-only course folder", proc, "fault", "cannot write", course=cdir)
    assert verdict == "ok", proc.stderr[-2000:]


# ------------------------------------------------------------------ signals

SLOW = "\nimport time as _t\n_t.sleep(1.5)"


def _processes_of(session: int) -> list[str]:
    """Processes still alive in the session of the grade command (its workers, kernels)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session and fields[0] != "Z":
                out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except (OSError, IndexError, ValueError):
            continue
    return out


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_at_a_random_moment(course, base, workers, sig):
    course_dir, subs = course
    release = base["release"]
    for i in range(4):
        nb = fixture_subs.filled(release, mse_sol=fixture_subs.GOOD["mse_sol"] + SLOW)
        _put(subs, f"s{i}", nb)
    args = ["grade", AID, "--submissions", subs, "--course-dir", course_dir, "--workers", workers]
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    rng = random.Random(f"{workers}-{sig}-{time.time()}")
    time.sleep(rng.uniform(2.0, 7.0))
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # as Ctrl-C does: the whole foreground group
    else:
        proc.send_signal(sig)  # as `kill` does: the command alone
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    time.sleep(0.5)
    left = _processes_of(proc.pid)
    name = f"signal {signal.Signals(sig).name}, --workers {workers}"
    done = proc.returncode == 0  # finished before the signal came
    completed = subprocess.CompletedProcess(args, proc.returncode, out, err)
    extra = [f"left {left}"] if left else []
    if CRASH_TEXT in out + err:
        extra.append("a student was charged 'grader crashed'")
    code = "ok" if done else ("sigint" if sig == signal.SIGINT else "sigterm")
    verdict = judge(name, completed, code, "again to continue", course=course_dir, extra=extra)
    if left:  # what this test started, by its process group
        os.killpg(proc.pid, signal.SIGKILL)
    assert verdict == "ok", err[-2000:]
    again = cli(*args)
    extra = [] if CRASH_TEXT not in again.stdout else ["a student charged 'grader crashed'"]
    verdict = judge(name + ": the next run", again, "ok", course=course_dir, extra=extra)
    assert verdict == "ok", again.stderr[-2000:]
    assert scores(course_dir) == {CONTROL: FULL, **{f"s{i}": FULL for i in range(4)}}


CRASH_TEXT = "grader crashed"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_on_the_cluster_executor(course, base, tmp_path, sig):
    """The same on ``--scheduler-file``: one line, nobody charged, the next run resumes."""
    from autograder.executors.cluster import LocalProcesses

    course_dir, subs = course
    for i in range(4):
        nb = fixture_subs.filled(base["release"], mse_sol=fixture_subs.GOOD["mse_sol"] + SLOW)
        _put(subs, f"s{i}", nb)
    cluster = LocalProcesses(tmp_path / "cluster", workers=2)
    try:
        args = ["grade", AID, "--submissions", subs, "--course-dir", course_dir]
        args += ["--scheduler-file", cluster.scheduler_file]
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder", *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=cluster.env,
        )
        time.sleep(random.uniform(3.0, 6.0))
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        left = _processes_of(proc.pid)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)
        name = f"signal {signal.Signals(sig).name}, cluster executor"
        done = proc.returncode == 0
        code = "ok" if done else ("sigint" if sig == signal.SIGINT else "sigterm")
        extra = [f"left {left}"] if left else []
        if CRASH_TEXT in out:
            extra.append("a student was charged 'grader crashed'")
        completed = subprocess.CompletedProcess(args, proc.returncode, out, err)
        verdict = judge(name, completed, code, "again to continue", course=course_dir, extra=extra)
        assert verdict == "ok", err[-2000:]
        again = cli(*args, env=cluster.env)
        extra = [] if CRASH_TEXT not in again.stdout else ["a student charged 'grader crashed'"]
        verdict = judge(name + ": the next run", again, "ok", course=course_dir, extra=extra)
        assert verdict == "ok", again.stderr[-2000:]
        assert scores(course_dir) == {CONTROL: FULL, **{f"s{i}": FULL for i in range(4)}}
    finally:
        cluster.stop()


# ------------------------------------------------------------------ the tally


def test_tally(request):
    """At least 60 cases, each with a verdict; prints the count per verdict."""
    if len(TALLY) < 60:
        pytest.skip(f"run the whole file for the tally ({len(TALLY)} cases so far)")
    counts: dict[str, int] = {}
    for verdict in TALLY.values():
        counts["ok" if verdict == "ok" else "wrong"] = (
            counts.get("ok" if verdict == "ok" else "wrong", 0) + 1
        )
    print(f"\nbad-input corpus: {len(TALLY)} cases: {counts}")
    for case, verdict in sorted(TALLY.items()):
        if verdict != "ok":
            print(f"  {case}: {verdict}")
    assert counts.get("wrong", 0) == 0
