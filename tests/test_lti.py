"""LTI 1.3: launches from an LMS into the hub, and grade passback to it.

The LMS is ``tests/lti_platform.py``, a real LTI 1.3 platform on 127.0.0.1 (its own keys,
JWKS, OIDC authorisation and token endpoints, AGS line items and scores). The passback tests
run ``python -m autograder export --format lti`` against it on a gradebook written through
nbgrader's API (fast) and after a real ``grade`` of the fixture assignment; the launch tests
start the real hub (``deploy/hub/jupyterhub_config.py`` with ``NNCOURSE_LTI``) and proxy and
launch students and an instructor from the platform in Chromium.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lti_platform import INSTRUCTOR, LEARNER, TA, Platform

from autograder import lti
from autograder.course import Course

REPO = Path(__file__).resolve().parents[1]
# nbgrader's Gradebook API warns on adding submissions (SQLAlchemy autoflush), harmlessly
pytestmark = pytest.mark.filterwarnings("ignore:.*not in session")


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


# ---------------------------------------------------------------- settings, keys, roles


def write_settings(folder: Path, platform: Platform, **extra) -> Path:
    path = folder / "lti.json"
    path.write_text(json.dumps(platform.settings(**extra)))
    if not (folder / "lti_keys").is_dir():
        lti.new_key(folder / "lti_keys", "k1")
    return path


def test_settings_refuse_bad_files_with_one_line(tmp_path):
    path = tmp_path / "lti.json"
    with pytest.raises(ValueError, match="not found"):
        lti.load_settings(path)
    good = {"issuer": "https://lms", "client_id": "c", "deployment_ids": ["d"],
            "authorize_url": "https://lms/a", "jwks_url": "https://lms/j",
            "token_url": "https://lms/t"}  # fmt: skip
    path.write_text(json.dumps({**good, "client_secret": "x"}))
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['client_secret'\]"):
        lti.load_settings(path)
    path.write_text(json.dumps({**good, "deployment_ids": "d"}))
    with pytest.raises(ValueError, match="deployment_ids must be a non-empty list"):
        lti.load_settings(path)
    path.write_text(json.dumps({**good, "token_url": "lms/t"}))
    with pytest.raises(ValueError, match="token_url must be an http"):
        lti.load_settings(path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "jwks_url"}))
    with pytest.raises(ValueError, match="jwks_url"):
        lti.load_settings(path)
    path.write_text(json.dumps(good))
    assert lti.load_settings(path).key_folder == tmp_path / "lti_keys"


def test_keys_rotate_newest_signs_and_all_are_published(tmp_path):
    folder = tmp_path / "keys"
    with pytest.raises(ValueError, match="no \\*.pem"):
        lti.load_keys(folder)
    lti.new_key(folder, "2026-01")
    lti.new_key(folder, "2026-06")
    assert (folder / "2026-01.pem").stat().st_mode & 0o777 == 0o600
    settings = lti.ToolSettings("https://l", "c", ["d"], "https://l/a", "https://l/j",
                                "https://l/t", keys=str(folder))  # fmt: skip
    assert lti.signing_key(settings)[0] == "2026-06"
    assert [k["kid"] for k in lti.jwks(folder)["keys"]] == ["2026-01", "2026-06"]
    assert all("d" not in k and k["kty"] == "RSA" for k in lti.jwks(folder)["keys"])  # public
    settings.key_id = "2026-01"
    assert lti.signing_key(settings)[0] == "2026-01"
    settings.key_id = "gone"
    with pytest.raises(ValueError, match="key_id 'gone' is not in"):
        lti.signing_key(settings)


def test_roles_map_to_instructors_and_students():
    assert lti.course_role([INSTRUCTOR]) == "instructor"
    assert lti.course_role([TA]) == "instructor"
    assert lti.course_role([LEARNER]) == "student"
    assert lti.course_role(["Learner"]) == "student"
    assert lti.course_role([LEARNER, INSTRUCTOR]) == "instructor"
    # an institution role is not a course role; a mentor neither teaches nor takes the course
    inst = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
    assert lti.course_role([inst]) is None
    assert lti.course_role([MEMBERSHIP_MENTOR]) is None
    assert lti.course_role(None) is None


MEMBERSHIP_MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"


def test_launch_fills_the_roster_and_keeps_the_ags_endpoint(tmp_path):
    course = Course(tmp_path / "course").ensure()
    claims = {
        "sub": "lms-42",
        "given_name": "Ann",
        "family_name": "Lee",
        "email": "ann@example.edu",
        lti.ROLES_CLAIM: [LEARNER],
        lti.AGS_CLAIM: {"lineitems": "https://lms/ctx/lineitems", "scope": lti.SCOPES},
    }
    lti.record_launch(course.root, claims, "ann")
    lti.record_launch(course.root, {**claims, "given_name": "Anne"}, "ann")  # updated, not twice
    staff = {"sub": "lms-1", lti.ROLES_CLAIM: [INSTRUCTOR]}
    lti.record_launch(course.root, staff, "teach")
    with course.gradebook() as gb:
        students = {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}
    assert students == {"ann": ("Anne", "Lee", "ann@example.edu", "lms-42")}
    kept = json.loads((course.root / lti.AGS_FILE).read_text())
    assert kept["lineitems"] == "https://lms/ctx/lineitems"


# ---------------------------------------------------------------- passback (gradebook via API)


def gradebook(course: Course, people: dict, aid="a1"):
    """``people``: student -> (lms id or None, auto score of 10, hand score of 5 or None =
    pending). Written through nbgrader's Gradebook API, as ``grade`` and formgrader do."""
    with course.gradebook() as gb:
        if aid not in {a.name for a in gb.assignments}:
            gb.add_assignment(aid)
            gb.add_notebook("nb", aid)
            gb.add_grade_cell("auto1", "nb", aid, max_score=10, cell_type="code")
            gb.add_grade_cell("hand1", "nb", aid, max_score=5, cell_type="markdown")
        for sid, (lms_id, auto, hand) in people.items():
            gb.update_or_create_student(sid, lms_user_id=lms_id)
            try:
                gb.find_submission(aid, sid)
            except Exception:
                gb.add_submission(aid, sid)
            grade = gb.find_grade("auto1", "nb", aid, sid)
            grade.auto_score, grade.needs_manual_grade = auto, False
            hand_grade = gb.find_grade("hand1", "nb", aid, sid)
            hand_grade.manual_score, hand_grade.needs_manual_grade = hand, hand is None
        gb.db.commit()


