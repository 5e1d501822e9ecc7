"""Manually graded answers: the question, model answer and rubric an author writes in solutions/.

A manually graded answer is an nbgrader cell with both ``grade`` and ``solution`` set (a markdown
cell for a written answer). In solutions/, its source holds a model answer followed by a rubric
whose header states the cell's points, between the solution markers::

    ### BEGIN SOLUTION
    The update gate interpolates between the old state and the candidate ...

    Rubric (2 points):
    - (1 point) names the update gate;
    - (1 point) says that z = 1 carries the old state over unchanged.
    ### END SOLUTION

Release replaces the region with "YOUR ANSWER HERE". ``grader check`` enforces these rules
(:func:`rubric_problems`) and that neither part reaches exercises/ (:func:`leak_lines`);
``grader manual`` shows both to the instructor next to the students' answers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from grader.course import Assignment

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
_POINTS = r"\(\s*(\d+(?:\.\d+)?)\s*(?:points?|pts?)\s*\)"
# "Rubric (2 points)", "**Rubric** (2 points):", "Rubric, total (1.5 pts)".
RUBRIC_HEADER = re.compile(r"\bRubric\b[^\n(]*" + _POINTS, re.IGNORECASE)
ITEM_POINTS = re.compile(_POINTS, re.IGNORECASE)
# Lines shorter than this ("- yes", "Rubric:") may well appear in a released notebook by chance.
LEAK_MIN_CHARS = 12


@dataclass(frozen=True)
class ManualCell:
    """A manually graded answer cell of the course, as its author wrote it in solutions/."""

    assignment: str
    notebook: str
    grade_id: str
    points: float
    question: str  # the instructions before the cell, and its own text outside the region
    model_answer: str
    rubric: str
    released: str  # the cell's source as release writes it: what an unanswered cell holds


def is_manual(cell: dict) -> bool:
    """Whether a notebook cell (a dict) is a manually graded answer: ``grade`` and ``solution``."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
    return bool(meta.get("grade") and meta.get("solution"))


def solution_region(source: str) -> str | None:
    """The text between the first ``### BEGIN SOLUTION`` line and the next ``### END SOLUTION``
    line (``None`` without a complete pair of markers)."""
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if BEGIN_SOLUTION in line]
    if not begins:
        return None
    ends = [i for i, line in enumerate(lines) if END_SOLUTION in line and i > begins[0]]
    if not ends:
        return None
    return "\n".join(lines[begins[0] + 1 : ends[0]])


def split_region(region: str) -> tuple[str, str]:
    """A solution region as (model answer, rubric): the rubric starts at its header line."""
    match = RUBRIC_HEADER.search(region)
    if match is None:
        return region.strip(), ""
    start = region.rfind("\n", 0, match.start()) + 1
    return region[:start].strip(), region[start:].strip()


def rubric_problems(source: str, points: float) -> list[str]:
    """What is wrong with a manually graded cell's solution region (empty when it is fine).

    The region must hold a model answer, then one rubric header "Rubric (N points)" with N equal
    to the cell's points; rubric lines that state points ("(1 point) names …") must add up to N.
    """
    region = solution_region(source)
    if region is None:
        return ["is manually graded but has no ### BEGIN SOLUTION / ### END SOLUTION region"]
    if not region.strip():
        return ["is manually graded but its solution region is empty (a model answer and a rubric)"]
    headers = RUBRIC_HEADER.findall(region)
    if not headers:
        return [
            "is manually graded but its solution region has no rubric: add a line "
            f"'Rubric ({points:g} points)' and what earns each point"
        ]
    if len(headers) > 1:
        return [f"has {len(headers)} rubric headers; write one 'Rubric ({points:g} points)'"]
    problems = []
    total = float(headers[0])
    if not math.isclose(total, points):
        problems.append(f"has a rubric of {total:g} points but the cell is worth {points:g}")
    model, rubric = split_region(region)
    if not model:
        problems.append("has no model answer before its rubric")
    header_line, _, items = rubric.partition("\n")
    item_points = [float(p) for p in ITEM_POINTS.findall(items)]
    if item_points and not math.isclose(sum(item_points), total):
        problems.append(
            f"has rubric items worth {sum(item_points):g} points in all, not the {total:g} of "
            f"its header ({header_line.strip()!r})"
        )
    return problems


def leak_lines(source: str) -> list[str]:
    """The lines of a manual cell's solution region that must never appear in a release."""
    region = solution_region(source) or ""
    lines = [line.strip() for line in region.split("\n")]
    return [line for line in lines if len(line) >= LEAK_MIN_CHARS or RUBRIC_HEADER.search(line)]


def released_source(source: str, cell_type: str = "markdown") -> tuple[str, str]:
    """The source release writes for a manual cell, and the stub it puts in place of the answer
    (nbgrader's own ClearSolutions, with its default stubs, as the grader's releases use)."""
    import nbformat
    from nbgrader.preprocessors import ClearSolutions

    clear = ClearSolutions()
    if cell_type == "code":
        cell, stub = nbformat.v4.new_code_cell(source), clear.code_stub["python"]
    else:
        cell, stub = nbformat.v4.new_markdown_cell(source), clear.text_stub
    cell.metadata["nbgrader"] = {"solution": True}
    clear.preprocess_cell(cell, {"language": "python"}, 0)
    return cell.source, stub


def manual_cells(assignments: list[Assignment]) -> list[ManualCell]:
    """Every manually graded answer of the course, in course order."""
    cells = []
    for assignment in assignments:
        for notebook in assignment.notebooks:
            cells += _notebook_manual_cells(assignment.name, notebook.name, notebook.path)
    return cells


def _notebook_manual_cells(assignment: str, name: str, path: Path) -> list[ManualCell]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found: list[ManualCell] = []
    instructions: list[str] = []  # the markdown cells since the last code or graded cell
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        source = "".join(cell.get("source", ""))
        if is_manual(cell):
            released, stub = released_source(source, cell.get("cell_type", "markdown"))
            stub_lines = {line.strip() for line in stub.split("\n")}
            outside = "\n".join(
                line for line in released.split("\n") if line.strip() not in stub_lines
            ).strip()
            model, rubric = split_region(solution_region(source) or "")
            found.append(
                ManualCell(
                    assignment,
                    name,
                    meta["grade_id"],
                    float(meta.get("points", 0)),
                    "\n\n".join([*instructions, outside] if outside else instructions),
                    model,
                    rubric,
                    released,
                )
            )
        given = not meta.get("grade") and not meta.get("solution")
        if cell.get("cell_type") == "markdown" and given:
            instructions.append(source.strip())
        else:
            instructions = []
    return found
