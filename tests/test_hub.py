"""The course on a real JupyterHub: fetch, submit, collect, grade, feedback, in Chromium.

One hub for the module (``deploy/hub/jupyterhub_config.py``, the real ``jupyterhub`` and
``configurable-http-proxy``), on 127.0.0.1 with free ports, an instructor and two students
with random names. As root every user is a real local account (``useradd``; removed at
the end), so the single-user servers run as their user and the OS keeps students apart;
otherwise (or with NNCOURSE_HUB_ONE_ACCOUNT=1) every user runs under this account and the
OS-isolation test skips.

The loop, as people do it: student 1 logs in, opens the Assignments tab, fetches
01_perceptron, fills the first solution cell, validates and submits from the tab; student 2
submits the untouched notebook; student 2 cannot reach student 1's server, files or
submission, and no student reaches formgrader; the instructor collects in formgrader
(whose own Autograde and Generate feedback refuse, saying what to run instead), the grader
account runs ``python -m autograder grade`` on nbgrader's collected folder, both scores
show in formgrader, feedback is released from formgrader; student 1 fetches it and
the page shows their tests without a line of the hidden tests.

Skips, with the reason, only where Chromium, Node.js or the npm proxy are missing.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from browser_support import accept_kernel_dialog, chromium, free_port, stop_process, wait_for_http
from support.hub_accounts import use_accounts as _use_accounts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "hub"))
import course_hub as ch  # noqa: E402

AID = "01_perceptron"
SOURCE = REPO / "notebooks" / AID / f"{AID}.ipynb"
UI_TIMEOUT = 120_000  # ms; a loaded 2-core machine starts a JupyterLab in 10-30 s

# kernel execution through the user's own server (their browser session, the hub's proxy)
RUN_IN_KERNEL = """
async ([prefix, code]) => {
  const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "");
  const headers = {"X-XSRFToken": xsrf, "Content-Type": "application/json"};
  const made = await fetch(prefix + "api/kernels", {method: "POST", headers, body: "{}"});
  const kernel = await made.json();
  const channels = "api/kernels/" + kernel.id + "/channels";
  const ws = new WebSocket(prefix.replace(/^http/, "ws") + channels);
  const msgId = "run-" + Math.random();
  const out = [];
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer: " + out.join(""))), 90000);
      ws.onerror = () => reject(new Error("websocket error"));
      ws.onopen = () => ws.send(JSON.stringify({
        header: {msg_id: msgId, msg_type: "execute_request", username: "", session: msgId,
                 version: "5.3"},
        parent_header: {}, metadata: {}, channel: "shell", buffers: [],
        content: {code, silent: false, store_history: false, user_expressions: {},
                  allow_stdin: false, stop_on_error: true},
      }));
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.parent_header.msg_id !== msgId) return;
        if (m.msg_type === "stream") out.push(m.content.text);
        if (m.msg_type === "error") out.push(m.content.ename + ": " + m.content.evalue);
        if (m.msg_type === "status" && m.content.execution_state === "idle") {
          clearTimeout(timer); resolve();
        }
      };
    });
  } finally {
    ws.close();
    await fetch(prefix + "api/kernels/" + kernel.id, {method: "DELETE", headers});
  }
  return out.join("");
}
"""


def first_exercise():
    """(index, filled-in source, points) of the first solution cell and the grade cell after it."""
    cells = json.loads(SOURCE.read_text())["cells"]
    for i, cell in enumerate(cells):
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("solution") and not meta.get("grade"):
            src = "".join(cell["source"])
            filled = "\n".join(
                line
                for line in src.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            )
            grade = next(
                c["metadata"]["nbgrader"]
                for c in cells[i + 1 :]
                if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"
            )
            return i, filled, float(grade["points"]), grade["grade_id"]
    raise AssertionError(f"{SOURCE} has no solution cell")


def hidden_test_lines() -> list[str]:
    """Every non-trivial line between BEGIN/END HIDDEN TESTS in the source notebook."""
    lines = []
    for cell in json.loads(SOURCE.read_text())["cells"]:
        for block in re.findall(
            r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", "".join(cell["source"]), re.S
        ):
            lines += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 12]
    assert lines, "the assignment has hidden tests"
    return lines


class Hub:
    """The running hub, one logged-in browser page per user (created on first use)."""

    def __init__(self, settings: ch.HubSettings, browser, proc):
        self.s = settings
        self.browser = browser
        self.proc = proc
        self.base = f"http://127.0.0.1:{settings.port}"
        self.pages = {}

    def page(self, name):
        if name not in self.pages:
            ctx = self.browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.goto(f"{self.base}/hub/login", timeout=UI_TIMEOUT)
            page.fill("#username_input", name)
            page.fill("#password_input", self.s.password)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{name}/lab**", timeout=UI_TIMEOUT)
            self.pages[name] = page
        return self.pages[name]

    def assignments_tab(self, name):
        page = self.page(name)
        if not page.url.endswith("/lab") and "/lab?" not in page.url:
            page.goto(f"{self.base}/user/{name}/lab", timeout=UI_TIMEOUT)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=UI_TIMEOUT)
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        page.wait_for_selector("#released_assignments_list", timeout=UI_TIMEOUT)
        return page

    def fetch(self, name):
        page = self.assignments_tab(name)
        page.locator("#released_assignments_list .list_item", has_text=AID).locator(
            "button", has_text="Fetch"
        ).click(timeout=UI_TIMEOUT)
        item = page.locator("#fetched_assignments_list .list_item", has_text=AID).first
        item.wait_for(timeout=UI_TIMEOUT)
        return page, item

    def submit(self, page, item):
        item.locator("button", has_text="Submit").click()
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=AID).first
        submitted.wait_for(timeout=UI_TIMEOUT)
        return submitted

    def run_in_kernel(self, name, code) -> str:
        return self.page(name).evaluate(RUN_IN_KERNEL, [f"{self.base}/user/{name}/", code])

    def as_grader(self, argv, timeout=600):
        return ch.run_as(self.s, self.s.grader, argv, cwd=self.s.course_dir, timeout=timeout)


def _skip_reasons():
    if shutil.which("node") is None:
        return "Node.js is missing (apt-get install nodejs npm): configurable-http-proxy needs it"
    if not ch.PROXY.exists():
        return f"configurable-http-proxy is not installed: npm ci --prefix {ch.HERE}"
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def hub():
    why = _skip_reasons()
    if why:
        pytest.skip(why)
    with chromium() as browser:
        accounts = _use_accounts()
        tag = "t" + secrets.token_hex(3)
        root = Path(tempfile.mkdtemp(prefix="nncourse-hub-", dir="/tmp"))
        settings = ch.HubSettings(
            hub_dir=str(root),
            instructors=[f"{tag}-teach"],
            students=[f"{tag}-s1", f"{tag}-s2"],
            password=secrets.token_urlsafe(12),
            accounts=accounts,
            grader=f"{tag}-grader",
            port=free_port(),
            hub_port=free_port(),
            proxy_api_port=free_port(),
            service_port=free_port(),
        )
        names = [settings.grader, *settings.users]
        proc = log = None
        try:
            ch.prepare(settings)
            ch.release(settings, [AID])
            env = dict(os.environ, NNCOURSE_HUB=str(settings.save()))
            env["PATH"] = f"{ch.BIN}{os.pathsep}{env.get('PATH', '')}"
            log_path = root / "jupyterhub.log"
            log = open(log_path, "w")  # noqa: SIM115 (closed below)
            proc = subprocess.Popen(
                [str(ch.BIN / "jupyterhub"), "-f", str(ch.HERE / "jupyterhub_config.py")],
                cwd=str(root),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            base = f"http://127.0.0.1:{settings.port}"
            wait_for_http(f"{base}/hub/health", proc, log_path, timeout=120)
            # the course service (formgrader) answers through the proxy once it is up
            wait_for_http(
                f"{base}/services/{ch.COURSE_ID}/", proc, log_path, timeout=180, ok=(302, 200)
            )
            yield Hub(settings, browser, proc)
        finally:
            if proc is not None:
                stop_process(proc, timeout=60)  # the hub stops servers, service and proxy
            if log is not None:
                log.close()
            ch.stop_proxy(settings)  # only if it outlived a crashed hub
            if accounts:
                ch.end_accounts(names)  # only this test's accounts and their processes
            shutil.rmtree(root, ignore_errors=True)


def test_student_fetches_fills_validates_and_submits(hub):
    s1 = hub.s.students[0]
    index, filled, _, grade_id = first_exercise()
    # a student lands on the page that points to the Assignments tab
    landing = hub.page(s1)
    assert landing.url.split("?")[0].endswith(f"/user/{s1}/lab/tree/{ch.WELCOME}"), landing.url
    welcome = landing.locator(".jp-RenderedMarkdown", has_text="Assignments tab").first
    welcome.wait_for(timeout=UI_TIMEOUT)
    assert "Nbgrader > Assignment List" in welcome.inner_text()
    page, item = hub.fetch(s1)
    # the file browser shows the fetched folder by itself (it polls every 10 s)
    page.locator(".jp-FileBrowser .jp-DirListing-item", has_text=AID).first.wait_for(timeout=30_000)
    # fill the first solution cell in the notebook, in JupyterLab, and save
    page.goto(f"{hub.base}/user/{s1}/lab/tree/{AID}/{AID}.ipynb", timeout=UI_TIMEOUT)
    editor = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)
    editor = editor.locator(".cm-content")
    editor.wait_for(timeout=UI_TIMEOUT)
    assert "YOUR CODE HERE" in editor.inner_text()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(filled)
    page.keyboard.press("Control+S")
    deadline, pressed = time.monotonic() + 120, time.monotonic()
    while True:  # saved: the server's copy (contents API, as the student) has the solution
        # jupyter_server saves in place (backup, truncate, write, fsync): a read inside a save
        # gets 400 "Unreadable Notebook" (or puts the backup back), so read only once the tab
        # is clean (JupyterLab marks it dirty until the save has returned); a late autosave
        # can still overlap, and only that 400 is read again
        if page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0:
            r = page.request.get(f"{hub.base}/user/{s1}/api/contents/{AID}/{AID}.ipynb")
            if r.status == 200:
                saved = "".join(r.json()["content"]["cells"][index]["source"])
                if "YOUR CODE HERE" not in saved:
                    break
            else:
                assert r.status == 400 and "Unreadable Notebook" in r.text(), (r.status, r.text())
        assert time.monotonic() < deadline, "the notebook was not saved"
        if time.monotonic() - pressed > 10:  # a loaded machine: a kernel dialog may block it
            accept_kernel_dialog(page, wait_ms=500)
            editor.click()
            page.keyboard.press("Control+S")
            pressed = time.monotonic()
        page.wait_for_timeout(500)
    assert saved.strip() == filled.strip()

    page = hub.assignments_tab(s1)
    item = page.locator("#fetched_assignments_list .list_item", has_text=AID).first
    item.locator("a.assignment-notebooks-link").click()
    item.locator("button", has_text="Validate").click(timeout=UI_TIMEOUT)
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=UI_TIMEOUT)
    report = dialog.inner_text()
    # the filled exercise passes; the run stops at the next, unfilled one
    assert "Validation Results" in report and "failed" in report, report
    assert f'Check("{grade_id}")' not in report, report
    dialog.locator("button").last.click()
    submitted = hub.submit(page, item)
    assert "Fetch Feedback" in submitted.inner_text()


def test_second_student_submits_untouched(hub):
    page, item = hub.fetch(hub.s.students[1])
    hub.submit(page, item)
    inbound = hub.s.exchange / ch.COURSE_ID / "inbound"
    owners = sorted(p.name.split("+")[0] for p in inbound.iterdir())
    assert owners == sorted(hub.s.students), owners


def test_students_cannot_reach_each_other_or_formgrader(hub):
    s1, s2 = hub.s.students
    # both servers run (logging in starts one), whatever ran before this test: the refusal
    # must come from s1's own server, not from a hub that finds no server to route to (404)
    hub.page(s1)
    page = hub.page(s2)
    # another student's server (files, submission copies) is refused
    for path in (f"api/contents/{AID}", f"api/contents/{AID}/{AID}.ipynb", "lab"):
        r = page.request.get(f"{hub.base}/user/{s1}/{path}")
        assert r.status == 403, (path, r.status, r.url)
    assert page.request.get(f"{hub.base}/user/{s2}/api/contents").status == 200
    # formgrader: the course service refuses students; their own servers do not load it
    for name in (s1, s2):
        p = hub.page(name)
        r = p.request.get(f"{hub.base}/services/{ch.COURSE_ID}/formgrader")
        assert r.status == 403, (name, r.status, r.url)
        assert p.request.get(f"{hub.base}/user/{name}/formgrader").status == 404


def test_students_isolated_by_the_os(hub):
    if not hub.s.accounts:
        pytest.skip(
            "one-account mode (not root, no useradd, or NNCOURSE_HUB_ONE_ACCOUNT=1): every "
            "user runs under one account, so the operating system cannot keep students apart"
        )
    s1, s2 = hub.s.students
    inbound = hub.s.exchange / ch.COURSE_ID / "inbound"
    (mine,) = [p for p in inbound.iterdir() if p.name.startswith(f"{s1}+")]
    targets = {
        "home": hub.s.home(s1),
        "notebook": hub.s.home(s1) / AID / f"{AID}.ipynb",
        "inbound": inbound,
        "course": hub.s.course_dir,
        "gradebook": hub.s.course_dir / "gradebook.db",
    }
    code = (
        "import os\n"
        f"for label, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():\n"
        "    try:\n"
        "        open(path).close() if os.path.isfile(path) else os.listdir(path)\n"
        "        print(label, 'READABLE')\n"
        "    except PermissionError:\n"
        "        print(label, 'DENIED')\n"
        "print('uid', os.getuid())\n"
    )
    out = hub.run_in_kernel(s2, code)
    import pwd

    assert f"uid {pwd.getpwnam(s2).pw_uid}" in out, out
    for label in targets:
        assert f"{label} DENIED" in out, out
    # nbgrader hides a submission by a random suffix in a folder students cannot list
    assert "+" in mine.name and len(mine.name.rsplit("+", 1)[1]) >= 8


def test_instructor_collects_grades_and_releases_feedback(hub):
    _, _, points, _ = first_exercise()
    s1, s2 = hub.s.students
    page = hub.page(hub.s.instructors[0])
    page.goto(f"{hub.base}/services/{ch.COURSE_ID}/formgrader", timeout=UI_TIMEOUT)
    row = page.locator("tr", has_text=AID)
    row.locator("td.collect a").click(timeout=UI_TIMEOUT)
    page.wait_for_selector("#success-modal", timeout=UI_TIMEOUT)
    assert "Successfully collected" in page.locator("#success-modal").inner_text()
    submitted = hub.s.course_dir / "submitted"
    # formgrader's own Autograde (no sandbox, no answer key) is switched off, with a message
    manage = f"{hub.base}/services/{ch.COURSE_ID}/formgrader/manage_submissions/{AID}"
    page.goto(manage, timeout=UI_TIMEOUT)
    page.locator("tr", has_text=s2).locator("td.autograde a").click(timeout=UI_TIMEOUT)
    page.wait_for_selector("#error-modal", timeout=UI_TIMEOUT)
    assert "python -m autograder grade" in page.locator("#error-modal").inner_text()

    # grading reads nbgrader's collected layout as it is (timestamps kept)
    result = hub.as_grader(
        [str(ch.BIN / "python"), "-m", "autograder", "grade", AID,
         "--submissions", str(submitted), "--course-dir", str(hub.s.course_dir),
         "--workers", "2"],
    )  # fmt: skip
    assert re.search(rf"{s1}\s+{points:g} / ", result.stdout), result.stdout
    assert re.search(rf"{s2}\s+0 / ", result.stdout), result.stdout
    db = sqlite3.connect(f"file:{hub.s.course_dir / 'gradebook.db'}?mode=ro", uri=True)
    with db:
        rows = dict(
            db.execute(
                "SELECT student.id, submitted_assignment.timestamp FROM submitted_assignment"
                " JOIN student ON student.id = submitted_assignment.student_id"
            ).fetchall()
        )
    db.close()
    for sid in (s1, s2):
        stamp = (submitted / sid / AID / "timestamp.txt").read_text().strip()
        assert rows[sid] and rows[sid].startswith(stamp[:19]), (sid, rows[sid], stamp)

    # both scores in formgrader
    page.goto(manage, timeout=UI_TIMEOUT)
    page.wait_for_selector("td.score", timeout=UI_TIMEOUT)
    scores = {}
    for _ in range(60):
        scores = {
            r.locator("td.student-id").inner_text(): r.locator("td.score").inner_text()
            for r in page.locator("tbody tr").all()
            if r.locator("td.score").count()
        }
        if len(scores) == 2 and all("/" in v for v in scores.values()):
            break
        page.wait_for_timeout(500)
    assert scores[s1].startswith(f"{points:g} / "), scores
    assert scores[s2].startswith("0 / "), scores
    # nbgrader's Generate feedback would render the autograded notebook, hidden tests and all
    page.locator("tr", has_text=s2).locator("td.generate-feedback a").click(timeout=UI_TIMEOUT)
    page.wait_for_selector("#error-modal", timeout=UI_TIMEOUT)
    assert "course_hub.py feedback" in page.locator("#error-modal").inner_text()

    # feedback: autograder's pages (no hidden tests), released through nbgrader
    out = hub.as_grader([str(ch.BIN / "python"), str(ch.HERE / "course_hub.py"), "feedback", AID])
    assert "2 feedback folder(s) ready" in out.stdout, out.stdout + out.stderr
    assert "math left as TeX" not in out.stderr, out.stderr  # the hub's MathJax, no npm
    page.goto(f"{hub.base}/services/{ch.COURSE_ID}/formgrader", timeout=UI_TIMEOUT)
    page.locator("tr", has_text=AID).locator("td.release-feedback a").click(timeout=UI_TIMEOUT)
    page.wait_for_selector("#success-modal", timeout=UI_TIMEOUT)
    log = page.locator("#success-modal").inner_text()
    assert "Successfully released feedback" in log, log
    assert s1 in log and s2 in log, log


def test_student_fetches_feedback_without_hidden_tests(hub):
    _, _, points, grade_id = first_exercise()
    s1 = hub.s.students[0]
    page = hub.assignments_tab(s1)
    item = page.locator("#submitted_assignments_list .list_item", has_text=AID).first
    item.locator("button", has_text="Fetch Feedback").click(timeout=UI_TIMEOUT)
    item.locator("a", has_text="view feedback").wait_for(timeout=UI_TIMEOUT)
    listing = page.request.get(f"{hub.base}/user/{s1}/api/contents/{AID}/feedback").json()
    (stamp,) = [entry["name"] for entry in listing["content"]]
    view = page.context.new_page()
    view.goto(f"{hub.base}/user/{s1}/files/{AID}/feedback/{stamp}/{AID}.html", timeout=UI_TIMEOUT)
    text = view.locator("body").inner_text()
    typeset = view.locator("mjx-container svg").count()
    view.close()
    assert typeset > 0  # the formulas are SVG in the page (typeset when it was made)
    assert s1 in text
    assert re.search(rf"{grade_id}\s+{points:g} / {points:g}\s+passed", text), text[:2000]
    assert "not attempted" in text  # the exercises left unfilled
    leaked = [line for line in hidden_test_lines() if line in text]
    assert leaked == [], leaked


# ------------------------------------------------------------------ make hub's own accounts


def _login(base, name, password) -> bool:
    """Log in through the hub's form; True when the hub accepted the password."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    opener.open(f"{base}/hub/login", timeout=30).read()
    xsrf = next(c.value for c in jar if c.name == "_xsrf")
    form = urllib.parse.urlencode({"username": name, "password": password, "_xsrf": xsrf})
    try:
        opener.open(f"{base}/hub/login?next=", data=form.encode(), timeout=60)
    except urllib.error.HTTPError as err:
        return err.code == 302 and "/hub/login" not in err.headers.get("Location", "")
    return False  # 200: the login form again, with an error


