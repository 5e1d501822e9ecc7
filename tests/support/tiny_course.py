"""A one-cell course written on the fly, for fast tests of the grader's own logic."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}

# The solution region of the tiny course's manually graded answer: a model answer, then a rubric.
WRITTEN_ANSWER = (
    "Addition of numbers is commutative, so swapping the two arguments gives the same sum.\n"
    "\n"
    "Rubric (2 points):\n"
    "- (1 point) says that addition is commutative;\n"
    "- (1 point) relates it to swapping the arguments of `add`."
)
QUESTION = "**Question.** Why does `add(a, b)` return the same value as `add(b, a)`?"


def _meta(grade_id: str, **flags) -> dict:
    base = {"schema_version": 3, "grade": False, "solution": False, "locked": True, "task": False}
    return {"nbgrader": {**base, "grade_id": grade_id, **flags}}


def write_tiny_course(
    root: Path,
    body: str = "return a + b",
    written: str | None = None,
    written_points: float = 2,
) -> Path:
    """Write ``root/solutions/tiny/add.ipynb`` (one solution cell, one graded test); return it.

    With ``written`` (e.g. :data:`WRITTEN_ANSWER`), the notebook ends with a question and a
    manually graded markdown answer cell ``why_commutative`` worth ``written_points``, whose
    solution region is ``written``.
    """
    nb = new_notebook(metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    nb.cells = [
        new_markdown_cell("# Add two numbers", metadata=_meta("intro")),
        new_code_cell("from course_checks import call, check_close", metadata=_meta("setup")),
        new_code_cell(
            f"def add(a, b):\n    ### BEGIN SOLUTION\n    {body}\n    ### END SOLUTION",
            metadata=_meta("add", solution=True, locked=False),
        ),
        new_code_cell(
            "check_close('add(1, 2)', call(add, 1.0, 2.0), 3.0)\n"
            "### BEGIN HIDDEN TESTS\n"
            "check_close('add(20, 22) in the hidden test', call(add, 20.0, 22.0), 42.0)\n"
            "### END HIDDEN TESTS",
            metadata=_meta("test_add", grade=True, points=2),
        ),
    ]
    if written is not None:
        nb.cells += [
            new_markdown_cell(QUESTION, metadata=_meta("question")),
            new_markdown_cell(
                f"### BEGIN SOLUTION\n{written}\n### END SOLUTION",
                metadata=_meta(
                    "why_commutative",
                    grade=True,
                    solution=True,
                    locked=False,
                    points=written_points,
                ),
            ),
        ]
    path = root / "solutions" / "tiny" / "add.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
