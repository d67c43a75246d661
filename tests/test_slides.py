"""The lecture decks in slides/: sources, offline build, and rendering in headless Chromium.

The build (``slides/build.py``: execute every deck, convert with nbconvert's reveal
template, local reveal.js/MathJax) runs once per module into a temporary folder. The
browser tests open every deck from disk with all network requests aborted, wait for
reveal.js and MathJax, and screenshot the title slide and an equation slide.
Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright
install``); the browser tests are skipped, with the reason, only if it cannot start.
"""

from __future__ import annotations

import importlib.util
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest
from browser_support import chromium

ROOT = Path(__file__).resolve().parents[1]
SLIDES = ROOT / "slides"
# One deck per topic of the course, in teaching order.
TOPICS = [
    "01_perceptron",
    "02_activations_losses",
    "03_mlp",
    "04_backprop",
    "05_gradient_checking",
    "06_optimization",
    "07_initialization",
    "08_regularization",
    "09_batchnorm",
]
VIZ_NAMES = ["decision_regions", "activation_plot", "activation_histograms", "loss_surface"]


def _load_build_module():
    spec = importlib.util.spec_from_file_location("slides_build", SLIDES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_module()


def _deck(stem):
    return nbformat.read(SLIDES / f"{stem}.ipynb", as_version=4)


def _slide_type(cell):
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def expected_counts(nb):
    """(horizontal slides, all slides incl. vertical sub-slides), as reveal.js sees them.

    nbconvert makes the first visible cell a slide whatever its type.
    """
    types = [_slide_type(c) for c in nb.cells]
    first = next(i for i, t in enumerate(types) if t not in {"notes", "skip"})
    types[first] = "slide"
    slides = types.count("slide")
    return slides, slides + types.count("subslide")


class _SectionCounter(HTMLParser):
    """Counts <section> elements at nesting depth 1 (slides) and 2 (sub-slides)."""

    def __init__(self):
        super().__init__()
        self.depth, self.by_depth = 0, {}

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self.depth += 1
            self.by_depth[self.depth] = self.by_depth.get(self.depth, 0) + 1

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1


class _AssetCollector(HTMLParser):
    """Every URL the page would fetch by itself: script/img/iframe src, link href."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"}:
            self.urls.append(attrs.get("src"))
        if tag == "link":
            self.urls.append(attrs.get("href"))


# --------------------------------------------------------------------------- sources


def test_one_deck_per_topic():
    assert [p.stem for p in build.deck_paths()] == TOPICS


@pytest.mark.parametrize("stem", TOPICS)
def test_deck_source_is_clean_and_uses_nncourse(stem):
    nb = _deck(stem)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit without outputs"
    types = {_slide_type(c) for c in nb.cells}
    assert types <= {"slide", "subslide", "fragment", "notes", "skip", "-"}
    slides, total = expected_counts(nb)
    assert 8 <= total <= 16, f"{stem}: {total} slides"
    assert "notes" in types, f"{stem}: no speaker notes"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "$$" in markdown, f"{stem}: no display equation"
    # Figures come from the library, never from a private copy of its plotting code.
    source = "\n".join(c.source for c in code)
    assert re.search(r"^from nncourse[.\w]* import|^import nncourse", source, re.M)
    for name in VIZ_NAMES + ["draw"]:
        assert not re.search(rf"^\s*def {name}\b", source, re.M), f"{stem} redefines {name}"


def test_decks_draw_the_course_figures_with_nncourse():
    """Together the decks show every figure kind of the course, drawn by the library."""
    source = "\n".join(
        c.source for stem in TOPICS for c in _deck(stem).cells if c.cell_type == "code"
    )
    for call in VIZ_NAMES + ["graph.draw", "Trainer(", "optim.Adam", "BatchNorm1d("]:
        assert call in source, f"no deck uses {call}"


# --------------------------------------------------------------------------- build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build every deck once into a temporary folder: {stem: html path}."""
    out = tmp_path_factory.mktemp("slides_build")
    paths = build.build(out_dir=out)
    return {Path(p).name.removesuffix(".slides.html"): Path(p) for p in paths}


@pytest.mark.slow
def test_build_writes_every_deck(built):
    assert sorted(built) == TOPICS
    for path in built.values():
        assert path.stat().st_size > 20_000  # executed: figures are embedded as PNG


@pytest.mark.slow
@pytest.mark.parametrize("stem", TOPICS)
def test_slide_count_matches_source(built, stem):
    counter = _SectionCounter()
    counter.feed(built[stem].read_text(encoding="utf-8"))
    slides, total = expected_counts(_deck(stem))
    assert counter.depth == 0, "unbalanced <section> tags"
    assert counter.by_depth.get(1) == slides
    assert counter.by_depth.get(2) == total
    assert 3 not in counter.by_depth


@pytest.mark.slow
@pytest.mark.parametrize("stem", TOPICS)
def test_html_references_only_local_files(built, stem):
    html = built[stem].read_text(encoding="utf-8")
    collector = _AssetCollector()
    collector.feed(html)
    urls = [u for u in collector.urls if u and not u.startswith("data:")]
    assert urls, "expected reveal.js, MathJax, jQuery and RequireJS to be referenced"
    for url in urls:
        assert not re.match(r"^([a-z]+:)?//", url, re.I), f"remote asset {url}"
        local = (built[stem].parent / url.split("?")[0]).resolve()
        assert local.is_file(), f"{url} does not exist at {local}"
    # Nothing in inline scripts or styles pulls from the network either.
    for block in re.findall(r"<(?:script|style)[^>]*>(.*?)</(?:script|style)>", html, re.S):
        assert not re.search(
            r"""(@import|import|require|src|href)[^;\n]{0,40}['"(]https?://""", block
        )
    assert "mathjax/MathJax.js?config=" in html
    assert "reveal.js/dist/reveal.js" in html


@pytest.mark.slow
@pytest.mark.parametrize("stem", TOPICS)
def test_hide_input_cells_show_output_only(built, stem):
    nb = _deck(stem)
    shown = [c for c in nb.cells if c.cell_type == "code" and _slide_type(c) != "skip"]
    hidden = [c for c in shown if "hide-input" in c.metadata.get("tags", [])]
    html = built[stem].read_text(encoding="utf-8")
    assert html.count('class="jp-Cell jp-CodeCell') == len(shown)
    assert html.count('class="jp-CodeMirrorEditor') == len(shown) - len(hidden)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _png_stats(png: bytes):
    """(number of distinct colours, fraction of non-white pixels) of a screenshot."""
    import matplotlib.image as mpimg  # noqa: PLC0415

    rgb = (mpimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(np.uint8)
    flat = rgb.reshape(-1, 3).astype(np.int64)
    colours = len(np.unique(flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]))
    return colours, float((flat < 245).any(axis=1).mean())


def _open_deck(browser, path):
    """Open ``path`` from disk with the network off; returns (page, remote requests)."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    remote, errors = [], []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:  # anything else is the network: record it and refuse it
            remote.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".reveal.ready", state="attached", timeout=90_000)
    page.wait_for_function(
        "window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
        " && MathJax.Hub.queue.running === 0 && MathJax.Hub.getAllJax().length > 0",
        timeout=90_000,
    )
    return page, remote, errors


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("stem", TOPICS)
def test_deck_renders_offline(built, browser, stem):
    page, remote, errors = _open_deck(browser, built[stem])
    try:
        slides, total = expected_counts(_deck(stem))
        count = "document.querySelectorAll('.reveal .slides {}').length"
        assert page.evaluate(count.format("> section")) == slides
        assert page.evaluate(count.format("section section")) == total
        # MathJax typeset every formula: SVG output, no raw TeX left, no MathJax errors.
        assert page.evaluate("document.querySelectorAll('.MathJax_SVG').length") > 0
        assert page.evaluate("document.querySelectorAll('.MathJax_SVG_Display').length") > 0
        assert page.evaluate("document.querySelectorAll('merror, .MathJax_Error').length") == 0
        text = page.evaluate("document.querySelector('.reveal .slides').innerText")
        for raw in ("$$", "\\(", "\\[", "\\frac", "\\mathbf", "\\sum"):
            assert raw not in text, f"untypeset TeX {raw!r} in the rendered text"

        colours, ink = _png_stats(page.screenshot())
        assert colours > 20 and ink > 0.01, f"title slide looks blank ({colours} colours, {ink})"

        # The first slide with a display equation: go there and look at it.
        h, v = page.evaluate(
            """() => {
                const slides = [...document.querySelectorAll('.reveal .slides > section')];
                for (const [i, s] of slides.entries()) {
                    const subs = [...s.querySelectorAll(':scope > section')];
                    for (const [j, sub] of subs.entries())
                        if (sub.querySelector('.MathJax_SVG_Display')) return [i, j];
                }
                return [-1, -1];
            }"""
        )
        assert h >= 0
        page.evaluate(f"location.hash = '#/{h}/{v}'")
        shown = "section.present section.present .MathJax_SVG_Display"
        page.wait_for_function(f"document.querySelector('{shown}')")
        page.wait_for_timeout(300)  # let the slide settle before the screenshot
        box = page.locator(shown).first.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 10, box
        colours, ink = _png_stats(page.screenshot())
        assert colours > 20 and ink > 0.01, f"equation slide looks blank ({colours} colours, {ink})"

        assert remote == [], f"the deck tried to reach the network: {remote}"
        assert errors == [], f"JavaScript errors: {errors}"
    finally:
        page.close()
