"""Typical mistakes with a "message": the student's kernel shows that text first.

An entry of ``tests/notebook_mistakes/NN_name.json`` may carry ``"message"``: a substring of
the message of the first *visible* check this mistake makes fail in the student's own kernel
(the hint the student gets before submitting). The mechanism lives in
``tests/notebook_runner.py`` (the forked mutation run, which also notes the first visible
failure of every mutation); it is tested here on a small notebook. The assignments' entries
are checked by tests/test_notebooks.py, in the same run that checks that every mistake loses
points (no second execution of the notebooks).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import notebook_runner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MISTAKES = Path(__file__).parent / "notebook_mistakes"


def run(source_path, mutations, tmp_path):
    job = {"mutations": mutations, "max_seconds": 60}
    return notebook_runner.run_job(source_path, job, tmp_path, cwd=ROOT)


# ------------------------------------------------------------------ the mechanism

GRADE = {"grade": True, "solution": False, "locked": True, "points": 2, "schema_version": 3}
SOLUTION = {"grade": False, "solution": True, "locked": False, "schema_version": 3}
CELLS = [
    (None, "import numpy as np\nfrom autograder.checks import Check"),
    (
        {**SOLUTION, "grade_id": "sol_mean"},
        "def mean(x):\n    ### BEGIN SOLUTION\n    x = np.asarray(x, dtype=float)\n"
        "    return float(x.sum() / x.size)\n    ### END SOLUTION",
    ),
    (
        {**GRADE, "grade_id": "ex_mean"},
        'c = Check("ex_mean")\n'
        'c.close("mean of [1, 3]", mean([1.0, 3.0]), 2.0, msg="divide by the number of entries")\n'
        "### BEGIN HIDDEN TESTS\n"
        'c.close("random 5", mean(np.random.default_rng(0).normal(size=5)))\n'
        "### END HIDDEN TESTS",
    ),
    (
        {**SOLUTION, "grade_id": "sol_var"},
        "def var(x):\n    ### BEGIN SOLUTION\n    x = np.asarray(x, dtype=float)\n"
        "    return mean((x - mean(x)) ** 2)\n    ### END SOLUTION",
    ),
    (
        {**GRADE, "grade_id": "ex_var"},
        'c = Check("ex_var")\n'
        'c.close("constant", var(np.full(3, 2.0)), var(np.zeros(3)), msg="no spread")\n'
        'c.close("var of [1, 2, 3]", var([1.0, 2.0, 3.0]), 2 / 3, msg="mean squared deviation")\n'
        "### BEGIN HIDDEN TESTS\n"
        'c.close("random 6", var(np.random.default_rng(1).normal(size=6)))\n'
        "### END HIDDEN TESTS",
    ),
]
MISTAKES_OF_THE_SMALL_NOTEBOOK = [
    # caught by the visible check of its own cell
    {"cell": "sol_mean", "find": "x.sum() / x.size", "replace": "x.sum()",
     "mistake": "sum", "message": "divide by the number of entries"},
    # the same, but the entry expects another text: reported
    {"cell": "sol_mean", "find": "x.sum() / x.size", "replace": "x.sum() / 3",
     "mistake": "halved", "message": "square the deviations"},
    # hidden check of its cell first; the student sees the visible check of ex_var
    {"cell": "sol_mean", "find": "x.sum() / x.size",
     "replace": "x.sum() / x.size if x.size < 3 else 0.",
     "mistake": "short arrays only", "message": "mean squared deviation"},
    # only hidden checks notice: no visible message at all
    {"cell": "sol_var", "find": "return mean((x - mean(x)) ** 2)",
     "replace": "return mean((x - mean(x)) ** 2) if x.size < 4 else 1.0",
     "mistake": "short arrays only (var)", "message": "anything"},
    # passes the visible 'constant' check in the kernel (its expected value is var(zeros),
    # computed by the student's own code) although the key fails it
    {"cell": "sol_var", "find": "return mean((x - mean(x)) ** 2)",
     "replace": "return mean((x - mean(x)) ** 2) + 1.0",
     "mistake": "offset", "message": "mean squared deviation"},
    # no message: stops at the first loss as before
    {"cell": "sol_var", "find": "** 2", "replace": "** 3", "mistake": "cube"},
]  # fmt: skip


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("small")
    nb = nbformat.v4.new_notebook()
    for meta, source in CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if meta:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    path = tmp / "small.ipynb"
    nbformat.write(nb, path)
    mutations, problems = notebook_runner.mistake_mutations(nb, MISTAKES_OF_THE_SMALL_NOTEBOOK)
    assert not problems
    return mutations, run(path, mutations, tmp)


@pytest.mark.slow
def test_first_visible_failure_of_each_mutation(small_run):
    mutations, result = small_run
    assert not result["errors"] and all(s["score"] == 2 for s in result["base"].values())
    got = {mid.split(":")[0]: r for mid, r in result["mutations"].items()}
    assert got["mistake 0"]["failed"] == ["ex_mean"]
    assert got["mistake 0"]["first_visible"]["label"] == "mean of [1, 3]"
    assert got["mistake 0"]["first_visible"]["message"].startswith(
        "[ex_mean] mean of [1, 3]: divide by the number of entries"
    )
    # lost points in ex_mean (hidden), ran on to the visible failure in ex_var
    assert got["mistake 2"]["failed"] == ["ex_mean"]
    assert got["mistake 2"]["first_visible"]["cell"] == "ex_var"
    assert got["mistake 2"]["first_visible"]["label"] == "var of [1, 2, 3]"
    assert got["mistake 3"]["failed"] == ["ex_var"] and got["mistake 3"]["first_visible"] is None
    assert got["mistake 4"]["kernel_passed"] == [["ex_var", "constant"]]
    assert got["mistake 5"]["failed"] == ["ex_var"]  # without a message: as before


@pytest.mark.slow
def test_message_problems_name_each_mismatch(small_run):
    mutations, result = small_run
    problems = notebook_runner.message_problems(mutations, result["mutations"])
    text = "\n".join(problems)
    assert not any(p.startswith("mistake 0:") for p in problems)
    assert not any(p.startswith("mistake 2:") for p in problems)
    assert (
        "mistake 1: halved in sol_mean: the first visible failure (ex_mean, 'mean of [1, 3]')"
        in text
    )
    assert "without 'square the deviations'" in text
    assert "mistake 3: short arrays only (var) in sol_var: no visible check fails" in text
    assert (
        "mistake 4: offset in sol_var: visible check ex_var / 'constant' passes in the kernel"
        in text
    )
    assert len(problems) == 3
    assert not any(p.startswith("mistake 5:") for p in problems)  # no message, not checked


# ------------------------------------------------------------------ the assignments


def test_every_assignments_entries_apply_once_and_differ():
    """Without running anything: each entry's ``find`` occurs once, and no two entries make
    the same mutated cell (the second would test nothing new)."""
    for path in sorted(MISTAKES.glob("*.json")):
        nb = nbformat.read(NOTEBOOKS / path.stem / f"{path.stem}.ipynb", as_version=4)
        _, problems = notebook_runner.mistake_mutations(nb, json.loads(path.read_text()))
        assert problems == [], (path.name, problems)


def test_an_entry_that_repeats_an_earlier_mutation_is_a_problem():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("y = x + 1")
    cell.metadata["nbgrader"] = {"grade_id": "ex", **SOLUTION}
    nb.cells = [cell]
    entries = [
        {"mistake": "minus", "cell": "ex", "find": "+ 1", "replace": "- 1"},
        {"mistake": "minus again", "cell": "ex", "find": "x + 1", "replace": "x - 1"},
        {"mistake": "plus two", "cell": "ex", "find": "+ 1", "replace": "+ 2"},
    ]
    mutations, problems = notebook_runner.mistake_mutations(nb, entries)
    assert [m["id"] for m in mutations] == ["mistake 0: minus in ex", "mistake 2: plus two in ex"]
    assert problems == ["mistake 1 (minus again): the same mutation as mistake 0: minus in ex"]


def test_message_entries_are_non_empty_strings():
    for path in sorted(MISTAKES.glob("*.json")):
        for k, m in enumerate(json.loads(path.read_text())):
            if "message" in m:
                assert isinstance(m["message"], str) and m["message"].strip(), (path.name, k)
