"""What the book's text promises about itself: one notation, the gradient-check rule of NOTATION.md,
and exercises listed where their downloads are.

Fast (no kernel, no build): the pages are read as text, and the one helper that the rule depends
on, Chapter 3's ``rel_error``, is taken from its code cell and run.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import REPO

BOOK = REPO / "book"
INTRO = BOOK / "intro.md"
GLOSSARY = BOOK / "glossary.md"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))
PAGES = [INTRO, GLOSSARY, *CHAPTERS]
INDEXING = (
    "Python counts from 0 and the equations from 1: `xs[t - 1]` is $x_t$ and `hs[t - 1]` is $h_t$"
)

# Symbols retired by issue 14: each quantity has one symbol (book/intro.md, Notation).
RETIRED = {
    r"\bar g": "the upstream gradient is \\mathrm{dhs}_t",
    r"\varepsilon_t": "∂L/∂a_t is \\delta a_t; ε is only the finite-difference step",
    r"\delta_{ij}": "write \\mathbb{1}[i = j]",
    r"\delta_t ": "the total gradient is \\delta h_t",
    r"\delta_{t+1}": "the total gradient is \\delta h_{t+1}",
}


def code_cells(text: str) -> list[str]:
    """The sources of a MyST notebook's ``{code-cell}`` blocks."""
    return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", text, re.M | re.S)


def notation_rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """NOTATION.md: ‖a − b‖ / max(1e-12, ‖a‖ + ‖b‖), Frobenius norms."""
    return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_uses_a_retired_symbol(page):
    text = page.read_text()
    found = {symbol: why for symbol, why in RETIRED.items() if symbol in text}
    assert not found, f"{page.name} still uses {found}"


@pytest.mark.parametrize("page", [INTRO, *CHAPTERS[:3]], ids=lambda p: p.name)
def test_the_indexing_rule_is_stated_once_and_never_contradicted(page):
    text = " ".join(page.read_text().split())
    rule = " ".join(INDEXING.split())
    assert text.count(rule) == 1, f"{page.name} states the indexing rule {text.count(rule)} times"
    contradiction = re.search(r"`hs\[t\]` is \$h_\{t ?\+ ?1\}\$", text)
    assert not contradiction, f"{page.name} also says hs[t] is h_(t+1)"


def test_chapter_3_rel_error_is_the_rule_of_notation():
    cells = code_cells((BOOK / "03_gru_numpy.md").read_text())
    cell = next(c for c in cells if "def rel_error" in c)
    scope: dict = {"np": np}
    exec(compile(cell.split("\nprobe_a")[0], "03_gru_numpy.md", "exec"), scope)
    rng = np.random.default_rng(14)
    for _ in range(50):
        a = rng.standard_normal(rng.integers(1, 6, size=2))
        b = a + 10.0 ** rng.uniform(-12, 0) * rng.standard_normal(a.shape)
        a[0, 0] = 1e-6 * a[0, 0]  # a tiny entry: where an element-wise rule and this one differ
        assert scope["rel_error"](a, b) == pytest.approx(notation_rel_error(a, b), rel=1e-12)
    assert scope["rel_error"](np.zeros(3), np.zeros(3)) == 0


@pytest.mark.parametrize("page", [INTRO, GLOSSARY], ids=lambda p: p.name)
def test_the_stated_gradient_check_rule_is_the_per_array_one(page):
    text = page.read_text()
    assert r"\max(10^{-12}, \|a\| + \|b\|)" in text, f"{page.name} does not state NOTATION's rule"
    assert r"\max(10^{-8}" not in text, f"{page.name} still states the element-wise rule"


def test_the_intro_lists_each_exercise_with_the_chapter_that_offers_it():
    offered = {}
    for chapter in CHAPTERS:
        downloads = re.findall(r"\{download\}`[^`]*<\.\./exercises/(\w+)/", chapter.read_text())
        offered.update(dict.fromkeys(downloads, chapter.stem))
    assert sorted(offered) == sorted(p.name for p in (REPO / "exercises").iterdir() if p.is_dir())
    chapter_list = INTRO.read_text().split("## Chapters")[1].split("\n## ")[0]
    items = re.split(r"^\d\. ", chapter_list, flags=re.M)
    listed = {}
    for item in (" ".join(item.split()) for item in items[1:]):
        chapter = re.match(r"\{doc\}`(\w+)`", item).group(1)
        for assignment in re.findall(r"\*\*Exercise \d\*\* \(`(\w+)`\)", item):
            listed[assignment] = chapter
    assert listed == offered, f"the intro lists {listed}, the chapters offer {offered}"
