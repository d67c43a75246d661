"""The late policy: nbgrader's late-submission plugin with the course's policies.

Its own module because it subclasses nbgrader's plugin, and importing nbgrader takes about a
second, which ``check`` (a student's self-check, which reads only the due date) need not pay:
``calendar`` imports this module only when a policy is needed. The policy's form in an
assignment's ``autograder.json`` is described in ``calendar.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Enum, Float

from autograder.config import CONFIG_NAME

POLICY_KEY = "late_policy"
METHODS = ("none", "zero", "per_hour", "per_day")
UNIT_SECONDS = {"per_hour": 3600, "per_day": 86400}


class LatePolicy(LateSubmissionPlugin):
    """nbgrader's late-submission plugin with the course's policies.

    ``grade`` builds one per assignment with :meth:`load`. Set as nbgrader's plugin
    (``c.AssignLatePenalties.plugin_class = "autograder.term.calendar.LatePolicy"``), nbgrader's
    own ``autograde`` applies the same policy: an instance whose parent is nbgrader's
    ``AssignLatePenalties`` reads the assignment's ``autograder.json`` from the course's
    ``source/`` folder next to the gradebook.
    """

    penalty_method = Enum(
        METHODS, default_value="none", help="none, zero, per_hour or per_day"
    ).tag(config=True)
    percent = Float(0.0, help="percent of the score taken off per started hour or day").tag(
        config=True
    )
    cap_percent = Float(100.0, help="at most this percent of the score is taken off").tag(
        config=True
    )
    grace_minutes = Float(0.0, help="this late still counts as on time").tag(config=True)

    @classmethod
    def from_dict(cls, data, where="late_policy") -> LatePolicy:
        """A policy from an ``autograder.json`` entry; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, received {data!r}")
        known = ("penalty_method", "percent", "cap_percent", "grace_minutes")
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known: {list(known)}")
        method = data.get("penalty_method", "none")
        if method not in METHODS:
            raise ValueError(
                f"{where}: penalty_method must be one of {', '.join(METHODS)}, received {method!r}"
            )
        values = {"penalty_method": method}
        for name in known[1:]:
            if name not in data:
                continue
            val = data[name]
            if not isinstance(val, int | float) or isinstance(val, bool) or val < 0:
                raise ValueError(f"{where}: {name} must be a number >= 0, received {val!r}")
            if name != "grace_minutes" and val > 100:
                raise ValueError(f"{where}: {name} is a percentage (0 to 100), received {val!r}")
            values[name] = float(val)
        if method in UNIT_SECONDS and not values.get("percent"):
            raise ValueError(f"{where}: penalty_method {method!r} needs a percent > 0")
        return cls(**values)

    @classmethod
    def load(cls, folder) -> LatePolicy:
        """The policy in ``folder/autograder.json`` (``none`` when there is none)."""
        path = Path(folder) / CONFIG_NAME
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls.from_dict(data.get(POLICY_KEY, {}), f"{path}: {POLICY_KEY}")

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        """Points off ``score`` (one notebook's) for ``total_seconds_late``; None: none."""
        policy = self._assignment_policy() or self
        return policy.penalty(score, total_seconds_late)

    def penalty(self, score: float, seconds_late: float) -> float | None:
        if seconds_late <= 0 or seconds_late <= 60 * self.grace_minutes:
            return None
        if self.penalty_method == "zero":
            return float(score)
        if self.penalty_method not in UNIT_SECONDS:
            return None
        started = math.ceil(seconds_late / UNIT_SECONDS[self.penalty_method])
        fraction = min(self.cap_percent, self.percent * started) / 100
        return round(float(score) * fraction, 6)

    def describe(self) -> str:
        """The policy in one line, for feedback pages and reports."""
        grace = f"; {self.grace_minutes:g} min grace period" if self.grace_minutes else ""
        if self.penalty_method == "none":
            return "no late penalty"
        if self.penalty_method == "zero":
            return f"a late submission scores 0{grace}"
        unit = "hour" if self.penalty_method == "per_hour" else "day"
        cap = f", at most {self.cap_percent:g} %" if self.cap_percent < 100 else ""
        return f"{self.percent:g} % of the score per started {unit} late{cap}{grace}"

    def _assignment_policy(self) -> LatePolicy | None:
        """Inside nbgrader's ``AssignLatePenalties``: the policy of its assignment."""
        parent = self.parent
        aid, url = getattr(parent, "assignment_id", None), getattr(parent, "db_url", "")
        if not aid or not str(url).startswith("sqlite:///"):
            return None
        return type(self).load(Path(str(url)[len("sqlite:///") :]).parent / "source" / aid)
