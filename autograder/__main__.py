"""Command line: ``python -m autograder {release,grade,feedback,export,report,check}``.

Thin on purpose: parses arguments and delegates to the modules (see docs/grading.md).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import warnings

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
    sub = parser.add_subparsers(dest="command", required=True)

    def course_arg(p):
        p.add_argument("--course-dir", default="course", help="course folder (default: course/)")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="traceback")

    p = sub.add_parser(
        "release",
        help="copy notebooks/NN_name to the course, build student versions and answer keys",
    )
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument(
        "--notebooks",
        default=None,
        help="folder of assignments (default: the repository's notebooks/)",
    )
    p.add_argument("--due", metavar="WHEN", help='due date: "2027-01-15 23:59 Europe/Berlin"')
    course_arg(p)
    p = sub.add_parser("grade", help="autograde all submissions of an assignment")
    p.add_argument("assignment")
    p.add_argument(
        "--submissions",
        required=True,
        help="DIR/<student>/<assignment>/*.ipynb and/or DIR/<student>.zip",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1, help="students graded at once (local)")
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="grade on a Dask cluster: tcp:// or tls:// address"
    )
    where.add_argument(
        "--scheduler-file", metavar="FILE", help="grade on the Dask cluster this file describes"
    )
    p.add_argument("--force", action="store_true", help="grade again even if unchanged")
    course_arg(p)
    p = sub.add_parser("feedback", help="write feedback HTML per student")
    p.add_argument("assignment")
    course_arg(p)
    p = sub.add_parser(
        "export", help="write COURSE/grades.csv (or an LMS import file) from the gradebook"
    )
    p.add_argument(
        "--format",
        default="csv",
        help="csv (grades.csv), canvas (grades_canvas.csv), moodle (grades_moodle.csv) or "
        "lti (posts the scores to the LMS, see docs/deploy.md)",
    )
    p.add_argument(
        "--lti-settings", default=None, help="lti: the tool's lti.json (default: COURSE/lti.json)"
    )
    p.add_argument(
        "--include-pending",
        action="store_true",
        help="lti: also send the scores of students whose hand grading is pending",
    )
    course_arg(p)
    p = sub.add_parser("report", help="write COURSE/reports/ASSIGNMENT.html (or a course overview)")
    p.add_argument("assignment", nargs="?", help="assignment id (default: the whole course)")
    course_arg(p)
    p = sub.add_parser(
        "similarity",
        help="write COURSE/reports/ASSIGNMENT-similarity.html: solutions that look alike",
    )
    p.add_argument("assignment")
    p.add_argument(
        "--threshold", type=float, default=None, help="flag pairs at least this similar (0.6)"
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    course_arg(p)
    p = sub.add_parser("due", help="show, set or clear (none) an assignment's due date")
    p.add_argument("assignment")
    p.add_argument("when", nargs="?", help='"2027-01-15 23:59 Europe/Berlin", or none')
    course_arg(p)
    p = sub.add_parser("extend", help="give a student more time (all zero: no extension)")
    p.add_argument("assignment")
    p.add_argument("student")
    for unit in ("days", "hours", "minutes"):
        p.add_argument(f"--{unit}", type=float, default=0.0)
    course_arg(p)
    p = sub.add_parser("pdf", help="one PDF of the written answers per student, for hand grading")
    p.add_argument("assignment")
    p.add_argument("--cells", nargs="*", default=[], help="solution cells to add (grade ids)")
    course_arg(p)
    p = sub.add_parser(
        "import-grades", help="hand scores and comments from a CSV into the gradebook"
    )
    p.add_argument("assignment")
    p.add_argument("csv", help="columns student_id, grade_id, score [, notebook, comment]")
    course_arg(p)
    p = sub.add_parser("check", help="run a notebook's visible tests and print a table")
    p.add_argument("notebook")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="traceback")

    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("AUTOGRADER_DEBUG") == "1"
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
        # also when started with SIGINT ignored (a background job of a script): a SIGINT
        # stops the command cleanly instead of reaching only its kernels
        signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not debug:
        logging.getLogger("tornado.application").addFilter(_quiet_rollbacks)
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    try:
        if args.command == "check" or (
            args.command == "grade"
            and args.workers == 1
            and not (args.scheduler or args.scheduler_file)
        ):
            # this process will run the kernels: the fork server preloads while we import
            from autograder.sandbox import forkserver

            forkserver.prestart()
        if not debug and args.command in ("grade", "check", "release"):  # they run kernels
            # imported after the fork server's start: execute imports nbclient (slow)
            from autograder.kernel import quiet_interrupted_kernel_tasks

            logging.getLogger("asyncio").addFilter(quiet_interrupted_kernel_tasks)
        return _run(args)
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
    (nbgrader turns a full disk into "No such student" when it cannot add one), else ``exc``."""
    seen, link = set(), exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        name = type(link).__name__
        if isinstance(link, OSError) or name in ("OperationalError", "DatabaseError"):
            return link
        # `raise ... from None` is a deliberate translation (lti's "no line items URL"):
        # the error it hides is not the one to explain
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return exc


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


