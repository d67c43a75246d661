"""The lecture decks in slides/: sources, offline build, and rendering in headless Chromium.

The build (``slides/build.py``: execute every deck, convert with nbconvert's reveal
template, local reveal.js/MathJax) runs once per module into a temporary folder. The
browser tests open every deck from disk with all network requests aborted, wait for
reveal.js and MathJax, screenshot the title slide and an equation slide, and step through
every slide to check that each code block, output, image and table fits on it.
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
# The assignment ids pinned in docs/conventions.md (folder names under notebooks/).
ASSIGNMENTS = [
    "01_perceptron",
    "02_neurons",
    "03_mlp",
    "04_backprop",
    "05_optimization",
    "06_initialization",
    "07_regularization",
    "08_batchnorm",
    "09_capstone",
    "10_beyond",
]
# The decks in teaching order, each named after the assignment it prepares:
# NN_name, or NN_name_part when an assignment has two decks.
TOPICS = [
    "01_perceptron",
    "02_neurons",
    "03_mlp",
    "04_backprop_flowgraph",
    "04_backprop_gradcheck",
    "05_optimization",
    "06_initialization",
    "07_regularization",
    "08_batchnorm",
    "10_beyond",
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


def test_decks_are_named_after_the_assignment_they_prepare():
    by_assignment = {}
    for stem in (p.stem for p in build.deck_paths()):
        owner = [a for a in ASSIGNMENTS if stem == a or stem.startswith(a + "_")]
        assert owner, f"{stem}: no assignment {ASSIGNMENTS} starts its name"
        by_assignment.setdefault(owner[0], []).append(stem)
    for assignment, stems in by_assignment.items():
        if len(stems) == 1:
            assert stems == [assignment], f"one deck for {assignment}: name it {assignment}"
        else:
            parts = [re.fullmatch(rf"{assignment}_([a-z0-9]+)", stem) for stem in stems]
            assert all(parts), f"{assignment} has {len(stems)} decks: name them {assignment}_part"


# Facts a careful reader caught wrong once, as (deck, a text that finds the slide, what the
# slide must say, what it must not say). Slides only: speaker notes do not count.
SLIDE_FACTS = [
    ("03_mlp", "not a polynomial", ["Cybenko 1989", "Hornik 1991", "Leshno"], []),
    ("03_mlp", "Cybenko", ["sigmoidal", "bounded and non-constant"], []),
    (
        "04_backprop_gradcheck",
        "## Relative error",
        [r"\max_j |a_j - n_j|", "10^{-8}"],
        ["_j \\frac"],
    ),
    ("04_backprop_gradcheck", "## Relative error", ["rel_error"], []),
    ("05_optimization", "InverseTimeLR", [r"\tau / \max(t, \tau)"], [r"1 + t/\tau"]),
    ("05_optimization", r"\text{Adagrad: }", ["outside the root", "inside"], []),
    ("07_regularization", "Bernoulli", ["probability to **drop**", "*keep*"], []),
    (
        "08_batchnorm",
        r"\hat a_i =",
        [r"\gamma = \sqrt{\sigma_B^2 + \epsilon}", r"\beta = \mu_B"],
        [r"\gamma = \sigma_B$"],
    ),
]


@pytest.mark.parametrize(("stem", "anchor", "says", "never"), SLIDE_FACTS)
def test_slides_state_the_facts(stem, anchor, says, never):
    shown = [
        c.source
        for c in _deck(stem).cells
        if c.cell_type == "markdown" and _slide_type(c) != "notes" and anchor in c.source
    ]
    assert len(shown) == 1, f"{stem}: expected one slide with {anchor!r}, found {len(shown)}"
    for text in says:
        assert text in shown[0], f"{stem}, slide with {anchor!r}: should say {text!r}"
    for text in never:
        assert text not in shown[0], f"{stem}, slide with {anchor!r}: must not say {text!r}"


# Rosenblatt's perceptron: the 1957 Cornell Aeronautical Laboratory report (as the notes).
ROSENBLATT_1958 = re.compile(r"Rosenblatt[^\n]{0,40}?1958|1958[^\n]{0,40}?Rosenblatt")


def _course_text_files():
    """The decks and their sources, every file under notebooks/ and docs/, the library's
    docstrings, and the README."""
    skip = {"_build", ".ipynb_checkpoints", "__pycache__"}
    roots = [SLIDES, ROOT / "notebooks", ROOT / "docs", ROOT / "nncourse"]
    files = [p for r in roots for p in r.rglob("*") if p.is_file() and not skip & set(p.parts)]
    return [*files, ROOT / "README.md"]


def test_the_perceptron_is_dated_1957_everywhere():
    assert ROSENBLATT_1958.search("- 1958, Rosenblatt: the perceptron") is not None
    assert ROSENBLATT_1958.search("Rosenblatt's perceptron (1957)") is None
    dated = []
    for path in _course_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images, archives: no prose in them
            continue
        dated += [
            f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in ROSENBLATT_1958.finditer(text)
        ]
    assert dated == [], f"Rosenblatt's perceptron is 1957 (the notes, assignment 01): {dated}"


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


# Monospace code at the decks' font size: about 83 characters fill the 960-px slide.
MAX_CODE_LINE = 80


@pytest.mark.parametrize("stem", TOPICS)
def test_shown_code_lines_fit_the_slide_width(stem):
    """A quick source-level guard; test_every_slide_fits measures the rendered slides."""
    long = [
        line
        for c in _deck(stem).cells
        if c.cell_type == "code"
        and _slide_type(c) != "skip"
        and "hide-input" not in c.metadata.get("tags", [])
        for line in c.source.splitlines()
        if len(line) > MAX_CODE_LINE
    ]
    assert long == [], f"{stem}: code lines longer than {MAX_CODE_LINE} characters: {long}"


def test_decks_draw_the_course_figures_with_nncourse():
    """Together the decks show every figure kind of the course, drawn by the library."""
    source = "\n".join(
        c.source for stem in TOPICS for c in _deck(stem).cells if c.cell_type == "code"
    )
    for call in VIZ_NAMES + [
        "graph.draw",
        "Trainer(",
        "optim.Adam",
        "BatchNorm1d(",
        "InverseTimeLR(",
    ]:
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
    # every figure decoded: an image still loading has no size and cannot be measured
    page.wait_for_function(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
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


# Steps through every slide of an open deck; for each slide returns where it is and the
# code blocks, outputs, images and tables of which some part lies outside the slide (or
# outside a box that clips it: a code line too long for its editor is cut off there).
# Code and text outputs are measured by their text lines, the rest by their boxes;
# sizes are in slide pixels (reveal.js scales the 960 x 700 slide to the window).
FIT_CHECK_JS = r"""
async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const mathIdle = () => new Promise((resolve) => MathJax.Hub.Queue(() => resolve()));
    // What must be visible in full: [kind, selector, measure by text (true) or by box].
    const KINDS = [
        ["code block", ".jp-InputArea-editor", true],
        ["output", ".jp-OutputArea-output", true],
        ["image", "img", false],
        ["table", "table", false],
    ];
    const box = document.querySelector(".reveal .slides");
    const union = (rects) => rects.reduce(
        (u, r) => ({left: Math.min(u.left, r.left), top: Math.min(u.top, r.top),
                    right: Math.max(u.right, r.right), bottom: Math.max(u.bottom, r.bottom)}),
        {left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity});
    // The rectangle the element's content occupies: its text lines, or its box.
    const extent = (el, byText) => {
        if (!byText) {
            const r = el.getBoundingClientRect();
            return r.width > 0 && r.height > 0 ? [r] : [];
        }
        const rects = [];
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            range.selectNodeContents(node);
            rects.push(...[...range.getClientRects()].filter((r) => r.width > 0));
        }
        return rects;
    };
    // Where content of ``el`` can be seen: the slide, cut by every ancestor that clips.
    const visible = (el) => {
        const s = box.getBoundingClientRect();
        const v = {left: s.left, top: s.top, right: s.right, bottom: s.bottom};
        for (let a = el; a && a !== box; a = a.parentElement) {
            const st = getComputedStyle(a);
            const r = a.getBoundingClientRect();
            if (st.overflowX !== "visible") {
                v.left = Math.max(v.left, r.left);
                v.right = Math.min(v.right, r.right);
            }
            if (st.overflowY !== "visible") {
                v.top = Math.max(v.top, r.top);
                v.bottom = Math.min(v.bottom, r.bottom);
            }
        }
        return v;
    };
    const measure = (sub) => {
        const scale = box.getBoundingClientRect().width / box.offsetWidth;
        const px = (x) => Math.round(x / scale);
        const found = [];
        for (const [kind, selector, byText] of KINDS) {
            for (const el of sub.querySelectorAll(selector)) {
                const rects = extent(el, byText);
                if (!rects.length) continue;
                const c = union(rects);
                const v = visible(byText ? el : el.parentElement);
                const wide = Math.max(0, v.left - c.left) + Math.max(0, c.right - v.right);
                const tall = Math.max(0, v.top - c.top) + Math.max(0, c.bottom - v.bottom);
                if (wide <= 1 && tall <= 1) continue;
                const what = (el.textContent || el.getAttribute("src") || "").trim();
                found.push({kind, text: what.replace(/\s+/g, " ").slice(0, 60),
                            width: px(c.right - c.left), height: px(c.bottom - c.top),
                            hidden_x: px(wide), hidden_y: px(tall)});
            }
        }
        return found;
    };
    const signature = (sub) => JSON.stringify(
        [...sub.querySelectorAll(KINDS.map((k) => k[1]).join(","))].map((e) => {
            const r = e.getBoundingClientRect();
            return [r.left, r.top, r.width, r.height];
        }));
    const slides = [];
    const stacks = [...document.querySelectorAll(".reveal .slides > section")];
    for (const [h, stack] of stacks.entries()) {
        const subs = [...stack.querySelectorAll(":scope > section")];
        for (const [v, sub] of subs.entries()) {
            location.hash = `#/${h}/${v}`;
            for (let i = 0; i < 300 && !sub.classList.contains("present"); i++) await frame();
            await mathIdle();
            const images = [...sub.querySelectorAll("img")];
            await Promise.all(images.map((i) => i.decode().catch(() => null)));
            // Wait until the layout holds still for a few frames (MathJax re-renders on
            // every slide change), at most about two seconds.
            let last = "", still = 0;
            for (let i = 0; i < 120 && still < 3; i++) {
                await frame();
                const now = signature(sub);
                still = now === last ? still + 1 : 0;
                last = now;
            }
            const title = (sub.querySelector("h1, h2") || {textContent: ""}).textContent;
            slides.push({h, v, present: sub.classList.contains("present"),
                         title: title.replace("¶", "").trim(), overflow: measure(sub)});
        }
    }
    return slides;
}
"""


def _overflowing(page, total):
    """[(h, v, slide title, {kind, text, width, height, hidden_x, hidden_y}), ...] after
    visiting each of the ``total`` slides."""
    slides = page.evaluate(FIT_CHECK_JS)
    assert len(slides) == total and all(s["present"] for s in slides), "could not visit all"
    return [(s["h"], s["v"], s["title"], o) for s in slides for o in s["overflow"]]


def _describe(problems):
    return "\n".join(
        f"slide {h}/{v} ({title or 'untitled'}): {o['kind']} {o['text']!r} is "
        f"{o['width']} x {o['height']} px, {o['hidden_x']} px cut off across and "
        f"{o['hidden_y']} px down"
        for h, v, title, o in problems
    )


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("stem", TOPICS)
def test_every_slide_fits(built, browser, stem):
    """Projected, nothing may be cut off: code, outputs, figures and tables fit the slide."""
    page, remote, errors = _open_deck(browser, built[stem])
    try:
        problems = _overflowing(page, expected_counts(_deck(stem))[1])
        assert problems == [], f"{stem}: content larger than its slide:\n{_describe(problems)}"
        assert remote == [] and errors == []
    finally:
        page.close()


def _cell(source, slide_type="slide", kind="code", tags=()):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["slideshow"] = {"slide_type": slide_type}
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


@pytest.mark.slow
@pytest.mark.browser
def test_fit_check_finds_what_does_not_fit(browser, tmp_path):
    """The check itself: one slide per way of not fitting, plus slides that fit."""
    figure = "plt.figure(figsize={}, dpi=90); plt.plot([0, 1]); plt.show()"
    table = "| " + " | ".join(f"column {i}" for i in range(20)) + " |\n|" + "---|" * 20
    cells = [
        _cell("# Fits or not\n\n$$a = b$$", kind="markdown"),
        _cell("import matplotlib.pyplot as plt", "skip"),
        _cell("short = 1  # fits"),
        _cell("wide = " + " + ".join(["1"] * 60)),
        _cell("\n".join(f"line_{i} = {i}" for i in range(40))),
        _cell("print('\\n'.join(map(str, range(40))))", tags=["hide-input"]),
        _cell(figure.format((4, 12)), tags=["hide-input"]),
        _cell(figure.format((8, 3)), tags=["hide-input"]),  # fits
        _cell(table + "\n| " + " | ".join("1" * 20) + " |", kind="markdown"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    deck = tmp_path / "00_fit_check.ipynb"
    nbformat.write(nb, deck)
    build.ensure_vendor()
    page, _, _ = _open_deck(browser, build.build_deck(deck, tmp_path))
    try:
        found = {
            (h, o["kind"], o["hidden_x"] > 0, o["hidden_y"] > 0)
            for h, _, _, o in _overflowing(page, 8)
        }
    finally:
        page.close()
    assert found == {
        (2, "code block", True, False),
        (3, "code block", False, True),
        (4, "output", False, True),
        (5, "image", False, True),
        (7, "table", True, False),
    }
