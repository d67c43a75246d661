"""Due dates, extensions and late policies (autograder/term/calendar.py) on a real graded class.

One module fixture releases the fixture assignment with a due date, grades seven students
once with the real ``grade`` command (sandbox on), and then every policy is applied by editing
the assignment's ``autograder.json`` and running ``grade`` again, which re-scores from the
gradebook without executing a notebook. Submission times come from where a student cannot
set them: the exchange's ``timestamp.txt`` in nbgrader's collected layout, else the mtime the
collection gave the zip or the notebooks.
"""

from __future__ import annotations

import copy
import csv
import datetime
import json
import os
import re
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest
from support.grader import FIXTURES, cli, fixture_subs

from autograder.course import Course
from autograder.reporting.export import export
from autograder.reporting.feedback import write_feedback
from autograder.term import calendar, late_policy

AID = "00_fixture"
UTC = datetime.UTC
# 2026-11-30 23:59 in Berlin (CET, +01:00) is 22:59 UTC; in the past, as collection times are
DUE_TEXT = "2026-11-30 23:59 Europe/Berlin"
DUE = datetime.datetime(2026, 11, 30, 22, 59, tzinfo=UTC)
H, D = datetime.timedelta(hours=1), datetime.timedelta(days=1)
RAW = 10.0  # the filled fixture: every auto-graded point; the written answer is left as released
MAX = 12.0
GRACE = {"grace_minutes": 15}
# student -> (submitted, how it reaches grade, extension granted)
CLASS = {
    "on_time": (DUE - H, "folder", None),
    "grace": (DUE + datetime.timedelta(minutes=10), "folder", None),
    "late_1h": (DUE + H, "zip", None),
    "late_3d": (DUE + 3 * D, "exchange", None),
    "ext_3d": (DUE + 3 * D, "folder", {"days": 4}),  # granted before grading
    "ext_short": (DUE + H, "exchange", {"minutes": 30}),  # granted after grading
    "forged": (DUE + 3 * D, "zip", None),  # its zip and notebook claim an early time
}
POLICIES = {
    "none": {"penalty_method": "none"},
    "zero": {"penalty_method": "zero", **GRACE},
    "per_hour": {"penalty_method": "per_hour", "percent": 10, "cap_percent": 50, **GRACE},
    "per_day": {"penalty_method": "per_day", "percent": 20, **GRACE},
}
# final scores out of RAW under each policy (late by: grace 10 min, late_1h 1 h, late_3d 3 d,
# ext_short 30 min after its extension, forged 3 d; on_time and ext_3d on time)
FINAL = {
    "none": dict.fromkeys(CLASS, RAW),
    "zero": {**dict.fromkeys(CLASS, 0.0), "on_time": RAW, "grace": RAW, "ext_3d": RAW},
    "per_hour": {
        **dict.fromkeys(CLASS, RAW),
        "late_1h": 9.0,  # 1 started hour: 10 %
        "late_3d": 5.0,  # 72 hours, capped at 50 %
        "ext_short": 9.0,  # 30 min past the extended date: 1 started hour
        "forged": 5.0,
    },
    "per_day": {
        **dict.fromkeys(CLASS, RAW),
        "late_1h": 8.0,  # 1 started day: 20 %
        "late_3d": 4.0,  # exactly 3 days: 60 %
        "ext_short": 8.0,
        "forged": 4.0,
    },
}
LATE_SECONDS = {
    "on_time": 0,
    "grace": 600,
    "late_1h": 3600,
    "late_3d": 3 * 86400,
    "ext_3d": 0,
    "ext_short": 1800,
    "forged": 3 * 86400,
}

pytestmark = pytest.mark.slow


def _stamp(path, when):
    os.utime(path, (when.timestamp(), when.timestamp()))


