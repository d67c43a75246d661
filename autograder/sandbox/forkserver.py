"""A warm kernel fork server: each student's kernel is a fresh fork of a pre-imported one.

Starting a kernel costs an interpreter start and the same heavy imports (ipykernel, IPython,
numpy, matplotlib, nncourse) for every notebook graded: a large share of a submission's time
(measured in docs/grading.md, section 5, with ``bench/grading_profile.py``). The fork server
pays them once per worker:

* The **server** runs inside bubblewrap, like a kernel, but as root with the few
  capabilities it needs to build sandboxes (``CAP_SYS_ADMIN``, ``CAP_SETUID``,
  ``CAP_SETGID``, ``CAP_SETPCAP``, ``CAP_KILL``). It imports :data:`PRELOAD` and then only waits for
  requests on its stdin. It never runs student code and never sees a submission: a request
  holds a work folder path, an environment, limits and a uid.
* Per kernel, the server forks. The child unshares new mount, PID, network, IPC and UTS
  namespaces; inside them it mounts a fresh ``/tmp``, ``/dev/shm`` and ``/proc``, hides the
  temporary folder under which every work folder lives except this kernel's own folder,
  applies the resource limits, drops to the notebook's unprivileged uid with no capabilities
  and ``no_new_privs``, and only then starts ipykernel from the modules already in memory.

So each kernel starts from the server's pristine memory (copy-on-write: nothing a student
does reaches the server or the next student's fork) with the same file system view,
namespaces, uid and limits as a cold kernel in ``sandbox.prefix``; ``tests/
test_forkserver.py`` checks both, and that nothing a student leaves behind is seen by the
next one. What kernels of one server do share: the hash seed of ``str`` (random per server,
not per kernel) and the module objects as they were after import (numpy's global random
state is reseeded in every kernel).

Process tree of one kernel (``C1`` is what the parent's kernel manager polls and kills)::

    server ─ C1 (waits, forwards SIGINT) ─ C2 (PID 1 of the new PID namespace: mounts, reaps)
                                           └ C3 (the kernel: limits, uid, ipykernel)

Killing C1 kills C2 (parent-death signal), and the death of C2 kills everything in its PID
namespace. The server itself dies with its parent (``bwrap --die-with-parent``).

The fork server is used where the sandbox is bubblewrap (root), unless
``AUTOGRADER_FORKSERVER=0``; a server that fails its start-up probe is not used and grading
falls back to cold kernels with a warning.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder import sandbox
from autograder.sandbox import seccomp

log = logging.getLogger("autograder")

# Imported once by the server. Only modules whose import leaves no state bound to a kernel:
# ipywidgets (nncourse.widgets) registers its comm target with the running kernel when it is
# imported, so it stays out.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "nncourse.backend",
    "nncourse.data",
    "nncourse.functional",
    "nncourse.gradcheck",
    "nncourse.graph",
    "nncourse.init",
    "nncourse.layers",
    "nncourse.losses",
    "nncourse.optim",
    "nncourse.perceptron",
    "nncourse.regularization",
    "nncourse.train",
    "nncourse.viz",
    "autograder.checks",
)
# variables read when the modules above are imported: a kernel whose environment sets one of
# them differently from the server's must start cold
IMPORT_TIME_VARS = ("NNCOURSE_BACKEND", "MPLBACKEND", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
IMPORT_TIME_VARS += ("MKL_NUM_THREADS", "PYTHONHASHSEED", "PYTHONPATH")
# CAP_KILL: C1 and C2 (root) forward an interrupt to the kernel, which runs as another uid
SERVER_CAPS = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL")
STAGE = "/dev/shm"  # a child parks its work folder (and more) here while it hides the rest

# <linux/sched.h>
_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
# <linux/mount.h>
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x2000, 0x4000, 0x40000
# <linux/prctl.h>
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
# <linux/capability.h>
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# exit codes of a kernel that never started (the log says why); 128 + n: killed by signal n
EXIT_FORK_FAILED = 70  # the server's fork child raised before C1's set-up
EXIT_NAMESPACES = 71  # C1 could not make the new namespaces
EXIT_SANDBOX = 72  # C2 could not build the file system view
EXIT_ORPHANED = 73  # C1 was gone before C2 started
EXIT_KERNEL = 74  # C3 failed before ipykernel ran


class ForkServerError(RuntimeError):
    """The fork server could not be started, or stopped answering."""


# ------------------------------------------------------------------------ parent side


class KernelProcess:
    """The Popen-like handle jupyter_client's provisioner keeps for a forked kernel (C1).

    The server names each kernel by a handle it never reuses, not by its pid: a pid is
    reused once its process is reaped, and a kernel reported dead by an old pid would be
    left running (a student can cycle the server's pids in seconds)."""

    stdin = stdout = stderr = None

    def __init__(self, server: ForkServer, handle: int, pid: int):
        self.server = server
        self.handle = handle
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                self.returncode = self.server.request("poll", handle=self.handle)["code"]
            except ForkServerError:
                self.returncode = -signal.SIGKILL  # the server is gone, and its kernels with it
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("forked kernel", timeout)
            time.sleep(0.005)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            self.server.request("signal", handle=self.handle, sig=int(sig))

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGTERM)


