"""Hidden tests assign no name that nothing reads.

Since the answer key holds the reference values, a hidden test only needs the student's values.
Anything else it computes (an ``expected`` array, a reference model, a graph that is run and
never looked at) costs grading time and is readable by student code running in the same kernel.
This scan parses the hidden part of every grade cell of every ``notebooks/NN_name/`` notebook
and fails when a name is assigned there and never read there (``_`` is the only exemption).
The hidden part is the only place that may read it: the student version does not contain it.
Using a name only to change it (``ref.w = ...``, ``ref.params["W"][...] = ...``, or a method
call whose result is dropped, ``expected.append(...)``, ``ref.forward(x)``) does not count as
reading it.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
PATHS = sorted(
    p / f"{p.name}.ipynb"
    for p in NOTEBOOKS.iterdir()
    if p.is_dir() and re.fullmatch(r"\d\d_[a-z0-9_]+", p.name) and (p / f"{p.name}.ipynb").exists()
)


class _Names(ast.NodeVisitor):
    """Where each name is stored (line numbers) and which names are read."""

    def __init__(self):
        self.stored: dict[str, int] = {}
        self.read: set[str] = set()
        self.mutated: set[str] = set()
        self.aliases: set[str] = set()  # loop variables: changing one changes what it points to

    def _store(self, name, node):
        self.stored.setdefault(name, node.lineno)

    def _root(self, node):
        """The Name at the root of an attribute/subscript chain (``a`` in ``a.b[0].c``)."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            node = node.value
        return node

    def _mutate(self, target):
        root = self._root(target)
        if isinstance(root, ast.Name):
            self.mutated.add(root.id)
        else:
            self.visit(root)

    def visit_For(self, node):
        for name in ast.walk(node.target):
            if isinstance(name, ast.Name):
                self.aliases.add(name.id)
        self.generic_visit(node)

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target)
        self.visit(node.value)

    def _target(self, target):
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self._mutate(target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._target(elt)
        else:
            self.visit(target)

    def visit_Expr(self, node):
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            # `x.method(...)` with the result dropped changes x at most: not a read of x
            self._mutate(call.func.value)
            for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                self.visit(arg)
        else:
            self.visit(call)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.read.add(node.id)
        else:  # Store or Del
            self._store(node.id, node)

    def visit_AugAssign(self, node):
        # `n += 1` reads n only to store it again: it does not make n used
        if isinstance(node.target, ast.Name):
            self._store(node.target.id, node.target)
        else:
            self._mutate(node.target)
        self.visit(node.value)

    def _def(self, node):
        self._store(node.name, node)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _def

    def visit_ExceptHandler(self, node):
        if node.name:
            self._store(node.name, node)
        self.generic_visit(node)

    def visit_arg(self, node):
        # a parameter that the function body ignores is an unused name too
        self._store(node.arg, node)

    def visit_Import(self, node):
        for alias in node.names:
            self._store((alias.asname or alias.name).split(".")[0], node)

    visit_ImportFrom = visit_Import


def unused_names(hidden_source: str) -> list[tuple[str, int]]:
    """(name, line) for each name stored in ``hidden_source`` and never read in it."""
    tree = ast.parse(textwrap.dedent(hidden_source))
    names = _Names()
    names.visit(tree)
    used = names.read | (names.mutated & names.aliases)
    return sorted(
        ((n, line) for n, line in names.stored.items() if n != "_" and n not in used),
        key=lambda item: item[1],
    )


def hidden_parts(path: Path):
    """(grade_id, hidden source) for every hidden-test block of the notebook."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type != "code":
            continue
        for block in HIDDEN.findall(cell.source):
            yield meta.get("grade_id", "?"), block


def test_notebooks_found():
    assert len(PATHS) >= 5, PATHS


@pytest.mark.parametrize("path", PATHS, ids=[p.parent.name for p in PATHS])
def test_hidden_tests_assign_only_names_they_read(path):
    problems = []
    for grade_id, block in hidden_parts(path):
        try:
            unused = unused_names(block)
        except SyntaxError as err:
            problems.append(f"{grade_id}: hidden tests do not parse on their own ({err})")
            continue
        problems += [f"{grade_id}: '{name}' (hidden line {line})" for name, line in unused]
    assert not problems, (
        f"{path.name}: hidden tests assign names that nothing reads (the answer key holds the "
        "reference values; compute only what a check records):\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("expected = ref(x)\nc.close('a', mine(x))\n", ["expected"]),
        ("got = mine(x)\nc.close('a', got)\n", []),
        ("for i, w in enumerate(ws):\n    c.close(f'{i}', w)\n", []),
        ("for k, _want in zip(a, b):\n    c.equal(k, f(k))\n", ["_want"]),
        ("for _ in range(3):\n    n += 1\n", ["n"]),
        ("m, h = fit()\nc.close('h', h)\n", ["m"]),
        ("def ref_t(a, b):\n    return a\nc.close('r', ref_t(1, 2))\n", ["b"]),
        ("try:\n    f()\nexcept ValueError as err:\n    pass\n", ["err"]),
        ("x = f()\nx[0] = 1\nc.close('x', x)\n", []),
        ("import numpy as np_t\n", ["np_t"]),
        ("exp, got = [], []\nexp.append(1)\ngot.append(2)\nc.close('g', got)\n", ["exp"]),
        ("ref = Net()\nref.w = w\nref.params['W'][...] = 0\nref.forward(x)\n", ["ref"]),
        ("net = Net()\nnet.forward(x)\nc.close('o', net.forward(x))\n", []),
        ("G.forward(out)\nc.close('k', c.value)\n", []),
        ("m = M()\nfor layer in (m,):\n    layer.w[...] = 0\nc.close('m', m.f())\n", []),
    ],
)
def test_the_scan_itself(source, expected):
    assert [name for name, _ in unused_names(source)] == expected
