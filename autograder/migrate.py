"""Move grade cells of the older form (checks straight in the cell) to case blocks.

    python -m autograder.migrate NOTEBOOK.ipynb [...]

Rewrites only the sources of auto-graded grade cells, in place, and leaves every other cell
as it is. Each cell's statements after ``c = Check("...")`` are grouped into ``with
c.case(...)`` blocks: a block is the statements that prepare a check (calls of the student's
code included) followed by the checks they feed, so that a crash while preparing costs only
the checks of that block. The visible part and the hidden part (between the hidden-test
markers) are grouped separately, and ``c.done()`` is added after the hidden part. A block is
named after the label of its first check (``visible k`` / ``hidden k`` when that label is
built at run time). Cells already in the case form are left alone.
"""

from __future__ import annotations

import ast
import json
import sys

from autograder.checks import KINDS
from autograder.grading.answer_key import HIDDEN_BEGIN, HIDDEN_END, is_auto_grade_cell

INDENT = "    "


def _check_var(tree) -> str | None:
    """The name bound to ``Check(...)`` in a grade cell, or None."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "Check"
        ):
            return node.targets[0].id
    return None


def _has_check(node, var) -> bool:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in KINDS
            and getattr(sub.func.value, "id", None) == var
        ):
            return True
    return False


def _first_label(node, var) -> str | None:
    calls = [
        sub
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and sub.func.attr in KINDS
        and getattr(sub.func.value, "id", None) == var
    ]
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    for call in calls[:1]:
        if call.args and isinstance(call.args[0], ast.Constant):
            return str(call.args[0].value)
    return None


def _add_hints(lines, var, hints) -> list[str]:
    """``hint=...`` added to every check call without one; ``hints``: the text, or a list
    with one text per top-level statement holding checks (in order)."""
    tree = ast.parse("\n".join(lines))
    lines = list(lines)
    statements = [node for node in tree.body if _has_check(node, var)]
    edits = []
    for k, node in enumerate(statements):
        text = hints if isinstance(hints, str) else hints[min(k, len(hints) - 1)]
        for call in ast.walk(node):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in KINDS
                and getattr(call.func.value, "id", None) == var
            ):
                continue
            if any(kw.arg == "hint" for kw in call.keywords):
                continue
            last = max([*call.args, *call.keywords], key=lambda a: (a.end_lineno, a.end_col_offset))
            edits.append((last.end_lineno - 1, last.end_col_offset, text))
    for row, col, text in sorted(edits, reverse=True):
        line = lines[row]
        lines[row] = f"{line[:col]}, hint={json.dumps(text, ensure_ascii=False)}{line[col:]}"
    return lines


def _segment(lines, var, prefix, names, hints=None) -> list[str]:
    """Case blocks for a run of source lines (no hidden markers inside)."""
    text = "\n".join(lines)
    if not text.strip():
        return list(lines)
    if hints:
        lines = _add_hints(lines, var, hints)
        text = "\n".join(lines)
    tree = ast.parse(text)
    groups, current, checked = [], [], False
    for node in tree.body:
        is_check = _has_check(node, var)
        if checked and not is_check:  # preparation of the next block starts
            groups.append(current)
            current, checked = [], False
        current.append(node)
        checked = checked or is_check
    if current:
        groups.append(current)
    out, pos = [], 0  # pos: the next line index (0-based) not yet written
    for k, group in enumerate(groups, 1):
        start = group[0].lineno - 1
        # comments and blank lines just above a block go into it
        while start > pos and (
            not lines[start - 1].strip() or lines[start - 1].lstrip()[:1] == "#"
        ):
            start -= 1
        out.extend(lines[pos:start])
        end = group[-1].end_lineno
        if not any(_has_check(node, var) for node in group):  # trailing code without checks
            out.extend(lines[start:end])
            pos = end
            continue
        name = _first_label(group[-1] if len(group) == 1 else ast.Module(group, []), var)
        if name is None or name in names:
            name = f"{prefix} {k}"
            while name in names:
                name += "'"
        names.add(name)
        out.append(f"with {var}.case({json.dumps(name, ensure_ascii=False)}):")
        out.extend(INDENT + ln if ln.strip() else ln for ln in lines[start:end])
        pos = end
    out.extend(lines[pos:])
    return out


def to_cases(source: str, hints=None) -> str:
    """The case-block form of an older grade cell's source (unchanged if already converted).

    ``hints``: the author's hint for the hidden checks (one text, or one per hidden
    statement that holds checks), added as ``hint=`` to each hidden check call.
    """
    tree = ast.parse(source)
    var = _check_var(tree)
    if var is None or f"{var}.case(" in source:
        return source
    for node in ast.walk(tree):  # indenting would change a string that spans lines
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            if node.end_lineno != node.lineno:
                raise ValueError("to_cases: a string spans several lines; convert by hand")
    lines = source.split("\n")
    head_end = next(
        n.end_lineno
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.value.func, "id", None) == "Check"
    )
    begin = next((i for i, ln in enumerate(lines) if ln.strip() == HIDDEN_BEGIN), None)
    end = next((i for i, ln in enumerate(lines) if ln.strip() == HIDDEN_END), None)
    names: set[str] = set()
    out = lines[:head_end]
    if begin is None or end is None:
        out += _segment(lines[head_end:], var, "part", names)
    else:
        out += _segment(lines[head_end:begin], var, "visible", names)
        out.append(lines[begin])
        out += _segment(lines[begin + 1 : end], var, "hidden", names, hints)
        out.append(lines[end])
        out += _segment(lines[end + 1 :], var, "part", names)
    while out and not out[-1].strip():
        out.pop()
    out.append(f"{var}.done()")
    return "\n".join(out)


def migrate(path, hints=None) -> list[str]:
    """Convert a notebook's grade cells in place; returns the grade ids changed.

    ``hints``: grade_id -> the hints of its hidden checks (see :func:`to_cases`).
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = []
    for cell in nb.cells:
        if is_auto_grade_cell(cell):
            gid = cell.metadata["nbgrader"]["grade_id"]
            new = to_cases(cell.source, (hints or {}).get(gid))
            if new != cell.source:
                cell.source = new
                changed.append(cell.metadata["nbgrader"]["grade_id"])
    if changed:
        nbformat.write(nb, str(path))
    return changed


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(arg, ", ".join(migrate(arg)) or "(nothing to change)")
