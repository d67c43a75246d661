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
