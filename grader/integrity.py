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
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def rebuild(submitted: NotebookNode, release: NotebookNode) -> Rebuilt:
    """The release with the student's answers in its answer cells and their added code cells."""
    answers: dict[str, NotebookNode] = {}
    release_ids = {_nbgrader(c).get("grade_id") for c in release.cells} - {None}
    release_sources = {c.source for c in release.cells}
    extras_after: dict[str | None, list[NotebookNode]] = {}
    anchor: str | None = None
    for cell in submitted.cells:
        grade_id = _nbgrader(cell).get("grade_id")
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
        grade_id = info.get("grade_id")
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
    new = nbformat.v4.new_code_cell(_valid_text(cell.source))
    new.id = f"student-cell-{index}"  # deterministic, so the same submission gives the same file
    return new


def _valid_text(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates, which JSON allows) replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")
