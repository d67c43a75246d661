"""Math in the feedback pages, typeset once on the instructor's machine (no script at view time).

The release notebook's Markdown holds TeX between ``$...$`` and ``$$...$$``. :func:`markdown`
converts a cell to HTML with each formula replaced by the SVG that MathJax 3 (npm package
``mathjax-full``, run by Node through ``tex2svg.js`` beside this module) makes of it, so a page
handed back to a student shows typeset math offline and fetches nothing. MathJax is installed with
npm once, into :data:`VENDOR_DIR` (``AUTOGRADER_VENDOR`` overrides it), as the slides do.
Without Node or npm, or when npm cannot install MathJax, the formulas stay as TeX text and
:func:`markdown` says why, once: nothing is tried again in the same process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

PACKAGE = "mathjax-full@3.2.2"
MARKER = "mathjax-full/js/mathjax.js"  # the file that proves the package is installed
VENDOR_DIR = Path(
    os.environ.get("AUTOGRADER_VENDOR") or Path.home() / ".cache" / "nncourse-autograder"
)
SCRIPT = Path(__file__).with_name("tex2svg.js")
TIMEOUT_S = 120
STYLE = (
    "mjx-container[display='true']{display:block;text-align:center;margin:1em 0}"
    "mjx-container svg{overflow:visible}"
)

# code first (never math inside it), then display math, then inline math ($ not escaped)
_TOKENS = re.compile(
    r"(?P<code>```.*?```|`[^`\n]*`)"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|(?<![\\$])\$(?P<inline>[^$\n]+?)\$",
    re.S,
)
_cache: dict[tuple[str, bool], str | None] = {}
_failed: list[str] = []  # why MathJax could not run, once it failed in this process
log = logging.getLogger(__name__)


def formulas(text: str) -> list[tuple[str, bool]]:
    """The (TeX, display) formulas of a Markdown text, in order (code spans left out)."""
    found = []
    for m in _TOKENS.finditer(text):
        if m.group("display") is not None:
            found.append((m.group("display").strip(), True))
        elif m.group("inline") is not None:
            found.append((m.group("inline").strip(), False))
    return found


def ensure_mathjax(vendor_dir: Path | None = None) -> Path:
    """``node_modules`` holding MathJax, installed with npm the first time; raises
    RuntimeError naming what is missing or what npm said."""
    vendor_dir = VENDOR_DIR if vendor_dir is None else vendor_dir
    modules = vendor_dir / "node_modules"
    if (modules / MARKER).is_file():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is needed once to install {PACKAGE} into {vendor_dir} "
            "(Debian: apt-get install -y nodejs npm)"
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(vendor_dir), "--no-audit", "--no-fund", "--no-save"]
    done = subprocess.run(cmd + [PACKAGE], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        said = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise RuntimeError(
            f"npm install {PACKAGE} into {vendor_dir} failed (exit {done.returncode}"
            + (f": {said[-1].strip()[:200]}" if said else "")
            + "); install it there by hand, or point AUTOGRADER_VENDOR at a folder holding "
            "node_modules/mathjax-full"
        )
    if not (modules / MARKER).is_file():
        raise RuntimeError(f"npm install {PACKAGE} finished but {modules / MARKER} is missing")
    return modules


def typeset(items: list[tuple[str, bool]]) -> None:
    """Render the formulas not rendered yet (one Node run) into the module's cache."""
    todo = list(dict.fromkeys(i for i in items if i not in _cache))
    if not todo:
        return
    if _failed:  # MathJax cannot run here: once is enough (an npm install that fails
        _cache.update(dict.fromkeys(todo))  # may take a minute of retries each time)
        return
    node = shutil.which("node")
    try:
        if node is None:
            raise RuntimeError("Node.js is needed to typeset math (apt-get install -y nodejs)")
        modules = ensure_mathjax()
        proc = subprocess.run(
            [node, str(SCRIPT)],
            input=json.dumps(todo),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env={**os.environ, "NODE_PATH": str(modules)},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"tex2svg.js failed: {proc.stderr.strip()[-300:]}")
        svgs = json.loads(proc.stdout)
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
        _failed.append(str(exc))
        log.warning("feedback: math left as TeX text: %s", exc)
        svgs = [None] * len(todo)
    _cache.update(zip(todo, svgs, strict=True))


def markdown(text: str) -> str:
    """HTML of a Markdown cell with its formulas as inline SVG (TeX text where one failed)."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    items = formulas(text)
    typeset(items)
    pieces: list[str] = []

    def hold(m):
        if m.group("code") is not None:
            return m.group(0)
        display = m.group("display") is not None
        tex = (m.group("display") if display else m.group("inline")).strip()
        svg = _cache.get((tex, display))
        if svg is None:
            return m.group(0)
        pieces.append(svg)
        return f"MATHSVGPLACEHOLDER{len(pieces) - 1}X"

    out = markdown2html_mistune(_TOKENS.sub(hold, text))
    return re.sub(
        r"MATHSVGPLACEHOLDER(\d+)X",
        lambda m: pieces[int(m.group(1))],
        out,
    )
