"""Every assignment notebook: runs clean, builds a clean student version, and its tests bite.

For each ``notebooks/NN_name/NN_name.ipynb`` (one test per assignment, so the
expensive execution happens once, in tests/notebook_runner.py):

- the source version executes top to bottom without errors, in under 60 s, and scores
  full auto-graded marks against its own answer key (the autograder's trusted logic);
- the student version that nbgrader generates contains no solution code and no hidden
  tests, raises only NotImplementedError in its solution cells, and scores 0;
- reverting any single solution cell to its stub loses points;
- every typical mistake listed in tests/notebook_mistakes/NN_name.json loses points.

The full sandboxed release/grade round trip on real notebooks is in test_autograder*.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import notebook_runner
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MISTAKES = Path(__file__).parent / "notebook_mistakes"
TIME_LIMIT_S = 60.0

ASSIGNMENTS = sorted(
    p.name
    for p in NOTEBOOKS.iterdir()
    if p.is_dir() and re.fullmatch(r"\d\d_[a-z0-9_]+", p.name) and (p / f"{p.name}.ipynb").exists()
)


def nbmeta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def student_version(nb, hidden_tests=True):
    """What ``nbgrader generate_assignment`` does to cells: solutions, hidden tests, outputs.

    ``hidden_tests=False`` keeps the hidden tests (the version the grader runs)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    resources = {"language": "python"}
    cfg = Config()
    steps = [ClearSolutions(config=cfg), ClearOutput(config=cfg)]
    if hidden_tests:
        steps.insert(1, ClearHiddenTests(config=cfg))
    for pre in steps:
        nb, resources = pre.preprocess(nb, resources)
    return nb


def solution_lines(source: str) -> list[str]:
    """Substantial lines between the solution markers (what must not leak)."""
    m = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S)
    if not m:
        return []
    return [ln.strip() for ln in m.group(1).splitlines() if len(ln.strip()) > 20]


def test_assignments_found():
    assert ASSIGNMENTS, "no assignment notebooks under notebooks/NN_name/"
    assert ASSIGNMENTS[:4] == ["01_perceptron", "02_neurons", "03_mlp", "04_backprop"], ASSIGNMENTS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_notebook(assignment, tmp_path):
    src = NOTEBOOKS / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(src, as_version=4)
    problems = []

    # ---- structure -------------------------------------------------------------------
    ids = [nbmeta(c).get("grade_id") for c in nb.cells if nbmeta(c)]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        problems.append(f"duplicate grade_ids {sorted(dup)}")
    auto_points = sum(
        float(nbmeta(c).get("points", 0))
        for c in nb.cells
        if c.cell_type == "code" and nbmeta(c).get("grade") and not nbmeta(c).get("solution")
    )
    manual = [c for c in nb.cells if c.cell_type == "markdown" and nbmeta(c).get("grade")]
    if assignment != "09_capstone" and not 60 <= auto_points <= 120:
        problems.append(f"{auto_points} auto-graded points (expected 60-120)")
    if not manual or any(float(nbmeta(c).get("points", 0)) <= 0 for c in manual):
        problems.append("no manually graded written question with points")
    for c in nb.cells:
        if c.cell_type == "code" and nbmeta(c).get("grade") and not nbmeta(c).get("locked"):
            problems.append(f"grade cell {nbmeta(c).get('grade_id')} is not locked")

    # ---- the student version ---------------------------------------------------------------
    student = student_version(nb)
    text = json.dumps([c.source for c in student.cells])
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        if marker in text:
            problems.append(f"student version still contains '{marker}'")
    solution_ids = []
    for c_src, c_st in zip(nb.cells, student.cells):
        meta = nbmeta(c_src)
        if meta.get("solution") and c_src.cell_type == "code":
            solution_ids.append(meta["grade_id"])
            outside = re.sub(
                r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", c_src.source, flags=re.S
            )
            leaked = [
                ln for ln in solution_lines(c_src.source) if ln in c_st.source and ln not in outside
            ]
            if leaked:
                problems.append(
                    f"{meta['grade_id']}: solution code in the student version: {leaked[:2]}"
                )
            if "NotImplementedError" not in c_st.source:
                problems.append(
                    f"{meta['grade_id']}: student stub does not raise NotImplementedError"
                )
    # a written question must survive in the student version (nbgrader replaces a whole
    # answer cell without solution markers by "YOUR ANSWER HERE")
    for i, (c_src, c_st) in enumerate(zip(nb.cells, student.cells)):
        meta = nbmeta(c_src)
        if c_src.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
            shown = c_st.source + (student.cells[i - 1].source if i else "")
            shown = shown.replace("YOUR ANSWER HERE", "")
            if "?" not in shown and "question" not in shown.lower():
                problems.append(f"{meta['grade_id']}: the question is not shown to students")
    # What the grader executes for an unfilled submission: the student's cells, with every
    # locked grade cell restored from the source *including* its hidden tests (nbgrader's
    # OverwriteCells does this), so an unfilled notebook is judged on all its checks.
    graded = student_version(nb, hidden_tests=False)
    student_path = tmp_path / f"{assignment}_student.ipynb"
    nbformat.write(graded, student_path)

    # ---- mutations: one reverted solution cell at a time, then typical mistakes --------------
    mutations = []
    for c_src, c_st in zip(nb.cells, student.cells):
        if nbmeta(c_src).get("solution") and c_src.cell_type == "code":
            gid = nbmeta(c_src)["grade_id"]
            mutations.append({"id": f"revert {gid}", "cell": gid, "source": c_st.source})
    mistakes_file = MISTAKES / f"{assignment}.json"
    mistakes = json.loads(mistakes_file.read_text()) if mistakes_file.exists() else []
    if not mistakes:
        problems.append(f"no typical mistakes listed in {mistakes_file.name}")
    # entries with a "message" also pin the first visible failure the student sees
    mistaken, bad_entries = notebook_runner.mistake_mutations(nb, mistakes)
    mutations += mistaken
    problems += bad_entries
    covered = {m["cell"] for m in mistakes}
    missing = [s for s in solution_ids if s not in covered]
    if missing:
        problems.append(f"solution cells without a typical mistake: {missing}")

    job = {"mutations": mutations, "student": str(student_path), "max_seconds": 60}
    result = notebook_runner.run_job(src, job, tmp_path)

    # ---- verdicts --------------------------------------------------------------------------
    if result["errors"]:
        problems.append(f"source notebook raises in {result['errors']}")
    else:
        lost = {g: s for g, s in result["base"].items() if s["score"] < s["max_score"]}
        if lost:
            problems.append(f"source version does not get full marks: {sorted(lost)}")
        if result["base_seconds"] > TIME_LIMIT_S:
            problems.append(
                f"source version took {result['base_seconds']:.0f} s (limit {TIME_LIMIT_S:.0f} s)"
            )
        st = result["student"]
        earned = {g: s["score"] for g, s in st["scores"].items() if s["score"] > 0}
        if earned:
            problems.append(f"unfilled student version earns points in {earned}")
        bad = {
            c: e
            for c, e in st["errors"].items()
            if c in solution_ids and e != "NotImplementedError"
        }
        if bad:
            problems.append(f"student solution cells raise other than NotImplementedError: {bad}")
        for mid, r in result["mutations"].items():
            if not r["failed"]:
                why = f" ({r['error']})" if r.get("error") else ""
                problems.append(f"{mid} loses no points{why}")
        problems += notebook_runner.message_problems(mutations, result["mutations"])
    assert not problems, f"{assignment}:\n  " + "\n  ".join(problems)
