"""The text of a failed check, ``[grade_id] label: message``: written by ``Check`` with
``checks.failure_prefix`` and read back by ``checks.parse_failure`` (self-check, scoring),
never by a copy of the format."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from autograder import checks, selfcheck
from autograder.grading import marker, scoring

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["sigmoid(0)", "shape: (4, 3)", "a]b [c]", "größe"]


def failed(monkeypatch, gid, label, msg="sigmoid(0) is 1/2"):
    """(records, AssertionError) of ``Check(gid).close(label, ...)`` failing."""
    records = []
    monkeypatch.setattr(checks, "_publish", records.append)
    monkeypatch.setenv("AUTOGRADER_KEY_RUN", "0")
    c = checks.Check(gid)
    c.close("fine", 0.5, 0.5)
    with pytest.raises(AssertionError) as info:
        c.close(label, 0.4, 0.5, msg=msg)
    return records, info.value


@pytest.mark.parametrize("label", LABELS)
def test_what_check_raises_is_read_back_whole(monkeypatch, label):
    _, error = failed(monkeypatch, "ex_1", label)
    text = str(error)
    assert text.startswith(checks.failure_prefix("ex_1", label))
    gid, got_label, message = checks.parse_failure(text, "ex_1", label)
    assert (gid, got_label) == ("ex_1", label)
    assert message.startswith("sigmoid(0) is 1/2\n  ") and "0.4" in message
    assert checks.parse_failure(text, "ex_2", label) is None
    assert checks.parse_failure(text, "ex_1", label + "x") is None


def test_without_the_label_it_is_read_up_to_the_first_colon():
    text = checks.failure_prefix("ex_1", "shape: (4, 3)") + "got (3, 4)"
    assert checks.parse_failure(text) == ("ex_1", "shape", "(4, 3): got (3, 4)")
    text = checks.failure_prefix("ex_1", "sigmoid(0)") + "line 1\n  line 2"
    assert checks.parse_failure(text) == ("ex_1", "sigmoid(0)", "line 1\n  line 2")
    assert checks.parse_failure(text, "ex_1") == ("ex_1", "sigmoid(0)", "line 1\n  line 2")
    assert checks.parse_failure(text, "ex_2") is None
    assert checks.parse_failure("[ex_1] sigmoid(0): ") == ("ex_1", "sigmoid(0)", "")
    assert checks.parse_failure("[ex_1] sigmoid(0):") == ("ex_1", "sigmoid(0)", "")
    assert checks.parse_failure("[ex_1] sigmoid(0):", "ex_1", "sigmoid(0)")[2] == ""


@pytest.mark.parametrize(
    "text", ["", "boom", "[ex_1]", "[ex_1] no colon", "[ex 1] a: b", "x [ex_1] a: b", None]
)
def test_other_texts_are_not_failures(text):
    assert checks.parse_failure(text) is None


def _cell(gid, records, error_text, ename="AssertionError"):
    outputs = [nbformat.v4.new_output("display_data", {checks.MIME: r}) for r in records]
    outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=error_text, traceback=[]))
    cell = nbformat.v4.new_code_cell("", outputs=outputs)
    cell.metadata["nbgrader"] = {"grade_id": gid, "grade": True, "points": 1}
    return cell


@pytest.mark.parametrize("label", LABELS)
def test_self_check_and_scoring_read_the_failure_of_the_last_check(monkeypatch, label):
    records, error = failed(monkeypatch, "ex_1", label)
    cell = _cell("ex_1", records, str(error))
    rows, first = selfcheck._checks(cell, "ex_1", cell.outputs[-1])
    assert first == label
    assert rows[0] == {"label": "fine", "state": marker.PASSED, "message": ""}
    assert rows[1]["state"] == marker.FAILED
    assert rows[1]["message"] == str(error)[len(checks.failure_prefix("ex_1", label)) :]
    assert scoring._kernel_failed(cell, "ex_1", label)
    assert not scoring._kernel_failed(cell, "ex_2", label)
    assert not scoring._kernel_failed(cell, "ex_1", "fine")
    other = _cell("ex_1", records, str(error), ename="ValueError")
    assert not scoring._kernel_failed(other, "ex_1", label)
    assert selfcheck._checks(other, "ex_1", other.outputs[-1])[1] is None


def _writes_the_format(node) -> bool:
    """An f-string that starts ``[{...}] ``: the failure text's format, written again."""
    if not isinstance(node, ast.JoinedStr) or len(node.values) < 3:
        return False
    first, value, after = node.values[:3]
    return (
        isinstance(first, ast.Constant)
        and str(first.value).endswith("[")
        and isinstance(value, ast.FormattedValue)
        and isinstance(after, ast.Constant)
        and str(after.value).startswith("] ")
    )


def test_the_format_is_written_only_in_checks():
    found = []
    for path in sorted([*(ROOT / "autograder").rglob("*.py"), *(ROOT / "tests").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if _writes_the_format(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [f"autograder/checks.py:{_line_of_failure_prefix()}"], found


def _line_of_failure_prefix() -> int:
    tree = ast.parse((ROOT / "autograder" / "checks.py").read_text())
    func = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "failure_prefix"
    )
    return func.body[-1].lineno
