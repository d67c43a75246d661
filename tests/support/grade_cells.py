"""Running a grade cell's source in the test process as the kernel would, and the notebook
the grader would read back (for the tests of ``autograder.checks`` and ``.properties``)."""

from __future__ import annotations

import nbformat
import numpy as np

from autograder import checks

GRADE_META = {
    "nbgrader": {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 2,
        "grade_id": "ex_sigmoid",
        "schema_version": 3,
    }
}


def run_cell(source, monkeypatch, namespace=None, key_run=False):
    """Execute grade-cell source as a kernel would; return (outputs, exception or None)."""
    monkeypatch.setenv("AUTOGRADER_KEY_RUN", "1" if key_run else "0")
    outputs = []
    for name, mime in (("_publish", checks.MIME), ("_publish_case", checks.CASE_MIME)):
        monkeypatch.setattr(
            checks,
            name,
            lambda rec, mime=mime: outputs.append(
                nbformat.v4.new_output("display_data", data={mime: rec})
            ),
        )
    ns = {"np": np, "Check": checks.Check, **(namespace or {})}
    try:
        exec(compile(source, "<grade cell>", "exec"), ns)
    except AssertionError as exc:
        outputs.append(
            nbformat.v4.new_output("error", ename=type(exc).__name__, evalue=str(exc), traceback=[])
        )
        return outputs, exc
    return outputs, None


def executed_notebook(source, outputs, grade_id="ex_sigmoid"):
    """A notebook of one grade cell ``grade_id`` with ``source`` and the ``outputs`` it made."""
    meta = {"nbgrader": {**GRADE_META["nbgrader"], "grade_id": grade_id}}
    cell = nbformat.v4.new_code_cell(source, metadata=meta)
    cell.outputs = outputs
    return nbformat.v4.new_notebook(cells=[cell])
