"""Grading on a Dask cluster: ``grade ... --scheduler ADDRESS`` or ``--scheduler-file FILE``.

``ADDRESS`` is ``tcp://host:port`` or ``tls://host:port`` of a running ``dask scheduler``
(``distributed`` package). For ``tls://`` the client takes Dask's usual security settings
(``distributed.comm.tls.ca-file``, ``.client.cert``, ``.client.key`` in a Dask config file
or as ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``... variables); see docs/scaling.md.

How a run uses the cluster (the parent stays the only writer of the course folder):

* the :class:`RunContext` (limits and support files) goes to the scheduler once, as a
  worker plugin: every worker installs it when it joins, workers that join or restart later
  too, so neither the tasks nor a shared file system carry it;
* one task per student: the sanitised notebooks in, the executed notebooks out (scoring is
  done by the parent: no worker sees the answer key). Tasks are submitted lazily, two per
  worker thread in flight, so the parent sanitises while the cluster works;
* a worker that dies (SIGKILL, out of memory, a lost node) costs nothing: the scheduler
  reruns its task elsewhere and the result arrives once. A task whose workers keep dying
  (more than the scheduler's ``distributed.scheduler.allowed-failures``, 3 by default) ends
  as ``KilledWorker``, which the parent records as "grader crashed" (graded again next run);
* a lost scheduler ends the run with :class:`ClusterLost` (one line on the command line);
  students recorded so far keep their markers and the next run resumes from them.

Dask runs pickled code sent by its clients: whoever can reach the scheduler can run code on
every worker. Keep it reachable by the grading machines only, and use ``tls://``.
"""

from __future__ import annotations

import collections
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import dask.config
from dask.utils import parse_timedelta
from distributed import Client, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from autograder.executors import base
from autograder.executors.base import ClusterLost, Prepare, Results, RunContext


class ContextPlugin(WorkerPlugin):
    """Installs a run's :class:`RunContext` on every worker of the cluster, once."""

    idempotent = True

    def __init__(self, context: RunContext):
        self.context = context

    def setup(self, worker):
        base.install(self.context)

    def teardown(self, worker):
        base.uninstall(self.context.name)


def _quiet_distributed() -> dict:
    """Silence the ``distributed`` loggers of this process; returns their previous levels.

    Dask configures several of them (``distributed.client``, ...) with levels and handlers of
    their own, so the parent's level alone does not reach them.
    """
    import distributed  # noqa: F401 - its import configures the loggers

    names = ["distributed"] + [
        n for n in logging.root.manager.loggerDict if n.startswith("distributed.")
    ]
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return levels


def _restore_levels(levels: dict) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