def test_make_hub_accounts_are_random_and_gone_after_ctrl_c(tmp_path):
    """``make hub HUB_ACCOUNTS=1`` as root: every user a real account with its own random
    password, shown once; Ctrl-C stops the hub cleanly and in time, and no account, home,
    exchange entry or process of the demo remains."""
    import pwd

    from support.process import read_until

    why = _skip_reasons()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("real accounts need root and useradd")
    if ch.hidden_ancestors(ch.needed_paths()) and shutil.which("bwrap") is None:
        pytest.skip("the Python environment is hidden from other accounts and bwrap is missing")
    demo = importlib.import_module("demo")
    names = [ch.HubSettings("x", [], [], "", False).grader, demo.INSTRUCTOR, *demo.STUDENTS]
    existing = [n for n in names if n in {e.pw_name for e in pwd.getpwall()}]
    if existing:
        pytest.skip(f"accounts {existing} exist on this machine already")
    # under /tmp itself: pytest's own temporary folders are closed to other accounts
    hub_dir, port = Path(tempfile.mkdtemp(prefix="nncourse-demo-", dir="/tmp")) / "hub", free_port()
    hub_dir.parent.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    cmd = [sys.executable, str(ch.HERE / "demo.py"), "--accounts", "--port", str(port),
           "--hub-dir", str(hub_dir), "--assignments", AID]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    uids = set()
    try:
        out = read_until(proc, lambda text: "Ctrl-C stops the hub" in text, timeout=400)
        passwords = dict(re.findall(r"^\s+(?:instructor|student)\s+(\S+)\s+password (\S+)$",
                                    out, re.M))  # fmt: skip
        assert sorted(passwords) == sorted([demo.INSTRUCTOR, *demo.STUDENTS]), out
        assert len(set(passwords.values())) == len(passwords), out  # one per account
        assert all(len(p) >= 12 for p in passwords.values()), out
        uids = {pwd.getpwnam(n).pw_uid for n in names}
        assert all(pwd.getpwnam(n).pw_shell == "/usr/sbin/nologin" for n in names)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/hub/health", proc, tmp_path / "none.log", timeout=120)
        student = demo.STUDENTS[0]
        assert _login(base, student, passwords[student])
        assert not _login(base, student, passwords[demo.STUDENTS[1]])
        assert (ch.HubSettings.load(hub_dir / "hub.json").exchange / ch.COURSE_ID).is_dir()
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal of `make hub`
        rest = read_until(proc, lambda text: "removed" in text, timeout=120)
        assert proc.wait(timeout=30) == 0, out + rest
        stopped = time.monotonic() - started
    finally:
        if proc.poll() is None:  # the test failed half-way: the demo cleans up on SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                ch.end_accounts(names)  # only accounts the demo made (marked)
    assert "Traceback" not in rest and "AttributeError" not in rest, rest
    assert stopped < 30, f"Ctrl-C took {stopped:.0f} s:\n{rest}"
    left = [n for n in names if n in {e.pw_name for e in pwd.getpwall()}]
    left += [n for n in names if n in {line.split(":")[0] for line in open("/etc/group")}]
    assert not left, f"accounts or groups left: {left}"
    assert not (hub_dir / "home").exists() and not (hub_dir / "exchange").exists()
    assert not ch.pids_of(uids), "processes of the demo's accounts still run"
    shutil.rmtree(hub_dir.parent, ignore_errors=True)


