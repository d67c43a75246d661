"""The standalone playground page (Voila) in a real browser.

``make playground`` serves ``notebooks/playground_voila.ipynb`` with Voila: the code is
hidden and only the playground widget shows. This test starts Voila the same way on a
free loopback port, opens the page in Debian's ``/usr/bin/chromium`` (Playwright,
``executable_path``; see ``browser_support``), waits for the playground, clicks Play and
checks by screenshots that the decision regions and the network view (the unit heat maps
on the left of the picture) change over time and stop on Pause; then chooses a unit for the
large view and switches an input feature on, and sees the picture follow; that the page
logged no JavaScript errors; and that it requested nothing outside 127.0.0.1.

Voila 0.5's ``lab`` template links Font Awesome's CSS from cdn.jsdelivr.net in its
``<head>``; the same fonts are bundled in Voila's own JavaScript, so the course serves the
page with its ``nncourse`` template (``deploy/voila``), which drops the two links: the page
asks nothing of any other machine, and the button icons render from the bundled font.

Skips, with the reason, only when Voila is not installed or Chromium cannot start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    LoopbackOnly,
    chromium,
    free_port,
    pixels,
    record_errors,
    stop_process,
    wait_for_http,
)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/playground_voila.ipynb"
BIN = Path(sys.executable).parent
# Flags shared with the Makefile's `playground` target (checked below). The extension
# allowlist keeps Voila from loading JupyterLab extensions that cannot run in it (nbgrader's,
# Notebook 7's), which otherwise log errors in the page.
VOILA_ARGS = [
    "--Voila.ip=127.0.0.1",
    "--template=nncourse",
    "--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager",
    "--VoilaConfiguration.extension_allowlist=@voila-dashboards/widgets-manager8",
]
# where the course's Voila template lives (JUPYTER_PATH, as in the Makefile)
TEMPLATES = REPO / "deploy" / "voila"


def _child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc), e.g. the kernels a server started."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """Voila serving the playground notebook on 127.0.0.1:<free port>; yields the URL."""
    exe = BIN / "voila"
    if not exe.exists() and shutil.which("voila") is None:
        pytest.skip("Voila is not installed: pip install voila")
    tmp = tmp_path_factory.mktemp("voila")
    port = free_port()
    cmd = [str(exe if exe.exists() else shutil.which("voila")), NOTEBOOK, f"--port={port}"]
    cmd += [*VOILA_ARGS, "--no-browser", "--Voila.port_retries=0"]  # a taken port fails
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_PATH=str(TEMPLATES))
    log_path = tmp / "voila.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        # a static file: answers once the server is up, without starting a kernel
        wait_for_http(f"{base}/voila/static/voila.js", proc, log_path, timeout=60)
        yield base, proc, log_path
    finally:
        kernels = _child_pids(proc.pid)
        stop_process(proc)
        log.close()
        deadline = time.monotonic() + 10
        while any(_alive(k) for k in kernels) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftover = [k for k in kernels if _alive(k)]
        for k in leftover:  # our own children: do not leave them running
            os.kill(k, 9)
        assert not leftover, f"Voila left kernel processes {leftover} running after SIGTERM"


def _epoch(page) -> int:
    """The epoch shown in the playground's status line."""
    text = page.locator(".widget-html", has_text="train loss").first.inner_text()
    match = re.search(r"epoch (\d+)", text)
    assert match, f"no epoch in the status line {text!r}"
    return int(match.group(1))


