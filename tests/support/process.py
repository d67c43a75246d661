"""Reading a child process's output in a test, always with a deadline.

``proc.stdout.readline()`` waits for as long as the child keeps its pipe open without
writing a whole line: a child whose output sits in its own buffer (stdout is block-buffered
into a pipe unless ``PYTHONUNBUFFERED`` is set) hangs the test run forever. Every read of a
child's output in the tests goes through :func:`read_until`.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def read_until(proc: subprocess.Popen, done: Callable[[str], bool], timeout: float) -> str:
    """Read ``proc.stdout`` (a pipe, text or bytes) until ``done(output so far)`` holds.

    Returns the output read so far (decoded). Raises ``AssertionError`` with that output
    when ``timeout`` seconds pass, or the child closes its output, before ``done`` holds.
    Reads the pipe's file descriptor directly: do not mix with ``proc.stdout.read*``.
    """
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        text = data.decode(errors="replace")
        if done(text):
            return text
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the expected output did not come within {timeout} s:\n{text}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(
                    f"the process closed its output (exit status {proc.poll()}) before the "
                    f"expected output:\n{text}"
                )
            data += chunk


def pids_matching(text: str) -> list[int]:
    """Processes (other than this one) whose command line contains ``text``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def wait_gone(text: str, timeout: float) -> list[int]:
    """Wait until no process's command line contains ``text``; returns those left after
    ``timeout`` seconds (empty when all are gone)."""
    deadline = time.monotonic() + timeout
    while (left := pids_matching(text)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
