"""How a kernel's Python starts is written once, in the sandbox spec: the interpreter set-up
(``sandbox.PYTHON_SETUP``) the cold kernel and the fork server run, and the kernel start
(``sandbox.KERNEL_START``) the cold kernel and each forked child run (tests/test_forkserver.py
checks that both kinds of kernel see the same interpreter)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

from autograder import sandbox
from autograder.sandbox import forkserver

ROOT = Path(__file__).resolve().parents[1]


def test_the_cold_kernel_runs_the_set_up_then_the_start():
    assert sandbox.KERNEL_MAIN == sandbox.PYTHON_SETUP + sandbox.KERNEL_START


def test_the_set_up_leaves_out_the_debugger_and_the_work_folder(tmp_path):
    probe = "import json; print(json.dumps([sys.modules.get('debugpy', 0), sys.path[:1]]))"
    out = subprocess.run(
        [sys.executable, "-c", sandbox.PYTHON_SETUP + probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    debugpy, first = json.loads(out)
    assert debugpy is None  # `import debugpy` fails at once
    assert first and first[0] not in ("", str(tmp_path))


def test_the_fork_server_starts_with_the_same_set_up(monkeypatch, tmp_path):
    started = []

    class Stop(Exception):
        pass

    def popen(argv, **kw):
        started.append(argv)
        raise Stop

    fake = types.SimpleNamespace(Popen=popen, PIPE=subprocess.PIPE)
    monkeypatch.setattr(forkserver, "subprocess", fake)
    monkeypatch.setattr(forkserver.sandbox, "work_base", lambda: tmp_path)
    monkeypatch.setattr(forkserver.sandbox, "server_prefix", lambda base, caps: ["PREFIX"])
    try:
        forkserver.ForkServer(base=tmp_path)
    except Stop:
        pass
    [argv] = started
    assert argv[:3] == ["PREFIX", sys.executable, "-c"]
    assert argv[3].startswith(sandbox.PYTHON_SETUP) and "forkserver.serve(" in argv[3]


def test_no_other_module_writes_the_set_up_or_the_start():
    found = []
    for path in sorted((ROOT / "autograder").rglob("*.py")):
        if path == ROOT / "autograder" / "sandbox" / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "debugpy" in node.value or "launch_new_instance" in node.value:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr == "launch_new_instance":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_a_kernel_that_never_opens_its_sockets_costs_its_start_budget_only(tmp_path):
    """A live kernel whose sockets never appear is given up after ``startup_timeout_s`` (what
    the notebook's limit has left, at most a minute), with a message saying so, not that it
    died."""
    import asyncio

    from autograder import kernel

    km = kernel.SandboxedKernelManager(transport="ipc", ip="ipc-0")
    km.workdir = tmp_path
    km.shell_port, km.iopub_port, km.stdin_port, km.hb_port, km.control_port = 1, 2, 3, 4, 5

    async def alive():
        return True

    km._async_is_alive = alive
    try:
        asyncio.run(km._pin_sockets(0.3))
    except RuntimeError as exc:
        assert str(exc) == "Kernel did not open its sockets in 0.3 s"
    else:
        raise AssertionError("no sockets, yet the wait ended without an error")
    assert km.startup_timeout_s == kernel.STARTUP_TIMEOUT_S