@pytest.fixture
def lms(tmp_path):
    course = Course(tmp_path / "course").ensure()
    keys = tmp_path / "course" / "lti_keys"
    lti.new_key(keys, "k1")
    with Platform(tool_jwks=lti.jwks(keys)) as platform:
        write_settings(course.root, platform, lineitems=platform.lineitems_url)
        yield course, platform


def grades_csv(course) -> dict:
    import csv

    assert cli("export", "--course-dir", course.root).returncode == 0
    with open(course.grades_csv) as fh:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(fh)}


def test_passback_sends_exported_scores_once_then_only_changes(lms):
    course, platform = lms
    gradebook(course, {"ann": ("lms-ann", 7, 3), "bob": ("lms-bob", 4, 5),
                       "cy": ("lms-cy", 9, None), "dee": (None, 2, 1)})  # fmt: skip
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = proc.stdout
    exported = grades_csv(course)
    # the platform holds exactly the exported scores of those it can name, out of 15
    (item,) = platform.lineitems.values()
    assert item["resourceId"] == "a1" and item["scoreMaximum"] == 15
    assert platform.scores_of("lms-ann")["a1"]["scoreGiven"] == exported[("ann", "a1")] == 10
    assert platform.scores_of("lms-bob")["a1"]["scoreGiven"] == exported[("bob", "a1")] == 9
    assert platform.scores_of("lms-bob")["a1"]["scoreMaximum"] == 15
    # cy's hand grading is pending: held back; dee never launched from the LMS: no id
    assert platform.scores_of("lms-cy") == {}
    assert sum(len(p) for p in platform.scores.values()) == 2
    assert "hand grading pending" in report and "no lms_user_id" in report
    assert "2 sent" in report and (course.root / lti.REPORT_FILE).read_text() in report

    # a second run posts nothing and creates no second line item
    posts = len(platform.requests)
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stderr
    assert "2 unchanged" in proc.stdout and "sent" not in proc.stdout.replace("not sent", "")
    assert not [r for r in platform.requests[posts:] if r[0] in ("POST", "PUT")
                and r[1] != "/token"]  # fmt: skip
    assert len(platform.lineitems) == 1

    # a changed score (a hand grade revised) is updated, the others left alone
    gradebook(course, {"bob": ("lms-bob", 4, 1)})
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stderr
    assert platform.scores_of("lms-bob")["a1"]["scoreGiven"] == 5
    assert len(platform.scores[(item["id"], "lms-ann")]) == 1
    line = next(ln for ln in proc.stdout.splitlines() if " bob " in ln)
    assert "updated" in line and "was 9" in line, proc.stdout

    # pending scores go out only when asked for
    proc = cli("export", "--format", "lti", "--include-pending", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stderr
    assert platform.scores_of("lms-cy")["a1"]["scoreGiven"] == 9


def test_passback_retries_a_503_and_reports_what_failed(lms):
    course, platform = lms
    gradebook(course, {"ann": ("lms-ann", 7, 3), "bob": ("lms-bob", 4, 5)})
    settings = lti.load_settings(course.root / "lti.json")
    platform.fail("/scores", 1)  # the first score post answers 503 once
    client = lti.AGSClient(settings, retries=2, backoff=0.05)
    sent = lti.passback(course, settings, client=client)
    assert [s.status for s in sent] == ["sent", "sent"]
    assert "retried after 503" in sent[0].detail and sent[1].detail == ""
    assert platform.scores_of("lms-ann")["a1"]["scoreGiven"] == 10

    # the platform stays down: every try answered 503, reported, the rest still sent
    gradebook(course, {"ann": ("lms-ann", 1, 1), "bob": ("lms-bob", 2, 2)})
    platform.fail("/scores", 3)
    sent = lti.passback(course, settings, client=lti.AGSClient(settings, retries=2, backoff=0.01))
    assert [s.status for s in sent] == ["failed", "updated"]
    assert "503" in sent[0].detail and "after 3 tries" in sent[0].detail
    assert platform.scores_of("lms-ann")["a1"]["scoreGiven"] == 10  # unchanged on the LMS
    assert platform.scores_of("lms-bob")["a1"]["scoreGiven"] == 4
    # the command line: the report, then one line saying what to do, exit status 2
    platform.fail("/scores", 99)
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 2
    assert "ann" in proc.stdout and "failed" in proc.stdout
    assert "did not reach the LMS" in proc.stderr and "run `export --format lti` again" in (
        proc.stderr
    )
    # the LMS back up: the re-run sends what is missing
    platform.fail("/scores", 0)
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stderr
    assert platform.scores_of("lms-ann")["a1"]["scoreGiven"] == 2


def test_passback_refuses_a_tool_key_the_platform_does_not_know(lms):
    course, platform = lms
    gradebook(course, {"ann": ("lms-ann", 7, 3)})
    (course.root / "lti_keys" / "k1.pem").unlink()
    lti.new_key(course.root / "lti_keys", "k2")  # not in the JWKS the platform holds
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 2
    assert "401" in proc.stdout + proc.stderr and "invalid_client" in proc.stdout + proc.stderr
    assert platform.scores == {}


def test_passback_needs_the_line_items_url(tmp_path):
    course = Course(tmp_path / "course").ensure()
    with Platform() as platform:
        write_settings(course.root, platform)
        gradebook(course, {"ann": ("lms-ann", 7, 3)})
        proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 2
    assert "no line items URL: launch the tool once from the LMS" in proc.stderr
