"""The canary: the instructor's own solutions, graded first, in the same sandbox as the class.

A misconfigured grader (a virtual environment whose editable install points at another checkout,
a sandbox uid that cannot run the interpreter) would otherwise grade every student zero, each
for a reason that is not theirs. So before any grade is written, the grader grades the reference
solution of every notebook in the batch with the same options, kernels and limits; if one of them
does not earn full marks on every automatically graded cell, the batch stops and says why.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from grader.course import Notebook
from grader.results import CellResult, Status

CANARY_ID = "grader-canary"  # never a student: the canary's rows are checked, never recorded
_MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


class CanaryFailed(RuntimeError):
    """The reference solutions do not get full marks here: the grader's set-up is broken."""


def reference_submission(definition: Notebook, destination: Path) -> Path:
    """Write the solution of ``definition`` as a student would hand it in; returns its path."""
    notebook = nbformat.read(definition.path, as_version=4)
    for cell in notebook.cells:
        if (cell.get("metadata", {}).get("nbgrader", {}) or {}).get("solution"):
            cell.source = _MARKER_LINE.sub("", cell.source)
    destination.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, destination)
    return destination


def problems(definition: Notebook, results: list[CellResult]) -> list[str]:
    """What is wrong with the canary's results of ``definition``: empty when all is well."""
    wrong = [
        f"{r.grade_id}: {r.status} ({r.score:g}/{r.max_score:g})"
        + (f": {r.message.splitlines()[0][:300]}" if r.message else "")
        for r in results
        if r.status != Status.NEEDS_MANUAL_GRADE
        and (r.status != Status.PASSED or r.score < r.max_score)
    ]
    return [f"{definition.assignment}/{definition.name}: {line}" for line in wrong]


def failure_message(found: list[str]) -> str:
    """The sentence the instructor reads when the canary fails."""
    shown = "\n  ".join(found[:12])
    more = f"\n  … and {len(found) - 12} more" if len(found) > 12 else ""
    return (
        "the reference solutions do not get full marks in this grader's sandbox, so no student "
        "was graded (every grade would be wrong). Check the virtual environment (does it import "
        "`course_checks` from this checkout?), the sandbox (bubblewrap, root) and the limits. "
        f"What the solutions got:\n  {shown}{more}"
    )