def test_make_hub_default_is_one_account_and_ctrl_c_is_quiet(tmp_path):
    """Plain ``make hub``: no account is made (even as root), one password made for this run,
    01_perceptron released, and Ctrl-C ends the hub in time without a traceback."""
    import pwd

    from support.process import read_until

    why = _skip_reasons()
    if why:
        pytest.skip(why)
    demo = importlib.import_module("demo")
    accounts_before = {e.pw_name for e in pwd.getpwall()}
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    cmd = [sys.executable, str(ch.HERE / "demo.py"), "--port", str(port),
           "--hub-dir", str(tmp_path / "hub")]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        out = read_until(proc, lambda text: "Ctrl-C stops the hub" in text, timeout=400)
        passwords = set(
            re.findall(r"^\s+(?:instructor|student)\s+\S+\s+password (\S+)$", out, re.M)
        )
        assert len(passwords) == 1 and len(next(iter(passwords))) >= 12, out
        assert "nncourse-demo" not in out and "released now: 01_perceptron\n" in out, out
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/hub/health", proc, tmp_path / "none.log", timeout=120)
        assert _login(base, demo.STUDENTS[0], next(iter(passwords)))
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal of `make hub`
        rest = proc.communicate(timeout=90)[0].decode(errors="replace")
        stopped = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest and "AttributeError" not in rest, rest
    assert stopped < 30, f"Ctrl-C took {stopped:.0f} s:\n{rest}"
    assert {e.pw_name for e in pwd.getpwall()} == accounts_before
