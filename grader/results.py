"""What grading produces: a result per student × graded cell, and how grades.csv is written."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from grader.csv_safety import csv_cell

# The grades.csv interface instructors and scripts rely on: keep it stable.
CSV_COLUMNS = ("student_id", "assignment", "notebook", "grade_id", "score", "max_score", "status")


class Status(StrEnum):
    """Every status a row can carry, with its meaning (also documented in the README).

    A member is its string (``Status.PASSED == "passed"``): grades.csv, results.json and the
    gradebook hold the plain value.
    """

    description: str

    def __new__(cls, value: str, description: str) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    PASSED = "passed", "the test cell ran without error: full points"
    FAILED = "failed", "a check in the test cell failed (wrong answer)"
    ERROR = "error", "the test cell raised an error other than a failed check"
    TIMEOUT = "timeout", "a cell or the whole notebook ran out of time"
    KERNEL_CRASHED = "kernel_crashed", "the kernel died while running the notebook"
    MISSING_NOTEBOOK = "missing_notebook", "the notebook was not submitted"
    INVALID_NOTEBOOK = "invalid_notebook", "the file is not a readable Jupyter notebook"
    MISSING_CELL = "missing_cell", "the graded cell was deleted from the notebook"
    NEEDS_MANUAL_GRADE = (
        "needs_manual_grade",
        "a manually graded answer not scored yet: zero until graded",
    )
    MANUALLY_GRADED = (
        "manually_graded",
        "a manually graded answer the instructor has scored (`grader manual`)",
    )
    UNKNOWN_ASSIGNMENT = "unknown_assignment", "a folder that names no assignment of the course"
    INVALID_STUDENT_ID = "invalid_student_id", "a student folder whose name cannot be a student id"
    NOT_A_FOLDER = "not_a_folder", "a file where a student folder was expected"
    GRADER_ERROR = "grader_error", "nbgrader failed for a reason of its own; see the log"
    WRONG_KERNEL = "wrong_kernel", "the notebook was saved with a kernel that is not Python"
    EXTRA_NOTEBOOK = "extra_notebook", "a notebook that is not part of the assignment (not graded)"
    TAMPERED = (
        "tampered",
        "the code reaches into the grader, the tests or the libraries: zero, for review",
    )
    OUTPUT_LIMIT = (
        "output_limit",
        "the notebook printed more than the grader keeps: the rest was not run",
    )


STATUSES = {status.value: status.description for status in Status}


@dataclass(frozen=True)
class CellResult:
    """The grade of one graded cell for one student, with a plain-words message for feedback."""

    student_id: str
    assignment: str
    notebook: str
    grade_id: str
    score: float
    max_score: float
    status: str
    message: str = ""

    def csv_row(self) -> dict[str, str]:
        """The row of grades.csv, each cell protected from being read as a formula."""
        return {column: csv_cell(value) for column, value in self._raw_row().items()}

    def _raw_row(self) -> dict[str, str]:
        return {
            "student_id": self.student_id,
            "assignment": self.assignment,
            "notebook": self.notebook,
            "grade_id": self.grade_id,
            "score": f"{self.score:g}",
            "max_score": f"{self.max_score:g}",
            "status": self.status,
        }


def write_grades_csv(results: list[CellResult], path: Path) -> None:
    """Write ``grades.csv``: one row per student × graded cell, in a stable order."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for result in results:
            writer.writerow(result.csv_row())


def write_results_json(results: list[CellResult], path: Path) -> None:
    """Write every result with its message, for tools that want more than grades.csv."""
    path.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n", encoding="utf-8")
