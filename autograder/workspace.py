"""The student workspace: a student's own copies of the released notebooks (``make lab``).

``notebooks/`` holds the *source* versions, solutions and hidden tests included: the
instructor's door (``make author``). A student works in ``workspace/`` (git-ignored)::

    workspace/index.ipynb          the start page, without its instructors' cells
    workspace/playground.ipynb     the widgets (not graded)
    workspace/NN_name/...          the student version of each assignment, as ``release``
                                   makes it (nbgrader: solutions and hidden tests removed)
    workspace/.workspace.json      the digest of every file as it was copied

A copy is made on first use and never overwritten once the student has edited it: a file
whose digest still matches the one recorded is untouched and follows a newer release; an
edited one stays as it is (``--reset`` puts the release back, keeping the edited copy
beside it). Nothing here runs a notebook or builds an answer key, so it takes seconds.

    python -m autograder.workspace [--dir workspace]
    python -m autograder.workspace --reset 03_mlp [--dir workspace]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder.files import atomic_write

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
DEFAULT_DIR = REPO_ROOT / "workspace"
MANIFEST = ".workspace.json"
INSTRUCTORS_TAG = "instructors"  # start-page cells the student copy leaves out
PLAIN_FILES = ("playground.ipynb",)  # copied as they are: no solutions in them
ASSIGNMENT = re.compile(r"\d\d_\w+")
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assignments(notebooks: Path = NOTEBOOKS) -> list[str]:
    return sorted(
        p.name for p in notebooks.iterdir() if p.is_dir() and ASSIGNMENT.fullmatch(p.name)
    )


def folder_digest(folder: Path) -> str:
    """One digest of every file under ``folder`` (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if (
            path.is_file()
            and ".ipynb_checkpoints" not in path.parts
            and "__pycache__" not in path.parts
        ):
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def student_versions(ids: list[str], notebooks: Path, out: Path) -> None:
    """Write the student version of each assignment to ``out/<id>/``, as ``release`` does
    (nbgrader's generate_assignment on a throw-away course folder: no answer keys)."""
    from autograder.course import Course

    with tempfile.TemporaryDirectory(prefix="autograder-workspace-") as tmp:
        course = Course(Path(tmp) / "course").ensure()
        api = course.api()
        for aid in ids:
            shutil.copytree(notebooks / aid, course.source / aid, ignore=IGNORED)
            result = api.generate_assignment(aid, force=True, create=True)
            if not result.get("success"):
                raise ValueError(
                    f"workspace: nbgrader generate_assignment failed for {aid}:\n"
                    f"{result.get('error') or result.get('log')}"
                )
            for path in (course.release_dir / aid).rglob("*"):
                if path.is_file() and path.name != "autograder.json":  # grading limits
                    target = out / aid / path.relative_to(course.release_dir / aid)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)


