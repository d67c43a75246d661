"""Resource limits for grading, with per-assignment overrides.

Defaults are below; an assignment may override any of them with a JSON file
``autograder.json`` next to its notebooks (``notebooks/NN_name/autograder.json``, copied to
``course/source/NN_name/`` by ``release``)::

    {"cell_timeout_s": 60, "memory_mb": 2048}
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

CONFIG_NAME = "autograder.json"
MAXIMUM = 1e9  # above any sensible limit; inf (1e999 in JSON) or 1e300 is a typo


@dataclasses.dataclass(frozen=True)
class Limits:
    """Limits applied to one submission's kernel (units in the field names)."""

    cell_timeout_s: float = 60.0  # wall clock per cell
    notebook_timeout_s: float = 600.0  # wall clock for the whole notebook, restarts included
    memory_mb: int = 2048  # RLIMIT_AS of the kernel process
    cpu_s: int = 600  # RLIMIT_CPU of the kernel process
    max_processes: int = 64  # RLIMIT_NPROC (threads count), enforced for the sandbox uid
    max_file_mb: int = 64  # RLIMIT_FSIZE: largest file the kernel may write
    max_open_files: int = 1024  # RLIMIT_NOFILE of the kernel process
    max_tmp_mb: int = 256  # size of the kernel's private /tmp (a tmpfs: memory)
    max_disk_mb: int = 512  # size of the work folder while it is graded (a tmpfs, as root)
    max_output_kb: int = 1024  # outputs kept per cell; more is dropped and the cell fails
    max_notebook_mb: int = 20  # larger submitted notebooks are rejected unread
    max_zip_mb: int = 50  # uncompressed size limit of a submitted zip
    max_restarts: int = 8  # kernel restarts after crashes/timeouts per notebook

    @classmethod
    def load(cls, folder: Path | None) -> Limits:
        """Defaults, updated from ``folder/autograder.json`` when it exists."""
        if folder is None or not (Path(folder) / CONFIG_NAME).is_file():
            return cls()
        path = Path(folder) / CONFIG_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); fix the file") from None
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected an object such as {{"memory_mb": 2048}}')
        data.pop("late_policy", None)  # the assignment's late policy: autograder/term/calendar.py
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"{path}: unknown limit(s) {sorted(unknown)}; known: {sorted(names)}")
        values = {}
        for key, val in data.items():
            if not isinstance(val, int | float) or isinstance(val, bool) or not 0 < val <= MAXIMUM:
                raise ValueError(
                    f"{path}: {key} must be a positive number up to {MAXIMUM:g}, received {val!r}"
                )
            values[key] = float(val) if names[key] == "float" else int(val)
        return cls(**values)
