"""The student workspace (``make lab``): students' own copies, made from the release.

Runs on a copy of the start page, the playground and ``01_perceptron`` (the others work the
same way): the copies carry ``YOUR CODE HERE`` and no solution or hidden test, an edited copy
survives a newer release, an untouched one follows it, and ``--reset`` puts one back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder import workspace

# nbgrader generates the student versions (seconds each)
slow = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
AID = "01_perceptron"


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    for name in ("index.ipynb", "playground.ipynb"):
        shutil.copy2(REPO / "notebooks" / name, src / name)
    shutil.copytree(REPO / "notebooks" / AID, src / AID)
    return src


def text_of(path: Path) -> str:
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])


def edit(path: Path, line: str) -> None:
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = ["".join(nb["cells"][0]["source"]) + f"\n{line}"]
    path.write_text(json.dumps(nb))


@slow
def test_workspace_copies_are_student_versions_and_edits_survive(sources, tmp_path):
    root = tmp_path / "workspace"
    ws = workspace.Workspace(root, sources).update()
    mine = root / AID / f"{AID}.ipynb"
    text = text_of(mine)
    assert "YOUR CODE HERE" in text
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS"):
        assert secret not in text, secret
    start = text_of(root / "index.ipynb")
    assert f"]({AID}/{AID}.ipynb)" in start  # the start page's link leads to the copy
    assert "## For instructors" not in start and "## For instructors" in text_of(
        sources / "index.ipynb"
    )
    assert (root / "playground.ipynb").read_bytes() == (sources / "playground.ipynb").read_bytes()
    assert not (root / AID / "autograder.json").exists()  # grading limits stay with the grader
    assert workspace.Workspace(root, sources).update().written == []  # nothing new: no change

    edit(mine, "my own notes")  # the student works ...
    edit(sources / AID / f"{AID}.ipynb", "an erratum")  # ... and the course changes
    edit(sources / "index.ipynb", "a new link")
    ws = workspace.Workspace(root, sources).update()
    assert ws.kept == [f"{AID}/{AID}.ipynb"]
    assert "my own notes" in text_of(mine) and "an erratum" not in text_of(mine)
    assert "a new link" in text_of(root / "index.ipynb")  # untouched: follows the release

    target, kept = workspace.Workspace(root, sources).reset(AID)
    assert target == mine and kept is not None and kept.parent == mine.parent
    assert "my own notes" in text_of(kept)
    assert "an erratum" in text_of(mine) and "my own notes" not in text_of(mine)
    assert "YOUR CODE HERE" in text_of(mine)
    # reset again: the copy is untouched now, nothing to keep
    assert workspace.Workspace(root, sources).reset(AID) == (mine, None)


def test_reset_names_what_it_expected(sources, tmp_path, capsys):
    code = workspace.main(["--dir", str(tmp_path / "ws"), "--reset", "03-mlp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "expected an assignment id such as 01_perceptron" in err[0] and "'03-mlp'" in err[0]


def make_dry_run(*args) -> str:
    import subprocess

    out = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", *args], cwd=REPO, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout  # fmt: skip
    return out.replace("\\\n", " ")


def test_make_lab_opens_the_workspace_and_make_author_the_sources():
    lab = make_dry_run("lab")
    assert "-m autograder.workspace --dir workspace" in lab  # created or updated first
    (serve,) = [ln for ln in lab.splitlines() if " lab " in ln]
    assert f"--ServerApp.root_dir={REPO}/workspace" in serve and serve.rstrip().endswith(
        "index.ipynb"
    )
    assert f'JUPYTER_CONFIG_PATH="{REPO}/deploy/lab/student"' in serve
    assert "-e ." in lab and "[dev]" not in lab and "[hub]" not in lab  # a student's install
    author = make_dry_run("author")
    (serve,) = [ln for ln in author.splitlines() if " lab " in ln]
    assert f"--ServerApp.root_dir={REPO} " in serve and serve.rstrip().endswith(
        "notebooks/index.ipynb"
    )
    assert f'JUPYTER_CONFIG_PATH="{REPO}/deploy/lab/author"' in serve
    reset = make_dry_run("reset", "NOTEBOOK=03_mlp")
    assert "-m autograder.workspace --dir workspace --reset 03_mlp" in reset