def start_page(source: Path) -> str:
    """The start page for students: ``source`` without the cells tagged ``instructors``."""
    nb = json.loads(source.read_text())
    nb["cells"] = [
        c for c in nb["cells"] if INSTRUCTORS_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


class Workspace:
    """One student workspace folder and its manifest (see the module docstring)."""

    def __init__(self, root=DEFAULT_DIR, notebooks=NOTEBOOKS):
        self.root = Path(root).resolve()
        self.notebooks = Path(notebooks)
        self.manifest_path = self.root / MANIFEST
        try:
            self.manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            self.manifest = {}
        self.manifest.setdefault("files", {})  # relative path -> digest as copied
        self.manifest.setdefault("sources", {})  # assignment -> digest of its source folder
        self.kept: list[str] = []  # edited copies a newer release did not overwrite
        self.written: list[str] = []

    def untouched(self, rel: str) -> bool:
        path = self.root / rel
        return not path.exists() or digest(path) == self.manifest["files"].get(rel)

    def offer(self, rel: str, data: bytes) -> None:
        """Put ``data`` at ``rel`` unless the student has edited the copy there."""
        path = self.root / rel
        if path.exists() and path.read_bytes() == data:
            self.manifest["files"][rel] = hashlib.sha256(data).hexdigest()
            return
        if not self.untouched(rel):
            self.kept.append(rel)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.manifest["files"][rel] = hashlib.sha256(data).hexdigest()
        self.written.append(rel)

    def update(self) -> Workspace:
        """Create the missing copies, refresh the untouched ones; edited ones stay."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.offer("index.ipynb", start_page(self.notebooks / "index.ipynb").encode())
        for name in PLAIN_FILES:
            self.offer(name, (self.notebooks / name).read_bytes())
        ids = assignments(self.notebooks)
        sources = {aid: folder_digest(self.notebooks / aid) for aid in ids}
        stale = [
            aid
            for aid in ids
            if sources[aid] != self.manifest["sources"].get(aid)
            or not (self.root / aid / f"{aid}.ipynb").exists()
        ]
        if stale:
            with tempfile.TemporaryDirectory(prefix="autograder-workspace-") as tmp:
                student_versions(stale, self.notebooks, Path(tmp))
                for path in sorted(Path(tmp).rglob("*")):
                    if path.is_file():
                        self.offer(str(path.relative_to(tmp)), path.read_bytes())
            self.manifest["sources"].update({aid: sources[aid] for aid in stale})
        self.save()
        return self

    def reset(self, name: str) -> tuple[Path, Path | None]:
        """Put an assignment's notebook (``03_mlp``, or ``03_mlp/other.ipynb``) back to its
        release. Returns (the notebook, where the edited copy was kept or None)."""
        aid, _, nb_name = name.strip("/").partition("/")
        if aid not in assignments(self.notebooks):
            raise ValueError(
                f"workspace --reset: expected an assignment id such as "
                f"{', '.join(assignments(self.notebooks)[:2])}, ...; received {name!r}"
            )
        rel = f"{aid}/{nb_name or aid + '.ipynb'}"
        with tempfile.TemporaryDirectory(prefix="autograder-workspace-") as tmp:
            student_versions([aid], self.notebooks, Path(tmp))
            fresh = Path(tmp) / rel
            if not fresh.is_file():
                raise ValueError(f"workspace --reset: {aid}'s release has no {rel}")
            target = self.root / rel
            kept = None
            if target.exists() and not self.untouched(rel):
                stamp = time.strftime("%Y%m%d-%H%M%S")
                kept = target.with_name(f"{target.stem}.before-reset-{stamp}{target.suffix}")
                target.replace(kept)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(fresh, target)
            self.manifest["files"][rel] = digest(target)
        self.save()
        return target, kept

    def save(self) -> None:
        atomic_write(self.manifest_path, json.dumps(self.manifest, indent=1, sort_keys=True))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.workspace",
        description="Create or update the student workspace (students' own copies of the "
        "released notebooks; edited copies are never overwritten), or reset one notebook.",
    )
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="the workspace folder")
    parser.add_argument(
        "--reset",
        metavar="ASSIGNMENT",
        help="put this assignment's notebook back to its release (the edited copy is kept "
        "beside it as NAME.before-reset-DATE.ipynb)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # nbgrader's progress lines
    ws = Workspace(args.dir)
    try:
        if args.reset:
            target, kept = ws.reset(args.reset)
            print(f"{target.relative_to(ws.root.parent)}: back to its release")
            if kept:
                print(f"your edited copy is kept as {kept.relative_to(ws.root.parent)}")
            return 0
        ws.update()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if ws.written:
        print(f"workspace: {len(ws.written)} file(s) written to {ws.root}")
    for rel in ws.kept:
        how = (
            f"`python -m autograder.workspace --reset {rel}` takes the new one"
            if "/" in rel
            else "delete it to get the new one"
        )
        print(f"workspace: kept your edited {rel} (its release changed; {how})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
