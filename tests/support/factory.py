"""Make realistic submissions from the solution notebooks: correct, blank, broken or mistaken."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import nbformat

from tests.mistakes.catalogue import Mistake

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


def all_mistakes() -> list[Mistake]:
    """Every catalogued mistake, from every module in tests/mistakes/."""
    import tests.mistakes as package

    mistakes: list[Mistake] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "catalogue":
            module = importlib.import_module(f"tests.mistakes.{info.name}")
            mistakes += module.MISTAKES
    return mistakes


def student_solution(assignment: str, notebook: str) -> nbformat.NotebookNode:
    """The solution notebook as a student would hand it in: solution markers removed."""
    nb = nbformat.read(SOLUTIONS / assignment / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = MARKER_LINE.sub("", cell.source)
    return nb


def with_mistake(mistake: Mistake) -> nbformat.NotebookNode:
    """The student solution with one catalogued mistake written into its cell."""
    nb = student_solution(mistake.assignment, mistake.notebook_name)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == mistake.cell]
    assert len(cells) == 1, f"{mistake.id}: no single cell {mistake.cell!r}"
    for old, new in mistake.replacements:
        assert old in cells[0].source, f"{mistake.id}: {old!r} not in cell {mistake.cell}"
        cells[0].source = cells[0].source.replace(old, new, 1)
    return nb


def with_code_in(assignment: str, notebook: str, grade_id: str, code: str) -> nbformat.NotebookNode:
    """The student solution with ``code`` appended to one cell (to inject a crash, a loop…)."""
    nb = student_solution(assignment, notebook)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source += "\n" + code
            return nb
    raise KeyError(grade_id)


def hidden_test_lines() -> set[str]:
    """Every substantial line of every hidden-test region in solutions/ (to prove none leaks)."""
    lines: set[str] = set()
    for path in SOLUTIONS.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for region in HIDDEN_REGION.findall(cell.source):
                lines |= {ln.strip() for ln in region.splitlines() if len(ln.strip()) > 25}
    return lines


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