def write_class(release, subs):
    """Each student's filled notebook, laid out as its ``CLASS`` entry says."""
    for sid, (when, how, _) in CLASS.items():
        nb = fixture_subs.filled(release)
        if sid == "forged":  # a time inside the notebook: never read
            nb.metadata["submitted_at"] = (DUE - D).isoformat()
            nb.metadata["timestamp"] = (DUE - D).isoformat()
        text = nbformat.writes(nb)
        if how == "zip":
            path = subs / f"{sid}.zip"
            with zipfile.ZipFile(path, "w") as zf:
                info = zipfile.ZipInfo(f"{AID}/fixture.ipynb", date_time=(2026, 11, 1, 0, 0, 0))
                zf.writestr(info, text)
                if sid == "forged":  # nbgrader's own file, forged: never trusted in a zip
                    zf.writestr(f"{AID}/timestamp.txt", "2026-11-29 12:00:00.000000 UTC")
            _stamp(path, when)
            continue
        folder = subs / sid / AID
        folder.mkdir(parents=True)
        (folder / "fixture.ipynb").write_text(text)
        if how == "exchange":  # nbgrader's collected layout: the exchange's time
            stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            (folder / "timestamp.txt").write_text(stamp)
            _stamp(folder / "fixture.ipynb", DUE - 10 * D)  # the mtime is not used then
        else:
            _stamp(folder / "fixture.ipynb", when)


def grade(course, subs):
    start = time.perf_counter()
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course.root, "--workers", "2")
    return proc, time.perf_counter() - start


def set_policy(course, policy):
    path = course.source / AID / "autograder.json"
    data = json.loads(path.read_text())
    data["late_policy"] = policy
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calendar")
    course = Course(tmp / "course")
    notebooks = FIXTURES / "notebooks"
    cli("release", AID, "--course-dir", course.root, "--notebooks", notebooks, "--due", DUE_TEXT)
    release = fixture_subs.load(course.release_dir / AID / "fixture.ipynb")
    subs = tmp / "subs"
    subs.mkdir()
    write_class(release, subs)
    calendar.extend(course, AID, "ext_3d", days=4)
    calendar.extend(course, AID, "absent", days=1)  # never submits
    set_policy(course, POLICIES["per_hour"])
    first, first_s = grade(course, subs)
    with course.gradebook() as gb:  # every student graded in full (else the log says why)
        raw = {s.student.id: s.score for s in gb.find_assignment(AID).submissions}
    assert raw == {**dict.fromkeys(CLASS, RAW), "absent": 0.0}, first.stdout + first.stderr
    executed = {p: p.stat().st_mtime_ns for p in course.autograded.glob(f"*/{AID}/*.ipynb")}
    # an extension granted after grading, and a due date moved and moved back: re-scored
    cli("extend", AID, "ext_short", "--minutes", "30", "--course-dir", course.root)
    calendar.set_due(course, AID, "2026-12-10 12:00 UTC")
    moved, _ = grade(course, subs)
    cli("due", AID, DUE_TEXT, "--course-dir", course.root)
    again, again_s = grade(course, subs)
    return {
        "course": course,
        "subs": subs,
        "first": first,
        "moved": moved,
        "again": again,
        "seconds": (first_s, again_s),
        "executed": executed,
    }


def regrade_under(graded, name):
    course = graded["course"]
    set_policy(course, POLICIES[name])
    grade(course, graded["subs"])  # re-scores only (asserted where it is measured, below)
    return course


def gradebook_finals(course):
    with course.gradebook() as gb:
        return {
            s.student.id: max(0.0, s.score - s.late_submission_penalty)
            for s in gb.find_assignment(AID).submissions
            if s.student.id in CLASS
        }


