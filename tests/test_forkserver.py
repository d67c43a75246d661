"""``forkserver.py``: kernels forked from a warm server are sandboxed exactly like cold ones,
and nothing one student's kernel does is seen by the next one forked from the same server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder import kernel, sandbox
from autograder.config import Limits
from autograder.sandbox import forkserver

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or sandbox.mechanism() != "bwrap",
        reason="the fork server builds its sandboxes with bubblewrap, as root",
    ),
]

# what a kernel can observe of its sandbox, printed as one JSON line
INTROSPECT = r"""
import json, os, resource, socket, sys
status = dict(ln.split(":", 1) for ln in open("/proc/self/status").read().splitlines())
def writable(path):
    try:
        open(os.path.join(path, ".probe"), "w").close()
        return True
    except OSError:
        return False
view = {
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())],
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"].strip(),
    "pid": os.getpid(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "limits": {n: resource.getrlimit(getattr(resource, n)) for n in
               ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE",
                "RLIMIT_NOFILE")},
    "seccomp": status["Seccomp"].strip(),
    "cwd": os.getcwd(),
    "root": sorted(os.listdir("/")),
    "tmp": sorted(os.listdir("/tmp")),
    "net": sorted(ln.split(":")[0].strip() for ln in open("/proc/net/dev").readlines()[2:]),
    "env": dict(os.environ),
    "sys_path": sys.path,
    "argv": sys.argv,
    "executable": sys.executable,
    "writable": {p: writable(p) for p in ("/", "/usr", "/etc", "/tmp", "/dev/shm", os.getcwd())},
    "outside_visible": os.path.exists(os.path.join(os.path.dirname(os.getcwd()), "outside.txt")),
}
print(json.dumps(view))
"""


def run(source_cells, tmp_path, name, limits=None, env=None):
    """Execute code cells in a fresh work folder; return (outputs text per cell, info)."""
    folder = tmp_path / name
    (folder / "work").mkdir(parents=True)
    (folder / "outside.txt").write_text("beside the work folder: not for the kernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in source_cells])
    out, info = kernel.execute_notebook(
        nb, folder / "work", limits or Limits(cell_timeout_s=30), env=env
    )
    texts = [
        "".join(o.get("text", "") or f"{o.get('ename')}: {o.get('evalue')}" for o in c.outputs)
        for c in out.cells
    ]
    return texts, info


@pytest.fixture
def cold(monkeypatch):
    """Kernels start cold for the duration of one call (``AUTOGRADER_FORKSERVER=0``)."""

    def call(*args, **kwargs):
        with monkeypatch.context() as m:
            m.setenv("AUTOGRADER_FORKSERVER", "0")
            return run(*args, **kwargs)

    return call


def test_a_forked_kernel_sees_exactly_what_a_cold_kernel_sees(tmp_path, cold):
    limits = Limits(cell_timeout_s=30, memory_mb=1536, cpu_s=321, max_processes=48)
    (warm_out,), warm_info = run([INTROSPECT], tmp_path, "warm", limits)
    (cold_out,), cold_info = cold([INTROSPECT], tmp_path, "cold", limits)
    assert (warm_info["kernel"], cold_info["kernel"]) == ("forked", "cold")
    warm, cold_view = json.loads(warm_out), json.loads(cold_out)
    # the work folders differ by name only
    for view, name in ((warm, "warm"), (cold_view, "cold")):
        text = json.dumps(view).replace(str(tmp_path / name), "WORK")
        view.clear()
        view.update(json.loads(text))
    # each notebook runs under a uid of its own: equal but for the uid
    for view, info in ((warm, warm_info), (cold_view, cold_info)):
        uid = info["uid"]
        assert view.pop("ids") == [uid, uid, uid, uid, []] and uid > sandbox.FIRST_UID
    assert warm == cold_view
    assert warm["caps"][1:4] == ["0" * 16] * 3
    assert warm["no_new_privs"] == "1" and warm["outside_visible"] is False
    assert warm["limits"]["RLIMIT_NPROC"] == [48, 48]
    assert warm["limits"]["RLIMIT_AS"] == [1536 * 2**20] * 2
    assert warm["net"] == ["lo"] and warm["writable"]["/usr"] is False
    assert warm["limits"]["RLIMIT_NOFILE"] == [1024, 1024] and warm["seccomp"] == "2"


LEAVE = r"""
import ctypes, os, subprocess, sys
import matplotlib
import numpy as np
open("/tmp/left.txt", "w").write("student A")
try:  # not writable in either kind of kernel today; if it ever becomes so, it must not leak
    open("/dev/shm/left", "w").write("student A")
