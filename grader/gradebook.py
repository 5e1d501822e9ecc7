"""Reading scores from nbgrader gradebooks and recording results in the instructors' gradebook.

Only the grader process calls these: per-notebook gradebooks are read after nbgrader has finished,
and the instructors' gradebook (SQLite by default, any SQLAlchemy URL for larger setups) is written
once, at the end of a batch.
"""

from __future__ import annotations

import warnings

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from grader.paths import COURSE_ID
from grader.results import CellResult
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
            if result.status == "needs_manual_grade":
                continue
            grade = gradebook.find_grade(
                result.grade_id, result.notebook, result.assignment, result.student_id
            )
            grade.auto_score = result.score
            grade.needs_manual_grade = False
        gradebook.db.commit()
