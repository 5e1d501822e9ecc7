"""Run a notebook's cells in this process, in order, and collect each graded test's verdict.

No kernel and no grader: the given, solution and test cells run in one namespace, as in a
student's kernel (in normal mode: calls just run), which is enough to prove what a test cell
accepts and rejects, and fast enough to repeat under several hidden-test secrets.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Mapping

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from tests.support.factory import student_solution


class _NoShell:
    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def graded_verdicts(
    nb: nbformat.NotebookNode, skip: Iterable[str] = (), answers: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """``{grade_id: None if the test passed, else "ExceptionName: message"}``.

    Args:
        nb: the notebook (a student's: solution markers removed).
        skip: grade_ids or cell ids of cells not to run (slow training cells and what reads
            their results: their tests are left out of the verdicts).
        answers: grade_id of a solution cell -> the code that replaces its solution (an attack).
    """
    import matplotlib

    matplotlib.use("Agg")
    skip = set(skip)
    namespace: dict = {"__name__": "__main__", "get_ipython": lambda: _NoShell()}
    transform = TransformerManager().transform_cell
    verdicts: dict[str, str | None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        grade_id = nbgrader.get("grade_id", "")
        if grade_id in skip or cell.get("id") in skip:
            continue
        source = (answers or {}).get(grade_id, cell.source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(transform(source), f"<cell {grade_id}>", "exec"), namespace)
        except Exception as error:  # a test's failure is its verdict
            if nbgrader.get("grade") and not nbgrader.get("solution"):
                verdicts[grade_id] = f"{type(error).__name__}: {error}"
            continue
        if nbgrader.get("grade") and not nbgrader.get("solution"):
            verdicts[grade_id] = None
    return verdicts


def solution_verdicts(assignment: str, notebook: str, **options) -> dict[str, str | None]:
    """:func:`graded_verdicts` of the solution notebook as a student would hand it in."""
    return graded_verdicts(student_solution(assignment, notebook), **options)
