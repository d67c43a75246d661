"""Which executor a command asks for: ``--workers N`` (this machine) or ``--scheduler`` /
``--scheduler-file`` (a Dask cluster). The seam itself is ``base.Executor``; this module
sits above it and its implementations, so none of them imports back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from autograder.executors.base import Executor
from autograder.executors.local import InProcess, ProcessPool


def max_workers() -> int:
    """Most local workers ``grade`` accepts: 4 per core (a kernel per worker)."""
    return 4 * (os.cpu_count() or 1)


def make_executor(workers: int = 1, scheduler: str | None = None, scheduler_file=None) -> Executor:
    """The executor for ``--workers`` / ``--scheduler`` / ``--scheduler-file``."""
    if scheduler_file is not None and not Path(scheduler_file).is_file():
        raise ValueError(
            f"grade: --scheduler-file {scheduler_file} does not exist; start the cluster first "
            "(python -m autograder.executors.cluster) or give the file it wrote"
        )
    if scheduler_file is not None:
        try:
            address = json.loads(Path(scheduler_file).read_text())["address"]
            if not isinstance(address, str):
                raise TypeError(address)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ValueError(
                f"grade: --scheduler-file {scheduler_file} is not a Dask scheduler file (JSON "
                'with an "address"); give the file `dask scheduler --scheduler-file` wrote'
            ) from None
    if scheduler is not None or scheduler_file is not None:
        from autograder.executors.cluster import DaskExecutor  # imports Dask: only for a cluster

        return DaskExecutor(address=scheduler, scheduler_file=scheduler_file)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"grade: --workers must be a positive integer, received {workers!r}")
    most = max_workers()
    if workers > most:
        raise ValueError(
            f"grade: --workers {workers} is more than this machine can run ({os.cpu_count()} "
            f"cores: at most {most}); use --scheduler for a cluster"
        )
    return InProcess() if workers == 1 else ProcessPool(workers)
