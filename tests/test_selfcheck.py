"""autograder.selfcheck (``python -m autograder check``): passed / failed / not run per check,
exactly as the student's kernel saw them."""

from __future__ import annotations

import nbformat
import pytest

from autograder import selfcheck

META = {"grade": True, "solution": False, "locked": True, "points": 3, "schema_version": 3}
SOURCE = """from autograder.checks import Check
c = Check("ex_mse")
c.close("zero", mse([1.0], [1.0]), 0.0, msg="equal inputs give 0")
c.close("mean, not sum", mse([1.0, 2.0], [1.0, 4.0]), 2.0, msg="divide by the number of elements")
for n in (1, 2):
    c.close(f"size {n}", mse([0.0] * n, [1.0] * n), 1.0)
c.equal("returns a float", type(mse([1.0], [2.0])).__name__, "float")
"""


def notebook(solution):
    sol = nbformat.v4.new_code_cell(solution)
    sol.metadata["nbgrader"] = {**META, "grade": False, "solution": True, "grade_id": "mse_sol"}
    test = nbformat.v4.new_code_cell(SOURCE)
    test.metadata["nbgrader"] = {**META, "grade_id": "ex_mse"}
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import numpy as np"), sol, test]
    )


RIGHT = "def mse(p, y):\n    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))"
SUM = "def mse(p, y):\n    return float(np.sum((np.asarray(p) - np.asarray(y)) ** 2))"
STUB = "def mse(p, y):\n    raise NotImplementedError()"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The three versions, each run once through `check` (a real sandboxed kernel)."""
    out = {}
    for name, solution in (("right", RIGHT), ("sum", SUM), ("stub", STUB)):
        path = tmp_path_factory.mktemp(name) / "nb.ipynb"
        nbformat.write(notebook(solution), path)
        out[name] = selfcheck.check_notebook(path)
    return out


def states(row):
    return [(c["label"], c["state"]) for c in row["checks"]]


@pytest.mark.slow
def test_all_passed(executed):
    (row,) = executed["right"]
    assert row["points"] == 3 and row["message"] == "" and row["first_failure"] is None
    assert states(row) == [
        ("zero", "passed"),
        ("mean, not sum", "passed"),
        ("size 1", "passed"),
        ("size 2", "passed"),
        ("returns a float", "passed"),
    ]
    assert "ok (5 checks passed)" in selfcheck.format_table(executed["right"])


@pytest.mark.slow
def test_failed_check_then_not_run_as_the_kernel_stopped(executed):
    (row,) = executed["sum"]
    assert row["points"] == 0 and row["first_failure"] == "mean, not sum"
    # loop labels (f-strings) cannot be known before they run; literal ones can
    assert states(row) == [
        ("zero", "passed"),
        ("mean, not sum", "failed"),
        ("returns a float", "not run"),
    ]
    failed = row["checks"][1]["message"]
    assert failed.startswith("divide by the number of elements") and "got:" in failed
    assert row["message"].startswith("AssertionError: [ex_mse] mean, not sum:")
    table = selfcheck.format_table(executed["sum"])
    assert "FAILED         mean, not sum  <- first failure" in table
    assert "divide by the number of elements" in table and "got:" in table  # got vs expected
    assert "not run        returns a float" in table
    assert "(not run: an earlier check in this cell failed)" in table


@pytest.mark.slow
def test_error_outside_a_check_runs_nothing(executed):
    (row,) = executed["stub"]
    assert row["first_failure"] is None and row["message"].startswith("NotImplementedError")
    assert states(row) == [
        ("zero", "not attempted"),
        ("mean, not sum", "not attempted"),
        ("returns a float", "not attempted"),
    ]
    table = selfcheck.format_table(executed["stub"])
    assert "not attempted  zero" in table and "still raises NotImplementedError" in table


def test_hidden_block_labels_are_never_listed():
    source = (
        'c.close("seen", 1, 1)\n### BEGIN HIDDEN TESTS\nc.close("secret", x)\n### END HIDDEN TESTS'
    )
    assert selfcheck._written_labels(source) == ["seen"]
    assert selfcheck._written_labels("c.close(") == []  # unparsable source: nothing


def test_assignment_limits_files_load():
    """`check` and `grade` read notebooks/NN_name/autograder.json: each one must load."""
    from pathlib import Path

    from autograder.config import CONFIG_NAME, Limits

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted(notebooks.glob(f"*/{CONFIG_NAME}")):
        Limits.load(path.parent)  # unknown names or bad values raise ValueError


def test_command_line_skips_jsonschemas_slow_iri_checker_and_still_validates(tmp_path):
    """``python -m autograder`` keeps jsonschema from importing ``rfc3987_syntax`` (a second
    per command, for string formats no notebook schema uses); notebooks are still validated,
    and a process that already loaded jsonschema is left alone."""
    import subprocess
    import sys

    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4}')
    script = f"""
import sys
from autograder.__main__ import skip_slow_optional_imports
skip_slow_optional_imports()
import nbformat, jsonschema
nbformat.validate(nbformat.v4.new_notebook())
try:
    nbformat.validate(nbformat.read({str(bad)!r}, as_version=4))
except nbformat.ValidationError:
    print("invalid caught")
print("skipped", sys.modules["rfc3987_syntax"] is None)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["invalid caught", "skipped True"]
    loaded = "import jsonschema\n" + script.replace('print("invalid caught")', "pass")
    out = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "skipped False" in out.stdout  # already loaded: the real package stays