class DaskExecutor:
    """Runs tasks on the workers of a Dask cluster (see the module docstring)."""

    def __init__(
        self,
        address: str | None = None,
        scheduler_file=None,
        run: Callable = base.run_task,
        timeout: float | None = None,  # seconds to reach the scheduler; None: Dask's setting
    ):
        if (address is None) == (scheduler_file is None):
            raise ValueError("DaskExecutor: give exactly one of address and scheduler_file")
        if address is not None and not str(address).startswith(("tcp://", "tls://")):
            raise ValueError(
                f"grade: --scheduler must be tcp://host:port or tls://host:port, received "
                f"{address!r}"
            )
        self.address = address
        self.scheduler_file = None if scheduler_file is None else str(scheduler_file)
        self.run_fn = run
        self.timeout = timeout
        self.client = None

    @property
    def where(self) -> str:
        return self.address or f"the scheduler of {self.scheduler_file}"

    def describe(self) -> str:
        return f"on the workers of the Dask cluster at {self.where} (each reports its own)"

    def __enter__(self):
        # the client's own log lines (reconnect attempts with tracebacks) are noise here:
        # what matters reaches the parent as exceptions, and ends as one line
        self._log_levels = _quiet_distributed()
        try:
            timeout = self.timeout
            if timeout is None:  # distributed.comm.timeouts.connect, 30 s unless configured
                timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
            self.client = Client(
                self.address,
                scheduler_file=self.scheduler_file,
                timeout=timeout,
                set_as_default=False,
            )
        except (OSError, TimeoutError, ValueError) as exc:
            _restore_levels(self._log_levels)
            raise ClusterLost(f"cannot reach the Dask scheduler at {self.where}: {exc}") from None
        return self

    def __exit__(self, *exc):
        lost = self.client is not None and self.client.status != "running"
        if self.client is not None:
            try:
                self.client.close(timeout=1 if lost else 5)
            except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
                pass
            self.client = None
        if not lost:  # a lost client's reconnect loop logs its cancellation later, unasked
            _restore_levels(self._log_levels)
        return False

    def slots(self) -> int:
        """Worker threads in the cluster now (at least 1: tasks wait for workers to join)."""
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:  # older distributed: no n_workers argument
            workers = self.client.scheduler_info()["workers"]
        return max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def run(self, context: RunContext, jobs: Iterable, prepare: Prepare) -> Results:
        """Yield ``(job, Outcome | exception)`` as the cluster finishes the students.

        As many tasks are in flight as the cluster has worker threads, so that a worker
        holds only the task it runs (a killed worker makes no other student suspect in the
        scheduler's ``allowed-failures`` count); as many more wait sanitised in the parent,
        so a free thread gets its next task within one scheduler round trip.
        """
        client = self.client
        plugin = f"autograder-{context.name}"
        try:
            client.register_plugin(ContextPlugin(context), name=plugin)
        except (OSError, TimeoutError) as exc:
            raise ClusterLost(f"lost the Dask scheduler at {self.where}: {exc}") from None
        todo = iter(jobs)
        ready = collections.deque()  # (job, task) sanitised, not yet submitted
        pending = {}  # future key -> (future, job)
        running = as_completed(loop=client.loop)
        run_id = uuid.uuid4().hex[:8]
        slots, checked = self.slots(), time.monotonic()

        def prepare_next() -> bool:
            job = next(todo, None)
            if job is not None:
                ready.append((job, prepare(job)))
            return job is not None

        def submit_ready():
            while len(pending) < slots and (ready or prepare_next()):
                job, task = ready.popleft()
                fut = client.submit(
                    self.run_fn,
                    task,
                    context.name,
                    key=f"grade-{context.assignment}-{task.student_id}-{run_id}",
                    pure=False,
                )
                pending[fut.key] = (fut, job)
                running.add(fut)

        try:
            submit_ready()
            while len(ready) < slots and prepare_next():
                pass
            for fut in running:
                if time.monotonic() - checked > 1:  # workers may have joined or left
                    slots, checked = self.slots(), time.monotonic()
                _, job = pending.pop(fut.key)
                if fut.status == "cancelled":  # only a lost scheduler cancels our futures
                    raise ClusterLost(f"lost the Dask scheduler at {self.where}")
                submit_ready()  # first: keep the workers busy
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker or a grader bug: one student
                    result = exc
                fut.release()
                while len(ready) < slots and prepare_next():
                    pass
                yield job, result
        except BaseException:
            if pending and client.status == "running":
                client.cancel([f for f, _ in pending.values()], force=True)
            raise
        finally:
            if client.status == "running":
                try:
                    client.unregister_worker_plugin(plugin)
                except Exception:  # noqa: BLE001 - best effort at the end of a run
                    pass


