"""autograder.reporting.mathsvg: formulas of the feedback pages typeset as SVG before the page
is written (MathJax 3 under Node, installed with npm once), so a page shows math offline."""

from __future__ import annotations

import shutil
import stat

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
    monkeypatch.setattr(mathsvg, "_failed", [])
    monkeypatch.setattr(mathsvg.shutil, "which", lambda name: None)
    with caplog.at_level("WARNING"):
        page = mathsvg.markdown("see $x^2$ and $y^2$")
        mathsvg.markdown("and $z^2$")
    assert "$x^2$" in page and "<svg" not in page
    assert [r.message for r in caplog.records if "math left as TeX" in r.message] == [
        "feedback: math left as TeX text: Node.js is needed to typeset math "
        "(apt-get install -y nodejs)"
    ]


def test_a_failing_npm_install_is_tried_once_and_its_reason_said(tmp_path, monkeypatch, caplog):
    """An npm that cannot reach its registry retries for a minute or more: a feedback run
    over a class must not pay that once per page (it did, for every cell with new math)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "npm-calls"
    bin_dir.mkdir()
    scripts = {
        "node": "#!/bin/sh\nexit 0\n",
        "npm": f"#!/bin/sh\necho x >> {calls}\n"
        "echo 'npm error code SELF_SIGNED_CERT_IN_CHAIN' >&2\nexit 1\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(mathsvg, "VENDOR_DIR", tmp_path / "vendor")
    monkeypatch.setattr(mathsvg, "_cache", {})
    monkeypatch.setattr(mathsvg, "_failed", [])
    with caplog.at_level("WARNING"):
        pages = [mathsvg.markdown(f"page {k}: $x_{k}^2$") for k in range(3)]
    assert all(f"$x_{k}^2$" in page and "<svg" not in page for k, page in enumerate(pages))
    assert calls.read_text().count("x") == 1
    (warning,) = [r.message for r in caplog.records if "math left as TeX" in r.message]
    assert "npm install mathjax-full@3.2.2" in warning and "exit 1" in warning
    assert "SELF_SIGNED_CERT_IN_CHAIN" in warning and "AUTOGRADER_VENDOR" in warning
