"""The course as nbgrader sees it: assignments, notebooks and graded cells, read from solutions/.

It is also the registry of exercises: which ``course_checks`` modules each notebook's cells
import, and whether its verdicts are replayed. The zygote's and the nbgrader forkserver's preload
lists and the replay tests come from it, so that none is a list kept by hand.
"""

from __future__ import annotations

import ast
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
    # (module, name) for each name its cells import from course_checks (a whole module: "").
    check_imports: tuple[tuple[str, str], ...] = ()
    replayed: bool = False  # metadata gru_course.verdicts == "replay" (ReplayVerdicts)
    student_imports: tuple[str, ...] = ()  # metadata gru_course.student_imports (grader.tamper)

    @property
    def check_modules(self) -> tuple[str, ...]:
        """The ``course_checks`` modules its cells import, sorted."""
        return tuple(sorted({module for module, _ in self.check_imports}))

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
        notebooks = tuple(_notebook(folder.name, path) for path in sorted(folder.glob("*.ipynb")))
        if notebooks:
            assignments.append(Assignment(folder.name, notebooks))
    return assignments


def _notebook(assignment: str, path: Path) -> Notebook:
    data = json.loads(path.read_text(encoding="utf-8"))
    course = data.get("metadata", {}).get("gru_course", {})
    return Notebook(
        assignment,
        path.stem,
        path,
        graded_cells_of(data),
        check_imports_of(data),
        course.get("verdicts") == "replay",
        tuple(course.get("student_imports", ())),
    )


def check_imports_of(notebook: dict) -> tuple[tuple[str, str], ...]:
    """``(module, name)`` for what a notebook's code cells import from ``course_checks``
    (``from module import name``; ``import module`` gives ``(module, "")``), read with ``ast``;
    lines of IPython magics are left out."""
    found: set[tuple[str, str]] = set()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        code = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        )
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                pairs = [(node.module or "", alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                pairs = [(alias.name, "") for alias in node.names]
            else:
                continue
            found.update(p for p in pairs if p[0].split(".")[0] == "course_checks")
    return tuple(sorted(found))


def check_modules(assignments: list[Assignment] | None = None) -> tuple[str, ...]:
    """Every ``course_checks`` module that some notebook of the course imports, sorted (none
    where there is no ``solutions/``: the preloads that use this list are only a speed-up)."""
    if assignments is None and not SOLUTIONS_DIR.is_dir():
        return ()
    course = load_course() if assignments is None else assignments
    return tuple(
        sorted({m for a in course for notebook in a.notebooks for m in notebook.check_modules})
    )


def graded_cells_of(notebook: dict) -> tuple[GradedCell, ...]:
    """The graded cells of a notebook (its JSON), in notebook order, from their nbgrader
    metadata."""
    cells = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        autograded = cell.get("cell_type") == "code" and not meta.get("solution", False)
        cells.append(GradedCell(meta["grade_id"], float(meta.get("points", 0)), autograded))
    return tuple(cells)
