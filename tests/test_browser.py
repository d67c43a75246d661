"""The playground in a real browser: JupyterLab + headless Chromium driven by Playwright.

Starts JupyterLab on a free loopback port with a random token (autosave off, settings and
workspaces in a temporary folder, so the committed notebook is never written), opens
``notebooks/playground.ipynb`` in Debian's ``/usr/bin/chromium``, runs all cells, clicks Play
in the playground and checks by screenshots of the playground's picture that the network view
and the decision regions change over time, that no cell raised and that the page logged no
JavaScript errors.

Needs ``apt-get install chromium`` and ``pip install playwright`` (never ``playwright
install``: the system Chromium is used). Skips, with the reason, only when Chromium cannot
start.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser_support import accept_kernel_dialog, chromium, free_port, http_get

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/playground.ipynb"


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@contextlib.contextmanager
def jupyterlab(tmp: Path, root: Path, config_path: Path | None = None):
    """A JupyterLab server on 127.0.0.1:<free port> serving ``root``; yields (base URL,
    token). ``config_path``: the Jupyter settings ``make lab``/``make author`` use."""
    settings = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    news = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    if config_path is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    cmd = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: what a tab shows
    ]
    if os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    log = open(tmp / "lab.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http_get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield base, token
    finally:
        # shut the server down (it stops its kernels), then make sure it is gone
        try:
            req = urllib.request.Request(
                f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(req, timeout=5)  # noqa: S310
        except OSError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on the repository (the playground test opens the committed notebook)."""
    with jupyterlab(tmp_path_factory.mktemp("lab"), REPO) as server:
        yield server


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """What ``make lab`` opens: the student workspace, with the students' Jupyter settings."""
    from autograder.workspace import Workspace

    tmp = tmp_path_factory.mktemp("student")
    root = Workspace(tmp / "workspace").update().root
    with jupyterlab(tmp, root, REPO / "deploy" / "lab" / "student") as (base, token):
        yield base, token, root


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


# every control label of the course's widgets whose text the browser cut (ellipsis, hidden
# overflow), and every widget wider than the output area it sits in
CUT_LABELS = """
() => {
  const cut = [];
  const area = (el) => el.closest(".jp-OutputArea-output") || el.closest(".jp-OutputArea");
  const labels = document.querySelectorAll(
    ".jp-OutputArea .widget-label, .jp-OutputArea .widget-toggle-button, " +
    ".jp-OutputArea .widget-checkbox label, .jp-OutputArea .widget-button, " +
    ".jp-OutputArea .widget-toggle-buttons button, .jp-OutputArea select");
  for (const el of labels) {
    if (!el.closest(".nncourse-widget") || el.offsetParent === null) continue;
    if (!el.textContent.trim()) continue;
    if (el.scrollWidth > el.clientWidth + 1)
      cut.push(`${el.textContent.trim()} (${el.clientWidth} of ${el.scrollWidth} px shown)`);
  }
  for (const w of document.querySelectorAll(".jp-OutputArea .nncourse-widget")) {
    const box = w.getBoundingClientRect(), out = area(w).getBoundingClientRect();
    if (box.right > out.right + 1)
      cut.push(`a widget ${Math.round(box.width)} px wide in ${Math.round(out.width)} px`);
  }
  return cut;
}
"""


