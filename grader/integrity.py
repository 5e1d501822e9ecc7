"""Rebuild a submitted notebook around the instructor's released notebook before grading.

Students hand in a whole notebook, but only their answers are theirs: the grader copies the answer
cells (nbgrader ``solution`` cells, matched by grade id) and any code cells they added into a fresh
copy of the released notebook. Test cells, given code, points, grade ids, cell types, kernelspec
and metadata all come from the release, and no stored output survives, so that editing, deleting,
duplicating or re-typing a test cell, or editing nbgrader's metadata, changes nothing. What is
taken (code or a written answer) is made valid Unicode, so that no text can stop nbgrader or the
grader from writing the notebook.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode


@dataclass
class Rebuilt:
    """The notebook to grade, and what was taken from the student."""

    notebook: NotebookNode
    student_cells: list[NotebookNode] = field(default_factory=list)  # answers and added code
    missing_answers: list[str] = field(default_factory=list)  # answer cells the student deleted


def _nbgrader(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata; ``{}`` when the student made it something else than a dict."""
    metadata = cell.get("metadata")
    info = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return info if isinstance(info, dict) else {}


def _grade_id(cell: NotebookNode) -> str | None:
    """The cell's grade id, if it is a string (a student's list or dict is no id)."""
    grade_id = _nbgrader(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def rebuild(submitted: NotebookNode, release: NotebookNode) -> Rebuilt:
    """The release with the student's answers in its answer cells and their added code cells.

    Linear in the number of cells (one pass over each notebook, set and dict look-ups), so that
    the time it takes is bounded by the cell limits of grader.json_limits.
    """
    answers: dict[str, NotebookNode] = {}
    release_ids = {_grade_id(c) for c in release.cells} - {None}
    release_sources = {c.source for c in release.cells}
    extras_after: dict[str | None, list[NotebookNode]] = {}
    anchor: str | None = None
    for cell in submitted.cells:
        grade_id = _grade_id(cell)
        if grade_id in release_ids:
            answers.setdefault(grade_id, cell)  # a duplicate of a cell counts once, as given
            anchor = grade_id
        elif (
            cell.cell_type == "code" and cell.source.strip() and cell.source not in release_sources
        ):
            extras_after.setdefault(anchor, []).append(cell)

    notebook = copy.deepcopy(release)
    rebuilt = Rebuilt(notebook)
    added: list[NotebookNode] = []

    def own_cells(after: str | None) -> list[NotebookNode]:
        new = [_code_cell(c, len(added) + i) for i, c in enumerate(extras_after.get(after, []))]
        added.extend(new)
        return new

    cells: list[NotebookNode] = own_cells(None)
    for cell in notebook.cells:
        info = _nbgrader(cell)
        grade_id = _grade_id(cell)
        if info.get("solution") and grade_id:
            theirs = answers.get(grade_id)
            if theirs is None or theirs.cell_type != cell.cell_type:
                rebuilt.missing_answers.append(grade_id)
            else:
                cell.source = _valid_text(theirs.source)
                if cell.cell_type == "code":
                    rebuilt.student_cells.append(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
        cells += own_cells(grade_id) if grade_id else []
    rebuilt.student_cells += added
    notebook.cells = cells
    return rebuilt


def _code_cell(cell: NotebookNode, index: int) -> NotebookNode:
    """A student's own code cell, stripped of any metadata (it earns nothing by itself)."""
    # Built directly: new_code_cell() validates every cell with jsonschema, a cost per cell that
    # dominated the rebuild of notebooks with thousands of cells.
    return nbformat.from_dict(
        {
            "cell_type": "code",
            "id": f"student-cell-{index}",  # deterministic: the same submission, the same file
            "metadata": {},
            "source": _valid_text(cell.source),
            "outputs": [],
            "execution_count": None,
        }
    )


def _valid_text(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates, which JSON allows) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")
