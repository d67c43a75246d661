"""The sandbox a submission's kernel runs in.

``prefix(workdir, limits, uid)`` returns the argv to put in front of the kernel command.
The mechanism is the strongest this machine offers (:func:`mechanism`):

``bwrap``   bubblewrap, as root: a fresh root file system holding only read-only binds of
            /usr, /etc, the Python installation, the virtualenv and the ``nncourse`` and
            ``autograder`` packages, a private /tmp, the submission folder read-write;
            new PID, IPC, UTS and network namespaces; the kernel runs as an unprivileged uid.
``unshare`` util-linux ``unshare``: new PID, IPC, UTS and network namespaces, no private
            file system view (everything readable by the uid stays readable).
``rlimits`` resource limits and timeouts only.

In every mode the kernel gets the resource limits of :func:`rlimits` (through ``prlimit``) and
the caller applies wall-clock timeouts. RLIMIT_NPROC is not enforced for root, which is why
the kernel drops to an unprivileged uid (``setpriv``) where it can. Each notebook gets a uid
of its own for as long as it runs (:func:`leased_uid`): nothing bound to a uid (the process
count, a keyring, a file left somewhere) reaches the next student, and the lease ends only
once no process of that uid is left (:func:`kill_uid`). Where the sandbox is bubblewrap,
kernels also get the system-call filter of ``seccomp.py``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import functools
import importlib.util
import multiprocessing.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.config import Limits

FIRST_UID = 61000  # the fork server's probe; notebooks lease FIRST_UID + 1 ...
MAX_UIDS = 4096
KILL_WAIT_S = 10.0  # how long the processes of a finished notebook may take to die

# How every kernel's Python starts, cold (``python -c KERNEL_MAIN ARGS``) or forked (the fork
# server runs PYTHON_SETUP when it starts, each forked child then KERNEL_START):
# PYTHON_SETUP: no debugger (a graded kernel is never debugged, and importing debugpy is a
# fifth of a kernel's start-up time) and not ``-c``'s '' (the work folder) first on sys.path;
# KERNEL_START: ipykernel with the arguments in sys.argv, as ``python -m ipykernel_launcher``.
PYTHON_SETUP = "import sys; sys.modules['debugpy'] = None; del sys.path[0]; "
KERNEL_START = "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
KERNEL_MAIN = PYTHON_SETUP + KERNEL_START


def rlimits(limits: Limits) -> dict[str, int]:
    """The resource limits of a kernel, as ``setrlimit`` names and values (soft = hard)."""
    return {
        "RLIMIT_CPU": int(limits.cpu_s),
        "RLIMIT_AS": int(limits.memory_mb) * 2**20,
        "RLIMIT_NPROC": int(limits.max_processes),
        "RLIMIT_FSIZE": int(limits.max_file_mb) * 2**20,
        "RLIMIT_NOFILE": int(limits.max_open_files),
        "RLIMIT_CORE": 0,
    }


def kernel_env(workdir: Path, extra: dict | None = None) -> dict:
    """A minimal environment for the kernel (no secrets from ours)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "IPYTHONDIR": str(workdir / ".ipython"),
        "MPLCONFIGDIR": str(workdir / ".mpl"),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
        "NBGRADER_EXECUTION": "autograde",
    }
    env.update(extra or {})
    return env


def _uids(pid: int | str) -> list[int]:
    """Real, effective, saved and file-system uid of a process ([] once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
    except OSError:
        return []
    return [int(u) for u in status.split(b"\nUid:", 1)[1].split(b"\n", 1)[0].split()]


def processes_of(uid: int) -> list[int]:
    """Pids of this host's processes that hold ``uid`` (zombies included)."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and uid in _uids(p)]


def kill_uid(uid: int, wait_s: float = KILL_WAIT_S) -> None:
    """SIGKILL every process of the sandbox uid ``uid`` and wait until none is left.

    A pid may be reused between reading /proc and the kill: each process is first pinned by
    a pidfd, checked again for its uid, and only then signalled through the pidfd.
    Raises RuntimeError if processes of ``uid`` remain after ``wait_s``.
    """
    if os.geteuid() != 0 or uid < FIRST_UID:
        return
    deadline = time.monotonic() + wait_s
    while pids := processes_of(uid):
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:  # gone
                continue
            try:
                if uid in _uids(pid):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                pass
            finally:
                os.close(fd)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} of sandbox uid {uid} survive SIGKILL")
        time.sleep(0.005)


@contextlib.contextmanager
def leased_uid(uid: int | None = None):
    """A sandbox uid for one notebook: used by no other notebook on this host meanwhile, with
    no process left from an earlier one, and with none of its own left when the lease ends.

    Claimants on one host (threads, pool processes, Dask workers, two ``grade`` runs) hold an
    exclusive ``flock`` on ``<tmp>/autograder-uids-<euid>/<uid>.lock`` while they lease it
    (a killed claimant's lease ends with its process; the next one kills what it left).
    With ``uid`` given, that uid is used as it is, and still cleared at the end.
    """
    if uid is not None:
        try:
            yield uid
        finally:
            kill_uid(uid)
        return
    fd, uid = _claim()
    try:
        yield uid
    finally:
        try:
            kill_uid(uid)
        except RuntimeError:
            # processes we cannot kill: keep the lock (this process never lends the uid
            # again) and say so; the next claimant after us retries the kill
            _LEAKED.append(fd)
            raise
        os.close(fd)


