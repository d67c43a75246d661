"""The documentation points at things that exist: links, cited pages, cited tests.

README.md and docs/*.md are read as a maintainer reads them: a relative link
``[text](path)`` must reach a file of the repository, a page named in backticks
(``docs/grading.md``) must exist, and a test cited as ``tests/FILE.py::name`` must be
defined in that file (the checklists name the test that enforces each step).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CITED_PAGE = re.compile(r"`([\w./-]+\.md)`")
CITED_TEST = re.compile(r"`([\w./-]+\.py)::(\w+)")


def _target(doc: Path, name: str, root: Path) -> Path | None:
    """The file ``name`` means in ``doc``: relative to the page, else to the repository."""
    for base in (doc.parent, root):
        path = (base / name).resolve()
        if path.exists():
            return path
    return None


def broken_references(doc: Path, root: Path = ROOT) -> list[str]:
    text = doc.read_text()
    broken = []
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a web address, mailto:, or an anchor on the same page
        path = target.split("#", 1)[0]
        if _target(doc, path, root) is None:
            broken.append(f"link to {target} (no such file)")
    for m in CITED_PAGE.finditer(text):
        if _target(doc, m.group(1), root) is None:
            broken.append(f"`{m.group(1)}` (no such page)")
    for m in CITED_TEST.finditer(text):
        path, name = m.group(1), m.group(2)
        found = _target(doc, path, root)
        if found is None:
            broken.append(f"`{path}::{name}` (no such file)")
        elif not re.search(rf"^\s*(async\s+)?(def|class)\s+{name}\b", found.read_text(), re.M):
            broken.append(f"`{path}::{name}` ({name} is not defined there)")
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_references_exist(doc):
    broken = broken_references(doc)
    assert not broken, f"{doc.relative_to(ROOT)} points at what does not exist: {broken}"


def test_the_checker_finds_each_kind_of_broken_reference(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_here():\n    pass\n")
    (tmp_path / "other.md").write_text("# Other\n")
    doc = tmp_path / "page.md"
    doc.write_text(
        "[ok](other.md#other) [web](https://example.org/x.md) [self](#top) `other.md`\n"
        "`tests/test_a.py::test_here` and the broken ones: [gone](missing.md), `NOTES.md`,\n"
        "`tests/test_a.py::test_gone`, `tests/test_b.py::test_here`\n"
    )
    assert broken_references(doc, root=tmp_path) == [
        "link to missing.md (no such file)",
        "`NOTES.md` (no such page)",
        "`tests/test_a.py::test_gone` (test_gone is not defined there)",
        "`tests/test_b.py::test_here` (no such file)",
    ]