@pytest.mark.browser
@pytest.mark.slow
def test_playground_plays_in_voila(browser, voila):
    base, proc, log_path = voila
    source_before = (REPO / NOTEBOOK).read_bytes()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    network = LoopbackOnly(context)
    page = context.new_page()
    errors = record_errors(page)
    try:
        page.goto(f"{base}/", timeout=180_000)  # Voila runs the notebook, then serves it
        frame = page.locator("img.nncourse-frame")
        frame.wait_for(state="visible", timeout=180_000)
        assert frame.count() == 1, f"expected the playground only, found {frame.count()} images"
        # a standalone page: the code is stripped, the title and the widget show
        assert page.get_by_text("from nncourse.widgets import").count() == 0
        assert page.get_by_role("heading", name="Neural network playground").is_visible()
        assert "error when executing" not in page.content()
        box = frame.bounding_box()
        assert box is not None and box["width"] > 700 and box["height"] > 250, box
        # the button icons draw with the font bundled in Voila (no CDN copy is asked for)
        icon_font = page.evaluate(
            """async () => {
                await document.fonts.ready;
                return [...document.fonts]
                    .filter(f => /awesome/i.test(f.family) && f.status === 'loaded')
                    .map(f => f.family);
            }"""
        )
        assert icon_font, "Font Awesome (button icons) did not load from the local bundle"

        epoch_before = _epoch(page)
        shots = [frame.screenshot()]
        page.locator(".nncourse-play").click()
        for _ in range(2):
            page.wait_for_timeout(1500)
            shots.append(frame.screenshot())
        page.locator(".nncourse-pause").click()
        epoch_playing = _epoch(page)
        page.wait_for_timeout(700)  # let a frame in flight land
        paused = [frame.screenshot()]
        page.wait_for_timeout(1000)
        paused.append(frame.screenshot())

        a, b, c = (pixels(s) for s in shots)
        assert a.shape == b.shape == c.shape
        # the decision regions keep changing while it plays
        assert np.abs(a - b).mean() > 0.05, "no change after clicking Play"
        assert np.abs(b - c).mean() > 0.05, "the image stopped changing while playing"
        # and so do the unit heat maps and edges of the network view (the left 40 %)
        left = slice(0, int(0.4 * a.shape[1]))
        assert np.abs(a[:, left] - b[:, left]).mean() > 0.05, "the network view did not change"
        assert np.abs(b[:, left] - c[:, left]).mean() > 0.05, "the network view stopped"
        assert epoch_playing >= epoch_before + 5, (epoch_before, epoch_playing)
        # and stop on Pause
        p, q = (pixels(s) for s in paused)
        assert np.array_equal(p, q), "the image still changes after Pause"

        # choosing a unit shows it large, with its incoming weights listed under the picture
        page.locator(".widget-dropdown", has_text="large view").locator("select").select_option(
            "h1.1"
        )
        page.locator(".nncourse-unit-info", has_text="h1.1").wait_for(timeout=30_000)
        page.wait_for_timeout(500)  # the frame follows the unit info in the same update
        chosen = pixels(frame.screenshot())
        assert np.abs(chosen - q).mean() > 0.05, "the picture did not change for the chosen unit"
        # an input feature switched on: a new network, one more input drawn
        page.locator(".nncourse-feature", has_text="x1 x2").click()
        page.get_by_text("features x1, x2, x1 x2").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        wider = pixels(frame.screenshot())
        assert np.abs(wider[:, left] - chosen[:, left]).mean() > 0.05, "no new input drawn"
    except Exception:
        shot = Path(os.environ.get("NNCOURSE_BROWSER_SHOT", "/tmp/nncourse_voila_failure.png"))
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}; page errors: {errors}")
        print(f"Voila log:\n{log_path.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        page.close()
        context.close()

    # Nothing left the machine (Voila's own template would ask a CDN for Font Awesome)
    assert network.blocked == [], f"requests outside 127.0.0.1: {network.blocked}"
    assert any("/api/kernels/" in u for u in network.allowed), "no kernel connection seen"
    # JavaScript errors, less the "failed to load" notes for the requests aborted above
    js_errors = [e for e in errors if not any(u in e for u in network.blocked) or "pageerror" in e]
    assert js_errors == [], "\n".join(js_errors)
    assert proc.poll() is None, "Voila exited during the test"
    assert (REPO / NOTEBOOK).read_bytes() == source_before, "the notebook file was modified"


def test_make_playground_serves_the_voila_page():
    """`make playground` runs Voila on this notebook with the flags tested above."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-n", "playground", "PORT=8866"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"`make -n playground` failed:\n{out.stderr}"
    lines = out.stdout.replace("\\\n", " ").splitlines()  # join continued lines
    line = next((ln for ln in lines if any(w.endswith("/voila") for w in ln.split())), "")
    assert line, f"no voila command in `make -n playground`:\n{out.stdout}"
    words = line.split()
    assert f'JUPYTER_PATH="{TEMPLATES}"' in words, line
    assert NOTEBOOK in words and "--port=8866" in words, line
    for flag in VOILA_ARGS:
        assert flag in words, f"`make playground` lacks {flag}: {line}"