except OSError:
    pass
open(os.path.expanduser("~/left.txt"), "w").write("student A")
np.LEFT_BY_A = True
np.random.seed(1234)
sys.modules["left_by_a"] = sys
os.environ["LEFT_BY_A"] = "1"
matplotlib.rcParams["lines.linewidth"] = 9.0
libc = ctypes.CDLL(None)
shm = libc.shmget(0x5EED, 4096, 0o1666)  # IPC_CREAT | 0666: a System V segment
daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)
print(shm >= 0, daemon.pid)
"""

FIND = r"""
import ctypes, os, sys
import matplotlib
import numpy as np
libc = ctypes.CDLL(None)
names = [open(f"/proc/{p}/comm").read().strip() for p in os.listdir("/proc") if p.isdigit()]
print(sorted({
    "tmp file": os.path.exists("/tmp/left.txt"),
    "shm file": os.path.exists("/dev/shm/left"),
    "home file": os.path.exists(os.path.expanduser("~/left.txt")),
    "module attribute": hasattr(np, "LEFT_BY_A"),
    "module": "left_by_a" in sys.modules,
    "environment": "LEFT_BY_A" in os.environ,
    "rcParams": matplotlib.rcParams["lines.linewidth"] == 9.0,
    "System V segment": libc.shmget(0x5EED, 0, 0) >= 0,
    "process": "sleep" in names,
}.items()))
print(np.random.rand())
"""


def test_nothing_a_student_leaves_behind_reaches_the_next_fork(tmp_path):
    server = forkserver.for_thread()
    assert server is not None, forkserver._DISABLED
    uid = sandbox.FIRST_UID + sandbox.MAX_UIDS + 7
    folder = tmp_path / "a" / "work"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LEAVE)])
    out_a, info_a = kernel.execute_notebook(nb, folder, Limits(cell_timeout_s=30), uid=uid)
    assert "True" in out_a.cells[0].outputs[0]["text"], out_a.cells[0].outputs
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FIND)])
    folder = tmp_path / "b" / "work"
    folder.mkdir(parents=True)
    out_b, info_b = kernel.execute_notebook(nb, folder, Limits(cell_timeout_s=30), uid=uid)
    assert info_a["kernel"] == info_b["kernel"] == "forked"
    assert forkserver.for_thread() is server  # the same server forked both
    found, rand = out_b.cells[0].outputs[0]["text"].splitlines()
    assert "True" not in found, found
    # numpy's global generator is reseeded per kernel: not A's seed, not the server's state
    assert float(rand) != pytest.approx(0.1915194503788923)  # np.random.seed(1234); rand()


def test_a_kernel_reported_dead_has_no_process_left(tmp_path):
    """A killed sandbox is gone, children included, when the kill returns: else they would
    count against the RLIMIT_NPROC of the next kernel of the same uid."""
    uid = sandbox.FIRST_UID + sandbox.MAX_UIDS + 8
    spawn = "import subprocess\nkids = [subprocess.Popen(['sleep', '300']) for _ in range(40)]"
    folder = tmp_path / "k" / "work"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(s) for s in (spawn, "while True:\n    pass")]
    )
    # no restart: execute_notebook returns as soon as the hung kernel is killed
    limits = Limits(cell_timeout_s=3, max_restarts=0)
    out, info = kernel.execute_notebook(nb, folder, limits, uid=uid)
    assert info["kernel"] == "forked" and info["restarts"] == 1, info
    assert not out.cells[0].outputs, out.cells[0].outputs  # the children did start
    assert sandbox.processes_of(uid) == []


def test_a_server_that_fails_its_probe_is_not_used(tmp_path, monkeypatch, caplog):
    """Without the capabilities to build sandboxes the probe fails: grading goes on cold."""
    monkeypatch.setattr(forkserver, "SERVER_CAPS", ())
    monkeypatch.setattr(forkserver, "_THREAD", type(forkserver._THREAD)())
    monkeypatch.setitem(forkserver._DISABLED, "reason", None)
    started, init = [], forkserver.ForkServer.__init__

    def spy(self, *args, **kwargs):
        started.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(forkserver.ForkServer, "__init__", spy)
    (text,), info = run(["print(6 * 7)"], tmp_path, "fallback")
    assert info["kernel"] == "cold" and text.strip() == "42"
    assert "fork server unavailable" in caplog.text and "probe failed" in caplog.text
    # the set-up step that failed, and why, in the order the steps run
    assert "new mount, PID, network, IPC and UTS namespaces: unshare" in caplog.text
    assert f"({forkserver.EXIT_NAMESPACES})" in caplog.text
    assert len(started) == 1 and not started[0].alive(), "the failed server is left running"


def test_import_time_variables_start_a_cold_kernel(tmp_path):
    (text,), info = run(
        ["import os; print(os.environ['NNCOURSE_BACKEND'])"],
        tmp_path,
        "backend",
        env={"NNCOURSE_BACKEND": "numpy"},
    )
    assert info["kernel"] == "cold" and text.strip() == "numpy"


def test_a_kernels_garbage_collection_leaves_the_servers_pages_shared(tmp_path):
    """The preloaded objects are frozen out of the kernels' collections: a full collection in
    a forked kernel copies none of the server's pages (unfrozen, it copied about 14 MB, and a
    collector pass over every preloaded object, on each collection of the oldest generation)."""
    (text,), info = run(
        [
            "import gc\n"
            "def private_dirty_kb():\n"
            "    rows = open('/proc/self/smaps_rollup').read().splitlines()[1:]\n"
            "    fields = dict(row.split(':', 1) for row in rows)\n"
            "    return int(fields['Private_Dirty'].split()[0])\n"
            "before = private_dirty_kb()\n"
            "gc.collect()\n"
            "print(private_dirty_kb() - before)"
        ],
        tmp_path,
        "gc",
    )
    assert info["kernel"] == "forked"
    assert int(text) < 4096, f"a collection copied {int(text)} kB of the server's pages"


# the command line, with ForkServer.__init__ noting what the parent had loaded by then
CLI_WITH_SPY = r"""
import json, sys
from autograder.sandbox import forkserver
starts, init = [], forkserver.ForkServer.__init__
def spy(self, *args, **kwargs):
    starts.append("nbclient" in sys.modules)
    init(self, *args, **kwargs)
