"""Which modules a chapter follows (booktools/sphinx_dependencies.py): the ones its code imports.

The real rebuild (a module edited, the chapter re-executed, the others not) is in test_book.py;
these cases pin the import graph the extension reads, without a build.
"""

from __future__ import annotations

from pathlib import Path

from booktools.sphinx_dependencies import ROOT, page_modules


def _follows(page: str) -> set[str]:
    return {str(p.relative_to(ROOT)) for p in page_modules((ROOT / page).read_text())}


def test_a_chapter_follows_its_own_modules_and_what_they_import():
    chapter_4 = _follows("book/04_gru_vs_lstm.md")
    assert {"experiments/suite.py", "experiments/summary.py", "experiments/tasks.py"} <= chapter_4
    assert "experiments/__init__.py" in chapter_4  # importing a module runs its package
    assert "experiments/signals/music_render.py" not in chapter_4  # Chapter 7's alone


def test_shared_course_checks_modules_are_followed_too():
    """Chapter 6's dates come from course_checks/dates.py (shared with Exercise 6): an edit there
    changes the chapter's numbers, so the chapter follows it."""
    assert "course_checks/dates.py" in _follows("book/06_encoder_decoder.md")


def test_load_protocol_follows_the_protocol_it_loads_by_name():
    page = "```{code-cell} ipython3\nfrom experiments.runner import load_protocol\n"
    page += 'results = load_protocol("signals")\n```\n'
    assert str(ROOT / "experiments/signals/protocol.py") in {str(p) for p in page_modules(page)}
    default = page.replace('"signals"', "")
    assert ROOT / "experiments/suite.py" in page_modules(default)  # the default protocol


def test_cell_options_are_not_code_and_a_cell_that_does_not_parse_follows_everything():
    options = "```{code-cell} ipython3\n---\ntags: [hide-input]\n---\n:tags: [x]\n"
    options += ":  figure:\n:    caption: |\n:      a, b\nfrom experiments import summary\n```\n"
    assert ROOT / "experiments/summary.py" in page_modules(options)
    broken = "```{code-cell} ipython3\nfrom experiments import summary\nif:\n```\n"
    everything = page_modules(broken)
    assert ROOT / "experiments/signals/music_render.py" in everything
    assert all(isinstance(p, Path) and p.is_file() for p in everything)
