"""Due dates, extensions and the late policy, kept in nbgrader's own gradebook fields.

nbgrader already models a course calendar, and formgrader, ``nbgrader export`` and
``nbgrader generate_feedback`` read it; this module writes it and nothing else:

* ``Assignment.duedate``: the due date (naive UTC, as nbgrader stores every time);
* ``SubmittedAssignment.timestamp``: the trusted submission time ``grade`` records (see
  docs/grading.md, "Due dates and late work", for where it comes from);
* ``SubmittedAssignment.extension``: a per-student extension (``gb.grant_extension``); the
  student's due date is ``duedate + extension`` (nbgrader's ``SubmittedAssignment.duedate``);
* ``SubmittedNotebook.late_submission_penalty``: points taken off, per notebook, by a
  ``late_policy.LatePolicy``, a subclass of nbgrader's ``LateSubmissionPlugin``; the submission's
  penalty is their sum and its final score ``max(0, score - penalty)``, as ``nbgrader export``
  computes it.

The policy of an assignment is the ``late_policy`` entry of its ``autograder.json``::

    {"late_policy": {"penalty_method": "per_hour", "percent": 10, "cap_percent": 50,
                     "grace_minutes": 15}}

``penalty_method``: ``none`` (the default: lateness is recorded, nothing is taken off),
``zero`` (a late submission scores 0), ``per_hour`` / ``per_day`` (``percent`` of the score per
started hour or day late, at most ``cap_percent``). A submission at most ``grace_minutes``
late counts as on time; past the grace period, lateness counts from the due date.

The display time zone is nbgrader's own ``NbGraderAPI.timezone`` in the course's
``nbgrader_config.py`` (formgrader shows times in it too); ``set_due`` sets it from the
zone the due date was given in.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import warnings
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = datetime.UTC
WHEN = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)\s*(\S+)\s*")
OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
TIMEZONE_LINE = re.compile(r"^c\.NbGraderAPI\.timezone\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)


# ----------------------------------------------------------------------------- the policy


def load_policy(folder):
    """The late policy of the assignment whose files are in ``folder``
    (:class:`~autograder.term.late_policy.LatePolicy`)."""
    from autograder.term.late_policy import LatePolicy  # imports nbgrader: only when needed

    return LatePolicy.load(folder)


# ----------------------------------------------------------------------------- times


def parse_when(text: str) -> tuple[datetime.datetime, str]:
    """``"2027-01-15 23:59 Europe/Berlin"`` -> (aware UTC datetime, zone name as given).

    The zone is required (an IANA name, ``UTC`` or an offset such as ``+01:00``): a due date
    without one would mean the grader's clock, not the course's.
    """
    expected = "'YYYY-MM-DD HH:MM ZONE' (ZONE: Europe/Berlin, UTC or +01:00)"
    m = WHEN.fullmatch(str(text))
    if not m:
        raise ValueError(f"due date must be {expected}, received {text!r}")
    day, clock, zone = m.groups()
    try:
        local = datetime.datetime.fromisoformat(f"{day} {clock.zfill(5)}")
    except ValueError:
        raise ValueError(f"due date must be {expected}, received {text!r}") from None
    offset = OFFSET.fullmatch(zone)
    if zone.upper() in ("UTC", "Z"):
        tz, zone = UTC, "UTC"
    elif offset:
        sign = 1 if offset[1] == "+" else -1
        tz = datetime.timezone(
            sign * datetime.timedelta(hours=int(offset[2]), minutes=int(offset[3]))
        )
    else:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"due date: unknown time zone {zone!r} in {text!r}") from None
    return local.replace(tzinfo=tz).astimezone(UTC), zone


def naive_utc(when: datetime.datetime) -> datetime.datetime:
    """As nbgrader stores times: UTC without tzinfo."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def display_zone(course) -> str:
    """The course's display zone: nbgrader's ``NbGraderAPI.timezone`` (default UTC)."""
    cfg = course.root / "nbgrader_config.py"
    m = TIMEZONE_LINE.search(cfg.read_text()) if cfg.is_file() else None
    return m[1] if m else "UTC"


def set_display_zone(course, zone: str) -> None:
    """Write ``c.NbGraderAPI.timezone`` into the course's nbgrader_config.py (IANA names only)."""
    if OFFSET.fullmatch(zone) or zone == display_zone(course):
        return
    course.ensure()
    cfg = course.root / "nbgrader_config.py"
    text = TIMEZONE_LINE.sub("", cfg.read_text()).rstrip("\n")
    cfg.write_text(f"{text}\nc.NbGraderAPI.timezone = {zone!r}\n")