forkserver.ForkServer.__init__ = spy
from autograder.__main__ import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "nbclient_loaded_at_start": starts}))
"""


def test_check_starts_its_fork_server_before_its_own_imports(tmp_path):
    """`check` (and `grade --workers 1`) start the server first and use that one: its preload
    overlaps the command's imports and the notebook's set-up."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nbformat.write(nb, tmp_path / "n.ipynb")
    out = subprocess.run(
        [sys.executable, "-c", CLI_WITH_SPY, "check", str(tmp_path / "n.ipynb")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.splitlines()[-1])
    assert result == {"code": 0, "nbclient_loaded_at_start": [False]}, out.stderr


def test_a_command_that_fails_before_grading_leaves_no_server_behind(tmp_path):
    """The prestarted server of a command that stops early is closed with its home folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "autograder", "check", str(tmp_path / "missing.ipynb")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert out.returncode == 2 and "no notebook" in out.stderr
    assert sorted(p.name for p in tmp.iterdir()) == []


def test_a_server_that_dies_under_a_notebook_costs_the_student_nothing(tmp_path):
    """Killed while a kernel of it runs (out of memory, a signal), the server takes its
    kernels with it: the notebook runs again from the top from a fresh server, and the
    student's cells carry no error of the grader's."""
    server = forkserver.for_thread()
    assert server is not None, forkserver._DISABLED
    folder = tmp_path / "k" / "work"
    folder.mkdir(parents=True)
    started = folder / "started"

    def kill_once():
        for _ in range(600):
            if started.exists():
                server.proc.kill()
                return
            time.sleep(0.05)

    cells = [
        "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(1)\nprint('one')",
        "print('two')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    killer = threading.Thread(target=kill_once)
    killer.start()
    out, info = kernel.execute_notebook(nb, folder, Limits(cell_timeout_s=30))
    killer.join()
    assert not server.alive()
    texts = ["".join(o.get("text", "") for o in c.outputs).strip() for c in out.cells]
    assert texts == ["one", "two"] and not info["failed_cells"], out.cells
    assert info["kernel"] == "forked" and forkserver.for_thread() is not server


def test_a_checkout_under_the_servers_base_stays_visible_to_its_kernels(monkeypatch):
    """Each kernel gets a fresh tmpfs on the server's base (and /tmp) to hide the other work
    folders; Python, the virtualenv and the course packages beneath it (a clone in /tmp, as CI
    may make) are moved back on top, read-only, and the start-up probe checks they are there."""
    base = ROOT / "course"  # git-ignored, and beside .venv, nncourse and autograder
    base.mkdir(exist_ok=True)
    server = forkserver.ForkServer(base=ROOT).ready()
    folder = Path(tempfile.mkdtemp(prefix="forkserver-base-", dir=base))
    try:
        assert server.keep, "the test needs readable paths under the base"
        forkserver._probe(server)
        monkeypatch.setattr(forkserver._THREAD, "server", server, raising=False)
        (folder / "work").mkdir()
        code = (
            "import autograder, nncourse, numpy, sys\n"
            "try:\n"
            "    open(sys.prefix + '/probe', 'w')\n"
            "except OSError as exc:\n"
            "    print(type(exc).__name__)\n"
        )
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        out, info = kernel.execute_notebook(nb, folder / "work", Limits(cell_timeout_s=30))
        assert info["kernel"] == "forked" and not info["failed_cells"], out.cells
        text = "".join(o.get("text", "") for o in out.cells[0].outputs)
        assert text.strip() in ("OSError", "PermissionError"), out.cells[0].outputs
    finally:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ attacks on the grader
# Each one as a hostile student tried it, on the real grader (root, bubblewrap, the fork
# server), with the victims graded after the attacker by the same worker.


def _server_namespace_pid(server) -> int:
    """A host pid inside the fork server's PID namespace (bwrap's child holds it)."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    return int(children.split()[0])


