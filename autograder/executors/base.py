"""Where grading tasks run: the seam between the trusted parent and the workers.

The parent (``grading/pipeline.py``) gives an executor one :class:`RunContext` (what every student
of a run shares: the assignment's limits and support files) and the students to grade, with a
``prepare`` function that sanitises one student's notebooks into a :class:`Task`. The
executor calls ``prepare`` just before it hands a task to a worker and yields, per student,
``(job, outcome)``: an :class:`Outcome` (the executed notebooks, which host graded them and
with which sandbox), or the exception that ended the task (the parent records "grader
crashed" for that student only). Three executors share this interface:

``InProcess``     ``--workers 1``: the parent runs each task itself.
``ProcessPool``   ``--workers N``: N spawned processes on this machine.
``DaskExecutor``  ``--scheduler ADDRESS`` / ``--scheduler-file FILE``: the workers of a
                  Dask cluster (``cluster.py``).

This module is the seam and what every worker runs (:func:`run_task`); the executors on this
machine are in ``local.py``, the Dask one in ``cluster.py``, and ``placement.py`` picks one.

Local parallel grading (``--workers N``) stays a process pool rather than a Dask
``LocalCluster``: once running, both grade at the same rate, but starting and stopping a
``LocalCluster`` is a cost every ``grade`` call would pay for nothing the pool lacks on one
machine (figures in docs/scaling.md, from ``bench/grading_scale.py``). A cluster earns its
cost across machines, where ``--scheduler`` reaches it.

Workers never see the answer key: they return the executed notebooks and the parent scores
them. They need no shared file system either: the context (limits and the support files'
bytes) reaches each worker once, through the pool's initializer or a Dask worker plugin, and
:func:`install` writes the files into a private folder on that worker.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import pickle
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import nbformat

from autograder import kernel, sandbox
from autograder.config import Limits
from autograder.files import copy_support_files
from autograder.outcomes import Problem

# ------------------------------------------------------------------ what crosses the seam


class ClusterLost(RuntimeError):
    """The Dask scheduler cannot be reached, or went away during the run."""


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What every task of one ``grade`` run shares; shipped once per worker."""

    assignment: str
    limits: Limits
    support: tuple[tuple[str, bytes], ...] = ()  # (path relative to the work folder, bytes)

    @classmethod
    def from_release(cls, assignment: str, limits: Limits, release_folder: Path) -> RunContext:
        """The context of an assignment: its limits and the support files students received."""
        files = []
        if release_folder.is_dir():
            for path in sorted(release_folder.rglob("*")):
                if path.is_file() and path.suffix != ".ipynb" and not path.is_symlink():
                    files.append((path.relative_to(release_folder).as_posix(), path.read_bytes()))
        return cls(assignment, limits, tuple(files))

    @property
    def name(self) -> str:
        """A stable id of this context (workers keep one folder per context)."""
        digest = hashlib.sha256(pickle.dumps((self.assignment, self.limits, self.support)))
        return f"{self.assignment}-{digest.hexdigest()[:12]}"


@dataclasses.dataclass
class NotebookTask:
    """One sanitised notebook to execute (``nb`` None: not executable, ``problem`` says why)."""

    notebook_id: str
    nb: dict | None
    problem: Problem | None = None


@dataclasses.dataclass
class Task:
    """One student's notebooks, sanitised by the parent."""

    student_id: str
    notebooks: list[NotebookTask]


@dataclasses.dataclass
class Executed:
    """One notebook as it comes back: executed (``nb``, ``info``) or not (``problem``)."""

    notebook_id: str
    nb: dict | None
    problem: Problem | None
    info: dict | None  # execute_notebook's info (mechanism, restarts, ...) plus "host"


@dataclasses.dataclass
class Outcome:
    """What a worker returns for one :class:`Task`."""

    student_id: str
    notebooks: list[Executed]
    host: str
    mechanism: str
    seconds: float


# ------------------------------------------------------------------ worker side

_CONTEXTS: dict[str, tuple[RunContext, Path]] = {}  # context name -> (context, support folder)


def install(context: RunContext) -> None:
    """Make ``context`` available to :func:`run_task` in this process (idempotent).

    Support files are written once into a private folder of this worker, from which every
    student's work folder gets a copy.
    """
    if context.name in _CONTEXTS:
        return
    folder = Path(tempfile.mkdtemp(prefix="autograder-support-"))
    atexit.register(shutil.rmtree, folder, True)
    for rel, data in context.support:
        target = folder.joinpath(*Path(rel).parts)
        if folder not in target.resolve().parents:
            raise ValueError(f"install: support file {rel!r} is outside the work folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    _CONTEXTS[context.name] = (context, folder)


def uninstall(name: str) -> None:
    """Forget context ``name`` in this process and remove its support folder."""
    _context, folder = _CONTEXTS.pop(name, (None, None))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def support_folder(name: str) -> Path:
    """The private folder holding context ``name``'s support files in this process."""
    return _CONTEXTS[name][1]


def run_task(task: Task, context_name: str) -> Outcome:
    """Execute one student's notebooks in this worker's sandboxes (no scoring here)."""
    try:
        context, support = _CONTEXTS[context_name]
    except KeyError:
        raise RuntimeError(f"run_task: context {context_name!r} not installed here") from None
    start = time.monotonic()
    host = socket.gethostname()
    done = []
    with tempfile.TemporaryDirectory(prefix="autograder-", dir=sandbox.work_base()) as tmp:
        for item in task.notebooks:
            if item.nb is None:
                done.append(Executed(item.notebook_id, None, item.problem, None))
                continue
            workdir = Path(tmp) / item.notebook_id / "work"
            copy_support_files(support, workdir)
            nb, info = kernel.execute_notebook(
                nbformat.from_dict(item.nb), workdir, context.limits
            )  # under a uid leased for this notebook alone
            # JSON from here on (the marker stores it): index -> {"kind", "text"}
            info["failed_cells"] = {str(k): v.as_json() for k, v in info["failed_cells"].items()}
            info["host"] = host
            done.append(Executed(item.notebook_id, nb, None, info))
    return Outcome(
        task.student_id, done, host, sandbox.mechanism(), round(time.monotonic() - start, 3)
    )


# ------------------------------------------------------------------ executors

Prepare = Callable[[object], Task]
Results = Iterator[tuple[object, "Outcome | BaseException"]]


class Executor(Protocol):
    """The seam: where a run's tasks execute. ``local.InProcess``, ``local.ProcessPool`` and
    ``cluster.DaskExecutor`` implement it; ``placement.make_executor`` picks one. Nothing in
    this module imports an implementation."""

    def describe(self) -> str:
        """One line for the log: where and under which sandbox tasks run."""

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> bool | None: ...

    def run(self, context: RunContext, jobs: Iterable, prepare: Prepare) -> Results:
        """Yield ``(job, Outcome or exception)`` per job, in any order; ``prepare(job)``
        is called just before the job's task is handed to a worker."""
