"""``grade.sanitize``: nbgrader's sanitising preprocessors, plus the few steps they cannot do.

Two kinds of tests: ours agrees with nbgrader's own ``autograde`` sanitising on notebooks
whose nbgrader flags are intact; and nbgrader still behaves as the docstring of
``grade.sanitize`` says on the tampered ones (each of our own steps exists because of one of
those behaviours: if a new nbgrader release changes one, its test here fails and the step
can go).
"""

from __future__ import annotations

import copy
import json
import warnings

import nbformat
import pytest
from support.grader import ASSIGNMENTS, cli, fixture_subs

from autograder import outcomes
from autograder.config import Limits
from autograder.course import Course
from autograder.grading import sanitize as sanitize_mod

AID = fixture_subs.AID


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("sanitize") / "course"
    aid, folder = ASSIGNMENTS[0]
    cli("release", aid, "--course-dir", root, "--notebooks", folder)
    warnings.filterwarnings("ignore", module="sqlalchemy")
    return Course(root)


@pytest.fixture(scope="module")
def release(course):
    return fixture_subs.load(course.release_dir / AID / "fixture.ipynb")


def nbgrader_sanitize(course, nb):
    """What ``nbgrader autograde`` does to a submission before executing it."""
    from nbgrader.converters.autograde import Autograde

    resources = {
        "nbgrader": {
            "notebook": "fixture",
            "assignment": AID,
            "student": "s",
            "db_url": course.db_url,
        }
    }
    for cls in Autograde.class_traits()["sanitize_preprocessors"].default():
        pp = cls(add_missing_cells=True) if cls.__name__ == "OverwriteCells" else cls()
        nb, resources = pp.preprocess(nb, resources)
    return nb


def ours(course, nb, tmp_path, sid="s"):
    path = tmp_path / f"{sid}.ipynb"
    path.write_text(nbformat.writes(nb))
    with course.gradebook() as gb:
        trusted = sanitize_mod.Trusted.load(gb, AID, "fixture")
        return sanitize_mod.sanitize(trusted, gb, sid, path, Limits())


def cells(nb):
    """Type, source and nbgrader metadata of each cell; nbgrader's own ``cell_type`` record
    (which we do not keep) left out and points compared as numbers."""

    def meta(cell):
        m = dict(cell.metadata.get("nbgrader") or {})
        m.pop("cell_type", None)
        if "points" in m:
            m["points"] = float(m["points"])
        return m

    return [(c.cell_type, c.source, meta(c)) for c in nb.cells]


def index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if fixture_subs._gid(c) == gid)


def test_pipeline_is_nbgraders_autograde_sanitising_in_its_order():
    """Each step is nbgrader's class (or a subclass working on the open gradebook)."""
    from nbgrader.converters.autograde import Autograde

    theirs = list(Autograde.class_traits()["sanitize_preprocessors"].default())
    mine = [type(pp) for pp in sanitize_mod.sanitizers(gb=None)]
    assert len(mine) == len(theirs), (mine, theirs)
    for cls, base in zip(mine, theirs):
        assert issubclass(cls, base), f"{cls.__name__} is not nbgrader's {base.__name__}"


@pytest.mark.slow
def test_agrees_with_nbgrader_on_intact_flags(course, release, tmp_path):
    """Solved, an edited locked cell (restored), a deleted grade cell (added back)."""
    solved = fixture_subs.filled(release)
    edited = fixture_subs.filled(release)
    edited.cells[index(edited, "ex_sigmoid")].source = "print('all tests passed')"
    deleted = fixture_subs.filled(release)
    del deleted.cells[index(deleted, "ex_mse")]
    for nb in (solved, edited, deleted):
        nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="old output")]
        got, reason = ours(course, copy.deepcopy(nb), tmp_path)
        assert reason is None
        expected = nbgrader_sanitize(course, copy.deepcopy(nb))
        assert cells(got) == cells(expected)
        assert got.metadata.get("kernelspec") == expected.metadata.get("kernelspec")
        assert all(not c.get("outputs") for c in got.cells if c.cell_type == "code")


@pytest.mark.slow
def test_nbgrader_trusts_the_students_grade_flag_so_we_restore_the_flags(course, release, tmp_path):
    nb = fixture_subs.filled(release)
    i = index(nb, "ex_mse")
    nb.cells[i].metadata["nbgrader"].update(grade=False, points=100, locked=False)
    with pytest.raises(RuntimeError, match="Inconsistent checksums"):  # the whole notebook lost
        nbgrader_sanitize(course, copy.deepcopy(nb))
    got, reason = ours(course, nb, tmp_path)
    meta = got.cells[i].metadata["nbgrader"]
    assert reason is None and meta["grade"] is True and meta["points"] == 3.0 and meta["locked"]
    assert sum(fixture_subs._gid(c) == "ex_mse" for c in got.cells) == 1


@pytest.mark.slow
def test_nbgrader_rejects_a_notebook_with_an_unknown_id_so_we_drop_that_cells_metadata(
    course, release, tmp_path
):
    nb = fixture_subs.filled(release)
    nb.cells[index(nb, "ex_sigmoid")].metadata["nbgrader"]["grade_id"] = "ex_free"
    with pytest.raises(KeyError, match="grade_id"):  # the whole notebook, every exercise, lost
        nbgrader_sanitize(course, copy.deepcopy(nb))
    got, reason = ours(course, nb, tmp_path)
    assert reason is None
    ids = [fixture_subs._gid(c) for c in got.cells]
    assert "ex_free" not in ids and ids.count("ex_sigmoid") == 1  # re-inserted from the release


@pytest.mark.slow
def test_nbgrader_leaves_empty_metadata_on_duplicates_so_we_remove_it(course, release, tmp_path):
    from nbgrader.preprocessors import DeduplicateIds

    nb = fixture_subs.filled(release)
    nb.cells.insert(0, copy.deepcopy(nb.cells[index(nb, "ex_count")]))
    theirs, _ = DeduplicateIds().preprocess(copy.deepcopy(nb), {})
    assert theirs.cells[0].metadata["nbgrader"] == {}, "nbgrader now deletes it"
    got, reason = ours(course, nb, tmp_path)
    assert reason is None and "nbgrader" not in got.cells[0].metadata
    assert [fixture_subs._gid(c) for c in got.cells].count("ex_count") == 1


def test_unreadable_submissions_get_a_reason_not_an_exception(course, tmp_path):
    with course.gradebook() as gb:
        trusted = sanitize_mod.Trusted.load(gb, AID, "fixture")
        missing = sanitize_mod.sanitize(trusted, gb, "s", tmp_path / "none.ipynb", Limits())
        (tmp_path / "bad.ipynb").write_text('{"cells": [ nope')
        bad = sanitize_mod.sanitize(trusted, gb, "s", tmp_path / "bad.ipynb", Limits())
        (tmp_path / "big.ipynb").write_text(json.dumps({"x": "y" * 2**20}))
        big = sanitize_mod.sanitize(
            trusted, gb, "s", tmp_path / "big.ipynb", Limits(max_notebook_mb=1)
        )
    assert missing == (None, outcomes.Problem(outcomes.MISSING, "notebook not submitted"))
    assert bad[0] is None and bad[1].text.startswith("not a valid notebook")
    assert bad[1].kind == outcomes.REJECTED
    assert big == (None, outcomes.Problem(outcomes.REJECTED, "notebook larger than 1 MB"))