def _set_next_pid(server, pid: int) -> None:
    """Make the server's next fork get ``pid``, as a student cycling its pids would."""
    subprocess.run(
        ["nsenter", "-t", str(_server_namespace_pid(server)), "-p", "-m", "--",
         "sh", "-c", f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid"],
        check=True, timeout=10,
    )  # fmt: skip


def _launch(server, folder: Path, uid: int, probe=False):
    folder.mkdir(parents=True)
    sandbox.prepare_workdir(folder, uid)
    argv = [] if probe else ["-f", str(folder / "k.json")]  # ipykernel writes its own file
    return server.launch(
        argv, server.env, folder, folder, folder.parent / "k.log", Limits(), uid, probe=probe
    )


def test_a_kernel_on_a_reused_pid_is_never_reported_dead(tmp_path):
    """Attack 1: the next kernel got the pid of a kernel the server had reaped; the server
    answered polls from the old exit code, so the new kernel was never killed."""
    server = forkserver.ForkServer(base=tmp_path).ready()
    try:
        first = _launch(
            server, tmp_path / "a" / "work", sandbox.FIRST_UID + sandbox.MAX_UIDS + 11, probe=True
        )
        assert first.wait(timeout=30) == 0
        _set_next_pid(server, first.pid)
        second = _launch(server, tmp_path / "b" / "work", sandbox.FIRST_UID + sandbox.MAX_UIDS + 12)
        assert second.pid == first.pid, "the test could not reuse the pid"
        time.sleep(0.5)
        assert second.poll() is None, "a live kernel reported dead"
        second.send_signal(2)  # SIGINT: forwarded to the kernel, which survives it
        time.sleep(0.5)
        assert second.poll() is None, "an interrupt killed the forked kernel"
        second.kill()
        assert second.wait(timeout=10) is not None
        assert sandbox.processes_of(sandbox.FIRST_UID + sandbox.MAX_UIDS + 12) == []
    finally:
        server.close()


KEYRING = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ADD_KEY, REQUEST_KEY = {"x86_64": (248, 249), "aarch64": (217, 218)}[os.uname().machine]
USER_KEYRING = -4
"""
STORE = (
    KEYRING
    + r"""
key = libc.syscall(ADD_KEY, b"user", b"solution", b"def sigmoid(z): ...", 19, USER_KEYRING)
print("stored" if key >= 0 else f"refused {ctypes.get_errno()}")
"""
)
FETCH = (
    KEYRING
    + r"""
key = libc.syscall(REQUEST_KEY, b"user", b"solution", None, USER_KEYRING)
print("found" if key >= 0 else "nothing")
"""
)
NAMESPACE = r"""
import subprocess
print(subprocess.run(["unshare", "-U", "-r", "id", "-u"], capture_output=True).returncode)
"""


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_students_share_no_keyring_and_make_no_namespaces(tmp_path, cold, kind):
    """Attack 4: a helper stored a solution in its uid's user keyring (which outlives every
    process of the uid); a copier graded later by the same worker read it."""
    execute_ = run if kind == "forked" else cold
    (stored, namespace), info_a = execute_([STORE, NAMESPACE], tmp_path, "helper")
    (fetched,), info_b = execute_([FETCH], tmp_path, "copier")
    assert info_a["kernel"] == info_b["kernel"] == kind
    assert info_a["uid"] != info_b["uid"]  # a uid per notebook, besides the filter
    assert stored.strip() == "refused 1" and fetched.strip() == "nothing"
    assert namespace.strip() != "0"  # a user namespace would hand the student every capability


SWAP_AND_CRASH = r"""
import os
victim = open("victim_path").read()
for k in range(4):  # the names of the connection files of the restarts to come
    for name in (f"kernel-{k}.json", f"ipc-{k}-1", f"ipc-{k}-2"):
        if os.path.lexists(name):
            os.unlink(name)
        os.symlink(victim, name)
