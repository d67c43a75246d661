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

In every mode the kernel gets RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC and RLIMIT_FSIZE (through
``prlimit``) and the caller applies wall-clock timeouts. RLIMIT_NPROC is not enforced for
root, which is why the kernel drops to an unprivileged uid (``setpriv``) where it can.
Each grading worker claims its own uid (:func:`claim_uid`) so that the limit counts one
student's processes, however many workers run on the host.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .config import Limits

FIRST_UID = 61000  # release and check use it; grading workers claim FIRST_UID + 1 ...
MAX_WORKER_UIDS = 4096
_CLAIM = threading.local()


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


def claim_uid() -> int:
    """A sandbox uid for this thread, distinct from every other claimant on this host.

    Workers of one host may be processes of a pool, Dask workers started independently, the
    threads of one Dask worker or two ``grade`` runs at once: each holds an exclusive
    ``flock`` on ``<tmp>/autograder-uids-<euid>/<uid>.lock`` for as long as its process lives
    (the kernel does not inherit the descriptor; a killed worker's claim ends with it).
    """
    uid = getattr(_CLAIM, "uid", None)
    if uid is not None:
        return uid
    folder = Path(tempfile.gettempdir()) / f"autograder-uids-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for uid in range(FIRST_UID + 1, FIRST_UID + 1 + MAX_WORKER_UIDS):
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _CLAIM.uid, _CLAIM.fd = uid, fd
        return uid
    raise RuntimeError(f"claim_uid: all {MAX_WORKER_UIDS} sandbox uids are in use on this host")


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
        str(Path(__file__).resolve().parent),
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


def prefix(workdir: Path, limits: Limits, uid: int) -> list[str]:
    """argv prefix that runs a command inside the sandbox with ``workdir`` writable."""
    rlimits = [
        "prlimit",
        f"--cpu={int(limits.cpu_s)}",
        f"--as={int(limits.memory_mb) * 2**20}",
        f"--nproc={int(limits.max_processes)}",
        f"--fsize={int(limits.max_file_mb) * 2**20}",
        "--core=0",
        "--",
    ]
    drop = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]
    mode = mechanism()
    if mode == "bwrap":
        args = _bwrap_view(str(workdir), private_tmp=True)
        args += ["--chdir", str(workdir)]
        return args + ["--"] + rlimits + drop
    if mode == "unshare":
        ns = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", "--"]
        return ns + rlimits + (drop if _reachable_by_others() else [])
    return rlimits + (drop if os.geteuid() == 0 and _reachable_by_others() else [])


def _bwrap_view(writable: str, private_tmp: bool) -> list[str]:
    """bwrap argv up to the command: namespaces and a root holding the read-only system
    folders, Python, the course packages and ``writable`` (read-write, at the same path)."""
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
    if private_tmp:
        args += ["--perms", "1777", "--tmpfs", "/tmp"]
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
    args = _bwrap_view(str(base), private_tmp=str(base) != "/tmp")
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


def prepare_workdir(workdir: Path, uid: int) -> None:
    """Give the sandbox uid ownership of its folder (it runs unprivileged)."""
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(workdir):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), uid, uid)
    os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
