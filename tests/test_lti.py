"""LTI 1.3: launches from an LMS into the hub, and grade passback to it.

The LMS is ``tests/lti_platform.py``, a real LTI 1.3 platform on 127.0.0.1 (its own keys,
JWKS, OIDC authorisation and token endpoints, AGS line items and scores). The passback tests
run ``python -m autograder export --format lti`` against it on a gradebook written through
nbgrader's API (fast) and after a real ``grade`` of the fixture assignment; the launch tests
start the real hub (``deploy/hub/jupyterhub_config.py`` with ``NNCOURSE_LTI``) and proxy and
launch students and an instructor from the platform in Chromium.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lti_platform import INSTRUCTOR, LEARNER, TA, Platform

from autograder.course import Course
from autograder.term import lti

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
    # the command the docs give for a rotation
    run = [sys.executable, "-m", "autograder.term.lti", "new-key", str(folder)]
    made = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert made.returncode == 0 and len(list(folder.glob("*.pem"))) == 3, made.stderr
    (new,) = {p.stem for p in folder.glob("*.pem")} - {"2026-01", "2026-06"}
    settings.key_id = ""
    assert lti.signing_key(settings)[0] == new  # named by the UTC time: sorts last, signs
    again = subprocess.run([*run, "--kid", "2026-06"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists already" in again.stderr


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


@pytest.mark.slow  # several `python -m autograder` runs
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

    # a score the LMS keeps rounded (7.333 -> 7.33) is not sent again and again
    gradebook(course, {"eve": ("lms-eve", 22 / 3, 0)})
    assert cli("export", "--format", "lti", "--course-dir", course.root).returncode == 0
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert "eve" in proc.stdout and "3 unchanged" in proc.stdout, proc.stdout
    assert len(platform.scores[(item["id"], "lms-eve")]) == 1

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


@pytest.mark.slow  # several `python -m autograder` runs
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


@pytest.mark.slow  # several `python -m autograder` runs
def test_passback_refuses_a_tool_key_the_platform_does_not_know(lms):
    course, platform = lms
    gradebook(course, {"ann": ("lms-ann", 7, 3)})
    (course.root / "lti_keys" / "k1.pem").unlink()
    lti.new_key(course.root / "lti_keys", "k2")  # not in the JWKS the platform holds
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 2
    assert "401" in proc.stdout + proc.stderr and "invalid_client" in proc.stdout + proc.stderr
    assert platform.scores == {}


@pytest.mark.slow  # several `python -m autograder` runs
def test_passback_needs_the_line_items_url(tmp_path):
    course = Course(tmp_path / "course").ensure()
    with Platform() as platform:
        write_settings(course.root, platform)
        gradebook(course, {"ann": ("lms-ann", 7, 3)})
        proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 2
    assert "no line items URL: launch the tool once from the LMS" in proc.stderr


# ---------------------------------------------------------------- launches into the real hub

sys.path.insert(0, str(REPO / "deploy" / "hub"))
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "autograder"))
AID = "00_fixture"
FIXTURES = REPO / "tests" / "fixtures" / "autograder" / "notebooks"
UI_TIMEOUT = 120_000  # ms


def load_hub_config(hub_settings, env: dict):
    """What ``jupyterhub -f deploy/hub/jupyterhub_config.py`` configures under ``env``."""
    import os

    import course_hub as ch
    from traitlets.config.loader import PyFileConfigLoader

    env = {"NNCOURSE_HUB": str(hub_settings.save()), **env}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(ch.HERE)).load_config()
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


def test_hub_config_switches_to_lti_when_asked(tmp_path):
    import course_hub as ch

    hub = ch.HubSettings(hub_dir=str(tmp_path), instructors=["teach"], students=["ann"],
                         password="pw", accounts=False)  # fmt: skip
    plain = load_hub_config(hub, {})
    assert plain.JupyterHub.authenticator_class == "dummy"
    with Platform() as platform:
        path = write_settings(tmp_path, platform, username_claim="custom_username")
    c = load_hub_config(hub, {"NNCOURSE_LTI": str(path),
                              "NNCOURSE_PUBLIC_URL": "https://hub.example.edu"})  # fmt: skip
    assert c.JupyterHub.authenticator_class.__name__ == "CourseLTIAuthenticator"
    assert c.LTI13Authenticator.issuer == platform.issuer
    assert c.LTI13Authenticator.client_id == {platform.client_id}
    assert c.LTI13Authenticator.jwks_endpoint == platform.jwks_url
    assert c.LTI13Authenticator.username_key == "custom_username"
    assert c.CourseLTIAuthenticator.deployment_ids == {platform.deployment_id}
    assert c.CourseLTIAuthenticator.course_dir == str(hub.course_dir)
    # the LMS says who may enter and who teaches: no fixed lists, groups from the launches
    assert c.Authenticator.allow_all and c.Authenticator.manage_groups
    assert c.JupyterHub.load_groups == {} and c.Authenticator.allowed_users == set()
    assert c.JupyterHub.tornado_settings["cookie_options"] == {"samesite": "None", "secure": True}
    assert c.JupyterHub.spawner_class.__name__ == "LTISpawner"
    # no key to publish, or real accounts: the hub refuses to start, saying why
    for pem in (tmp_path / "lti_keys").glob("*.pem"):
        pem.unlink()
    with pytest.raises(ValueError, match="no \\*.pem in"):
        load_hub_config(hub, {"NNCOURSE_LTI": str(path)})
    import lti_config

    with pytest.raises(ValueError, match="cannot be a local account.*set username_claim"):
        lti_config.ensure_account(hub, "0f8a5d2c-7b1e-4c8e-9f3a-2d6b1c0e9a77-too-long")
    with pytest.raises(ValueError, match="'root' is an account of this machine"):
        lti_config.ensure_account(hub, "root")  # never a server as a real account


RELEASE = """
import sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from autograder.__main__ import main