os._exit(1)
"""


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_root_never_follows_a_link_the_student_placed(tmp_path, monkeypatch, kind):
    """Attack 3: the grader wrote and chowned each new kernel's connection file by path in
    the student's folder; a link there made root hand a host file of the student's choice
    to the sandbox uid."""
    victim = tmp_path / "victim"
    victim.write_text("root's secret")
    victim.chmod(0o600)
    before = victim.stat()
    folder = tmp_path / "attacker"
    (folder / "work").mkdir(parents=True)
    (folder / "work" / "victim_path").write_text(str(victim))
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in (SWAP_AND_CRASH, "print('after')")]
    )
    swapping = threading.Event()

    def race():  # the name flips between a link and a file, as renameat2 would make it
        work = folder / "work"
        while not swapping.is_set():
            for k in range(4):
                tmp = work / f".swap-{k}"
                try:
                    tmp.unlink(missing_ok=True)
                    tmp.symlink_to(victim)
                    os.replace(tmp, work / f"kernel-{k}.json")
                except OSError:
                    pass

    racer = threading.Thread(target=race)
    if kind == "cold":
        monkeypatch.setenv("AUTOGRADER_FORKSERVER", "0")
    racer.start()
    try:
        # the racing name can leave a kernel that never opens its sockets: the notebook's
        # limit bounds each start (else 60 s each, 120 s for this test)
        limits = Limits(cell_timeout_s=30, notebook_timeout_s=30)
        out, info = kernel.execute_notebook(nb, folder / "work", limits)
    finally:
        swapping.set()
        racer.join()
    after = victim.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid,
        before.st_gid,
        before.st_mode,
    )
    assert victim.read_text() == "root's secret"
    assert info["kernel"] == kind


def test_the_connection_file_replaces_a_link_and_never_follows_it(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("host file")
    (folder / "kernel-0.json").symlink_to(victim)
    kernel._write_new(folder, "kernel-0.json", b"{}", sandbox.FIRST_UID + sandbox.MAX_UIDS + 13)
    made = os.lstat(folder / "kernel-0.json")
    assert victim.read_text() == "host file" and victim.stat().st_uid == 0
    assert (made.st_uid, oct(made.st_mode & 0o777)) == (
        sandbox.FIRST_UID + sandbox.MAX_UIDS + 13,
        "0o600",
    )


SURVIVE = r"""
import os, subprocess, threading, time
# a daemon in a new session, double-forked, and as many sleeping processes as the limit allows
subprocess.Popen(["sh", "-c", "(sleep 300 &) ; sleep 300"], start_new_session=True)
procs = []
try:
    for _ in range(200):
        procs.append(subprocess.Popen(["sleep", "300"]))
except OSError as exc:
    print("limit reached", type(exc).__name__)
