"""End-to-end tests of the autograder with real nbgrader runs on a fixture course.

Adding an assignment to the end-to-end grading test is one line in ``ASSIGNMENTS``
(``tests/support/grader.py``).
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.grader import ASSIGNMENTS, cli, fixture_subs, gradebook_scores

from autograder import checks
from autograder.grading import answer_key

# ------------------------------------------------------------------ fast unit tests


def test_limits_from_json(tmp_path):
    from autograder.config import Limits

    (tmp_path / "autograder.json").write_text('{"cell_timeout_s": 5, "memory_mb": 512}')
    lim = Limits.load(tmp_path)
    assert lim.cell_timeout_s == 5.0 and lim.memory_mb == 512
    (tmp_path / "autograder.json").write_text('{"nope": 1}')
    with pytest.raises(ValueError, match="unknown limit"):
        Limits.load(tmp_path)


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release the fixture, build all submissions, grade them with 2 workers."""
    tmp = tmp_path_factory.mktemp("course")
    course = tmp / "course"
    for aid, folder in ASSIGNMENTS:
        cli("release", aid, "--course-dir", course, "--notebooks", folder)
    release = fixture_subs.load(course / "release" / "00_fixture" / "fixture.ipynb")
    # a listener on this machine's loopback: the network attack tries to reach it from the
    # sandbox (which has a network namespace of its own, so it must fail)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    expected = fixture_subs.build(release, tmp / "subs", port=listener.getsockname()[1])
    proc = cli(
        "grade",
        "00_fixture",
        "--submissions",
        tmp / "subs",
        "--course-dir",
        course,
        "--workers",
        "2",
    )
    listener.close()
    return {"course": course, "subs": tmp / "subs", "expected": expected, "log": proc.stdout}


@pytest.mark.slow
def test_release_builds_student_version_and_key(graded):
    course = graded["course"]
    text = (course / "release" / "00_fixture" / "fixture.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "random 50" not in text
    assert "np.exp(-np.abs(x))" not in text  # solution removed
    k = json.loads((course / "keys" / "00_fixture" / "fixture.json").read_text())
    labels = k["cells"]["ex_count"]["labels"]
    assert labels["[-1, 0, 2]"]["hidden"] is False and labels["random 50"]["hidden"] is True


@pytest.mark.slow
def test_every_submission_gets_expected_scores(graded):
    got = gradebook_scores(graded["course"])
    wrong = {
        sid: (got.get(sid), exp) for sid, exp in graded["expected"].items() if got.get(sid) != exp
    }
    assert not wrong, f"unexpected scores (got, expected): {wrong}\n{graded['log']}"
    assert "bubblewrap" in graded["log"] or "unshare" in graded["log"] or "limits" in graded["log"]


@pytest.mark.slow
def test_zip_slip_wrote_nothing_outside(graded):
    assert not (graded["subs"].parent / "escaped.txt").exists()
    assert not Path(fixture_subs.REPO, "pwned").exists()


@pytest.mark.slow
def test_export_matches_gradebook(graded):
    course = graded["course"]
    cli("export", "--course-dir", course)
    rows = list(csv.DictReader(open(course / "grades.csv")))
    got = gradebook_scores(course)
    assert {r["student_id"] for r in rows} == set(got)
    for r in rows:
        assert float(r["score"]) == pytest.approx(
            sum(v or 0 for v in got[r["student_id"]].values())
        )
        assert float(r["max_score"]) == 12.0


@pytest.mark.slow
def test_feedback_has_no_hidden_tests(graded):
    course = graded["course"]
    cli("feedback", "00_fixture", "--course-dir", course)
    page = (course / "feedback" / "partial" / "00_fixture" / "fixture.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in page and "default_rng(5)" not in page
    assert "random 50" not in page  # hidden labels are not named either
    assert "hidden tests 1-2: not run" in page and "0 is not positive" in page


@pytest.mark.slow
def test_regrade_is_resumable_and_keeps_results(graded):
    course = graded["course"]
    before = gradebook_scores(course)
    proc = cli(
        "grade",
        "00_fixture",
        "--submissions",
        graded["subs"],
        "--course-dir",
        course,
        "--workers",
        "2",
    )
    assert gradebook_scores(course) == before
    assert "already graded" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_check_command_prints_table(graded, tmp_path):
    nb = graded["subs"] / "partial" / "00_fixture" / "fixture.ipynb"
    proc = cli("check", nb, check=False)
    assert proc.returncode == 1
    assert "ex_sigmoid" in proc.stdout and "4/4" in proc.stdout
    assert "0 is not positive" in proc.stdout or "ex_count" in proc.stdout


def test_answer_key_rejects_hidden_checks_that_pass_expected_values():
    """A hidden check that passes `expected` could be copied by a patched Check: refused."""
    import nbformat

    source = 'c = Check("g")\n### BEGIN HIDDEN TESTS\nc.close("h", got, ref)\n### END HIDDEN TESTS'
    meta = {
        "nbgrader": {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": 2,
            "grade_id": "g",
            "schema_version": 3,
        }
    }

    def executed(expected):
        rec = checks.make_record(
            "g", "h", "close", [1.0], {"rtol": 1e-6, "atol": 0.0}, line=3, expected=expected
        )
        cell = nbformat.v4.new_code_cell(source, metadata=meta)
        cell.outputs = [nbformat.v4.new_output("display_data", data={checks.MIME: rec})]
        return nbformat.v4.new_notebook(cells=[cell])

    the_key, _ = answer_key.build_key(executed(None), "nb")
    assert the_key["cells"]["g"]["labels"]["h"]["hidden"] is True
    with pytest.raises(ValueError, match=r"hidden check 'h' passes an expected value"):
        answer_key.build_key(executed([1.0]), "nb")


@pytest.mark.slow
def test_nbgrader_export_agrees_with_grades_csv(graded):
    """nbgrader's own ``nbgrader export``, run in the course folder, reads our gradebook."""
    course = graded["course"]
    ours = {
        (r["student_id"], r["assignment"]): r for r in csv.DictReader(open(course / "grades.csv"))
    }
    out = course.parent / "nbgrader_export.csv"
    nbgrader = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run(
        [str(nbgrader), "export", "--to", str(out)],
        capture_output=True,
        text=True,
        cwd=course,  # where formgrader and nbgrader find nbgrader_config.py
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(open(out))}
    assert set(theirs) == set(ours) == {(sid, "00_fixture") for sid in graded["expected"]}
    for k, row in theirs.items():
        assert float(row["score"]) == float(ours[k]["score"]), (k, row, ours[k])
        assert float(row["max_score"]) == float(ours[k]["max_score"]) == 12.0
        assert float(row["raw_score"]) == sum(graded["expected"][k[0]].values()), k