course, notebooks, exchange, aid = sys.argv[1:]
if main(["release", aid, "--notebooks", notebooks, "--course-dir", course]):
    sys.exit("autograder release failed")
config = Config()
config.CourseDirectory.root = course
config.CourseDirectory.course_id = "nncourse"
config.CourseDirectory.db_url = f"sqlite:///{course}/gradebook.db"
config.Exchange.root = exchange
api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
result = api.release_assignment(aid)
sys.exit(0 if result.get("success") else f"nbgrader release failed: {result}")
"""


def release_to_exchange(settings):
    """The fixture assignment, released as the course does (autograder, then nbgrader's
    release_assignment), as the grader account."""
    import course_hub as ch

    script = settings.root / "release_fixture.py"
    script.write_text(RELEASE)
    script.chmod(0o644)
    ch.run_as(settings, settings.grader, [str(ch.BIN / "python"), str(script),
              str(settings.course_dir), str(FIXTURES), str(settings.exchange), AID])  # fmt: skip


class LTIHub:
    def __init__(self, settings, platform, root):
        self.s, self.lms, self.root = settings, platform, root
        self.base = f"http://127.0.0.1:{settings.port}"
        self.login_url = f"{self.base}/hub/lti13/oauth_login"

    def launch_url(self, login, target="/", tamper=None):
        return self.lms.launch_url(login, self.login_url, self.base + target, tamper)

    def wait_for_url(self, page, pattern, timeout=2 * UI_TIMEOUT):
        """``page.wait_for_url``; on a timeout, says where the page is and what the hub
        logged last (a spawn on a loaded machine is the usual suspect)."""
        try:
            page.wait_for_url(pattern, timeout=timeout)
        except Exception as err:
            log = (self.root / "jupyterhub.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"{err}\npage at {page.url}\nhub log:\n{log}") from None

    def hub_users(self) -> set[str]:
        import sqlite3

        db = sqlite3.connect(f"file:{self.root / 'jupyterhub.sqlite'}?mode=ro", uri=True)
        try:
            return {name for (name,) in db.execute("select name from users")}
        finally:
            db.close()

    def http_form(self, login, **kw):
        """Follow a launch with an HTTP client that keeps cookies, up to the platform's
        auto-submitting form; returns (session, action, fields)."""
        import re

        import requests

        session = requests.Session()
        page = session.get(self.launch_url(login, **kw), timeout=30)
        assert page.status_code == 200, (page.status_code, page.text[:500])
        action = re.search(r'action="([^"]+)"', page.text).group(1)
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
        return session, action.replace("&amp;", "&"), fields


@pytest.fixture(scope="module")
def browser():
    from browser_support import chromium

    with chromium() as chromium_browser:  # skips, saying why, where Chromium cannot start
        yield chromium_browser


@pytest.fixture(scope="module")
def lti_hub():
    import os
    import secrets
    import shutil
    import tempfile

    import course_hub as ch
    from browser_support import free_port, stop_process, wait_for_http

    if shutil.which("node") is None or not ch.PROXY.exists():
        pytest.skip(f"configurable-http-proxy is not installed: npm ci --prefix {ch.HERE}")
    from support.hub_accounts import use_accounts as _use_accounts

    root = Path(tempfile.mkdtemp(prefix="nncourse-lti-", dir="/tmp"))
    root.chmod(0o755)
    accounts = _use_accounts()  # as root: every user a real local account, as test_hub
    settings = ch.HubSettings(
        hub_dir=str(root), instructors=[], students=[], password=secrets.token_urlsafe(12),
        accounts=accounts, grader=f"t{secrets.token_hex(3)}-grader", port=free_port(),
        hub_port=free_port(), proxy_api_port=free_port(), service_port=free_port(),
    )  # fmt: skip
    proc = log = platform = None
    base = f"http://127.0.0.1:{settings.port}"
    try:
        with Platform(tool_jwks=f"{base}/hub/lti13/jwks") as platform:
            ch.prepare(settings)
            release_to_exchange(settings)
            lti.new_key(settings.course_dir / "lti_keys", "k1")
            lti_json = write_settings(settings.course_dir, platform)
            env = dict(os.environ, NNCOURSE_HUB=str(settings.save()), NNCOURSE_LTI=str(lti_json))
            env["PATH"] = f"{ch.BIN}{os.pathsep}{env.get('PATH', '')}"
            log_path = root / "jupyterhub.log"
            log = open(log_path, "w")  # noqa: SIM115 (closed below)
            proc = subprocess.Popen(
                [str(ch.BIN / "jupyterhub"), "-f", str(ch.HERE / "jupyterhub_config.py")],
                cwd=str(root), env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            wait_for_http(f"{base}/hub/health", proc, log_path, timeout=120)
            wait_for_http(f"{base}/services/{ch.COURSE_ID}/", proc, log_path, timeout=180,
                          ok=(302, 200))  # fmt: skip
            yield LTIHub(settings, platform, root)
    finally:
        if proc is not None:
            stop_process(proc, timeout=60)  # the hub stops servers, service and proxy
        if log is not None:
            log.close()
        ch.stop_proxy(settings)
        if accounts:  # the accounts made for the grader and the launched users
            users = (platform.users if platform else {}).values()
            ch.end_accounts([settings.grader, *(u["sub"] for u in users)])
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.browser
def test_student_launch_reaches_own_server_and_the_roster(lti_hub, browser):
    ann = lti_hub.lms.add_user("ann", [LEARNER], given_name="Ann", family_name="Lee",
                               email="ann@example.edu")  # fmt: skip
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(lti_hub.launch_url("ann"), timeout=UI_TIMEOUT)
        # the hub starts the server (its own limit: 120 s), then JupyterLab loads
        lti_hub.wait_for_url(page, f"**/user/{ann['sub']}/lab**")
        # the Assignments tab lists the released assignment
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=UI_TIMEOUT)
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        item = page.locator("#released_assignments_list .list_item", has_text=AID)
        item.wait_for(timeout=UI_TIMEOUT)
        # a student: no formgrader
        r = page.request.get(f"{lti_hub.base}/services/nncourse/formgrader")
        assert r.status == 403, r.status
        if lti_hub.s.accounts:  # real accounts: made at the first spawn, the server runs as it
            import pwd

            entry = pwd.getpwnam(ann["sub"])
            home = lti_hub.s.home(ann["sub"])
            assert home.stat().st_uid == entry.pw_uid and home.stat().st_mode & 0o777 == 0o700
            runtime = home / ".local" / "share" / "jupyter" / "runtime"
            assert [p for p in runtime.iterdir() if p.stat().st_uid == entry.pw_uid]
    finally:
        ctx.close()
    with Course(lti_hub.s.course_dir).gradebook() as gb:
        student = gb.find_student(ann["sub"])
        assert (student.first_name, student.last_name, student.lms_user_id) == (
            "Ann", "Lee", ann["sub"])  # fmt: skip
    kept = json.loads((lti_hub.s.course_dir / lti.AGS_FILE).read_text())
    assert kept["lineitems"] == lti_hub.lms.lineitems_url


@pytest.mark.slow
@pytest.mark.browser
def test_instructor_launch_reaches_formgrader(lti_hub, browser):
    teach = lti_hub.lms.add_user("teach", [INSTRUCTOR], given_name="Tea")
    ta = lti_hub.lms.add_user("ta", [TA])
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(lti_hub.launch_url("teach"), timeout=UI_TIMEOUT)  # the tool's plain link
        lti_hub.wait_for_url(page, "**/services/nncourse/formgrader**")
        page.locator("tr", has_text=AID).first.wait_for(timeout=UI_TIMEOUT)
    finally:
        ctx.close()
    # a TA too (HTTP client this time); neither joins the gradebook's students
    session, action, fields = lti_hub.http_form("ta", target="/services/nncourse/formgrader")
    r = session.post(action, data=fields, timeout=120)
    assert r.status_code == 200 and "/services/nncourse/formgrader" in r.url, (r.status_code, r.url)
    with Course(lti_hub.s.course_dir).gradebook() as gb:
        ids = {s.id for s in gb.students}
    assert teach["sub"] not in ids and ta["sub"] not in ids


REFUSALS = {
    "bad signature": ({"key": "rogue"}, 400, "Signature verification failed"),
    "expired": ({"exp": -60, "iat": -400}, 400, "Signature has expired"),
    "wrong audience": ({"aud": "someone-else", "azp": "someone-else"}, 401, "wrong audience"),
    "unknown deployment": ({"deployment_id": "dep-9"}, 403, "unknown deployment 'dep-9'"),
    "no course role": ({lti.ROLES_CLAIM: [MEMBERSHIP_MENTOR]}, 400, "no course role"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_launches_are_refused_without_a_session(lti_hub, case):
    import time

    tamper, status, message = REFUSALS[case]
    tamper = {k: (int(time.time()) + v if k in ("exp", "iat") else v) for k, v in tamper.items()}
    login = f"eve-{case.replace(' ', '-')}"
    eve = lti_hub.lms.add_user(login, [LEARNER])
    session, action, fields = lti_hub.http_form(login, tamper=tamper)
    r = session.post(action, data=fields, timeout=60, allow_redirects=False)
    assert r.status_code == status, (r.status_code, r.text[-2000:])
    page = html.unescape(r.text)
    assert "LTI launch refused" in page and message in page, page[-2000:]
    assert not [c for c in session.cookies if c.name.startswith("jupyterhub-hub-login")]
    assert eve["sub"] not in lti_hub.hub_users()


@pytest.mark.slow
def test_replayed_launch_is_refused(lti_hub):
    import requests

    lti_hub.lms.add_user("bob", [LEARNER], given_name="Bob")
    session, action, fields = lti_hub.http_form("bob")
    cookies = requests.utils.dict_from_cookiejar(session.cookies)  # state and nonce cookies
    first = session.post(action, data=fields, timeout=120, allow_redirects=False)
    assert first.status_code == 302, (first.status_code, first.text[-2000:])
    # the same id_token again, even with the cookies of the first attempt
    thief = requests.Session()
    thief.cookies.update(cookies)
    again = thief.post(action, data=fields, timeout=60, allow_redirects=False)
    assert again.status_code == 400, (again.status_code, again.text[-2000:])
    assert "LTI launch refused: replayed launch" in again.text
    assert not [c for c in thief.cookies if c.name.startswith("jupyterhub-hub-login")]


@pytest.mark.slow
def test_passback_after_a_real_grade(lti_hub, tmp_path):
    """Launch two learners (the roster), grade their submissions with ``grade``, hand-grade
    one in the gradebook as formgrader does, then ``export --format lti`` to the platform;
    its client assertion is checked against the hub's own /hub/lti13/jwks."""
    import csv

    import nbformat
    import submissions as fixture_subs

    lms, course = lti_hub.lms, Course(lti_hub.s.course_dir)
    subs, sub_of = tmp_path / "subs", {}
    release = nbformat.read(course.root / "release" / AID / "fixture.ipynb", as_version=4)
    answers = {"cat": {}, "dan": {"sigmoid_sol": fixture_subs.WRONG_SIGMOID}}
    for login, wrong in answers.items():
        sub_of[login] = lms.add_user(login, [LEARNER], given_name=login.title())["sub"]
        session, action, fields = lti_hub.http_form(login)
        r = session.post(action, data=fields, timeout=60, allow_redirects=False)
        assert r.status_code == 302, (r.status_code, r.text[-1000:])
        folder = subs / sub_of[login] / AID
        folder.mkdir(parents=True)
        nb = fixture_subs.filled(release, **wrong)
        if login == "dan":  # a written answer: pending until hand-graded
            (cell,) = [c for c in nb.cells if fixture_subs._gid(c) == "q_written"]
            cell.source = "The gradient of the sigmoid vanishes for large |x|."
        nbformat.write(nb, folder / "fixture.ipynb")
    proc = cli("grade", AID, "--submissions", subs, "--course-dir", course.root, "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = proc.stdout + proc.stderr

    def hand_grade(login, points):  # formgrader's manual score of the written answer
        with course.gradebook() as gb:
            grade = gb.find_grade("q_written", "fixture", AID, sub_of[login])
            grade.manual_score, grade.needs_manual_grade = points, False
            gb.db.commit()

    def exported():
        assert cli("export", "--course-dir", course.root).returncode == 0
        with open(course.grades_csv) as fh:
            return {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)
                    if r["assignment"] == AID}  # fmt: skip

    def on_lms(login):
        return lms.scores_of(sub_of[login]).get(AID, {}).get("scoreGiven")

    hand_grade("cat", 2)
    lms.fail("/scores", 1)  # the LMS answers the first score 503: retried
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = exported()
    assert scores[sub_of["cat"]] == 12 and scores[sub_of["dan"]] == 6, graded  # 10+2; 4 lost
    assert on_lms("cat") == scores[sub_of["cat"]] and on_lms("dan") is None  # dan: pending
    cat_line = next(ln for ln in proc.stdout.splitlines() if sub_of["cat"] in ln)
    assert cat_line.split()[5] == "sent", proc.stdout
    retried = [ln for ln in proc.stdout.splitlines() if "retried after 503" in ln]
    assert len(retried) == 1 and " sent " in retried[0], proc.stdout  # the first score posted
    assert "held" in next(ln for ln in proc.stdout.splitlines() if sub_of["dan"] in ln)
    (item,) = [i for i in lms.lineitems.values() if i["resourceId"] == AID]
    assert item["scoreMaximum"] == 12

    # nothing changed: nothing sent; dan hand-graded and cat's grade revised: both go out
    before = sum(len(p) for p in lms.scores.values())
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0 and sum(len(p) for p in lms.scores.values()) == before
    hand_grade("dan", 1)
    hand_grade("cat", 0)
    proc = cli("export", "--format", "lti", "--course-dir", course.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = exported()
    assert on_lms("cat") == scores[sub_of["cat"]] == 10 and on_lms("dan") == scores[sub_of["dan"]]
    assert "updated" in next(ln for ln in proc.stdout.splitlines() if sub_of["cat"] in ln)
    assert len(lms.lineitems) == 1  # found again, never created twice


@pytest.mark.slow
def test_hub_publishes_the_tool_keys_and_the_canvas_configuration(lti_hub):
    import requests

    jwks = requests.get(f"{lti_hub.base}/hub/lti13/jwks", timeout=30).json()
    assert [k["kid"] for k in jwks["keys"]] == ["k1"] and "d" not in jwks["keys"][0]
    config = requests.get(f"{lti_hub.base}/hub/lti13/config", timeout=30).json()
    assert config["oidc_initiation_url"] == f"{lti_hub.base}/hub/lti13/oauth_login"
    assert config["target_link_uri"] == lti_hub.base
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
