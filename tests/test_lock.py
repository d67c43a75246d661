"""requirements.lock: the whole environment pinned, in step with pyproject.toml, used by make.

The lock is written by ``make lock`` (``uv pip compile`` over every extra but ``gpu``) and
every ``make`` install takes its versions from it (``pip install -c requirements.lock``), so
the README's two commands install the same versions next month as today.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LOCKED_EXTRAS = ("grader", "hub", "dev")  # gpu (CuPy) is installed by hand where a GPU is


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in reqs if norm(r.name) != "nncourse"]  # dev = nncourse[grader,hub] + tools


def lock_entries() -> list[tuple[str, str, Marker | None, list[str]]]:
    """(name, version, marker, 'via' lines) per pin of the lock file."""
    entries = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text()):
        m = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)(?:\s*;\s*(.+?))?\s*$", block.splitlines()[0])
        if m:
            via = [ln.strip("# ").strip() for ln in block.splitlines()[1:]]
            entries.append((norm(m[1]), m[2], Marker(m[3]) if m[3] else None, via))
    return entries


def pins_here() -> dict[str, str]:
    """The pins that apply to this interpreter and platform."""
    return {n: v for n, v, marker, _ in lock_entries() if marker is None or marker.evaluate()}


def test_lock_is_compiled_from_this_pyproject():
    """Its direct dependencies are exactly pyproject.toml's (a requirement added or removed
    there needs `make lock`), and each pin satisfies pyproject's version range."""
    direct = {
        n
        for n, _, _, via in lock_entries()
        if any(v.endswith("nncourse (pyproject.toml)") for v in via)
    }
    wanted = {norm(r.name) for r in pyproject_requirements()}
    assert direct == wanted, (
        "requirements.lock is out of step with pyproject.toml; run `make lock`:\n"
        f"only in pyproject.toml: {sorted(wanted - direct)}\n"
        f"only in the lock: {sorted(direct - wanted)}"
    )
    pins = pins_here()
    for req in pyproject_requirements():
        assert req.specifier.contains(Version(pins[norm(req.name)])), (req, pins[norm(req.name)])


def test_this_environment_has_the_locked_versions():
    """make installed every package at its pinned version (the dev set installs all)."""
    wrong = {}
    for name, version in pins_here().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(version):
            wrong[name] = (installed, version)
    assert not wrong, f"installed vs locked (run `make install-dev`): {wrong}"


def test_every_make_install_takes_its_versions_from_the_lock():
    out = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "install", "install-grader", "install-hub",
         "install-dev"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    installs = [ln for ln in out.splitlines() if "pip install" in ln]
    assert len(installs) == 4, out
    assert all("-c requirements.lock" in ln for ln in installs), installs
    for extra, line in zip(["", "[grader]", "[hub]", "[dev]"], installs):
        assert line.endswith(f"-e .{extra}" if not extra else f"-e '.{extra}'"), line