@pytest.mark.parametrize("name", list(POLICIES))
def test_each_policy_gives_exact_final_scores_everywhere(graded, name):
    course = regrade_under(graded, name)
    expected = FINAL[name]
    assert gradebook_finals(course) == expected
    rows = {r["student_id"]: r for r in csv.DictReader(open(course.grades_csv))}
    for sid, final in expected.items():
        r = rows[sid]
        assert (float(r["score"]), float(r["raw_score"])) == (final, RAW), (sid, r)
        assert float(r["late_submission_penalty"]) == RAW - final, (sid, r)
        assert float(r["seconds_late"]) == LATE_SECONDS[sid], (sid, r)
    # nbgrader's own export (formgrader's "export grades") reads the same penalty
    from nbgrader.plugins.export import CsvExportPlugin

    out = course.root / "nbgrader_export.csv"
    with course.gradebook() as gb:
        CsvExportPlugin(to=str(out)).export(gb)
    theirs = {r["student_id"]: r for r in csv.DictReader(open(out)) if r["student_id"] in CLASS}
    assert {sid: float(r["score"]) for sid, r in theirs.items()} == expected
    # both LMS files carry the final score
    export(course, "canvas")
    export(course, "moodle")
    canvas = list(csv.DictReader(open(course.root / "grades_canvas.csv")))[1:]  # Points Possible
    assert {r["SIS Login ID"]: float(r[AID]) for r in canvas if r["SIS Login ID"] in CLASS} == (
        expected
    )
    moodle = csv.DictReader(open(course.root / "grades_moodle.csv"))
    assert {r["Username"]: float(r[AID]) for r in moodle if r["Username"] in CLASS} == expected
    # the feedback page states the final score, and the penalty where there is one
    write_feedback(AID, course)
    for sid, final in expected.items():
        page = (course.feedback / sid / AID / "fixture.html").read_text()
        if final < RAW:
            assert f"Late penalty: {RAW - final:g} point" in page, sid
            assert f"Assignment score: {RAW:g} / {MAX:g}, {final:g} after the late penalty" in page
        else:
            assert f"Assignment score: {RAW:g} / {MAX:g}<" in page, sid
            assert ("Late penalty: 0 points" in page) == (LATE_SECONDS[sid] > 0), sid


def test_feedback_states_due_date_submission_time_and_extension(graded):
    course = regrade_under(graded, "per_hour")
    write_feedback(AID, course)
    page = (course.feedback / "ext_short" / AID / "fixture.html").read_text()
    assert "Due: 2026-12-01 00:29:00 CET (with an extension of 30 min)" in page
    assert "Submitted: 2026-12-01 00:59:00 CET (30 min late)" in page
    assert "Late policy: 10 % of the score per started hour late, at most 50 %" in page
    page = (course.feedback / "grace" / AID / "fixture.html").read_text()
    assert "Submitted: 2026-12-01 00:09:00 CET (10 min late, within the grace period)" in page
    page = (course.feedback / "on_time" / AID / "fixture.html").read_text()
    assert "Due: 2026-11-30 23:59:00 CET</li>" in page
    assert "Submitted: 2026-11-30 22:59:00 CET (on time)" in page


def test_submission_times_come_from_the_exchange_or_the_collection(graded):
    course = graded["course"]
    with course.gradebook() as gb:
        got = {s.student.id: s.timestamp for s in gb.find_assignment(AID).submissions}
    for sid, (when, _, _) in CLASS.items():
        assert got[sid] == when.replace(tzinfo=None), sid  # naive UTC, as nbgrader stores it
    markers = {
        sid: json.loads((course.autograded / sid / AID / ".autograder.json").read_text())
        for sid in CLASS
    }
    sources = {sid: m["summary"]["time_source"] for sid, m in markers.items()}
    assert sources == {
        sid: "exchange" if how == "exchange" else "collection" for sid, (_, how, _) in CLASS.items()
    }


def test_a_forged_timestamp_in_a_zip_or_notebook_changes_nothing(graded):
    course = graded["course"]
    # the zip's timestamp.txt was not kept: the one there is the grader's, the collection time
    stamp = (course.submitted / "forged" / AID / "timestamp.txt").read_text()
    assert stamp == (DUE + 3 * D).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    with course.gradebook() as gb:
        forged = gb.find_submission(AID, "forged")
        honest = gb.find_submission(AID, "late_3d")
        assert forged.timestamp == honest.timestamp == (DUE + 3 * D).replace(tzinfo=None)
        assert forged.total_seconds_late == honest.total_seconds_late == 3 * 86400
    for name in POLICIES:
        assert FINAL[name]["forged"] == FINAL[name]["late_3d"]


def test_changing_due_date_or_extension_rescores_without_running_notebooks(graded):
    course = graded["course"]
    # the re-runs after the extension and the two due date changes executed nothing
    for run in ("moved", "again"):
        log = graded[run].stdout + graded[run].stderr
        assert f"{len(CLASS)} submissions, {len(CLASS)} already graded" in log, log
    now = {p: p.stat().st_mtime_ns for p in course.autograded.glob(f"*/{AID}/*.ipynb")}
    assert now == graded["executed"] and len(now) == len(CLASS)
    # the moved due date (2026-12-10) made everyone on time: no penalty in that run
    assert "late:" not in graded["moved"].stdout
    assert "late: -1" in graded["again"].stdout  # late_1h and ext_short, back to 1 hour
    first_s, again_s = graded["seconds"]
    print(
        f"\ngrade, 7 students executed: {first_s:.1f} s; re-scored after a change: {again_s:.1f} s"
    )
    assert again_s < first_s


