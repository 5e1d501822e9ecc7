"""The rebuild of a submission (grader.integrity) takes time linear in its cells and survives any
metadata a student can write: a bad notebook costs only its own student."""

from __future__ import annotations

import time

import nbformat
import pytest

from grader.integrity import rebuild
from tests.support.factory import EXERCISES

RELEASE = EXERCISES / "ex1_rnn" / "rnn_numpy.ipynb"


def _release() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


@pytest.mark.parametrize(
    "nbgrader", [[1, 2], "grade_id", 7, {"grade_id": ["a list"]}, {"grade_id": {"a": 1}}, None]
)
def test_any_nbgrader_metadata_of_a_student_is_survived(nbgrader) -> None:
    release = _release()
    submitted = _release()
    for cell in submitted.cells:
        cell.metadata["nbgrader"] = nbgrader
    submitted.cells.append(nbformat.v4.new_code_cell("extra = 1", metadata={"nbgrader": nbgrader}))
    rebuilt = rebuild(submitted, release)
    assert len(rebuilt.notebook.cells) == len(release.cells) + 1
    assert rebuilt.missing_answers  # no answer cell could be matched by its grade id


def _seconds(cells: int) -> float:
    release = _release()
    submitted = _release()
    submitted.cells += [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(cells)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        rebuilt = rebuild(submitted, release)
        best = min(best, time.perf_counter() - started)
    assert len(rebuilt.student_cells) >= cells
    return best


def test_rebuild_is_linear_and_fast_at_the_cell_limit() -> None:
    small, large = _seconds(1_000), _seconds(4_000)
    # about 0.02 s here; the old per-cell jsonschema validation took 0.26 s
    assert small < 0.15, f"{small:.3f} s for 1,000 added cells"
    assert large < 8 * small, f"1,000 cells: {small:.3f} s, 4,000 cells: {large:.3f} s"
