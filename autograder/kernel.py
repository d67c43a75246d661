"""Execute a notebook with its kernel inside the sandbox, surviving crashes and hangs.

:func:`execute_notebook` runs the code cells in order with a per-cell timeout. When a cell
hangs (timeout), kills its kernel (``os._exit``, signals, CPU or memory limit) or floods its
output, that cell gets an error output, the kernel is restarted, and the notebook is run again
from the top *skipping* the cells that failed that way. So a crash costs only the exercise
whose cell crashed. The kernel talks to us over Unix sockets in the submission's folder,
which works across the sandbox's network namespace.

The grader runs as root beside a folder the student's kernel can write, so it never acts
there by path once student code may run: the connection file is created with
``O_EXCL | O_NOFOLLOW`` inside the folder's descriptor and handed over with ``fchown``, and
the kernel's sockets are pinned by ``O_PATH`` descriptors (checked to be sockets) and
connected to through ``/proc/self/fd``, so a name swapped for a symlink leads nowhere.
Every notebook runs under a uid of its own (``sandbox.leased_uid``) and ends with no process
of that uid left.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets import DottedObjectName, Type

from autograder import outcomes, sandbox
from autograder.config import Limits
from autograder.files import atomic_write
from autograder.sandbox import forkserver, seccomp

log = logging.getLogger(__name__)

ERROR_NAME = "AutograderError"  # ename of the error outputs added by the grader
STARTUP_TIMEOUT_S = 60  # seconds a new kernel has to open its sockets


def kernel_args(connection_file: str) -> list[str]:
    """ipykernel's arguments, for a cold kernel (after ``sandbox.KERNEL_MAIN``) and a forked
    one alike."""
    # parent_handle=0: in a PID namespace the parent looks like init, which would make
    # ipykernel's parent poller shut the kernel down
    return [
        "--IPKernelApp.parent_handle=0",
        "--HistoryManager.enabled=False",  # no SQLite history file per kernel
        "-f",
        connection_file,
    ]


# IPython startup file of every kernel the grader starts (grading, release, self-check):
# figures are not rendered, since no check reads a figure and rendering them was most of the
# time of the plotting notebooks (bench/grading_profile.py). The kernel keeps matplotlib's
# non-interactive Agg backend (MPLBACKEND) even where a notebook asks for `%matplotlib
# inline`, and closes its figures after every cell as the inline backend does. In the
# student's own Jupyter, where this file does not exist, the plots show as usual.
GRADING_STARTUP = """\
def _keep_agg(line=""):
    \"\"\"%matplotlib while grading: figures stay unrendered (Agg).\"\"\"


def _close_figures(*args):
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


get_ipython().register_magic_function(_keep_agg, "line", "matplotlib")
get_ipython().events.register("post_run_cell", _close_figures)
del _keep_agg, _close_figures
import warnings as _warnings

_warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")
del _warnings
"""


class PromptKernelClient(AsyncKernelClient):
    """A kernel client whose ``wait_for_ready`` returns as soon as the kernel is ready.

    jupyter_client's version ends by draining IOPub until it has been silent for 0.2 s, a
    fixed pause per kernel start; nbclient ignores IOPub messages that answer other requests,
    so nothing needs draining. Ready means: a ``kernel_info_reply`` on shell *and* a message
    on IOPub (so the first cell's outputs cannot be lost to a late IOPub subscription).
    """

    async def _async_wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
                if msg["msg_type"] == "kernel_info_reply":
                    await self.iopub_channel.get_msg(timeout=0.2)
                    self._handle_kernel_info_reply(msg)
                    return
            except Empty:
                pass
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} s")

    wait_for_ready = _async_wait_for_ready

    def _make_url(self, channel: str) -> str:
        # the socket the manager pinned: never the name, which the kernel's uid may swap
        sockets = getattr(self.parent, "sockets", None)
        if self.transport == "ipc" and sockets:
            return f"ipc:///proc/self/fd/{sockets[getattr(self, f'{channel}_port')]}"
        return super()._make_url(channel)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel starts inside the sandbox: a cold kernel command behind
    ``sandbox.prefix``, or a fork of the warm fork server (``forkserver.py``) when one is set.
    """

    client_class = DottedObjectName("autograder.kernel.PromptKernelClient")
    client_factory = Type(klass="autograder.kernel.PromptKernelClient")
    sandbox_uid: int | None = None
    sandbox_limits: Limits | None = None
    workdir: Path | None = None
    forkserver = None  # a forkserver.ForkServer, or None: cold start
    startup_timeout_s: float = STARTUP_TIMEOUT_S  # to open its sockets (what the notebook has left)

    sockets: dict[int, int] | None = None  # port -> O_PATH descriptor of its socket
    _seccomp_fd: int | None = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.forkserver is None:
            if self._seccomp_fd is not None:
                kw["pass_fds"] = (self._seccomp_fd,)
            try:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                self._close_seccomp_fd()
        else:
            args = kernel_cmd[kernel_cmd.index(sandbox.KERNEL_MAIN) + 1 :]  # nbclient's too
            process = self.forkserver.launch(
                args,
                env=kw["env"],
                cwd=kw["cwd"],
                workdir=self.workdir,
                log_path=kw["stdout"].name,
                limits=self.sandbox_limits,
                uid=self.sandbox_uid,
            )
            provisioner = self.provisioner
            provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
            provisioner.cwd = kw["cwd"]
            self._reconcile_connection_info(provisioner.connection_info)
        if self.transport == "ipc" and self.workdir is not None:
            await self._pin_sockets(self.startup_timeout_s)

    async def _pin_sockets(self, timeout: float) -> None:
        """Wait for the kernel's five sockets and hold each by an O_PATH descriptor."""
        ports = [getattr(self, f"{name}_port") for name in ("shell", "iopub", "stdin")]
        ports += [self.hb_port, self.control_port]
        names = {port: os.path.basename(f"{self.ip}-{port}") for port in ports}
        deadline = time.monotonic() + timeout
        folder = os.open(self.workdir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        self.sockets = {}
        try:
            while len(self.sockets) < len(ports):
                for port in set(ports) - set(self.sockets):
                    try:
                        fd = os.open(names[port], os.O_PATH | os.O_NOFOLLOW, dir_fd=folder)
                    except FileNotFoundError:
                        continue
                    self.sockets[port] = fd
                    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                        raise RuntimeError(f"kernel socket {names[port]} is not a socket")
                if len(self.sockets) < len(ports):
                    if not await self._async_is_alive():
                        raise RuntimeError("Kernel died before opening its sockets")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"Kernel did not open its sockets in {timeout:g} s")
                    await asyncio.sleep(0.005)
        finally:
            os.close(folder)

    def cleanup_ipc_files(self) -> None:
        # the socket names are relative to the kernel's folder, not to our working directory
        if self.transport != "ipc" or self.workdir is None:
            return super().cleanup_ipc_files()
        try:
            folder = os.open(self.workdir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            for port in self.ports:
                with contextlib.suppress(OSError):
                    os.unlink(f"{self.ip}-{port}", dir_fd=folder)
        finally:
            os.close(folder)
        return None

    def _close_sockets(self) -> None:
        for fd in (self.sockets or {}).values():
            os.close(fd)
        self.sockets = None

    def _close_seccomp_fd(self) -> None:
        if self._seccomp_fd is not None:
            os.close(self._seccomp_fd)
            self._seccomp_fd = None

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        self._close_sockets()
        self._close_seccomp_fd()
        await super()._async_cleanup_resources(restart=restart)

    cleanup_resources = _async_cleanup_resources

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # jupyter_client polls a killed kernel every 0.1 s; it is gone within milliseconds
        while await self._async_is_alive():
            await asyncio.sleep(0.005)

    def write_connection_file(self, **kwargs) -> None:
        """Write the connection file into the kernel's folder without following a link.

        The ports are chosen as jupyter_client does, in a private file of the grader's;
        its bytes are then written to a new file (O_CREAT | O_EXCL | O_NOFOLLOW) opened in the
        folder's descriptor, owned by the sandbox uid through the descriptor."""
        if self.workdir is None:
            return super().write_connection_file(**kwargs)
        if self._connection_file_written:
            return None
        private = self.workdir.parent / f".{os.path.basename(self.connection_file)}"
        connection_file = self.connection_file
        self.connection_file = str(private)
        try:
            super().write_connection_file(**kwargs)
            data = private.read_bytes()
        finally:
            self.connection_file = connection_file
            private.unlink(missing_ok=True)
        _write_new(self.workdir, os.path.basename(connection_file), data, self.sandbox_uid)

    def _reconcile_connection_info(self, info) -> None:
        # jupyter_client would read the connection file back (as root, by path, from the
        # student's folder); we wrote it from these very values, so compare them instead
        if self.workdir is None:
            return super()._reconcile_connection_info(info)
        if not self._equal_connections(info, self.get_connection_info()):
            raise ValueError("the kernel's connection information changed at its start")
        return None

    def format_kernel_cmd(self, extra_arguments=None):
        if self.forkserver is None and sandbox.mechanism() == "bwrap":
            self._seccomp_fd = seccomp.memfd()
        prefix = sandbox.prefix(
            self.workdir, self.sandbox_limits, self.sandbox_uid, seccomp_fd=self._seccomp_fd
        )
        cmd = [sys.executable, "-c", sandbox.KERNEL_MAIN, *kernel_args(self.connection_file)]
        return [*prefix, *cmd, *(extra_arguments or [])]


def _write_new(folder: Path, name: str, data: bytes, uid: int | None) -> None:
    """Create ``folder/name`` afresh (whatever held the name is unlinked, never followed)."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for _ in range(100):  # a kernel of the same student could race us for the name
            try:
                os.unlink(name, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            except FileExistsError:
                continue
            try:
                if uid is not None and os.geteuid() == 0:
                    os.fchown(fd, uid, uid)
                os.write(fd, data)
            finally:
                os.close(fd)
            return
        raise RuntimeError(f"could not create {name} in the kernel's folder")
    finally:
        os.close(dir_fd)


class LimitedClient(NotebookClient):
    """nbclient that keeps at most ``max_output_bytes`` of outputs per cell."""

    def __init__(self, nb, km, max_output_bytes, **kw):
        super().__init__(nb, km=km, **kw)
        self.max_output_bytes = max_output_bytes
        self._sizes = {}
        self.flooded = set()

    def output(self, outs, msg, display_id, cell_index):
        size = self._sizes.get(cell_index, 0) + len(json.dumps(msg.get("content", {})))
        self._sizes[cell_index] = size
        if size > self.max_output_bytes:
            self.flooded.add(cell_index)
            return None
        return super().output(outs, msg, display_id, cell_index)


def error_output(message: str):
    """An nbformat error output written by the grader (counts as a failed cell)."""
    return nbformat.v4.new_output(
        "error", ename=ERROR_NAME, evalue=message, traceback=[f"{ERROR_NAME}: {message}"]
    )


def execute_notebook(
    nb, workdir: Path, limits: Limits, uid: int | None = None, env: dict | None = None
):
    """Execute ``nb`` (modified in place and returned) in a sandboxed kernel in ``workdir``.

    The kernels run under ``uid``, by default a uid leased for this notebook alone; no
    process of it is left when this returns (or raises). Returns ``(nb, info)`` where
    ``info`` has ``mechanism``, ``kernel`` ("forked" from the warm fork server or "cold"),
    ``uid``, ``restarts``, ``failed_cells`` (index -> ``outcomes.Problem``) and ``seconds``.
    """
    # the folder's tmpfs (if any) is detached only once no process of the uid is left
    with (
        sandbox.bounded_workdir(Path(workdir), limits.max_disk_mb) as workdir,
        sandbox.leased_uid(uid) as uid,
    ):
        return _run_interruptibly(_execute(nb, workdir, limits, uid, env or {}))


def _run_interruptibly(coro):
    """``asyncio.run(coro)``, where a Ctrl-C (SIGINT) always ends in ``KeyboardInterrupt``.

    asyncio turns SIGINT into a cancellation of the running task; the kernel libraries may
    swallow that cancellation (while a kernel starts, say), and the run would go on to the next
    student as if no key had been pressed. Here the signal is noted as well, and the run stops
    once the coroutine has unwound (its kernel killed by the ``finally`` clauses). SIGTERM,
    when this process handles it in Python (the command line and pool workers do), is noted the
    same way, and its handler then runs (it raises)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        return asyncio.run(coro)
    handlers = {signal.SIGINT: signal.default_int_handler}
    if callable(signal.getsignal(signal.SIGTERM)):
        handlers[signal.SIGTERM] = signal.getsignal(signal.SIGTERM)
    pressed = []

    async def main():
        task, loop = asyncio.current_task(), asyncio.get_running_loop()

        def on_signal(signum, frame):
            pressed.append(signum)
            loop.call_soon_threadsafe(task.cancel)

        for signum in handlers:
            signal.signal(signum, on_signal)
        # nbclient puts its own handlers on the loop for the kernel's lifetime: they clean up
        # the kernel and swallow the signal (the run would go on, the student charged with a
        # crash), and on removal leave SIGTERM at SIG_DFL; ours stay in place instead
        loop.add_signal_handler = _no_loop_signals
        loop.remove_signal_handler = _no_loop_signals
        try:
            return await coro
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    try:
        result = asyncio.run(main())
    except BaseException as exc:  # a cancelled kernel start may end in any error
        interrupt = outcomes.interruption(exc)
        if interrupt is not None:  # the signal came before on_signal was in place
            raise interrupt from None
        if not pressed:
            raise
    if pressed:
        handlers[pressed[0]](pressed[0], None)  # raises: KeyboardInterrupt or the caller's own
        raise KeyboardInterrupt
    return result


def quiet_interrupted_kernel_tasks(record) -> bool:
    """A logging filter (for the ``asyncio`` logger): nbclient's kernel tasks left behind when
    Ctrl-C or SIGTERM stops a notebook (its alive poll, its clean-up) fail once the kernel
    is gone, and asyncio reports each with a traceback ("Task exception was never retrieved")
    after the kernel was killed as it should be. The command line and pool workers use it."""
    text = str(record.msg)
    return not (
        text.startswith("Task exception was never retrieved")
        and ("kernel_alive" in text or "cleanup_kernel" in text)
    )


def _no_loop_signals(*args, **kwargs) -> bool:
    """Stands in for the event loop's ``add_signal_handler``/``remove_signal_handler``."""
    return False


def _server_for(workdir, extra_env):
    """This thread's fork server if a kernel with ``extra_env`` in ``workdir`` may use it."""
    server = forkserver.for_thread()
    if server is not None and not server.compatible(
        sandbox.kernel_env(workdir, extra_env), workdir
    ):
        return None
    return server


async def _execute(nb, workdir, limits, uid, extra_env):
    start = time.monotonic()
    deadline = start + limits.notebook_timeout_s
    workdir.mkdir(parents=True, exist_ok=True)
    startup = workdir / ".ipython" / "profile_default" / "startup" / "00-grading.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    startup.write_text(GRADING_STARTUP)
    sandbox.prepare_workdir(workdir, uid)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    server = _server_for(workdir, extra_env)
    launches = itertools.count()  # names each kernel's connection file and sockets
    for _ in range(3):
        bad, restarts = await _run_all(
            nb, code, workdir, limits, uid, extra_env, deadline, server, launches
        )
        if server is None or server.alive():
            break
        # the fork server died under this notebook (killed, out of memory) and its kernels
        # with it: the grader's failure, not the student's, so the notebook runs again from
        # the top, from a fresh server (or a cold kernel)
        log.warning("fork server gone while grading; running the notebook again")
        server = _server_for(workdir, extra_env)
    else:
        raise forkserver.ForkServerError("the fork server died three times under this notebook")
    info = {
        "mechanism": sandbox.mechanism(),
        "kernel": "forked" if server is not None else "cold",
        "uid": uid,
        "restarts": restarts,
        "failed_cells": bad,
        "seconds": round(time.monotonic() - start, 3),
    }
    return nb, info


async def _run_all(nb, code, workdir, limits, uid, extra_env, deadline, server, launches):
    """Run the code cells from clean outputs; after a fatal failure (crash, timeout) the kernel
    restarts and the run goes on from the top, skipping the cells that failed. Returns
    ``(bad, restarts)``: failed cell index -> its ``Problem``, and the number of restarts. Stops at
    once if the fork server dies, since what failed then is not the student's."""
    for i in code:
        nb.cells[i].outputs = []
        nb.cells[i].execution_count = None
    bad: dict[int, str] = {}
    restarts = 0
    while True:
        failed = await _run_once(
            nb, code, bad, workdir, limits, uid, extra_env, deadline, next(launches), server
        )
        if failed is None or (server is not None and not server.alive()):
            return bad, restarts
        index, problem = failed
        bad[index] = problem
        nb.cells[index].outputs = [error_output(problem.text)]
        restarts += 1
        if restarts > limits.max_restarts or time.monotonic() >= deadline:
            for i in code:
                if i not in bad and i > index:
                    why = outcomes.not_run(
                        "not run: too many crashes or time limit of the notebook reached"
                    )
                    bad[i] = why
                    nb.cells[i].outputs = [error_output(why.text)]
            return bad, restarts


async def _run_once(nb, code, bad, workdir, limits, uid, extra_env, deadline, attempt, server):
    """Run all code cells not in ``bad``; return (index, Problem) of a fatal failure or None."""
    km = SandboxedKernelManager(
        connection_file=str(workdir / f"kernel-{attempt}.json"),
        transport="ipc",
        # relative to the kernel's working folder: a socket path is limited to 107 bytes,
        # which a long TMPDIR would exceed; we connect through pinned descriptors anyway
        ip=f"ipc-{attempt}",
    )
    km.sandbox_uid, km.sandbox_limits, km.workdir = uid, limits, workdir
    km.forkserver = server
    # the notebook's wall clock covers kernel starts too: a kernel that never opens its
    # sockets costs what is left of it at most, not a full minute per restart
    km.startup_timeout_s = max(1, min(STARTUP_TIMEOUT_S, int(deadline - time.monotonic())))
    client = LimitedClient(
        nb,
        km,
        max_output_bytes=limits.max_output_kb * 1024,
        timeout=int(limits.cell_timeout_s),
        startup_timeout=km.startup_timeout_s,
        allow_errors=True,
        interrupt_on_timeout=False,
        record_timing=False,
        iopub_timeout=2,
        shutdown_kernel="immediate",
    )
    env = sandbox.kernel_env(workdir, extra_env)
    log = open(workdir.parent / "kernel.log", "ab")  # noqa: SIM115 - closed in finally
    try:
        async with client.async_setup_kernel(
            env=env,
            stdout=log,
            stderr=log,
            cwd=str(workdir),
            cleanup_kc=True,
        ):
            for i in code:
                if i in bad:
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    return i, outcomes.timeout("time limit of the notebook reached")
                client.timeout = int(max(1, min(limits.cell_timeout_s, left)))
                try:
                    await client.async_execute_cell(nb.cells[i], i)
                except CellTimeoutError:
                    text = f"cell timed out after {client.timeout} s (the kernel was restarted)"
                    return i, outcomes.timeout(text)
                except DeadKernelError:
                    return i, outcomes.crash(
                        "the kernel died while running this cell (it was restarted)"
                    )
                except Exception as exc:  # noqa: BLE001 - garbage on the wire, broken kernel
                    return i, outcomes.crash(
                        f"the kernel failed while running this cell ({type(exc).__name__})"
                    )
                if i in client.flooded:
                    nb.cells[i].outputs.append(
                        error_output(f"output limit of {limits.max_output_kb} kB exceeded")
                    )
                    client.flooded.discard(i)
    except (RuntimeError, TimeoutError) as exc:  # kernel failed to start or answer
        first = next((i for i in code if i not in bad), None)
        if first is None:
            return None
        return first, outcomes.crash(f"kernel error: {exc}")
    finally:
        await _kill(km)
        log.close()
        # nothing of this kernel may outlive it, verified by what cannot be reused: the uid
        # is this notebook's alone (a pid could be anyone's by now)
        sandbox.kill_uid(uid)
    return None


async def _kill(km):
    """Make sure the sandbox and everything in it is gone."""
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001 - best effort: the process may already be gone
        pass
    try:
        await km.cleanup_resources()
    except Exception:  # noqa: BLE001
        pass


def write_notebook(nb, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb)
    atomic_write(path, text if text.endswith("\n") else text + "\n")
