"""Sanitising a submission before it runs: nbgrader's preprocessors, on the run's gradebook.

``sanitize`` reads one submitted notebook and restores what the student must not change
(locked cells, hidden tests, nbgrader flags, the kernel) from the gradebook, the way ``nbgrader
autograde`` does before it executes a submission, with :data:`SANITIZE_PREPROCESSORS` in its
order; the steps of our own are there only where nbgrader's fail on a whole notebook for one
edited cell. Runs in the trusted parent, never in a worker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
)

from autograder import outcomes
from autograder.grading import answer_key

log = logging.getLogger("autograder")


@dataclasses.dataclass
class Trusted:
    """What the gradebook knows about one source notebook, read once per ``grade`` run."""

    assignment: str
    notebook: str
    points: dict  # grade_id -> max score of every grade cell
    solutions: set  # grade_ids of solution cells
    locked: dict  # grade_id -> locked, for every source cell
    kernelspec: dict | None
    order: tuple = ()  # (grade_id, cell_type, source) of the source cells, in notebook order

    @classmethod
    def load(cls, gb, aid, nb_id):
        book = gb.find_notebook(nb_id, aid)
        return cls(
            assignment=aid,
            notebook=nb_id,
            points={c.name: float(c.max_score) for c in book.grade_cells},
            solutions={c.name for c in book.solution_cells},
            locked={c.name: c.locked for c in book.source_cells},
            kernelspec=json.loads(book.kernelspec) if book.kernelspec else None,
            order=tuple((c.name, c.cell_type, c.source or "") for c in book.source_cells),
        )


def sanitize(trusted: Trusted, gb, sid, path: Path, limits, notes: list | None = None):
    """Read a submitted notebook and restore it; returns ``(nb, None)`` or
    ``(None, Problem)``: why it cannot run.

    ``notes`` (a list) receives what could not be graded in a notebook that is graded
    nonetheless (an answer cell deleted, or found only by its place and content).

    The restoring is nbgrader's: the preprocessors ``nbgrader autograde`` runs before it
    executes a submission, in its order (:func:`sanitizers`). Our own code does only what
    they cannot, each step tested against nbgrader's behaviour in tests/test_grade_sanitize.py:

    * a file too large or not a notebook gets a reason for this student (nbgrader raises);
    * every cell's nbgrader flags come from the gradebook (:func:`_restore_flags`):
      ``OverwriteCells`` restores ``locked``, ``points``, the checksum and locked sources, but
      keeps a student's ``grade: false`` on a grade cell and then fails on the whole notebook
      ("Inconsistent checksums"), and for an unknown grade id removes only the id and then
      fails on the whole notebook too (KeyError): one edited flag would cost every exercise.
      Ours restores the flags, and drops the metadata of a cell with an unknown id, so that
      only its exercise is lost (the grade cell is added back);
    * ``DeduplicateIds`` leaves ``nbgrader: {}`` on the duplicates it clears, on which
      ``OverwriteCells`` fails when it adds missing task cells: we remove those dicts;
    * cells without nbgrader metadata (copied into a fresh notebook, which students do) are
      matched to the source cells by content (locked cells) and place (answer cells)
      (:func:`_identify_cells`): what is found is graded, what is not is named in ``notes``;
      a notebook none of whose cells belongs to this one is another notebook, and is called so
      (:func:`_foreign`). nbgrader's ``add_missing_grade_cells`` fails on the whole notebook
      when the answer cell before a deleted grade cell is gone too: ours puts the grade cell
      after the nearest cell that is still there;
    * ``OverwriteKernelspec`` and ``OverwriteCells`` open a new ``Gradebook`` per notebook:
      ours run the same steps on the run's open session ``gb``.
    """
    if not path.is_file():
        return None, outcomes.missing()
    if path.stat().st_size > limits.max_notebook_mb * 2**20:
        return None, outcomes.rejected(f"notebook larger than {limits.max_notebook_mb} MB")
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a notebook"
        return None, outcomes.rejected(f"not a valid notebook ({type(exc).__name__})")
    resources = {
        "nbgrader": {
            "notebook": trusted.notebook,
            "assignment": trusted.assignment,
            "student": sid,
            "db_url": str(gb.engine.url),
        }
    }
    notes = [] if notes is None else notes
    foreign = _foreign(nb, trusted, gb)
    if foreign:
        return None, outcomes.rejected(foreign)
    present, matched = _identify_cells(nb, trusted)
    if not present:
        return None, outcomes.rejected(
            f"wrong notebook: none of its cells is a cell of {trusted.assignment}/"
            f"{trusted.notebook}.ipynb (another assignment's notebook?)"
        )
    if matched:
        notes.append(
            f"nbgrader metadata missing: {len(matched)} cell(s) found by content and place "
            f"({', '.join(matched)})"
        )
    for gid, _, _ in trusted.order:
        if gid in trusted.solutions and gid not in present:
            notes.append(
                f"answer cell {gid} not found (deleted, or copied without its metadata): its "
                "tests ran on what the rest of the notebook defines"
            )
    try:
        _restore_flags(nb, trusted)
        for pp in sanitizers(gb):
            nb, resources = pp.preprocess(nb, resources)
    except Exception as exc:  # noqa: BLE001
        text = f"invalid nbgrader metadata ({type(exc).__name__}: {str(exc)[:200]})"
        return None, outcomes.rejected(text)
    return nb, None


def _foreign(nb, trusted: Trusted, gb) -> str | None:
    """Why ``nb`` is another notebook: its cells carry grade ids, none of them this one's."""
    ids = {answer_key.nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    if not ids or ids & set(trusted.locked):
        return None
    from nbgrader.api import SourceCell

    where = sorted(
        {
            f"{cell.notebook.assignment.name}/{cell.notebook.name}.ipynb"
            for cell in gb.db.query(SourceCell).filter(SourceCell.name.in_(sorted(ids))).limit(50)
        }
    )
    other = f"it is {' or '.join(where[:2])}" if where else "its cells belong to another notebook"
    return (
        f"wrong assignment: not {trusted.assignment}/{trusted.notebook}.ipynb ({other}); "
        "ask the student for the right notebook"
    )


def _identify_cells(nb, trusted: Trusted) -> tuple[set, list]:
    """Give cells without nbgrader metadata the grade id of the source cell they are.

    A locked cell is found by its content (as released: without hidden tests); an answer cell
    by its place: the one unmatched cell of its type between the cells found before and after
    it (several: the one that defines what the released stub defines). Returns the grade ids
    now present and those found here (in notebook order).
    """

    def gid_of(cell):
        return answer_key.nbgrader_meta(cell).get("grade_id")

    present = {gid_of(c) for c in nb.cells} & set(trusted.locked)
    bare = [i for i, c in enumerate(nb.cells) if "nbgrader" not in c.get("metadata", {})]
    if not bare:
        return present, []
    found: dict[int, str] = {}
    for gid, cell_type, source in trusted.order:
        if gid in present or not trusted.locked[gid]:
            continue
        shown = _as_released(nbformat.from_dict({"cell_type": cell_type, "source": source}))
        for i in bare:
            cell = nb.cells[i]
            if (
                i not in found
                and cell.cell_type == cell_type
                and cell.source.strip()
                in (
                    shown.strip(),
                    source.strip(),
                )
            ):
                found[i] = gid
                break

    def position(gid):
        idx = [i for i, c in enumerate(nb.cells) if gid_of(c) == gid] or [
            i for i, g in found.items() if g == gid
        ]
        return idx[0] if idx else None

    names = [g for g, _, _ in trusted.order]
    for k, (gid, cell_type, source) in enumerate(trusted.order):
        if gid in present or trusted.locked[gid]:
            continue
        before = [p for g in names[:k] if (p := position(g)) is not None]
        after = [p for g in names[k + 1 :] if (p := position(g)) is not None]
        low, high = max(before, default=-1), min(after, default=len(nb.cells))
        cands = [
            i
            for i in bare
            if low < i < high and i not in found and nb.cells[i].cell_type == cell_type
        ]
        if len(cands) > 1:
            stub = re.findall(r"^\s*def (\w+)", source, re.M)
            cands = [i for i in cands if stub and f"def {stub[0]}" in nb.cells[i].source]
        if len(cands) == 1:
            found[cands[0]] = gid
    for i, gid in found.items():
        nb.cells[i].metadata["nbgrader"] = {"grade_id": gid}  # flags: _restore_flags
    return present | set(found.values()), [found[i] for i in sorted(found)]


def _restore_flags(nb, trusted: Trusted) -> None:
    """Replace each cell's nbgrader metadata by the gradebook's; drop unknown grade ids."""
    for cell in nb.cells:
        meta = cell.setdefault("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = meta["nbgrader"].get("grade_id") if isinstance(meta["nbgrader"], dict) else None
        if gid not in trusted.locked:
            del meta["nbgrader"]
            continue
        meta["nbgrader"] = {
            "grade": gid in trusted.points,
            "grade_id": gid,
            "locked": trusted.locked[gid],
            "schema_version": 3,
            "solution": gid in trusted.solutions,
            "task": False,
        }
        if gid in trusted.points:
            meta["nbgrader"]["points"] = trusted.points[gid]


class Deduplicate(DeduplicateIds):
    """nbgrader's ``DeduplicateIds``, without the empty ``nbgrader`` dicts it leaves."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


class OverwriteKernelspecOnGradebook(OverwriteKernelspec):
    """nbgrader's ``OverwriteKernelspec`` on an already open gradebook."""

    def __init__(self, gb):
        super().__init__()
        self.gradebook = gb

    def preprocess(self, nb, resources):
        book = self.gradebook.find_notebook(
            resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]
        )
        if book.kernelspec:
            nb.metadata["kernelspec"] = json.loads(book.kernelspec)
        return nb, resources


class OverwriteCellsOnGradebook(OverwriteCells):
    """nbgrader's ``OverwriteCells(add_missing_cells=True)`` on an already open gradebook.

    nbgrader's ``preprocess`` opens a ``Gradebook`` and then runs these three steps.
    Changes are reported in one line per student and notebook, and only where the
    student changed a locked cell: nbgrader warns for every grade cell with hidden
    tests, whose release copy never matches the source it puts back.
    """

    def __init__(self, gb):
        super().__init__(add_missing_cells=True)
        self.gradebook = gb
        self.changed: list[str] = []

    def report_change(self, name, attr, old, new):
        self.changed.append(name if attr == "checksum" else f"{name} ({attr})")

    def preprocess_cell(self, cell, resources, index):
        submitted = cell.get("source")
        before = len(self.changed)
        cell, resources = super().preprocess_cell(cell, resources, index)
        if (
            len(self.changed) > before
            and self.changed[-1] == cell.metadata.get("nbgrader", {}).get("grade_id")
            and _as_released(cell) == submitted
        ):
            self.changed.pop()  # only the hidden tests came back
        return cell, resources

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.changed = []
        nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # per cell
        if self.changed:
            log.warning(
                "%s: %s.ipynb: changed locked cells restored from the release: %s",
                resources["nbgrader"].get("student"),
                self.notebook_id,
                ", ".join(dict.fromkeys(self.changed)),
            )
        nb, resources = self.add_missing_grade_cells(nb, resources)
        return self.add_missing_task_cells(nb, resources)

    def add_missing_grade_cells(self, nb, resources):
        """nbgrader's, placing a missing grade cell after the nearest earlier source cell
        still in the notebook (nbgrader's takes the one just before it, and fails on the
        whole notebook when that one is missing too)."""
        book = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        names = [c.name for c in book.source_cells]
        solutions = {c.name for c in book.solution_cells}
        for grade_cell in book.grade_cells:
            where = {answer_key.nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(nb.cells)}
            if grade_cell.name in where:
                continue
            self.log.info("Missing grade cell %s encountered, adding to notebook", grade_cell.name)
            k = names.index(grade_cell.name)
            earlier = [where[n] for n in names[:k] if n in where]
            cell = self.missing_cell_transform(
                book.source_cells[k],
                grade_cell.max_score,
                is_solution=grade_cell.name in solutions,
            )
            if nb.get("nbformat_minor", 0) >= 5:  # cell ids since nbformat 4.5
                cell["id"] = re.sub(r"[^A-Za-z0-9_-]", "-", f"restored-{grade_cell.name}")[:64]
            nb.cells.insert(max(earlier, default=-1) + 1, cell)
        return nb, resources


def sanitizers(gb) -> list:
    """``nbgrader autograde``'s sanitising preprocessors, in its order, on the open ``gb``."""
    return [step(gb) if step in ON_GRADEBOOK else step() for step in SANITIZE_PREPROCESSORS]


#: what ``nbgrader autograde`` runs on a submission before executing it (its
#: ``sanitize_preprocessors``), in its order; ours differ where their docstrings say
SANITIZE_PREPROCESSORS = [
    ClearOutput,
    Deduplicate,
    OverwriteKernelspecOnGradebook,
    OverwriteCellsOnGradebook,
    CheckCellMetadata,
]
ON_GRADEBOOK = (OverwriteKernelspecOnGradebook, OverwriteCellsOnGradebook)  # take the open gb


def _as_released(cell) -> str:
    """A restored cell's source as the release shows it: without its hidden tests."""
    copy = nbformat.from_dict({"cell_type": cell.cell_type, "metadata": {}, "source": cell.source})
    ClearHiddenTests()._remove_hidden_test_region(copy)
    return copy.source