_LEAKED: list[int] = []
_NEXT = [0]  # where this process looks for a free uid next: round the range, not its start


def _claim() -> tuple[int, int]:
    folder = Path(tempfile.gettempdir()) / f"autograder-uids-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for step in range(MAX_UIDS):
        offset = (_NEXT[0] + step) % MAX_UIDS
        uid = FIRST_UID + 1 + offset
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            kill_uid(uid)  # left by a claimant that was killed before its lease ended
        except RuntimeError:
            os.close(fd)
            continue
        _NEXT[0] = offset + 1
        return fd, uid
    raise RuntimeError(f"leased_uid: all {MAX_UIDS} sandbox uids are in use on this host")


@functools.cache
def mechanism() -> str:
    """'bwrap', 'unshare' or 'rlimits' (override with AUTOGRADER_SANDBOX)."""
    forced = os.environ.get("AUTOGRADER_SANDBOX")
    if forced:
        if forced not in ("bwrap", "unshare", "rlimits"):
            raise ValueError(f"AUTOGRADER_SANDBOX must be bwrap/unshare/rlimits, got {forced!r}")
        return forced
    if (
        os.geteuid() == 0
        and shutil.which("bwrap")
        and _works(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "true"])
    ):
        return "bwrap"
    if shutil.which("unshare") and _works(["unshare", "--net", "--pid", "--fork", "true"]):
        return "unshare"
    return "rlimits"


def _works(cmd) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def describe() -> str:
    """One line for logs: which mechanism is used."""
    return {
        "bwrap": "bubblewrap (private root fs, pid/net/ipc namespaces, unprivileged uid) + rlimits",
        "unshare": "unshare (pid/net/ipc namespaces, no private fs) + rlimits",
        "rlimits": "resource limits and timeouts only (no namespaces available)",
    }[mechanism()]


def readable_paths() -> list[str]:
    """Host paths the kernel needs to see read-only (Python, venv, course packages)."""
    paths = {
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.prefix),
        str(Path(__file__).resolve().parents[1]),
    }
    spec = importlib.util.find_spec("nncourse")
    if spec is not None:  # the course library: the kernel imports it, solutions are not in it
        paths.update(str(Path(p).resolve()) for p in spec.submodule_search_locations or [])
    if sys.prefix != os.path.realpath(sys.prefix):
        paths.add(sys.prefix)
    return sorted(
        p
        for p in paths
        if os.path.isdir(p) and not p.startswith(("/usr/", "/etc/")) and p != "/usr"
    )


def prefix(workdir: Path, limits: Limits, uid: int, seccomp_fd: int | None = None) -> list[str]:
    """argv prefix that runs a command inside the sandbox with ``workdir`` writable.

    ``seccomp_fd`` (bubblewrap only): a descriptor holding ``seccomp.program()``, which the
    caller passes to the child and closes after the start."""
    # RLIMIT_CPU -> prlimit --cpu=...
    rlimit_cmd = ["prlimit", *(f"--{k[7:].lower()}={v}" for k, v in rlimits(limits).items())]
    rlimit_cmd.append("--")
    drop = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    mode = mechanism()
    if mode == "bwrap":
        args = _bwrap_view(str(workdir), tmp_mb=limits.max_tmp_mb)
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--chdir", str(workdir)]
        return args + ["--"] + rlimit_cmd + drop
    if mode == "unshare":
        ns = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--"]
        return ns + rlimit_cmd + (drop if _reachable_by_others() else [])
    return rlimit_cmd + (drop if os.geteuid() == 0 and _reachable_by_others() else [])


