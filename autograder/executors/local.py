"""The executors on this machine: ``InProcess`` (``--workers 1``) and ``ProcessPool``
(``--workers N``), implementations of ``base.Executor``."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterable

from autograder import kernel, sandbox
from autograder.executors.base import Prepare, Results, RunContext, install, run_task


class _OnThisMachine:
    """What the two local executors share: this machine's sandbox, nothing to set up."""

    def describe(self) -> str:
        return sandbox.describe()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class InProcess(_OnThisMachine):
    """``--workers 1``: tasks run one after the other in the parent's own process."""

    def __init__(self, run: Callable = run_task):
        self.run_fn = run

    def run(self, context: RunContext, jobs: Iterable, prepare: Prepare) -> Results:
        install(context)
        for job in jobs:
            task = prepare(job)
            try:
                result = self.run_fn(task, context.name)
            except Exception as exc:  # noqa: BLE001 - a grader failure costs one student
                result = exc
            yield job, result


class ProcessPool(_OnThisMachine):
    """``--workers N``: N spawned worker processes on this machine.

    Each worker always has one more task queued, so the workers never wait for the parent
    while it sanitises or records.
    """

    def __init__(self, workers: int, run: Callable = run_task):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"ProcessPool: workers must be a positive int, received {workers!r}")
        self.workers = workers
        self.run_fn = run

    def run(self, context: RunContext, jobs: Iterable, prepare: Prepare) -> Results:
        ctx = multiprocessing.get_context("spawn")
        todo = iter(jobs)
        with cf.ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=_worker_init, initargs=(context,)
        ) as pool:
            pending = {}

            def submit_next():
                job = next(todo, None)
                if job is not None:
                    task = prepare(job)
                    with _workers_ignore_sigint():  # submit may start a worker
                        pending[pool.submit(self.run_fn, task, context.name)] = job

            try:
                for _ in range(2 * self.workers):
                    submit_next()
                while pending:
                    done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        submit_next()  # first: keep the workers busy
                        job = pending.pop(fut)
                        try:
                            result = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a worker crash hits one student
                            result = exc
                        yield job, result
            except BaseException:
                for fut in pending:
                    fut.cancel()
                _stop_workers(pool)
                raise


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Start pool workers with SIGINT ignored (a disposition they inherit, which Python keeps):
    a Ctrl-C reaches the whole foreground process group, and a worker interrupted while it
    imports would print a traceback, or return the interruption as a student's crash. The
    parent alone stops on Ctrl-C, and stops its workers (:func:`_stop_workers`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(context: RunContext) -> None:
    """A pool worker: SIGTERM ends its task as Ctrl-C does (the kernel is killed on the way
    out), then :func:`install` the run's context."""

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger("asyncio").addFilter(kernel.quiet_interrupted_kernel_tasks)
    install(context)


def _stop_workers(pool: cf.ProcessPoolExecutor, grace: float = 10.0) -> None:
    """Stop the pool's workers now (an interrupted run): each gets SIGTERM, which kills its
    kernel on the way out; one still there after ``grace`` seconds is killed."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(5)
