"""Helpers shared by the real-browser tests: Chromium, loopback servers, screenshots.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright for Python through
``executable_path`` (never ``playwright install``: no browser is downloaded). The one
reason to skip a browser test is that Chromium cannot start; :func:`chromium` says why.

Servers under test (JupyterLab, Voila) listen on ``127.0.0.1:<free port>``; pages are
routed through :class:`LoopbackOnly`, which lets loopback requests through and aborts and
records everything else, so a test can assert that a page works offline.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Playwright ``Browser`` on the system Chromium; skips if it cannot start."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed"
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium")
    pw = sync_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as err:  # the one reason to skip: Chromium cannot start here
        pw.stop()
        pytest.skip(f"headless Chromium cannot start: {err}")
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET on a loopback URL; HTTP errors return their status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (loopback only)
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def wait_for_http(
    url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0, ok=(200,)
) -> None:
    """Poll ``url`` until it answers with a status in ``ok``; raise with the log tail if
    ``proc`` exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_get(url)[0] in ok:
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"server at {url} did not come up ({why}):\n{tail}")
        time.sleep(0.3)


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM (servers shut their kernels down on it), then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def record_errors(page) -> list[str]:
    """Collect the page's uncaught exceptions and ``console.error`` messages into a list."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.error: {msg.text} (at {msg.location.get('url')})")
            if msg.type == "error"
            else None
        ),
    )
    return errors


class LoopbackOnly:
    """Route every request of a browser context: loopback goes through, the rest is aborted.

    ``allowed`` lists the loopback URLs seen, ``blocked`` the others (which the page never
    received). Install with ``LoopbackOnly(context)`` before opening pages.
    """

    def __init__(self, context):
        self.allowed: list[str] = []
        self.blocked: list[str] = []
        context.route("**/*", self._route)
        # WebSockets are not routed by page.route; they are recorded when opened.
        context.on("page", lambda page: page.on("websocket", lambda ws: self._seen(ws.url)))

    def _seen(self, url: str) -> bool:
        local = urlsplit(url).hostname in LOOPBACK_HOSTS or url.startswith(("data:", "blob:"))
        (self.allowed if local else self.blocked).append(url)
        return local

    def _route(self, route):
        if self._seen(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")


def pixels(png: bytes) -> np.ndarray:
    """A PNG screenshot as an (H, W, 3) int16 array (signed, so differences do not wrap)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def accept_kernel_dialog(page, wait_ms=2_000) -> bool:
    """On a loaded machine JupyterLab sometimes opens the notebook before it has the list
    of kernels, and then asks which kernel to start (a modal dialog that blocks every
    click): accept its proposal, the notebook's own Python 3 kernel."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(state="visible", timeout=wait_ms)
    except Exception:
        return False
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="hidden", timeout=30_000)
    page.wait_for_selector(
        ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
    )
    return True