def _bwrap_view(writable: str, tmp_mb: int | None) -> list[str]:
    """bwrap argv up to the command: namespaces and a root holding the read-only system
    folders, Python, the course packages and ``writable`` (read-write, at the same path),
    and a private /tmp of ``tmp_mb`` MB unless ``tmp_mb`` is None."""
    args = ["bwrap", "--die-with-parent", "--new-session"]
    args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            args += ["--ro-bind", str(target), f"/{link}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if tmp_mb is not None:
        args += ["--perms", "1777", "--size", str(int(tmp_mb) * 2**20), "--tmpfs", "/tmp"]
    made = set()
    for path in [*readable_paths(), writable]:
        for parent in reversed(Path(path).parents):
            p = str(parent)
            if p not in ("/", "/usr", "/tmp") and p not in made:
                args += ["--perms", "0755", "--dir", p]
                made.add(p)
    for path in readable_paths():
        args += ["--ro-bind", path, path]
    return args + ["--bind", writable, writable]


def server_prefix(base: Path, caps: tuple[str, ...]) -> list[str]:
    """argv prefix of the kernel fork server (``forkserver.py``): the kernels' view, with
    ``base`` (the folder every work folder lives under) read-write, run as root with ``caps``
    so that it can build each kernel's own namespaces."""
    if mechanism() != "bwrap":
        raise ValueError(
            f"server_prefix: the fork server needs bwrap, the sandbox is {mechanism()}"
        )
    # the server's own /tmp: only the import caches it writes before it is ready
    args = _bwrap_view(str(base), tmp_mb=None if str(base) == "/tmp" else 64)
    args += ["--cap-drop", "ALL"]  # bwrap run by root would keep every capability
    for cap in caps:
        args += ["--cap-add", cap]
    return args + ["--chdir", "/", "--"]


def _reachable_by_others() -> bool:
    """True if an unprivileged uid can run this Python (every parent dir world-executable)."""
    for path in readable_paths():
        for parent in [Path(path), *Path(path).parents]:
            if not os.stat(parent).st_mode & 0o001:
                return False
    return True


@functools.cache
def work_base() -> Path:
    """The folder every work folder of this process lives under.

    As root with bubblewrap it is a fresh folder in the temporary directory, bind-mounted on
    itself with *shared* propagation, made before any fork server starts: a work folder's
    tmpfs (:func:`bounded_workdir`), mounted later on this machine, then reaches the servers'
    mount namespaces too (theirs are slaves of ours). It is detached and removed at exit.
    Elsewhere it is the temporary directory itself."""
    tmp = Path(tempfile.gettempdir())
    if os.geteuid() != 0 or mechanism() != "bwrap":
        return tmp
    _sweep_bases(tmp)
    base = Path(tempfile.mkdtemp(prefix=f"autograder-work-{os.getpid()}-", dir=tmp))
    try:
        _mount(str(base), base, None, _MS_BIND)
    except OSError:
        base.rmdir()
        return tmp
    atexit.register(_release_base, base)
    # a pool worker ends through multiprocessing's exit, which skips atexit
    multiprocessing.util.Finalize(None, _release_base, args=(base,), exitpriority=10)
    try:
        _mount(None, base, None, _MS_SHARED)
    except OSError:
        return base  # usable, but a work folder's tmpfs would not reach the servers
    _SHARED.add(base)
    return base


_SHARED: set[Path] = set()


def _release_base(base: Path) -> None:
    if base.is_dir():
        _libc.umount2(str(base).encode(), _MNT_DETACH)
        shutil.rmtree(base, ignore_errors=True)


def _sweep_bases(tmp: Path) -> None:
    """Release the work bases of grading processes that were killed before their exit."""
    for path in tmp.glob("autograder-work-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _release_base(path)


@contextlib.contextmanager
def bounded_workdir(workdir: Path, size_mb: int):
    """Hold ``workdir`` on a tmpfs of ``size_mb`` MB while it is graded, so that a student
    cannot fill the grading machine's disk. Only for a folder under :func:`work_base` with
    shared propagation (root and bubblewrap); elsewhere the folder stays as it is. What the
    folder held is copied in first; the tmpfs is detached when the block ends (the caller
    has ended every process of the notebook by then)."""
    workdir = Path(workdir)
    if not any(base in workdir.parents for base in _SHARED):
        yield workdir
        return
    staged = workdir.with_name(workdir.name + ".staged")
    os.rename(workdir, staged)
    workdir.mkdir(mode=0o700)
    try:
        _mount("tmpfs", workdir, "tmpfs", _MS_NOSUID | _MS_NODEV, f"mode=0700,size={size_mb}m")
    except OSError:
        workdir.rmdir()
        os.rename(staged, workdir)
        raise
    try:
        shutil.copytree(staged, workdir, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(staged)
        yield workdir
    finally:
        if _libc.umount2(str(workdir).encode(), _MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"umount {workdir}: {os.strerror(err)}")


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
# <linux/mount.h>
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_SHARED, _MNT_DETACH = 0x2, 0x4, 0x1000, 1 << 20, 0x2


def _mount(source, target, fstype, flags, data=None) -> None:
    def enc(s):
        return None if s is None else str(s).encode()

    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def prepare_workdir(workdir: Path, uid: int) -> None:
    """Give the sandbox uid ownership of its folder (it runs unprivileged).

    A student's process may still run there (a restart hands the folder over again) and
    swap its entries while root walks it: every step acts on descriptors, never on a path.
    ``os.fwalk`` opens each folder relative to its parent's descriptor and checks that it
    opened the folder it listed (a folder turned into a link is not entered), each entry is
    changed relative to its folder's descriptor without following a link, and an entry gone
    in between is skipped.
    """
    if os.geteuid() != 0:
        return
    top = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for _, dirs, files, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            for name in [*dirs, *files]:
                try:
                    os.chown(name, uid, uid, dir_fd=dirfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed since the listing: nothing to hand over
        os.fchown(top, uid, uid)
        os.fchmod(top, 0o700)
    finally:
        os.close(top)
