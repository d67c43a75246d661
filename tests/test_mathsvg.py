"""autograder.reporting.mathsvg: formulas of the feedback pages typeset as SVG before the page
is written (MathJax 3 under Node, installed with npm once), so a page shows math offline."""

from __future__ import annotations

import shutil

import pytest

from autograder.reporting import mathsvg


def test_formulas_skip_code_and_escaped_dollars():
    text = "a $x_1$, `$not$`, ```\n$no$\n``` and $$\\frac{a}{b}$$ for \\$5"
    assert mathsvg.formulas(text) == [("x_1", False), ("\\frac{a}{b}", True)]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_markdown_typesets_math_as_svg_and_keeps_the_rest():
    page = mathsvg.markdown(
        "Notation: $a^{(k)} = W^{(k)} h^{(k-1)} + b^{(k)}$ and *emphasis*.\n\n"
        "$$h^{(k)} = g(a^{(k)})$$\n\nBroken: $\\frac{1}{$ stays."
    )
    assert page.count("<svg") == 2 and "<em>emphasis</em>" in page
    assert "W^{(k)}" not in page and "g(a^{(k)})" not in page  # no TeX left for them
    assert 'display="true"' in page  # the $$ formula is a display block
    assert "\\frac{1}{" in page  # a formula MathJax refuses stays as its TeX
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing to fetch


def test_without_node_the_tex_stays_and_one_warning_says_why(monkeypatch, caplog):
    monkeypatch.setattr(mathsvg, "_cache", {})
    monkeypatch.setattr(mathsvg, "_warned", [])
    monkeypatch.setattr(mathsvg.shutil, "which", lambda name: None)
    with caplog.at_level("WARNING"):
        page = mathsvg.markdown("see $x^2$ and $y^2$")
        mathsvg.markdown("and $z^2$")
    assert "$x^2$" in page and "<svg" not in page
    assert [r.message for r in caplog.records if "math left as TeX" in r.message] == [
        "feedback: math left as TeX text: Node.js is needed to typeset math "
        "(apt-get install -y nodejs)"
    ]
