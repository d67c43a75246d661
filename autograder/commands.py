"""The commands of ``python -m autograder``: one table entry each, its arguments and its run.

``__main__`` builds the argument parser from :data:`COMMANDS` and turns every error into one
line and an exit code; a command here parses nothing itself, calls the module that does the
work, and prints what it did. Modules are imported inside each command: a command whose
kernels run in this process (``check``, ``grade --workers 1``) has the kernel fork server
started before the heavy imports (:attr:`Command.forks_here`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable  # (args, course) -> exit code or None (0)
    course: str = "existing"  # "existing": COURSE must be one; "any": release makes it; "none"
    runs_kernels: bool = False  # runs notebooks (its interrupted kernel tasks are not logged)
    # whether this process forks the kernels itself: then the fork server starts first
    forks_here: Callable[[argparse.Namespace], bool] = lambda args: False


def debug_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="traceback")


def course_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course-dir", default="course", help="course folder (default: course/)")
    debug_argument(p)


def assignment_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment")


# --------------------------------------------------------------------------- students


def _check_arguments(p):
    p.add_argument("notebook")
    debug_argument(p)


def _check(args, course) -> int:
    from autograder.selfcheck import check_notebook, due_note, format_table

    rows = check_notebook(args.notebook)
    print(format_table(rows))
    note = due_note(args.notebook)  # the due date the released notebook carries
    if note:
        print(note)
    return 0 if all(not r["message"] for r in rows) else 1


# --------------------------------------------------------------------------- release, dates


def _release_arguments(p):
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument(
        "--notebooks",
        default=None,
        help="folder of assignments (default: the repository's notebooks/)",
    )
    p.add_argument("--due", metavar="WHEN", help='due date: "2027-01-15 23:59 Europe/Berlin"')


def _release(args, course) -> None:
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


def _due_arguments(p):
    assignment_argument(p)
    p.add_argument("when", nargs="?", help='"2027-01-15 23:59 Europe/Berlin", or none')


def _due(args, course) -> None:
    from autograder.term import calendar

    if args.when is not None:
        calendar.set_due(course, args.assignment, None if args.when == "none" else args.when)
    due = calendar.due_of(course, args.assignment)
    zone = calendar.display_zone(course)
    print(f"{args.assignment}: due {calendar.show_time(due, zone) if due else 'date not set'}")


def _extend_arguments(p):
    assignment_argument(p)
    p.add_argument("student")
    for unit in ("days", "hours", "minutes"):
        p.add_argument(f"--{unit}", type=float, default=0.0)


def _extend(args, course) -> None:
    from autograder.term import calendar

    late = calendar.extend(
        course, args.assignment, args.student, args.days, args.hours, args.minutes
    )
    zone = calendar.display_zone(course)
    due = calendar.show_time(late.duedate, zone) if late.duedate else "no due date"
    print(f"{args.student}: {args.assignment} due {due}")


# --------------------------------------------------------------------------- grading


def _grade_arguments(p):
    assignment_argument(p)
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


def _grades_here(args) -> bool:
    """``grade`` runs its kernels in this process: one local worker, no cluster."""
    return args.workers == 1 and not (args.scheduler or args.scheduler_file)


def _grade(args, course) -> None:
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


def _pdf_arguments(p):
    assignment_argument(p)
    p.add_argument("--cells", nargs="*", default=[], help="solution cells to add (grade ids)")


def _pdf(args, course) -> None:
    from autograder.term.handoff import write_pdfs

    paths = write_pdfs(course, args.assignment, args.cells)
    print(f"wrote {len(paths)} PDF(s) and scores.csv under {paths[0].parent}")


def _import_grades_arguments(p):
    assignment_argument(p)
    p.add_argument("csv", help="columns student_id, grade_id, score [, notebook, comment]")


def _import_grades(args, course) -> None:
    from autograder.term.handoff import import_grades

    grades = import_grades(course, args.assignment, args.csv)
    print(f"imported {len(grades)} hand grade(s); wrote {course.grades_csv}")


# --------------------------------------------------------------------------- reporting


def _feedback(args, course) -> None:
    from autograder.reporting.feedback import write_feedback

    paths = write_feedback(args.assignment, course)
    print(f"wrote {len(paths)} feedback page(s) under {course.feedback}")


def _export_arguments(p):
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


def _export(args, course) -> None:
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


def _report_arguments(p):
    p.add_argument("assignment", nargs="?", help="assignment id (default: the whole course)")


def _report(args, course) -> None:
    from autograder.reporting.report import write_report

    print(f"wrote {write_report(course, args.assignment)}")


def _similarity_arguments(p):
    assignment_argument(p)
    p.add_argument(
        "--threshold", type=float, default=None, help="flag pairs at least this similar (0.6)"
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")


def _similarity(args, course) -> None:
    from autograder.reporting.similarity import THRESHOLD, write_page

    threshold = THRESHOLD if args.threshold is None else args.threshold
    path, data = write_page(course, args.assignment, threshold, args.workers)
    flagged = [ex for ex in data.exercises if ex.pairs]
    for ex in flagged:
        print(f"{ex.grade_id:<24} {len(ex.pairs)} pair(s) of {len(ex.codes)} students")
    pairs = sum(len(ex.pairs) for ex in flagged)
    print(f"{pairs} pair(s) in {len(flagged)} exercise(s); wrote {path}")


#: in the order ``--help`` lists them
COMMANDS = (
    Command(
        "release",
        "copy notebooks/NN_name to the course, build student versions and answer keys",
        _release_arguments,
        _release,
        course="any",
        runs_kernels=True,
    ),
    Command(
        "grade",
        "autograde all submissions of an assignment",
        _grade_arguments,
        _grade,
        runs_kernels=True,
        forks_here=_grades_here,
    ),
    Command("feedback", "write feedback HTML per student", assignment_argument, _feedback),
    Command(
        "export",
        "write COURSE/grades.csv (or an LMS import file) from the gradebook",
        _export_arguments,
        _export,
    ),
    Command(
        "report",
        "write COURSE/reports/ASSIGNMENT.html (or a course overview)",
        _report_arguments,
        _report,
    ),
    Command(
        "similarity",
        "write COURSE/reports/ASSIGNMENT-similarity.html: solutions that look alike",
        _similarity_arguments,
        _similarity,
    ),
    Command("due", "show, set or clear (none) an assignment's due date", _due_arguments, _due),
    Command(
        "extend",
        "give a student more time (all zero: no extension)",
        _extend_arguments,
        _extend,
    ),
    Command(
        "pdf",
        "one PDF of the written answers per student, for hand grading",
        _pdf_arguments,
        _pdf,
    ),
    Command(
        "import-grades",
        "hand scores and comments from a CSV into the gradebook",
        _import_grades_arguments,
        _import_grades,
    ),
    Command(
        "check",
        "run a notebook's visible tests and print a table",
        _check_arguments,
        _check,
        course="none",
        runs_kernels=True,
        forks_here=lambda args: True,
    ),
)
BY_NAME = {c.name: c for c in COMMANDS}


def add_commands(parser: argparse.ArgumentParser) -> None:
    """One subcommand per entry of :data:`COMMANDS` (``--course-dir`` where it has a course)."""
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help)
        command.arguments(p)
        if command.course != "none":
            course_arguments(p)


def run(args) -> int:
    """Run the parsed command; its exit code."""
    command = BY_NAME[args.command]
    course = None
    if command.course != "none":
        from autograder.course import Course

        course = Course(args.course_dir)
        if command.course == "existing":
            course.require(args.course_dir)
    code = command.run(args, course)
    return 0 if code is None else code
