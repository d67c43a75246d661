"""The command line's log output: bare messages, no traceback without --debug."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sqlite3, sys
from autograder.__main__ import configure_logging
configure_logging(debug={debug})
logging.getLogger("nbgrader").info("plain line")
try:
    raise ValueError("broken thing")
except ValueError:
    logging.getLogger("nbgrader").error("a library error", exc_info=True)
# what SQLAlchemy logs when Ctrl-C lands inside a query whose connection is then closed
try:
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
except sqlite3.ProgrammingError:
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").error("Error closing cursor", exc_info=True)
# the same logger with an error of its own is still heard
try:
    raise sqlite3.OperationalError("disk I/O error")
except sqlite3.OperationalError:
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").error("Error closing cursor", exc_info=True)
"""


def _stderr(debug: bool) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(debug=debug)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_without_debug_log_records_keep_their_message_and_lose_their_traceback():
    err = _stderr(debug=False)
    assert "Traceback" not in err, err
    assert err.splitlines() == ["plain line", "a library error", "Error closing cursor"]


def test_an_interruptions_echo_from_the_database_library_is_not_printed():
    err = _stderr(debug=False)
    assert err.count("Error closing cursor") == 1  # the one with its own cause only
    assert "closed database" not in err


def test_debug_keeps_every_traceback():
    err = _stderr(debug=True)
    assert err.count("Traceback") == 4, err  # the interrupted query's has two parts
    assert "Cannot operate on a closed database" in err and "disk I/O error" in err
