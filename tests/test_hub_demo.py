"""``make hub``'s choices, without starting a hub (tests/test_hub.py runs the real one)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "hub"))
demo = importlib.import_module("demo")


def test_one_account_and_one_assignment_unless_asked():
    args = demo.parse([])
    assert args.accounts is False and args.assignments == ["01_perceptron"]
    hub, passwords = demo.settings(args)
    assert hub.accounts is False
    assert set(passwords) == {demo.INSTRUCTOR, *demo.STUDENTS}
    assert len(set(passwords.values())) == 1 and len(hub.password) >= 12  # one, made now
    assert demo.settings(args)[0].password != hub.password  # a new one every run


def test_real_accounts_get_a_password_each():
    hub, passwords = demo.settings(demo.parse(["--accounts", "--hub-dir", "/tmp/x"]))
    assert hub.accounts is True and hub.password == ""  # PAM checks each account's own
    assert len(set(passwords.values())) == len(passwords) == 4


def test_assignments_flag(capsys):
    assert demo.parse(["--assignments", "all"]).assignments == demo.all_assignments()
    assert len(demo.all_assignments()) >= 10
    assert demo.parse(["--assignments", "02_neurons", "01_perceptron"]).assignments == [
        "02_neurons",
        "01_perceptron",
    ]
    with pytest.raises(SystemExit):
        demo.parse(["--assignments", "1_perceptron"])
    err = capsys.readouterr().err
    assert "expected some of 01_perceptron" in err and "'1_perceptron'" in err


def test_make_hub_passes_its_variables():
    import subprocess

    def dry(*args):
        return subprocess.run(
            ["make", "-n", "-W", "pyproject.toml", "hub", *args], cwd=REPO,
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.replace("\\\n", " ")  # fmt: skip

    (line,) = [ln for ln in dry().splitlines() if "demo.py" in ln]
    assert "--assignments 01_perceptron" in line and "--accounts" not in line
    (line,) = [ln for ln in dry("HUB_ACCOUNTS=1", "HUB_ASSIGNMENTS=all").splitlines()
               if "demo.py" in ln]  # fmt: skip
    assert "--assignments all" in line and line.rstrip().endswith("--accounts")
