"""The course as nbgrader sees it: assignments, notebooks and graded cells, read from solutions/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grader.paths import SOLUTIONS_DIR


@dataclass(frozen=True)
class GradedCell:
    """One cell that carries points: an autograded test cell or a manually graded answer."""

    grade_id: str
    points: float
    autograded: bool


@dataclass(frozen=True)
class Notebook:
    """A source notebook ``solutions/<assignment>/<name>.ipynb`` and its graded cells, in order."""

    assignment: str
    name: str
    path: Path
    graded_cells: tuple[GradedCell, ...]

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.graded_cells)


@dataclass(frozen=True)
class Assignment:
    name: str
    notebooks: tuple[Notebook, ...]

    def notebook(self, name: str) -> Notebook:
        for notebook in self.notebooks:
            if notebook.name == name:
                return notebook
        raise KeyError(f"assignment {self.name} has no notebook {name}")


def load_course(solutions_dir: Path = SOLUTIONS_DIR) -> list[Assignment]:
    """Every assignment under ``solutions_dir`` by name, with its notebooks sorted by name."""
    assignments = []
    for folder in sorted(p for p in solutions_dir.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        notebooks = tuple(
            Notebook(folder.name, path.stem, path, graded_cells_of(path))
            for path in sorted(folder.glob("*.ipynb"))
        )
        if notebooks:
            assignments.append(Assignment(folder.name, notebooks))
    return assignments


def graded_cells_of(path: Path) -> tuple[GradedCell, ...]:
    """The graded cells of a notebook, in notebook order, from their nbgrader metadata."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        autograded = cell.get("cell_type") == "code" and not meta.get("solution", False)
        cells.append(GradedCell(meta["grade_id"], float(meta.get("points", 0)), autograded))
    return tuple(cells)