def test_a_new_exchange_time_for_the_same_notebooks_rescores_without_running(graded):
    course, subs = graded["course"], graded["subs"]
    stamp = subs / "late_3d" / AID / "timestamp.txt"
    original = stamp.read_text()

    def recorded():
        with course.gradebook() as gb:
            return gb.find_submission(AID, "late_3d").timestamp

    try:
        stamp.write_text((DUE + H).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        proc, _ = grade(course, subs)
        assert f"{len(CLASS)} already graded" in proc.stdout + proc.stderr
        assert recorded() == (DUE + H).replace(tzinfo=None)
    finally:
        stamp.write_text(original)
        grade(course, subs)
    assert recorded() == (DUE + 3 * D).replace(tzinfo=None)


def test_a_submission_graded_before_times_were_recorded_gets_its_collection_time(graded):
    course, subs = graded["course"], graded["subs"]
    with course.gradebook() as gb:
        gb.find_submission(AID, "late_1h").timestamp = None  # as grade left it until now
        gb.db.commit()
    proc, _ = grade(course, subs)
    assert f"{len(CLASS)} already graded" in proc.stdout + proc.stderr
    with course.gradebook() as gb:
        assert gb.find_submission(AID, "late_1h").timestamp == (DUE + H).replace(tzinfo=None)
    stamp = (course.submitted / "late_1h" / AID / "timestamp.txt").read_text()
    assert stamp == (DUE + H).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def test_an_extension_before_submitting_is_not_a_submission(graded):
    course = graded["course"]
    rows = {r["student_id"]: r for r in csv.DictReader(open(course.grades_csv))}
    assert rows["absent"]["submitted"] == "False" and float(rows["absent"]["score"]) == 0.0
    with course.gradebook() as gb:
        assert gb.find_submission(AID, "absent").extension == datetime.timedelta(days=1)
        assert gb.find_submission(AID, "ext_3d").extension == datetime.timedelta(days=4)


def test_report_lists_late_submissions_and_extensions(graded):
    course = regrade_under(graded, "per_hour")
    cli("report", AID, "--course-dir", course.root)
    page = (course.root / "reports" / f"{AID}.html").read_text()
    section = page.split("<h2>Late submissions and extensions</h2>")[1].split("<h2>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    cells = {
        re.findall(r"<td[^>]*>(.*?)</td>", r)[0]: re.findall(r"<td[^>]*>(.*?)</td>", r)
        for r in rows
    }
    assert set(cells) == {"grace", "late_1h", "late_3d", "ext_3d", "ext_short", "forged", "absent"}
    assert cells["late_3d"][4:] == ["3 d", "5"]
    assert cells["ext_3d"][3:] == ["4 d", "on time", "0"]
    assert cells["absent"][1] == "not yet"


def test_formgrader_shows_the_due_date_and_submission_times(graded):
    """formgrader's backend (nbgrader's NbGraderAPI) reads the same gradebook fields."""
    course = graded["course"]
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.db_url = course.db_url
    config.NbGraderAPI.timezone = calendar.display_zone(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.get_assignment(AID)["display_duedate"] == "2026-11-30 23:59:00 CET"
    assert api.get_submission(AID, "late_1h")["display_timestamp"] == "2026-12-01 00:59:00 CET"


def test_check_prints_the_due_date(graded):
    nb = graded["course"].release_dir / AID / "fixture.ipynb"
    proc = cli("check", nb, check=False)
    assert re.search(
        r"^due 2026-11-30 23:59:00 CET \(\d+ d( \d+ h)?( \d+ min)? ago\)$", proc.stdout, re.M
    )


def test_nbgraders_own_late_penalty_step_agrees(graded):
    """nbgrader's AssignLatePenalties with our plugin writes the penalty grade writes."""
    from nbgrader.preprocessors import AssignLatePenalties

    course = regrade_under(graded, "per_hour")
    before = gradebook_finals(course)
    with course.gradebook() as gb:
        gb.find_submission_notebook("fixture", AID, "late_3d").late_submission_penalty = None
        gb.db.commit()
    pp = AssignLatePenalties(plugin_class="autograder.term.late_policy.LatePolicy")
    resources = {
        "nbgrader": {"notebook": "fixture", "assignment": AID, "student": "late_3d"},
    }
    resources["nbgrader"]["db_url"] = course.db_url
    pp.preprocess(nbformat.v4.new_notebook(), copy.deepcopy(resources))
    assert gradebook_finals(course) == before and before["late_3d"] == 5.0


# ------------------------------------------------------------------ no kernels


def test_due_dates_need_a_zone_and_keep_it():
    assert calendar.parse_when(DUE_TEXT) == (DUE, "Europe/Berlin")
    assert calendar.parse_when("2026-07-01 12:00 Europe/Berlin")[0].hour == 10  # CEST
    assert calendar.parse_when("2026-11-30 22:59 UTC")[0] == DUE
    assert calendar.parse_when("2026-11-30T23:59 +01:00")[0] == DUE
    for bad, why in [
        ("2026-11-30 23:59", "must be 'YYYY-MM-DD HH:MM ZONE'"),
        ("2026-11-31 23:59 UTC", "must be"),
        ("tomorrow", "must be"),
        ("2026-11-30 23:59 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            calendar.parse_when(bad)


def test_policy_penalties_and_refusals():
    per_hour = late_policy.LatePolicy.from_dict(POLICIES["per_hour"])
    assert per_hour.penalty(10, 15 * 60) is None  # within the grace period
    assert per_hour.penalty(10, 15 * 60 + 1) == 1.0  # past it: counted from the due date
    assert per_hour.penalty(10, 3601) == 2.0 and per_hour.penalty(10, 10**6) == 5.0
    assert late_policy.LatePolicy.from_dict({"penalty_method": "zero"}).penalty(7, 1) == 7.0
    assert late_policy.LatePolicy.from_dict({}).penalty(7, 10**6) is None
    for bad, why in [
        ({"penalty_method": "half"}, "penalty_method must be one of none, zero"),
        ({"penalty_method": "per_day"}, "needs a percent > 0"),
        ({"penalty_method": "per_day", "percent": 150}, "percentage (0 to 100), received 150"),
        ({"penalty_method": "zero", "grace_minutes": -1}, "grace_minutes must be a number >= 0"),
        ({"method": "zero"}, "unknown key(s) ['method']"),
    ]:
        with pytest.raises(ValueError, match=re.escape(why)):
            late_policy.LatePolicy.from_dict(bad)


def test_a_collection_time_in_the_future_counts_as_now():
    now = DUE.timestamp()
    assert calendar.collection_time(now + 3600, now=now) == DUE.replace(tzinfo=None)
    assert calendar.collection_time(now - 60, now=now) == (
        DUE - datetime.timedelta(minutes=1)
    ).replace(tzinfo=None)


def test_extend_refuses_bad_input(tmp_path):
    course = Course(tmp_path / "course")
    with pytest.raises(
        ValueError, match=r"a student id is letters, digits and _.@-, received '../x'"
    ):
        calendar.extend(course, AID, "../x", days=1)
    with pytest.raises(ValueError, match=r"--days must be >= 0, received -1"):
        calendar.extend(course, AID, "ann", days=-1)
    with pytest.raises(ValueError, match=r"assignment '00_fixture' is not released"):
        calendar.extend(course, AID, "ann", days=1)


def test_durations_read_as_written():
    show = calendar.show_duration
    assert [show(3 * 86400), show(3600 + 300), show(1800), show(125), show(42), show(0)] == [
        "3 d",
        "1 h 5 min",
        "30 min",
        "2 min 5 s",
        "42 s",
        "0 s",
    ]
    assert show(86400 + 3600 + 7) == "1 d 1 h"  # seconds only below an hour


def test_the_students_self_check_does_not_import_nbgrader():
    """``check`` reads the due date from calendar; the late policy (nbgrader's plugin, a second
    to import) is imported only where a policy is applied."""
    code = "import sys, autograder.term.calendar; print('nbgrader' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
