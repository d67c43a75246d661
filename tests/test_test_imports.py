"""The test files do not import each other: shared helpers live in ``tests/support/``.

Importing a test file from another runs (and, under pytest, collects) the whole imported
file and ties two files together through names that look private to one of them. A helper
two files need goes into a module of ``tests/support/`` (``from support.grader import cli``),
a pytest fixture several files use into ``tests/conftest.py``. Read from the source with ast,
deferred imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a module named ``test_*`` in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # `from test_x import y`, `from . import test_x`, `from .test_x import y`
            names = [node.module] if node.module else [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[-1].startswith("test_")]
    return found


def test_no_test_file_imports_another():
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_test_modules(path.read_text())
    ]
    assert not offenders, (
        "a test file imports another test file; move the shared helper into tests/support/ "
        "(or a shared fixture into tests/conftest.py):\n" + "\n".join(offenders)
    )


def test_the_finder_sees_every_form_of_import():
    source = (
        "import os\n"
        "import test_a\n"
        "from test_b import cli\n"
        "from support.grader import cli\n"
        "from . import test_c\n"
        "from .test_d import x\n"
        "import pkg.test_e as e\n"
        "def f():\n"
        "    from test_f import g\n"
        "latest_test = 1\n"
    )
    assert imported_test_modules(source) == [
        (2, "test_a"),
        (3, "test_b"),
        (5, "test_c"),
        (6, "test_d"),
        (7, "pkg.test_e"),
        (9, "test_f"),
    ]


def test_every_support_module_says_what_it_holds():
    missing = [
        path.name
        for path in sorted((TESTS / "support").glob("*.py"))
        if not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert not missing, f"tests/support modules without a docstring: {missing}"