def test_playground_plays_in_jupyterlab(browser, lab):
    base, token = lab
    source_before = (REPO / NOTEBOOK).read_bytes()
    errors: list[str] = []
    # 1280 px wide with the file browser open: a laptop, as students use it
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=90_000)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        # the kernel must be up before "Run All" (its status shows in the toolbar)
        page.wait_for_selector(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
            timeout=90_000,
        )
        # "Run All" right after the kernel reports idle is occasionally dropped by a freshly
        # started kernel on a loaded machine (only the first cell runs): try a few times
        for attempt in range(3):
            accept_kernel_dialog(page)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # wait until every cell has run (all six widgets shown)
            try:
                page.locator("img.nncourse-frame").nth(5).wait_for(state="visible", timeout=120_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        page.wait_for_selector(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
            timeout=90_000,
        )
        play = page.locator(".nncourse-play").first
        frame = page.locator("img.nncourse-frame").first
        frame.wait_for(state="visible", timeout=30_000)
        frame.scroll_into_view_if_needed()
        box = frame.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, box
        shots = [frame.screenshot()]
        play.click()
        for _ in range(2):
            page.wait_for_timeout(1500)
            shots.append(frame.screenshot())
        page.locator(".nncourse-pause").first.click()

        a, b, c = (_pixels(s) for s in shots)
        assert a.shape == b.shape == c.shape
        # the decision regions keep changing while it plays
        assert np.abs(a - b).mean() > 0.05, "no change after clicking Play"
        assert np.abs(b - c).mean() > 0.05, "the image stopped changing while playing"
        # and so does the network view (unit heat maps and edges, the left 40 %)
        left = slice(0, int(0.4 * a.shape[1]))
        assert np.abs(a[:, left] - b[:, left]).mean() > 0.05, "the network view did not change"
        assert np.abs(b[:, left] - c[:, left]).mean() > 0.05, "the network view stopped"
        # every cell ran without a Python error
        py_errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
        assert py_errors.count() == 0, py_errors.first.inner_text()
        widgets = page.locator(".nncourse-frame")
        assert widgets.count() == 6, f"expected 6 widget images, found {widgets.count()}"
        sidebar = page.locator(".jp-FileBrowser").first
        assert sidebar.is_visible() and sidebar.bounding_box()["width"] > 150
        cut = page.evaluate(CUT_LABELS)
        assert page.locator(".nncourse-widget").count() == 6
        assert cut == [], "labels cut or widgets too wide at 1280 px:\n" + "\n".join(cut)
    except Exception:
        shot = Path(os.environ.get("NNCOURSE_BROWSER_SHOT", "/tmp/nncourse_browser_failure.png"))
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}; page errors: {errors}")
        raise
    finally:
        page.close()
    assert errors == [], "\n".join(errors)
    assert (REPO / NOTEBOOK).read_bytes() == source_before, "the notebook file was modified"


# what the tab on the screen holds: its path and its cells, as JupyterLab loaded them
CURRENT_NOTEBOOK = """
() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || !w.context.isReady || !w.context.path.endsWith(".ipynb")) return null;
  return {path: w.context.path, cells: w.context.model.toJSON().cells.map(
    c => Array.isArray(c.source) ? c.source.join("") : c.source)};
}
"""
CLOSE_CURRENT = """
async () => {
  const w = window.jupyterapp.shell.currentWidget;
  if (w.sessionContext) await w.sessionContext.shutdown();
  // dispose, not close: a notebook JupyterLab marked dirty on opening (a kernel chosen in the
  // kernel dialog) would ask "Save your work?" in a dialog that blocks the next click
  w.dispose();
}
"""


def test_student_start_page_links_lead_to_the_student_versions(browser, student_lab):
    """``make lab``: every notebook link of the start page opens the student's own copy (an
    assignment with ``YOUR CODE HERE`` and no solution or hidden test; the playground), and
    the lab shows none of nbgrader's instructor or exchange panels."""
    from autograder.workspace import assignments

    base, token, _root = student_lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{base}/lab/tree/index.ipynb?token={token}", timeout=90_000)
        links = page.locator(".jp-NotebookPanel .jp-RenderedMarkdown a[href*='.ipynb']")
        links.first.wait_for(timeout=90_000)
        count = links.count()
        opened = {}
        for i in range(count):
            accept_kernel_dialog(page, wait_ms=200)
            page.bring_to_front()
            start = page.locator(".lm-TabBar-tab", has_text="index.ipynb").first
            start.click()  # back to the start page
            text = links.nth(i).inner_text()
            links.nth(i).click()
            deadline = time.monotonic() + 90
            while True:
                shown = page.evaluate(CURRENT_NOTEBOOK)
                if shown and shown["path"] != "index.ipynb":
                    break
                assert time.monotonic() < deadline, f"link {text!r} opened no notebook"
                page.wait_for_timeout(200)
            opened[shown["path"]] = "\n".join(shown["cells"])
            page.evaluate(CLOSE_CURRENT)
        expected = {f"{a}/{a}.ipynb" for a in assignments()} | {"playground.ipynb"}
        assert set(opened) == expected, sorted(opened)
        for path, text in opened.items():
            for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
                assert secret not in text, (path, secret)
            if path != "playground.ipynb":
                assert "YOUR CODE HERE" in text, path
        # no instructor's or exchange panels in a student's local lab
        assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
        body = page.locator("body").inner_text()
        assert "Error fetching courses" not in body and "Create Assignment" not in body
    finally:
        page.close()