"""
VICTIM = r"""
import threading
threads = [threading.Thread(target=sum, args=([1, 2],)) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads fine")
"""


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_nothing_of_an_attacker_survives_to_starve_the_next_students(tmp_path, cold, kind):
    """Attack 2: a survivor filled the process limit of the worker's uid, shared by every
    later student of that worker, whose kernels could not start threads."""
    execute_ = run if kind == "forked" else cold
    limits = Limits(cell_timeout_s=30, max_processes=32)
    (filled,), info_a = execute_([SURVIVE], tmp_path, "attacker", limits)
    assert "limit reached" in filled
    assert sandbox.processes_of(info_a["uid"]) == []
    for name in ("victim-1", "victim-2"):
        (text,), info = execute_([VICTIM], tmp_path, name, limits)
        assert text.strip() == "threads fine" and not info["failed_cells"]


BOUNDS = r"""
import os, resource
try:
    with open("/tmp/fill", "wb") as f:
        for _ in range(16):
            f.write(b"x" * 2**20)
    print("wrote 16 MB")
except OSError as exc:
    print("refused", exc.errno)
print(resource.getrlimit(resource.RLIMIT_NOFILE))
"""


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_the_kernels_tmp_and_open_files_are_bounded(tmp_path, cold, kind):
    execute_ = run if kind == "forked" else cold
    (text,), info = execute_([BOUNDS], tmp_path, "bounds", Limits(max_tmp_mb=8))
    assert info["kernel"] == kind
    assert text.split("\n")[:2] == ["refused 28", "(1024, 1024)"], text  # ENOSPC


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_a_work_folder_with_a_long_path_still_grades(tmp_path, cold, kind):
    """Unix socket paths are limited to 107 bytes: a long TMPDIR gave a whole class 0."""
    execute_ = run if kind == "forked" else cold
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    (text,), info = execute_(["print(6 * 7)"], deep, "long")
    assert len(str(deep / "long" / "work" / "ipc-0-1")) > 107
    assert text.strip() == "42" and info["kernel"] == kind, info
    assert not list((deep / "long" / "work").glob("ipc-*"))  # removed in their folder


DISK = r"""
import os
print(open("given.txt").read())
try:
    with open("fill", "wb") as f:
        for _ in range(16):
            f.write(b"x" * 2**20)
            f.flush()
            os.fsync(f.fileno())
    print("wrote 16 MB")
except OSError as exc:
    print("refused", exc.errno)
"""


@pytest.mark.parametrize("kind", ["forked", "cold"])
def test_the_work_folder_is_bounded_and_detached_after(monkeypatch, kind):
    """A student cannot fill the grading machine's disk: a work folder under the grader's
    work base is a tmpfs of max_disk_mb while graded (support files copied in), and is
    detached once the notebook ends."""
    if kind == "cold":
        monkeypatch.setenv("AUTOGRADER_FORKSERVER", "0")
    with tempfile.TemporaryDirectory(dir=sandbox.work_base()) as tmp:
        folder = Path(tmp) / "work"
        folder.mkdir()
        (folder / "given.txt").write_text("support file")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DISK)])
        out, info = kernel.execute_notebook(nb, folder, Limits(cell_timeout_s=30, max_disk_mb=8))
        text = "".join(o.get("text", "") for o in out.cells[0].outputs)
        assert info["kernel"] == kind
        assert text.split("\n")[:2] == ["support file", "refused 28"], text  # ENOSPC
        assert not os.path.ismount(folder) and not (folder / "fill").exists()


def test_handing_the_work_folder_over_survives_a_student_swapping_its_entries(tmp_path):
    """Root gives the sandbox uid its work folder (a restart does it again, with the student's
    files in it). A student's process still running there removes entries and turns a folder
    into a link to a host folder between root's listing and root's chown: root must neither
    fail on what vanished nor chown through the link."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("root's")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "f").write_text("x")
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            for k in range(8):
                try:
                    (work / f"v{k}").touch()
                    (work / f"v{k}").unlink()
                    os.rename(work / "sub", work / "sub.d")
                    os.symlink(victim, work / "sub")
                    os.unlink(work / "sub")
                    os.rename(work / "sub.d", work / "sub")
                except OSError:
                    pass

    racer = threading.Thread(target=swap)
    racer.start()
    try:
        for _ in range(300):
            sandbox.prepare_workdir(work, sandbox.FIRST_UID)
    finally:
        stop.set()
        racer.join(10)
    assert (victim / "secret").stat().st_uid == 0 and victim.stat().st_uid == 0
    assert work.stat().st_uid == sandbox.FIRST_UID


@pytest.mark.parametrize(
    "argv, here",
    [
        (["check", "n.ipynb"], True),
        (["grade", "a", "--submissions", "s"], True),
        (["grade", "a", "--submissions", "s", "--workers", "2"], False),
        (["grade", "a", "--submissions", "s", "--scheduler", "tcp://h:8786"], False),
        (["grade", "a", "--submissions", "s", "--scheduler-file", "f.json"], False),
        (["release", "a"], False),
        (["feedback", "a"], False),
    ],
)
def test_the_command_table_says_which_commands_fork_their_kernels_here(argv, here):
    import argparse

    from autograder import commands

    parser = argparse.ArgumentParser()
    commands.add_commands(parser)
    args = parser.parse_args(argv)
    command = commands.BY_NAME[args.command]
    assert command.forks_here(args) is here
    assert command.runs_kernels is (args.command in ("check", "grade", "release"))
