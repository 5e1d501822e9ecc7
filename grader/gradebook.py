"""Reading scores from nbgrader gradebooks and recording results in the instructors' gradebook.

Only the grader process calls these: per-notebook gradebooks are read after nbgrader has finished,
and the instructors' gradebook (SQLite by default, any SQLAlchemy URL for larger setups) is written
once, at the end of a batch, and when an instructor imports manual scores (grader.manual).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from grader.paths import COURSE_ID
from grader.results import CellResult, Status
from grader.submissions import SubmittedNotebook


def read_scores(
    db_url: str, student_id: str, assignment: str, notebook: str
) -> dict[str, float | None]:
    """Scores nbgrader gave each graded cell of a submitted notebook (``None``: never scored)."""
    with Gradebook(db_url, COURSE_ID) as gradebook:
        try:
            submitted = gradebook.find_submission_notebook(notebook, assignment, student_id)
        except MissingEntry:
            return {}
        return {grade.name: grade.score for grade in submitted.grades}


def record_results(
    db_url: str, results: list[CellResult], notebooks: list[SubmittedNotebook]
) -> None:
    """Store every autograded score in the gradebook at ``db_url``.

    Manually graded cells keep whatever score an instructor gave them; autograded cells get the
    new score. Students with nothing gradable get no submission row.
    """
    submitted = {(n.student_id, n.assignment) for n in notebooks}
    # nbgrader's own submission code trips SQLAlchemy autoflush warnings; they are harmless here.
    with warnings.catch_warnings(), Gradebook(db_url, COURSE_ID) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        for student_id, assignment in sorted(submitted):
            gradebook.update_or_create_student(student_id)
            gradebook.update_or_create_submission(assignment, student_id)
        for result in results:
            if (result.student_id, result.assignment) not in submitted or not result.grade_id:
                continue
            if result.status == Status.NEEDS_MANUAL_GRADE:
                continue
            grade = gradebook.find_grade(
                result.grade_id, result.notebook, result.assignment, result.student_id
            )
            grade.auto_score = result.score
            grade.needs_manual_grade = False
        gradebook.db.commit()


# (student_id, assignment, notebook, grade_id): one graded cell of one student.
CellKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class ManualGrade:
    """What an instructor gave a manually graded answer: nbgrader's manual score and comment."""

    score: float | None
    comment: str | None = None


class GradebookError(RuntimeError):
    """The gradebook does not hold what a manual grade refers to; nothing was recorded."""


def read_manual_grades(db_url: str, keys: list[CellKey]) -> dict[CellKey, ManualGrade]:
    """The manual score and comment recorded for each cell in ``keys`` that the gradebook knows.

    Reads nbgrader's own ``Grade.manual_score`` and ``Comment.manual_comment``, so scores given
    in formgrader count too.
    """
    grades: dict[CellKey, ManualGrade] = {}
    if not keys:
        return grades
    with Gradebook(db_url, COURSE_ID) as gradebook:
        for key in keys:
            student_id, assignment, notebook, grade_id = key
            try:
                grade = gradebook.find_grade(grade_id, notebook, assignment, student_id)
            except MissingEntry:
                continue
            try:
                comment = gradebook.find_comment(grade_id, notebook, assignment, student_id)
            except MissingEntry:
                comment = None
            grades[key] = ManualGrade(
                grade.manual_score, comment.manual_comment if comment is not None else None
            )
    return grades


def record_manual_grades(db_url: str, grades: dict[CellKey, ManualGrade]) -> None:
    """Set nbgrader's manual score and comment of each cell, all in one transaction.

    Raises :class:`GradebookError`, having changed nothing, when a cell is not in the gradebook.
    """
    with warnings.catch_warnings(), Gradebook(db_url, COURSE_ID) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        missing = []
        for key, manual in grades.items():
            student_id, assignment, notebook, grade_id = key
            try:
                grade = gradebook.find_grade(grade_id, notebook, assignment, student_id)
                comment = gradebook.find_comment(grade_id, notebook, assignment, student_id)
            except MissingEntry:
                missing.append(key)
                continue
            grade.manual_score = manual.score
            grade.needs_manual_grade = manual.score is None
            comment.manual_comment = manual.comment
        if missing:
            gradebook.db.rollback()
            raise GradebookError(
                "the gradebook has no such graded cell: "
                + "; ".join(f"{s} {a}/{n} {g}" for s, a, n, g in missing[:10])
            )
        gradebook.db.commit()
