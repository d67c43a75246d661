"""Instructor tooling on nbgrader: release, sandboxed grading, feedback, export, self-check.

Command line: ``python -m autograder {release,grade,feedback,export,check}`` (see
docs/grading.md). Grade cells use :class:`autograder.checks.Check`.
"""

from autograder.checks import Check
from autograder.records import MIME

__all__ = ["Check", "MIME"]
