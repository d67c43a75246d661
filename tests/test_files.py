"""autograder.files: the one atomic write every module uses."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

from autograder import files
from autograder.files import atomic_write

ROOT = Path(__file__).resolve().parents[1]


def test_writes_text_and_bytes_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "grades.csv"
    assert atomic_write(path, "a,b\r\nü,2\r\n") == path
    assert path.read_bytes() == "a,b\r\nü,2\r\n".encode()  # line ends kept, UTF-8
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


def test_the_new_file_has_the_default_permissions(tmp_path):
    umask = os.umask(0o027)
    try:
        atomic_write(tmp_path / "x", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("fail_in", ["fsync", "replace"])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failing_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path, monkeypatch, fail_in, error
):
    path = tmp_path / "report.html"
    path.write_text("old")

    def fail(*args):
        raise error

    monkeypatch.setattr(files.os, fail_in, fail)
    with pytest.raises(type(error)):
        atomic_write(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_owner_is_set_on_the_temporary_file_before_it_takes_the_place(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(files.os, "chown", lambda p, uid, gid: calls.append((Path(p), uid, gid)))
    path = tmp_path / "ags.json"
    atomic_write(path, "{}", owner=(1234, 5678))
    [(chowned, uid, gid)] = calls
    assert chowned.parent == tmp_path and chowned != path and (uid, gid) == (1234, 5678)
    assert path.read_text() == "{}" and not chowned.exists()


def test_data_of_another_type_is_refused_in_one_line(tmp_path):
    with pytest.raises(TypeError, match=r"data must be bytes or str, not <class 'dict'>"):
        atomic_write(tmp_path / "x.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_writers_of_the_same_file_never_share_a_temporary_file(tmp_path):
    """Eight threads replacing one file at once: with one shared temporary name, one
    writer's rename would take another's file away (FileNotFoundError) or a half-written
    one would win."""
    path = tmp_path / "not_graded.json"
    errors, texts = [], [f"{i}" * 200_000 for i in range(8)]

    def write(text):
        try:
            for _ in range(20):
                atomic_write(path, text)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert path.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["not_graded.json"]


def test_no_module_writes_and_renames_a_temporary_file_of_its_own():
    found = {}
    for path in sorted((ROOT / "autograder").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "autograder/files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("replace", "rename")
                and (
                    (
                        isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "os"
                        and node.func.attr == "replace"
                    )
                    or any(isinstance(a, ast.Name) and "tmp" in a.id for a in node.args)
                    or (isinstance(node.func.value, ast.Name) and "tmp" in node.func.value.id)
                )
            ):
                found[rel] = found.get(rel, 0) + 1
    assert found == {}, "write files with autograder.files.atomic_write"


# ------------------------------------------------------------------ support files


def _tree(root: Path) -> None:
    for rel, data in {
        "data.csv": b"1,2\n",
        "sub/more.npz": b"x",
        "task.ipynb": b"{}",
        ".hidden": b"h",
        ".git/HEAD": b"ref",
        "__pycache__/m.pyc": b"c",
        "node_modules/x.js": b"j",
        "course/gradebook.db": b"g",
        "env/pyvenv.cfg": b"home = /usr\n",
        "env/lib/big.bin": b"\0" * 1000,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text("s")
    (root / "linked").symlink_to(root / "outside")
    (root / "link.txt").symlink_to(root / "outside" / "secret.txt")
    os.mkfifo(root / "pipe")


def _rel(paths, root):
    return [p.relative_to(root).as_posix() for p in paths]


def test_support_files_of_a_release_folder_are_all_files_but_notebooks_and_links(tmp_path):
    _tree(tmp_path)
    assert _rel(files.support_files(tmp_path), tmp_path) == [
        ".hidden",
        "data.csv",
        ".git/HEAD",
        "__pycache__/m.pyc",
        "course/gradebook.db",
        "env/pyvenv.cfg",
        "env/lib/big.bin",
        "node_modules/x.js",
        "outside/secret.txt",
        "sub/more.npz",
    ]


def test_support_files_of_a_students_folder_leave_out_hidden_caches_and_environments(
    tmp_path,
):
    _tree(tmp_path)
    assert _rel(files.support_files(tmp_path, student_folder=True), tmp_path) == [
        "data.csv",
        "outside/secret.txt",
        "sub/more.npz",
    ]


def test_support_files_of_a_students_folder_stop_at_the_cap(tmp_path, monkeypatch, caplog):
    for i in range(5):
        (tmp_path / f"f{i}.txt").write_bytes(b"x" * 400_000)
    monkeypatch.setattr(files, "STUDENT_MAX_FILES", 3)
    assert _rel(files.support_files(tmp_path, student_folder=True), tmp_path) == [
        "f0.txt",
        "f1.txt",
        "f2.txt",
    ]
    assert "more than 3 files" in caplog.text
    monkeypatch.setattr(files, "STUDENT_MAX_MB", 1)  # 2**20 bytes: two files and a half
    assert len(files.support_files(tmp_path, student_folder=True)) == 2
    assert len(files.support_files(tmp_path)) == 5  # a release folder has no cap


def test_the_support_file_walk_is_written_once():
    text = (ROOT / "autograder" / "course.py").read_text()
    assert "os.walk" not in text and "STUDENT_SKIP" not in text
