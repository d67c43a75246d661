"""Command line: ``python -m autograder {release,grade,feedback,export,report,check}``.

Thin on purpose: parses arguments and delegates to the modules (see docs/grading.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings


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
    sub = parser.add_subparsers(dest="command", required=True)

    def course_arg(p):
        p.add_argument("--course-dir", default="course", help="course folder (default: course/)")

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

    args = parser.parse_args(argv)
    if args.command == "check" or (
        args.command == "grade"
        and args.workers == 1
        and not (args.scheduler or args.scheduler_file)
    ):
        # this process will run the kernels: the fork server preloads while we import
        from . import forkserver

        forkserver.prestart()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    from .executor import ClusterLost

    try:
        return _run(args)
    except ClusterLost as exc:  # markers of the students recorded so far are kept
        print(f"error: {exc}; run `grade` again to continue", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # finished students are kept: a re-run continues
        print(f"\ninterrupted; run `{args.command}` again to continue", file=sys.stderr)
        return 130


def _run(args) -> int:
    from .course import DEFAULT_NOTEBOOKS, Course

    if args.command == "check":
        from .selfcheck import check_notebook, due_note, format_table

        rows = check_notebook(args.notebook)
        print(format_table(rows))
        note = due_note(args.notebook)  # the due date the released notebook carries
        if note:
            print(note)
        return 0 if all(not r["message"] for r in rows) else 1
    course = Course(args.course_dir)
    if args.command == "release":
        from .course import release

        for warning in release(args.assignments, course, args.notebooks or DEFAULT_NOTEBOOKS):
            print(f"warning: {warning}")
        print(f"released into {course.root}")
        if args.due is not None:
            from .calendar import set_due

            if not args.assignments:
                raise ValueError("release --due: name the assignment(s) it is for")
            for aid in args.assignments:
                set_due(course, aid, args.due)
            print(f"due {args.due}")
    elif args.command == "due":
        from . import calendar

        if args.when is not None:
            calendar.set_due(course, args.assignment, None if args.when == "none" else args.when)
        due = calendar.due_of(course, args.assignment)
        zone = calendar.display_zone(course)
        print(f"{args.assignment}: due {calendar.show_time(due, zone) if due else 'date not set'}")
    elif args.command == "extend":
        from . import calendar

        late = calendar.extend(
            course, args.assignment, args.student, args.days, args.hours, args.minutes
        )
        zone = calendar.display_zone(course)
        due = calendar.show_time(late.duedate, zone) if late.duedate else "no due date"
        print(f"{args.student}: {args.assignment} due {due}")
    elif args.command == "pdf":
        from .handoff import write_pdfs

        paths = write_pdfs(course, args.assignment, args.cells)
        print(f"wrote {len(paths)} PDF(s) and scores.csv under {paths[0].parent}")
    elif args.command == "import-grades":
        from .handoff import import_grades

        grades = import_grades(course, args.assignment, args.csv)
        print(f"imported {len(grades)} hand grade(s); wrote {course.grades_csv}")
    elif args.command == "grade":
        from .executor import make_executor
        from .grade import grade

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
        print(f"wrote {course.grades_csv}")
    elif args.command == "feedback":
        from .feedback import write_feedback

        paths = write_feedback(args.assignment, course)
        print(f"wrote {len(paths)} feedback page(s) under {course.feedback}")
    elif args.command == "export":
        from .export import export

        options = {}
        if args.format == "lti":
            options = {"settings": args.lti_settings, "include_pending": args.include_pending}
        print(f"wrote {export(course, args.format, **options)}")
    elif args.command == "report":
        from .report import write_report

        print(f"wrote {write_report(course, args.assignment)}")
    elif args.command == "similarity":
        from .similarity import THRESHOLD, write_page

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
