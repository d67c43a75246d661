"""docs/authoring.md points at tests: every test file and test name it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "authoring.md"


def test_every_cited_test_exists():
    text = DOC.read_text()
    files = set(re.findall(r"tests/[a-z0-9_/]+\.py", text))
    assert files, "docs/authoring.md cites no test file"
    missing = [f for f in sorted(files) if not (ROOT / f).is_file()]
    assert not missing, f"docs/authoring.md cites missing files {missing}"
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    for f, name in re.findall(r"(tests/[a-z0-9_/]+\.py)::(test_\w+)", text):
        assert re.search(rf"^def {name}\b", (ROOT / f).read_text(), re.M), f"{f}::{name}"
    cited = set(re.findall(r"\b(test_\w+)\b", text)) - {Path(f).stem for f in files}
    # a grade cell may be named test_... too (02's test_softmax): cited as a cell, not a test
    grade_ids = set()
    for nb in (ROOT / "notebooks").glob("*/*.ipynb"):
        grade_ids |= set(re.findall(r'"grade_id": "(test_\w+)"', nb.read_text()))
    unknown = sorted(n for n in cited if n not in defined | grade_ids)
    assert not unknown, f"docs/authoring.md cites tests that do not exist: {unknown}"