class ForkServer:
    """The parent's end of one fork server (one per grading thread: see :func:`for_thread`)."""

    def __init__(self, base: Path | None = None):
        """Start the server; :meth:`ready` waits for its preload (the caller may work meanwhile)."""
        # made before the server: its mount namespace must hold the shared work base
        sandbox.work_base()
        self.base = Path(base or tempfile.gettempdir()).resolve()
        self._lock = threading.Lock()
        self._log = tempfile.TemporaryFile()  # the server's stderr; gone with this process
        self._home = Path(tempfile.mkdtemp(prefix="autograder-forkserver-"))
        self.env = sandbox.kernel_env(self._home)
        argv = sandbox.server_prefix(self.base, SERVER_CAPS)
        # the read-only mounts (Python, venv, course packages) that lie under the folders each
        # kernel gets a fresh tmpfs on (base, /tmp): moved aside and back (a clone in /tmp)
        hidden = {self.base, Path("/tmp")}
        self.readable = sandbox.readable_paths()
        under = [p for p in self.readable if hidden & set(Path(p).parents)]
        self.keep = [p for p in under if not any(q in Path(p).parents for q in map(Path, under))]
        # the kernels' interpreter set-up (sandbox.PYTHON_SETUP), then the server
        code = sandbox.PYTHON_SETUP + (
            f"from autograder.sandbox import forkserver; forkserver.serve({str(self.base)!r})"
        )
        self.preloaded = None  # the modules loaded, once ready
        try:
            self.proc = subprocess.Popen(
                [*argv, sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=self.env,
                # a Ctrl-C in the terminal is for the grader, which stops and closes the server;
                # in the terminal's process group the server would die under a running kernel
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(self._home, ignore_errors=True)
            self._log.close()
            raise
        atexit.register(self.close)  # also a command that ends before grading with it

    def ready(self) -> ForkServer:
        """Wait until the server has preloaded its modules (at once, after the first call)."""
        if self.preloaded is not None:
            return self
        try:
            hello = self._read()
        finally:
            # home held the imports' caches (matplotlib's font list): not needed once loaded,
            # and a pool worker that ends without atexit leaves no folder behind
            shutil.rmtree(self._home, ignore_errors=True)
        if hello.get("ready") is not True:
            self.close()
            raise ForkServerError(f"fork server did not start: {hello}")
        self.preloaded = hello["preloaded"]
        return self

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self._log.seek(0)
            tail = self._log.read()[-500:].decode(errors="replace")
            raise ForkServerError(f"fork server exited (code {self.proc.poll()}): {tail}")
        return json.loads(line)

    def request(self, op: str, **args) -> dict:
        with self._lock:
            if self.proc.poll() is not None:
                raise ForkServerError(f"fork server exited (code {self.proc.returncode})")
            try:
                self.proc.stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
                self.proc.stdin.flush()
            except OSError as exc:
                raise ForkServerError(f"fork server is gone: {exc}") from None
            reply = self._read()
        if "error" in reply:
            raise ForkServerError(reply["error"])
        return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def launch(self, argv, env, cwd, workdir, log_path, limits, uid, probe=False) -> KernelProcess:
        """Fork a kernel sandboxed like ``sandbox.prefix(workdir, limits, uid)`` would."""
        # as a cold start: jupyter_client's launcher names the parent, bwrap's --chdir sets PWD
        env = {**env, "JPY_PARENT_PID": str(os.getpid()), "PWD": str(cwd)}
        spec = {
            "argv": list(argv),
            "env": env,
            "cwd": str(cwd),
            "workdir": str(Path(workdir).resolve()),
            "log": str(log_path),
            "uid": int(uid),
            "limits": sandbox.rlimits(limits),
            "tmp_mb": int(limits.max_tmp_mb),
            "probe": probe,
            "keep": self.keep,
            "readable": self.readable,  # what the probe checks it can see
        }
        reply = self.request("launch", spec=spec)
        return KernelProcess(self, reply["handle"], reply["pid"])

    def compatible(self, env: dict, workdir: Path) -> bool:
        """Whether a kernel with ``env`` in ``workdir`` may start from this server."""
        inside = self.base in Path(workdir).resolve().parents
        return inside and all(env.get(k) == self.env.get(k) for k in IMPORT_TIME_VARS)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self._log):
            stream.close()
        shutil.rmtree(self._home, ignore_errors=True)  # closed before it was ready


_THREAD = threading.local()
_DISABLED = {"reason": None}


def enabled() -> bool:
    if os.environ.get("AUTOGRADER_FORKSERVER", "1") == "0":
        return False
    return sandbox.mechanism() == "bwrap" and _DISABLED["reason"] is None


def prestart() -> None:
    """Start this thread's fork server now and return at once: its preload
    overlaps the caller's own start-up (imports, reading notebooks), and :func:`for_thread`
    takes it over. For a command that will grade in this thread (``check``, ``--workers 1``);
    any failure is left for :func:`for_thread` to meet and report."""
    if not enabled() or getattr(_THREAD, "server", None) or getattr(_THREAD, "pending", None):
        return
    try:
        _THREAD.pending = ForkServer()
    except (ForkServerError, OSError, ValueError):
        return


def for_thread() -> ForkServer | None:
    """This thread's fork server, started (and probed) on first use; None where unavailable."""
    if not enabled():
        return None
    server = getattr(_THREAD, "server", None)
    if server is not None and server.alive():
        return server
    server, _THREAD.pending = getattr(_THREAD, "pending", None), None
    try:
        server = server or ForkServer()
        server.ready()
        _probe(server)
    except (ForkServerError, OSError, ValueError) as exc:
        if server is not None:
            server.close()  # one that failed (its probe, say) would wait until we exit
        _DISABLED["reason"] = str(exc)
        log.warning("fork server unavailable, kernels start cold: %s", exc)
        return None
    _THREAD.server = server
    return server


def _probe(server: ForkServer) -> None:
    """Fork one child through the whole sandbox set-up and let it check what it can see."""
    from autograder.config import Limits

    with tempfile.TemporaryDirectory(prefix="autograder-probe-", dir=server.base) as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        sandbox.prepare_workdir(workdir, sandbox.FIRST_UID)
        (Path(tmp) / "outside.txt").write_text("not for the kernel")
        proc = server.launch(
            [],
            server.env,
            workdir,
            workdir,
            Path(tmp) / "probe.log",
            Limits(),
            sandbox.FIRST_UID,
            probe=True,
        )
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "timeout"
        if code != 0:
            text = (Path(tmp) / "probe.log").read_text(errors="replace")[-400:]
            raise ForkServerError(f"fork server probe failed ({code}): {text}")


# ------------------------------------------------------------------------ server side


def serve(base: str) -> None:
    """The server's loop (inside bubblewrap): preload, then answer requests on stdin."""
    # the protocol's own descriptors, away from 0/1 (which the kernels' will be)
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    reader, writer = os.fdopen(rfd, "rb"), os.fdopen(wfd, "wb")
    loaded = _preload()
    if threading.active_count() != 1:
        _send(writer, {"ready": False, "why": f"{threading.active_count()} threads after imports"})
        return
    # the preloaded objects live as long as any kernel: kept out of the kernels' collections,
    # whose passes over them would copy every page they sit on (copy-on-write) in each kernel
    gc.collect()
    gc.freeze()
    _send(writer, {"ready": True, "preloaded": loaded})
    kernels = _Kernels()
    for line in reader:
        req = json.loads(line)
        try:
            reply = _handle(req, kernels, base)
        except Exception as exc:  # noqa: BLE001 - the parent gets the reason
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _send(writer, reply)


def _send(writer, obj) -> None:
    writer.write(json.dumps(obj).encode() + b"\n")
    writer.flush()


def _preload() -> list[str]:
    import importlib

    loaded = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing extra only costs speed
            print(f"fork server: not preloaded {name}: {exc}", file=sys.stderr)
        else:
            loaded.append(name)
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.font_manager  # noqa: F401 - builds the font list once, here
    return loaded


class _Kernels:
    """The server's kernels (its C1 children) by handle. A pid stays this kernel's own until
    the server reaps it (a zombie's pid is not reused), so signals go to unreaped pids only,
    and exit codes are kept by handle, which is never reused."""

    def __init__(self):
        self.running: dict[int, int] = {}  # handle -> pid, not yet reaped
        self.codes: dict[int, int] = {}  # handle -> exit code, once reaped
        self.next_handle = 1

    def add(self, pid: int) -> int:
        handle, self.next_handle = self.next_handle, self.next_handle + 1
        self.running[handle] = pid
        return handle

    def poll(self, handle: int) -> int | None:
        if handle in self.running:
            done, status = os.waitpid(self.running[handle], os.WNOHANG)
            if done == 0:
                return None
            del self.running[handle]
            self.codes[handle] = os.waitstatus_to_exitcode(status)
        if handle not in self.codes:
            raise ValueError(f"unknown kernel handle {handle!r}")
        return self.codes[handle]

    def signal(self, handle: int, sig: int) -> None:
        pid = self.running.get(handle)
        if pid is not None:
            os.kill(pid, sig)


def _handle(req: dict, kernels: _Kernels, base: str) -> dict:
    op = req.get("op")
    if op == "launch":
        pid = os.fork()
        if pid == 0:
            code = EXIT_FORK_FAILED
            try:
                code = _child(req["spec"], base)
            finally:
                os._exit(code)
        return {"handle": kernels.add(pid), "pid": pid}
    if op == "poll":
        return {"code": kernels.poll(req["handle"])}
    if op == "signal":
        # C1 turns SIGTERM into the SIGKILL of its sandbox and exits once all of it is gone,
        # so a kernel reported dead holds no process of its uid any more
        sig = signal.SIGTERM if req["sig"] in (signal.SIGKILL, signal.SIGTERM) else req["sig"]
        kernels.signal(req["handle"], sig)
        return {"ok": True}
    raise ValueError(f"unknown request {op!r}")


# ------------------------------------------------------------------------ the child


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
_libc.mount.argtypes += [ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4  # prctl(2) reads all five
_libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
for _fn in (_libc.mount, _libc.unshare, _libc.prctl, _libc.capset):
    _fn.restype = ctypes.c_int


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else str(s).encode()

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option, arg):
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl {option}")


def _steps(*steps) -> None:
    """Run set-up steps in order, each ``(why, function, *args)``; the first that fails stops
    the sandbox with the step's reason (a kernel that is half set up never runs)."""
    for why, fn, *args in steps:
        try:
            fn(*args)
        except OSError as exc:
            raise OSError(exc.errno, f"{why}: {exc.strerror or exc}") from None


def _child(spec: dict, base: str) -> int:
    """C1: stdio to the log, new namespaces, then C2 (init of the sandbox); returns its code."""
    log_fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, 1 << 16)  # the server's protocol pipe above all
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    # a kill that comes before the handlers below exist waits for them
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS
    try:
        _steps(
            ("die with the server", _prctl, _PR_SET_PDEATHSIG, signal.SIGKILL),
            ("leave the server's session", os.setsid),
            ("new mount, PID, network, IPC and UTS namespaces", _unshare, flags),
        )
    except OSError as exc:
        print(f"fork server: sandbox set-up failed: {exc.strerror}", file=sys.stderr, flush=True)
        return EXIT_NAMESPACES
    alive_r, alive_w = os.pipe()  # C2 sees EOF here once C1 is gone
    init = os.fork()
    if init == 0:
        code = EXIT_SANDBOX
        try:
            os.close(alive_w)
            code = _init(spec, base, alive_r)
        except BaseException as exc:  # noqa: BLE001
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
            print(f"fork server: sandbox set-up failed: {why}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    os.close(alive_r)
    signal.signal(signal.SIGINT, lambda *a: _forward(init, signal.SIGINT))
    signal.signal(signal.SIGTERM, lambda *a: os.kill(init, signal.SIGKILL))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    _, status = os.waitpid(init, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _init(spec: dict, base: str, alive_r: int) -> int:
    """C2: PID 1 of the kernel's namespace. Builds its file system view, forks the kernel, reaps."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    if select.select([alive_r], [], [], 0)[0]:  # C1 died before the line above
        return EXIT_ORPHANED
    os.close(alive_r)
    _steps(*_view_steps(spec, base))
    kernel = os.fork()
    if kernel == 0:
        code = EXIT_KERNEL
        try:
            code = _kernel(spec)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001
            print(f"fork server: kernel failed: {exc!r}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    signal.signal(signal.SIGINT, lambda *a: _forward(kernel, signal.SIGINT))
    while True:  # PID 1 reaps every orphan; the sandbox ends with the kernel
        pid, status = os.wait()
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def _view_steps(spec: dict, base: str) -> list[tuple]:
    """C2's file system view, in the order that matters: the work folder and the readable
    paths are parked before the tmpfs that hides every other work folder covers them, and
    brought back on top; ``/proc`` last, once the PID namespace is ours."""
    workdir, keep = spec["workdir"], spec["keep"]
    tmp = f"mode=1777,size={int(spec['tmp_mb'])}m"  # bounded like a cold kernel's /tmp
    flags = _MS_NOSUID | _MS_NODEV
    steps = [
        ("keep our mounts from the host's", _mount, None, "/", None, _MS_REC | _MS_PRIVATE),
        ("a private stage to park folders on", _mount, "tmpfs", STAGE, "tmpfs", flags, "mode=0700"),
    ]  # fmt: skip
    for name, path in [("work", workdir), *enumerate(keep)]:
        steps += [
            (f"park {path}", os.mkdir, f"{STAGE}/{name}"),
            (f"park {path}", _mount, path, f"{STAGE}/{name}", None, _MS_BIND | _MS_REC),
        ]
    steps.append(
        ("hide every other work folder", _mount, "tmpfs", base, "tmpfs", flags,
         tmp if base == "/tmp" else "mode=0755"),
    )  # fmt: skip
    if base != "/tmp":
        steps.append(("a private /tmp", _mount, "tmpfs", "/tmp", "tmpfs", flags, tmp))
    steps += [
        ("bring the work folder back", os.makedirs, workdir, 0o755),
        ("bring the work folder back", _mount, f"{STAGE}/work", workdir, None, _MS_MOVE),
    ]
    readonly = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags
    for i, path in enumerate(keep):
        steps += [
            (f"bring {path} back", os.makedirs, path, 0o755, True),
            (f"bring {path} back", _mount, f"{STAGE}/{i}", path, None, _MS_MOVE),
            (f"make {path} read-only", _mount, None, path, None, readonly),
        ]
    return [
        *steps,
        # as bwrap --dev leaves it for a cold kernel: empty, and not writable by the kernel
        ("an empty /dev/shm", _mount, "tmpfs", "/dev/shm", "tmpfs", flags, "mode=0755"),
        ("this namespace's /proc", _mount, "proc", "/proc", "proc", flags | _MS_NOEXEC),
    ]


def _forward(pid: int, sig: int) -> None:
    """Pass an interrupt on (C1 to C2, C2 to the kernel); one that finds no process is moot."""
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _kernel(spec: dict) -> int:
    """C3: limits, an unprivileged uid without capabilities, then ipykernel."""
    uid = spec["uid"]
    _steps(
        *[(f"limit {name}", _setrlimit, name, value) for name, value in spec["limits"].items()],
        ("no new privileges (setuid programs give nothing)", _prctl, _PR_SET_NO_NEW_PRIVS, 1),
        ("empty the capability bounding set", _drop_bounding_set),
        # groups and gid first: once the uid is dropped, they cannot be changed
        ("no supplementary groups", os.setgroups, []),
        ("the notebook's gid", os.setresgid, uid, uid, uid),
        ("the notebook's uid (clears permitted and effective capabilities)", os.setresuid,
         uid, uid, uid),
        ("no inheritable capabilities", _clear_inheritable_caps),
        ("readable /proc/self, as after an exec", _prctl, _PR_SET_DUMPABLE, 1),
        # last, once the process is what it stays: the filter is for the student's code
        ("the system-call filter", seccomp.install),
    )  # fmt: skip
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    if spec["probe"]:
        return _probe_view(spec)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # fresh entropy per kernel, as in a cold start
    # what ``python -c sandbox.KERNEL_MAIN ARGS`` runs after the set-up this server ran already
    sys.argv = ["-c", *spec["argv"]]
    exec(sandbox.KERNEL_START, {"__name__": "__main__"})
    return 0


def _setrlimit(name: str, value: int) -> None:
    resource.setrlimit(getattr(resource, name), (value, value))


def _drop_bounding_set() -> None:
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            return  # past the last capability this kernel knows


def _clear_inheritable_caps() -> None:
    """capset(2) with every set empty: setuid leaves the inheritable set as it was."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header, data = Header(_LINUX_CAPABILITY_VERSION_3, 0), (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _probe_view(spec: dict) -> int:
    """Exit 0 only when the probe kernel sees what a sandboxed kernel should."""
    problems = []
    status = Path("/proc/self/status").read_text()
    caps = {
        ln.split(":")[0]: int(ln.split()[1], 16)
        for ln in status.splitlines()
        if ln.startswith("Cap")
    }
    if any(caps.values()):
        problems.append(f"capabilities left: {caps}")
    if os.getuid() != spec["uid"] or os.geteuid() != spec["uid"]:
        problems.append(f"uid {os.getuid()}")
    if seccomp.program() is not None and "Seccomp:\t2" not in status:
        problems.append("no system-call filter")
    if os.getpid() != 2:
        problems.append(f"pid {os.getpid()} (no new PID namespace)")
    if Path(spec["workdir"]).parent.joinpath("outside.txt").exists():
        problems.append("the files beside the work folder are visible")
    missing = [p for p in spec["readable"] if not os.path.isdir(p)]
    if missing:
        problems.append(f"Python or the course packages not visible: {missing}")
    Path(spec["workdir"], "probe").write_text("ok")
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    interfaces = sorted(ln.split(":")[0].strip() for ln in lines)
    if interfaces not in ([], ["lo"]):
        problems.append(f"network interfaces {interfaces}")
    for p in problems:
        print(f"fork server probe: {p}", file=sys.stderr, flush=True)
    return 1 if problems else 0