def show_time(when: datetime.datetime | None, zone: str = "UTC") -> str:
    """A gradebook time (naive UTC) in ``zone``: ``2027-01-15 23:59:00 CET``."""
    if when is None:
        return "unknown"
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def show_iso(when: datetime.datetime | None) -> str:
    """A gradebook time (naive UTC) as ISO 8601 with its offset ("" for None)."""
    return when.replace(tzinfo=UTC).isoformat() if when is not None else ""


def show_duration(seconds: float) -> str:
    """``3 d``, ``1 h 5 min``, ``30 min``, ``2 min 5 s``, ``42 s``: the units that are not 0."""
    seconds = int(round(abs(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if secs and not days and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts) or "0 s"


def collection_time(mtime: float | None, now: float | None = None) -> datetime.datetime | None:
    """A submission's collection time (naive UTC) from the mtime its collection gave it.

    A time in the future (a clock off, a file touched with a date ahead) counts as now.
    """
    if mtime is None:
        return None
    now = datetime.datetime.now(UTC).timestamp() if now is None else now
    return naive_utc(datetime.datetime.fromtimestamp(min(mtime, now), UTC))


# ----------------------------------------------------------------------------- gradebook


@dataclasses.dataclass
class Lateness:
    """One submission's calendar, from the gradebook (times naive UTC, points)."""

    student_id: str
    timestamp: datetime.datetime | None
    duedate: datetime.datetime | None  # with the extension
    extension: datetime.timedelta | None
    seconds_late: float
    raw_score: float
    penalty: float
    max_score: float

    @property
    def score(self) -> float:
        """The final score, as ``nbgrader export`` computes it."""
        return max(0.0, self.raw_score - self.penalty)

    @property
    def late(self) -> bool:
        return self.seconds_late > 0


def released_assignment(gb, aid):
    from nbgrader.api import MissingEntry

    try:
        return gb.find_assignment(aid)
    except MissingEntry:
        raise ValueError(f"assignment {aid!r} is not released: run `release {aid}` first") from None


def apply_policy(course, aid, gb) -> dict[str, Lateness]:
    """Set every submission's late penalty from its times and the policy; returns them.

    Runs on the open gradebook ``gb`` and commits. Only gradebook values are read: no
    notebook runs, so a changed due date, extension, policy or hand grade costs milliseconds
    per student. The clamp (0 <= penalty <= the notebook's score) is nbgrader's.
    """
    policy = load_policy(course.source / aid)
    assignment = released_assignment(gb, aid)
    out = {}
    for sub in assignment.submissions:
        seconds = sub.total_seconds_late
        penalty = 0.0
        for nb in sub.notebooks:
            points = None
            if seconds > 0:
                points = policy.penalty(nb.score, seconds)
                if points is not None:
                    points = min(max(points, 0.0), float(nb.score))
            if nb.late_submission_penalty != points:
                nb.late_submission_penalty = points
            penalty += points or 0.0
        out[sub.student.id] = Lateness(
            student_id=sub.student.id,
            timestamp=sub.timestamp,
            duedate=sub.duedate,
            extension=sub.extension,
            seconds_late=seconds,
            raw_score=float(sub.score),
            penalty=penalty,
            max_score=float(sub.max_score),
        )
    gb.db.commit()
    return out


def lateness(course, aid) -> dict[str, Lateness]:
    """:func:`apply_policy` on a gradebook session of its own."""
    course.ensure()
    with course.gradebook() as gb:
        return apply_policy(course, aid, gb)


def set_due(course, aid, when: str | None) -> datetime.datetime | None:
    """Set (``"2027-01-15 23:59 Europe/Berlin"``) or clear (None) an assignment's due date.

    Also stamps the released notebooks (for ``check``) and re-applies the late policy.
    Returns the due date (naive UTC).
    """
    due, zone = parse_when(when) if when is not None else (None, None)
    course.ensure()
    with course.gradebook() as gb:
        assignment = released_assignment(gb, aid)
        assignment.duedate = naive_utc(due) if due is not None else None
        gb.db.commit()
        apply_policy(course, aid, gb)
    if zone is not None:
        set_display_zone(course, zone)
    stamp_release(course, aid)
    return naive_utc(due) if due is not None else None


def due_of(course, aid) -> datetime.datetime | None:
    """The assignment's due date (naive UTC), or None."""
    course.ensure()
    with course.gradebook() as gb:
        return released_assignment(gb, aid).duedate


def extend(course, aid, sid, days=0.0, hours=0.0, minutes=0.0) -> Lateness:
    """Grant ``sid`` an extension on ``aid`` (all zero: remove it) and re-apply the policy.

    nbgrader keeps the extension on the student's submission record; for a student who has
    not submitted yet that record is created now, empty (no time, no scores, nothing for a
    human to grade): ``grade`` fills it later and keeps the extension.
    """
    from nbgrader.api import MissingEntry

    from autograder.grading.submissions import STUDENT_ID

    if not STUDENT_ID.match(sid):
        raise ValueError(f"extend: a student id is letters, digits and _.@-, received {sid!r}")
    for name, val in (("days", days), ("hours", hours), ("minutes", minutes)):
        if not val >= 0:
            raise ValueError(f"extend: --{name} must be >= 0, received {val:g}")
    course.ensure()
    with course.gradebook() as gb:
        released_assignment(gb, aid)
        gb.update_or_create_student(sid)
        try:
            gb.find_submission(aid, sid)
        except MissingEntry:
            with warnings.catch_warnings():  # SQLAlchemy's "not in session" autoflush notes
                warnings.simplefilter("ignore")
                sub = gb.add_submission(aid, sid)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    grade.needs_manual_grade = False
            gb.db.commit()
        gb.grant_extension(aid, sid, minutes=minutes, hours=hours, days=days)
        return apply_policy(course, aid, gb)[sid]


def is_placeholder(sub) -> bool:
    """A submission record :func:`extend` created before the student submitted."""
    return sub.timestamp is None and all(
        g.auto_score is None and g.manual_score is None for nb in sub.notebooks for g in nb.grades
    )


# ----------------------------------------------------------------------------- students' view

META_KEY = "autograder"  # notebook metadata: {"due": ISO UTC, "zone": display zone}


def stamp_release(course, aid) -> None:
    """Write the due date into the released notebooks' metadata, for ``check`` to print.

    Informational only: grading reads the due date from the gradebook, never from a notebook.
    """
    import nbformat

    try:
        due = due_of(course, aid)
    except ValueError:
        return
    zone = display_zone(course)
    for path in sorted((course.release_dir / aid).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        meta = dict(nb.metadata.get(META_KEY, {}))
        if due is None:
            meta.pop("due", None)
            meta.pop("zone", None)
        else:
            meta.update(due=due.replace(tzinfo=UTC).isoformat(), zone=zone)
        if meta == nb.metadata.get(META_KEY, {}):
            continue  # nothing to change: the release stays byte for byte as nbgrader wrote it
        if meta:
            nb.metadata[META_KEY] = meta
        else:
            nb.metadata.pop(META_KEY, None)
        nbformat.write(nb, str(path))


def due_line(nb, now: datetime.datetime | None = None) -> str | None:
    """``due 2027-01-15 23:59:00 CET (in 2 d 3 h 0 min)`` from a released notebook, or None."""
    meta = nb.metadata.get(META_KEY, {}) if isinstance(nb.metadata, dict) else {}
    try:
        due = datetime.datetime.fromisoformat(str(meta["due"]))
    except (KeyError, TypeError, ValueError):
        return None
    now = now or datetime.datetime.now(UTC)
    left = (due - now).total_seconds()
    when = f"in {show_duration(left)}" if left > 0 else f"{show_duration(-left)} ago"
    return f"due {show_time(due, str(meta.get('zone') or 'UTC'))} ({when})"


def describe(late: Lateness, policy, zone: str) -> list[str]:
    """Sentences for a student's feedback page (plain text, to be escaped)."""
    lines = []
    if late.duedate is not None:
        due = f"Due: {show_time(late.duedate, zone)}"
        if late.extension:
            due += f" (with an extension of {show_duration(late.extension.total_seconds())})"
        lines.append(due)
    if late.timestamp is not None:
        when = f"Submitted: {show_time(late.timestamp, zone)}"
        if late.duedate is not None and not late.late:
            when += " (on time)"
        elif late.late:
            grace = late.seconds_late <= 60 * policy.grace_minutes
            when += f" ({show_duration(late.seconds_late)} late"
            when += ", within the grace period)" if grace else ")"
        lines.append(when)
    if late.late:
        lines.append(f"Late policy: {policy.describe()}")
        lines.append(f"Late penalty: {late.penalty:g} point{'' if late.penalty == 1 else 's'}")
    lines.append(
        f"Assignment score: {late.raw_score:g} / {late.max_score:g}"
        + (f", {late.score:g} after the late penalty" if late.penalty else "")
    )
    return lines
