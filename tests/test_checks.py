"""autograder.checks: the Check helper of grade cells, its records and its table of kinds."""

from __future__ import annotations

import re
import textwrap

import nbformat
import numpy as np

from autograder import checks, key

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
    monkeypatch.setattr(
        checks,
        "_publish",
        lambda rec: outputs.append(nbformat.v4.new_output("display_data", data={checks.MIME: rec})),
    )
    ns = {"np": np, "Check": checks.Check, **(namespace or {})}
    try:
        exec(compile(source, "<grade cell>", "exec"), ns)
    except AssertionError as exc:
        outputs.append(
            nbformat.v4.new_output("error", ename="AssertionError", evalue=str(exc), traceback=[])
        )
        return outputs, exc
    return outputs, None


def executed_notebook(source, outputs, grade_id="ex_sigmoid"):
    meta = {"nbgrader": {**GRADE_META["nbgrader"], "grade_id": grade_id}}
    cell = nbformat.v4.new_code_cell(source, metadata=meta)
    cell.outputs = outputs
    return nbformat.v4.new_notebook(cells=[cell])


def test_module_example_is_a_grade_cell_release_accepts(monkeypatch):
    """The example at the top of checks.py follows docs/grading.md: no hidden `expected`."""
    example = re.search(r"::\n\n(.*?)\n\n", checks.__doc__, re.S).group(1)
    source = textwrap.dedent(example).replace("from autograder.checks import Check\n", "")
    import nncourse.functional

    def sigmoid(x):
        return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))

    ns = {"sigmoid": sigmoid, "nncourse": nncourse}
    outputs, exc = run_cell(source, monkeypatch, ns, key_run=True)
    assert exc is None
    the_key, warnings = key.build_key(executed_notebook(source, outputs), "nb")
    labels = the_key["cells"]["ex_sigmoid"]["labels"]
    assert labels["sigmoid(0)"]["hidden"] is False and labels["random 4x3"]["hidden"] is True
    assert "expected" not in labels["random 4x3"] and not warnings