# ------------------------------------------------------------------ a cluster on this machine

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when its parent dies, even by SIGKILL.

    The cluster runs in sessions of its own (a terminal's Ctrl-C must not reach it before
    :meth:`LocalProcesses.stop`), so nothing else would end it when the process that started
    it is killed: a test run killed half-way would leave a scheduler and workers behind.
    Linux only (``prctl``); elsewhere the child just runs. SIGTERM lets a nanny stop its
    worker on the way out. The kernel sends it when the *thread* that started the child ends,
    so start a cluster from a thread that lives as long as the cluster should (the main one).
    """

    try:  # looked up here: the child, forked from a threaded parent, only calls it
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def preexec():
        prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody would signal us
            os._exit(1)

    return preexec


class LocalProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, for trying it out.

    What ``make dask`` starts (``python -m autograder.executors.cluster``), and what the tests and
    ``bench/grading_scale.py`` grade on: separate processes as on real machines, random
    ports, no dashboard, one thread per worker (each task is one sandboxed kernel, which is
    one core's work). ``tls`` = {"ca", "cert", "key"} PEM files makes it a ``tls://``
    cluster; ``env`` is added to the processes' environment (Dask settings as
    ``DASK_...`` variables). :meth:`stop` ends them all.
    """

    def __init__(self, folder, workers=2, tls=None, env=None, timeout=90):
        self.folder, self.tls = Path(folder), tls
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = self.folder / "scheduler.json"
        self.scheduler_file.unlink(missing_ok=True)
        # no statistical profiler in the workers: it samples every thread each 10 ms, CPU the
        # kernels need, and nobody reads its output when grading
        self.env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
        self.env.update({**self.client_env(), **(env or {})})
        tls_args = []
        if tls:
            tls_args = [
                "--tls-ca-file",
                tls["ca"],
                "--tls-cert",
                tls["cert"],
                "--tls-key",
                tls["key"],
            ]
        self.procs = []

        def start(name, args):
            with open(self.folder / f"{name}.log", "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", *args],
                    stdout=log,
                    stderr=log,
                    env=self.env,
                    start_new_session=True,  # Ctrl-C in a terminal reaches them via stop()
                    preexec_fn=_die_with_parent(os.getpid()),  # and a killed parent ends them
                )
            self.procs.append(proc)
            return proc

        self.scheduler = start(
            "scheduler",
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard", "--scheduler-file", str(self.scheduler_file)]
            + (["--protocol", "tls"] if tls else [])
            + tls_args,
        )
        deadline = time.monotonic() + timeout
        address = None
        while address is None:
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                self.stop()
                raise RuntimeError(f"the scheduler did not start:\n{self.log('scheduler')}")
            try:
                address = json.loads(self.scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        self.address = address
        self.workers = [
            start(
                f"worker{i}",
                ["distributed.cli.dask_worker", self.address, "--nthreads", "1"]
                + ["--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"]
                + ["--name", f"w{i}", "--local-directory", str(self.folder / f"w{i}")]
                + tls_args,
            )
            for i in range(workers)
        ]
        try:
            self.wait_for_workers(workers, timeout)
        except BaseException:
            self.stop()
            raise

    def client_env(self) -> dict:
        """Dask's security settings for a client of this cluster, as environment variables."""
        if not self.tls:
            return {}
        return {
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": self.tls["ca"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": self.tls["cert"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": self.tls["key"],
            "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        }

    def client(self) -> Client:
        from distributed.security import Security

        security = None
        if self.tls:
            security = Security(
                tls_ca_file=self.tls["ca"],
                tls_client_cert=self.tls["cert"],
                tls_client_key=self.tls["key"],
                require_encryption=True,
            )
        return Client(self.address, security=security, timeout=30, set_as_default=False)

    def wait_for_workers(self, n, timeout=90):
        with self.client() as c:
            c.wait_for_workers(n, timeout=timeout)

    def log(self, name) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def main(argv=None) -> int:
    """``python -m autograder.executors.cluster``: a local scheduler + workers until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder.executors.cluster", description=main.__doc__
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", default="course/dask", help="logs and scheduler file")
    args = parser.parse_args(argv)
    cluster = LocalProcesses(args.folder, workers=args.workers)
    try:
        print(f"Dask scheduler at {cluster.address}, {args.workers} workers, logs in {args.folder}")
        print("grade on it with:")
        line = "python -m autograder grade ASSIGNMENT --submissions DIR --scheduler"
        print(f"  {line} {cluster.address}")
        # flushed: piped (a test, `make dask | tee`), stdout is block-buffered and the line
        # would wait in the buffer for as long as the cluster runs
        print(
            f"  (or --scheduler-file {cluster.scheduler_file}); Ctrl-C stops the cluster",
            flush=True,
        )
        while cluster.scheduler.poll() is None:
            time.sleep(1)
        print("the scheduler stopped")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
