"""Command line: ``python -m autograder {release,grade,feedback,export,report,check}``.

Thin on purpose: the commands are a table (``commands.py``); this module parses the
arguments, starts what must start first, and turns every error into one line and an exit
code (:func:`explain`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import warnings

from autograder import commands

# exit codes (docs/grading.md, "Exit codes and messages")
EXIT_OK = 0  # done (grade: unattributed entries, if any, are listed on stderr and in grades.csv)
EXIT_CHECK_FAILED = 1  # check: a visible test failed
EXIT_BAD_INPUT = 2  # a wrong argument, file or course state: the message says which and what to do
EXIT_CLUSTER = 3  # the Dask scheduler cannot be reached or went away
EXIT_FAULT = 4  # the machine: full disk, no permission, gradebook locked or damaged
EXIT_INTERNAL = 70  # a bug of the grader: run again with --debug and report the traceback
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: every clean-up of an interruption runs."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the clean-up is not interrupted
    raise Terminated()


def skip_slow_optional_imports() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` (about 1 s: it builds a grammar).

    nbformat validates notebooks with jsonschema, which imports that package only to check the
    ``iri`` string formats, inside ``except ImportError``. Notebook schemas use no such format,
    so a command that reads notebooks would pay a second per run for nothing. Only when
    jsonschema is not loaded yet: a process that already has it (the hub) is left as it is.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: `import` raises ImportError


def main(argv=None) -> int:
    skip_slow_optional_imports()
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The course's grader. Students: `check NOTEBOOK` scores your notebook on "
        "its visible tests. Instructors: `release`, then `grade`, `feedback`, `export` and "
        "`report` (docs/grading.md). `COMMAND --help` describes each command.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error (for a bug report)"
    )
    commands.add_commands(parser)

    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("AUTOGRADER_DEBUG") == "1"
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
        # also when started with SIGINT ignored (a background job of a script): a SIGINT
        # stops the command cleanly instead of reaching only its kernels
        signal.signal(signal.SIGINT, signal.default_int_handler)
    configure_logging(debug)
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    try:
        command = commands.BY_NAME[args.command]
        if command.forks_here(args):
            # this process will run the kernels: the fork server preloads while we import
            from autograder.sandbox import forkserver

            forkserver.prestart()
        if not debug and command.runs_kernels:
            # imported after the fork server's start: execute imports nbclient (slow)
            from autograder.kernel import quiet_interrupted_kernel_tasks

            logging.getLogger("asyncio").addFilter(quiet_interrupted_kernel_tasks)
        return commands.run(args)
    except BaseException as exc:  # noqa: BLE001 - every error ends in one line (see explain)
        if isinstance(exc, SystemExit):
            raise
        code, line = explain(exc, args)
        if debug:
            import traceback

            traceback.print_exc()
        print(line, file=sys.stderr)
        return code


def _root_cause(exc: BaseException) -> BaseException:
    """The exception to explain: a database or file-system fault anywhere in the chain
    (nbgrader turns a full disk into "No such student" when it cannot add one), else ``exc``.
    A ``raise ... from None`` (lti's "no line items URL") hides what it translated."""
    from autograder.outcomes import exception_chain

    faults = ("OperationalError", "DatabaseError")  # SQLAlchemy's and sqlite3's
    for link in exception_chain(exc, translated=True):
        if isinstance(link, OSError) or type(link).__name__ in faults:
            return link
    return exc


def configure_logging(debug: bool) -> None:
    """Log lines go to stderr as bare messages. Without --debug no log record prints a
    traceback (a library's ``logger.error(..., exc_info=True)`` included): a command's errors
    end in the one line of :func:`explain`, and tracebacks are what --debug is for."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if debug:
        return
    for handler in logging.getLogger().handlers:  # on the handler: it sees every logger's
        handler.addFilter(_quiet_after_interruption)
        handler.addFilter(_without_traceback)
    logging.getLogger("tornado.application").addFilter(_quiet_rollbacks)


def _without_traceback(record) -> bool:
    """Keep the record's message, drop its traceback (shown with --debug only)."""
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    return True


def _quiet_after_interruption(record) -> bool:
    """Drop what a database library logs while a Ctrl-C or SIGTERM unwinds a query (SQLAlchemy
    reports "Error closing cursor" when the interrupted connection is already closed): the
    interruption itself is said in one line, and the second error is only its echo."""
    if not record.name.startswith("sqlalchemy") or not record.exc_info:
        return True
    from autograder.outcomes import interruption

    return interruption(record.exc_info[1]) is None


def _quiet_rollbacks(record) -> bool:
    """nbgrader logs a database error with its traceback before raising it: the error
    reaches the command line, which says it in one line (the traceback: --debug)."""
    return not str(record.msg).startswith("Rolling back session")


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def explain(exc: BaseException, args) -> tuple[int, str]:
    """The exit code and the one line on stderr for an exception that ended a command."""
    from autograder.executors.base import ClusterLost

    command = args.command
    course = getattr(args, "course_dir", None)
    if isinstance(exc, Terminated):  # finished students are kept: a re-run continues
        return EXIT_TERMINATED, f"\nstopped (SIGTERM); run `{command}` again to continue"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, f"\ninterrupted; run `{command}` again to continue"
    if isinstance(exc, ClusterLost):  # markers of the students recorded so far are kept
        return EXIT_CLUSTER, f"error: {exc}; run `grade` again to continue"
    db = f"{course}/gradebook.db" if course else "the gradebook"
    exc = _root_cause(exc)
    name = type(exc).__name__
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else name
    if name in ("OperationalError", "DatabaseError"):
        if "disk is full" in text:
            return EXIT_FAULT, (
                f"error: no space left on the disk of {db}: free some space, then run "
                f"`{command}` again (finished work is kept)"
            )
        if "locked" in text:
            return EXIT_FAULT, (
                f"error: the gradebook {db} is locked by another program (formgrader, another "
                f"`{command}`): close it, then run `{command}` again"
            )
        return EXIT_FAULT, (
            f"error: the gradebook {db} cannot be read ({text}): restore it from a backup, or "
            "delete it and run `release` and `grade` again (grades are computed again)"
        )
    if isinstance(exc, OSError):
        where = exc.filename or exc.filename2 or course or "?"
        if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
            return EXIT_FAULT, (
                f"error: no space left on the disk of {where}: free some space, then run "
                f"`{command}` again (finished work is kept)"
            )
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return EXIT_FAULT, (
                f"error: cannot write {where} ({exc.strerror}): make the course folder writable "
                f"for this user, then run `{command}` again"
            )
        if exc.errno == errno.ENOENT:
            parts = set(os.path.normpath(str(where)).split(os.sep))
            if course and parts & {"release", "source", "keys"}:  # a course folder was removed
                return EXIT_BAD_INPUT, (
                    f"error: {where} does not exist: the course is incomplete; run `release` "
                    f"for that assignment again (grades are kept), then `{command}`"
                )
            return EXIT_BAD_INPUT, f"error: {where} does not exist ({command}: check the path)"
        return EXIT_FAULT, f"error: {where}: {exc.strerror or text}"
    if isinstance(exc, ValueError):
        return EXIT_BAD_INPUT, f"error: {exc}"
    return EXIT_INTERNAL, (
        f"internal error in `{command}`: {name}: {text[:200]} (run again with --debug for the "
        "traceback, and report it)"
    )


if __name__ == "__main__":
    sys.exit(main())
