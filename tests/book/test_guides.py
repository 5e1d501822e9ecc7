"""The guides and the glossary: every command they show exists, every term they promise is defined.

Fast (no book build, no kernel): the commands are checked against the real command line's
``--help`` and the Makefile, the terms against the glossary's source.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache

import pytest

from tests.conftest import REPO, grader_env

BOOK = REPO / "book"
GUIDES = [BOOK / "guide_students.md", BOOK / "guide_instructors.md"]
CHAPTERS = [BOOK / "intro.md", *sorted(BOOK.glob("[0-9][0-9]_*.md"))]

# The terms the issue asks the glossary to define.
REQUIRED_TERMS = (
    "gate",
    "update gate",
    "reset gate",
    "candidate state",
    "hidden state",
    "cell state",
    "BPTT",
    "vanishing gradient",
    "exploding gradient",
    "spectral radius",
    "Jacobian",
    "gradient clipping",
    "forget gate",
    "input gate",
    "output gate",
    "sequence length",
    "public test",
    "hidden test",
    "autograding",
)


def code_shown(text: str) -> list[str]:
    """What a reader can copy: the lines of fenced code blocks and the inline code spans.

    Code cells (```` ```{code-cell} ````) are the page's own code, not commands for the reader;
    a backslash at the end of a line joins it with the next, as the shell does.
    """
    shown: list[str] = []
    prose: list[str] = []
    fence = None
    for line in text.splitlines():
        stripped = line.strip()
        if fence is None and (opening := re.match(r"(`{3,}|~{3,})(.*)", stripped)):
            fence = opening.group(1)
            reader_code = not opening.group(2).startswith("{")
            continue
        if fence is not None:
            if stripped == fence:
                fence = None
            elif reader_code:
                shown.append(line)
            continue
        prose.append(line)
    shown = "\n".join(shown).replace("\\\n", " ").splitlines()
    return shown + re.findall(r"`([^`\n]+)`", "\n".join(prose))


def grader_commands(text: str) -> list[tuple[str, list[str]]]:
    """Each ``python -m grader <command> …`` shown, as (command, its --flags)."""
    found = []
    for code in code_shown(text):
        for match in re.finditer(r"python -m grader\b([^#;|&]*)", code):
            words = match.group(1).split()
            if words and not words[0].startswith("-"):
                found.append((words[0], [w.split("=")[0] for w in words if w.startswith("--")]))
    return found


def make_targets(text: str) -> set[str]:
    """Every ``make <target>`` shown in code."""
    return {
        target
        for code in code_shown(text)
        for target in re.findall(r"(?:^|[\s;&(])make\s+([A-Za-z][\w-]*)", code)
    }


@cache
def grader_help(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", command, "--help"],
        cwd=REPO,
        env=grader_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return {
        name for names in re.findall(r"^([\w .-]+):(?!=)", text, re.M) for name in names.split()
    }


def glossary_terms() -> set[str]:
    """The terms defined by the ``{glossary}`` directive of book/glossary.md (lowercased)."""
    text = (BOOK / "glossary.md").read_text()
    block = re.search(r"^```\{glossary\}\n(.*?)^```$", text, re.M | re.S)
    assert block, "book/glossary.md has no {glossary} directive"
    return {
        line.strip().lower()
        for line in block.group(1).splitlines()
        if line.strip() and not line.startswith((" ", ":"))
    }


def term_references(text: str) -> list[str]:
    """The targets of the {term} roles in a page: ``{term}`x``` or ``{term}`text <x>```."""
    targets = []
    for content in re.findall(r"\{term\}`([^`]+)`", text):
        explicit = re.search(r"<([^<>]+)>\s*$", content)
        targets.append(" ".join((explicit.group(1) if explicit else content).split()).lower())
    return targets


def test_every_grader_command_and_flag_shown_is_real():
    shown = [
        (guide, *command) for guide in GUIDES for command in grader_commands(guide.read_text())
    ]
    assert len({command for _, command, _ in shown}) >= 4, "the guides skip grader commands"
    for guide, command, flags in shown:
        usage = grader_help(command)
        assert usage.returncode == 0, f"{guide.name}: `python -m grader {command}` does not exist"
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", usage.stdout), (
                f"{guide.name}: `python -m grader {command}` has no option {flag}"
            )


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_make_target_shown_exists(guide):
    targets = make_targets(guide.read_text())
    assert targets, f"{guide.name} shows no `make` target"
    missing = targets - makefile_targets()
    assert not missing, f"{guide.name} shows make targets the Makefile lacks: {sorted(missing)}"


def test_glossary_defines_every_required_term():
    defined = glossary_terms()
    missing = [term for term in REQUIRED_TERMS if term.lower() not in defined]
    assert not missing, f"book/glossary.md does not define {missing}"


def test_glossary_is_sorted():
    text = (BOOK / "glossary.md").read_text()
    assert re.search(r"^```\{glossary\}\n:sorted:", text, re.M), "the glossary is not :sorted:"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_references_glossary_terms(page):
    defined = glossary_terms()
    references = term_references(page.read_text())
    unknown = sorted(set(references) - defined)
    assert not unknown, f"{page.name} refers to terms the glossary lacks: {unknown}"
    assert len(set(references)) >= 2, f"{page.name} references {len(set(references))} term(s)"


def test_the_helpers_find_what_they_should():
    """The extraction itself: a command split over lines, inline code, code cells left out."""
    text = (
        "Run `make lab`, then:\n\n```bash\npython -m grader autograde S \\\n    --out O --jobs 2"
        "\nmake release  # comment\n```\n\n```{code-cell} ipython3\nmake_nothing = 1\n```\n"
        "Fill {term}`the sheet <Hidden  Test>` and {term}`gate`.\n"
    )
    assert grader_commands(text) == [("autograde", ["--out", "--jobs"])]
    assert make_targets(text) == {"lab", "release"}
    assert term_references(text) == ["hidden test", "gate"]
