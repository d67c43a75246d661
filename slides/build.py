"""Build the lecture decks in ``slides/`` into reveal.js HTML that works offline.

    python slides/build.py                    # every deck -> slides/_build/NN_name.slides.html
    python slides/build.py 03_mlp             # one deck (name with or without .ipynb)
    python slides/build.py --out DIR          # somewhere else (vendor files stay where they are)

For each deck ``slides/NN_name.ipynb`` (named after the assignment it prepares, or
``NN_name_part.ipynb`` when an assignment has two decks; committed without outputs) the script

1. executes the notebook in a fresh kernel (working directory ``slides/``), so every
   figure is drawn by the ``nncourse`` code in the deck itself;
2. converts it with nbconvert's ``SlidesExporter`` (the ``slideshow`` cell metadata picks
   slides, sub-slides, fragments, speaker notes and skipped cells; cells tagged
   ``hide-input`` show their output only);
3. points every script and style sheet at local files: reveal.js, MathJax 2, jQuery and
   RequireJS are installed from the npm registry into ``slides/_build/vendor/`` on the
   first build (``npm install``; later builds reuse them) and referenced by relative paths.
   The page loads nothing from the network: ``tests/test_slides.py`` checks this in
   Chromium with the network blocked.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import SlidesExporter
from traitlets.config import Config

SLIDES_DIR = Path(__file__).resolve().parent
BUILD_DIR = SLIDES_DIR / "_build"
VENDOR_DIR = BUILD_DIR / "vendor"
TEMPLATES_DIR = SLIDES_DIR / "templates"

# npm packages (exact versions) and, for each, one file that proves it is installed.
# nbconvert's reveal template is written for reveal.js 4 and the MathJax 2 API
# (MathJax.Hub), and loads reveal.js through RequireJS after jQuery.
NPM_PACKAGES = {
    "reveal.js@4.6.0": "reveal.js/dist/reveal.js",
    "mathjax@2.7.9": "mathjax/MathJax.js",
    "jquery@3.7.1": "jquery/dist/jquery.min.js",
    "requirejs@2.3.7": "requirejs/require.js",
}
# SVG output needs no web fonts (a page opened from file:// may not load them).
MATHJAX_CONFIG = "TeX-AMS_SVG-full,Safe"
HIDE_INPUT_TAG = "hide-input"
EXECUTE_TIMEOUT_S = 120
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # colours in kernel tracebacks


def deck_paths(names=None) -> list[Path]:
    """The deck notebooks ``slides/NN_name*.ipynb``, sorted; ``names`` selects some."""
    decks = sorted(p for p in SLIDES_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return decks
    by_name = {p.stem: p for p in decks}
    chosen = []
    for name in names:
        stem = Path(name).stem
        if stem not in by_name:
            raise ValueError(f"build.py: no deck named {name!r}; decks are {sorted(by_name)}")
        chosen.append(by_name[stem])
    return chosen


def vendor_missing(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """The npm packages whose marker file is missing under ``vendor_dir/node_modules``."""
    modules = vendor_dir / "node_modules"
    return [pkg for pkg, marker in NPM_PACKAGES.items() if not (modules / marker).is_file()]


def ensure_vendor(vendor_dir: Path = VENDOR_DIR) -> None:
    """Install reveal.js, MathJax, jQuery and RequireJS with npm unless already there."""
    missing = vendor_missing(vendor_dir)
    if not missing:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "build.py: npm is needed once to fetch reveal.js and MathJax into "
            f"{vendor_dir} (missing: {', '.join(missing)}); install Node.js/npm "
            "(Debian: apt-get install -y nodejs npm) and run the build again"
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(vendor_dir), "--no-audit", "--no-fund", "--no-save"]
    print("build.py:", " ".join(cmd + list(NPM_PACKAGES)), flush=True)
    subprocess.run(cmd + list(NPM_PACKAGES), check=True)
    still = vendor_missing(vendor_dir)
    if still:
        raise RuntimeError(f"build.py: npm install finished but {still} are still missing")


def exporter_config(out_dir: Path, vendor_dir: Path = VENDOR_DIR) -> Config:
    """nbconvert settings: local asset paths (relative to ``out_dir``), hidden inputs."""
    modules = Path(os.path.relpath(vendor_dir / "node_modules", out_dir)).as_posix()
    c = Config()
    c.SlidesExporter.reveal_url_prefix = f"{modules}/reveal.js"
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.mathjax_url = f"{modules}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    c.SlidesExporter.jquery_url = f"{modules}/jquery/dist/jquery.min.js"
    c.SlidesExporter.require_js_url = f"{modules}/requirejs/require.js"
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATES_DIR)]
    c.SlidesExporter.template_name = "offline_reveal"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    return c


def execute(nb, deck: Path):
    """Run every code cell of ``nb`` in a fresh kernel started in ``slides/``."""
    client = NotebookClient(
        nb,
        timeout=EXECUTE_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(SLIDES_DIR)}},
    )
    try:
        client.execute()
    except Exception as err:  # CellExecutionError and kernel failures: name the deck
        message = ANSI_ESCAPE.sub("", str(err))
        raise RuntimeError(f"build.py: executing {deck.name} failed:\n{message}") from err
    return nb


def build_deck(deck: Path, out_dir: Path, vendor_dir: Path = VENDOR_DIR) -> Path:
    """Execute ``deck`` and write ``out_dir/<stem>.slides.html``; returns that path."""
    nb = nbformat.read(deck, as_version=4)
    execute(nb, deck)
    exporter = SlidesExporter(config=exporter_config(out_dir, vendor_dir))
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": deck.stem}})
    out = out_dir / f"{deck.stem}.slides.html"
    out.write_text(body, encoding="utf-8")
    return out


def build(names=None, out_dir: Path = BUILD_DIR, vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Build the chosen decks (all by default) into ``out_dir``; returns the HTML paths."""
    out_dir, vendor_dir = Path(out_dir).resolve(), Path(vendor_dir).resolve()
    decks = deck_paths(names)
    if not decks:
        raise RuntimeError(f"build.py: no decks (NN_name.ipynb) in {SLIDES_DIR}")
    ensure_vendor(vendor_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    for deck in decks:  # build every deck, then report all failures together
        start = time.perf_counter()
        try:
            written.append(build_deck(deck, out_dir, vendor_dir))
        except RuntimeError as err:
            print(err, file=sys.stderr, flush=True)
            failed.append(deck.name)
            continue
        print(f"build.py: {written[-1]}  ({time.perf_counter() - start:.1f} s)", flush=True)
    if failed:
        raise RuntimeError(f"build.py: {len(failed)} deck(s) failed: {', '.join(failed)}")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("decks", nargs="*", help="deck names (default: all)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output folder")
    parser.add_argument(
        "--vendor", type=Path, default=VENDOR_DIR, help="where npm installs reveal.js/MathJax"
    )
    args = parser.parse_args(argv)
    try:
        build(args.decks, args.out, args.vendor)
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