def _run(args) -> int:
    from autograder.course import Course

    if args.command == "check":
        from autograder.selfcheck import check_notebook, due_note, format_table

        rows = check_notebook(args.notebook)
        print(format_table(rows))
        note = due_note(args.notebook)  # the due date the released notebook carries
        if note:
            print(note)
        return 0 if all(not r["message"] for r in rows) else 1
    course = Course(args.course_dir)
    if args.command != "release":
        course.require(args.course_dir)
    if args.command == "release":
        from autograder.release import DEFAULT_NOTEBOOKS, release

        for warning in release(args.assignments, course, args.notebooks or DEFAULT_NOTEBOOKS):
            print(f"warning: {warning}")
        print(f"released into {course.root}")
        if args.due is not None:
            from autograder.term.calendar import set_due

            if not args.assignments:
                raise ValueError("release --due: name the assignment(s) it is for")
            for aid in args.assignments:
                set_due(course, aid, args.due)
            print(f"due {args.due}")
    elif args.command == "due":
        from autograder.term import calendar

        if args.when is not None:
            calendar.set_due(course, args.assignment, None if args.when == "none" else args.when)
        due = calendar.due_of(course, args.assignment)
        zone = calendar.display_zone(course)
        print(f"{args.assignment}: due {calendar.show_time(due, zone) if due else 'date not set'}")
    elif args.command == "extend":
        from autograder.term import calendar

        late = calendar.extend(
            course, args.assignment, args.student, args.days, args.hours, args.minutes
        )
        zone = calendar.display_zone(course)
        due = calendar.show_time(late.duedate, zone) if late.duedate else "no due date"
        print(f"{args.student}: {args.assignment} due {due}")
    elif args.command == "pdf":
        from autograder.term.handoff import write_pdfs

        paths = write_pdfs(course, args.assignment, args.cells)
        print(f"wrote {len(paths)} PDF(s) and scores.csv under {paths[0].parent}")
    elif args.command == "import-grades":
        from autograder.term.handoff import import_grades

        grades = import_grades(course, args.assignment, args.csv)
        print(f"imported {len(grades)} hand grade(s); wrote {course.grades_csv}")
    elif args.command == "grade":
        from autograder.executors.placement import make_executor
        from autograder.grading.pipeline import grade

        executor = make_executor(args.workers, args.scheduler, args.scheduler_file)
        print(f"sandbox: {executor.describe()}")
        rows = grade(args.assignment, args.submissions, course, force=args.force, executor=executor)
        for r in rows:
            extra = f"  ({r['problems']})" if r["problems"] else ""
            if args.scheduler or args.scheduler_file:
                extra = f"  [{r.get('host')}, {r.get('mechanism')}]{extra}"
            if r.get("late_penalty"):
                extra = f"  (late: -{r['late_penalty']:g}){extra}"
            print(f"{r['student_id']:<20} {r['score']:>6g} / {r['max_score']:<6g}{extra}")
        for item in course.not_graded(args.assignment):  # listed in grades.csv as well
            print(f"{item['entry'][:40]:<20} not graded: {item['reason']}")
        print(f"wrote {course.grades_csv}")
    elif args.command == "feedback":
        from autograder.reporting.feedback import write_feedback

        paths = write_feedback(args.assignment, course)
        print(f"wrote {len(paths)} feedback page(s) under {course.feedback}")
    elif args.command == "export":
        from autograder.reporting.export import export, pending_warning

        if args.format == "lti":  # posts to the LMS (and writes its report)
            from autograder.term.lti import export_lti

            path = export_lti(course, args.lti_settings, include_pending=args.include_pending)
        else:
            path = export(course, args.format)
        print(f"wrote {path}")

        warning = pending_warning(course)
        if warning:
            print(warning, file=sys.stderr)
    elif args.command == "report":
        from autograder.reporting.report import write_report

        print(f"wrote {write_report(course, args.assignment)}")
    elif args.command == "similarity":
        from autograder.reporting.similarity import THRESHOLD, write_page

        threshold = THRESHOLD if args.threshold is None else args.threshold
        path, data = write_page(course, args.assignment, threshold, args.workers)
        flagged = [ex for ex in data.exercises if ex.pairs]
        for ex in flagged:
            print(f"{ex.grade_id:<24} {len(ex.pairs)} pair(s) of {len(ex.codes)} students")
        pairs = sum(len(ex.pairs) for ex in flagged)
        print(f"{pairs} pair(s) in {len(flagged)} exercise(s); wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
