"""Per-student feedback pages: what each test found, in plain words, with no hidden test shown.

The pages are self-contained HTML (inline CSS, no scripts, no remote assets) so they open offline.
Hidden tests never appear: a graded cell's source is shown only up to its hidden-test marker, and
only the final error message of a failing cell is shown, never its traceback. A manually graded
answer says that it awaits the instructor, and once graded (grader.manual) shows the score and the
instructor's comment.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

import nbformat

from grader.course import Notebook
from grader.results import STATUSES, CellResult, Status
from grader.submissions import SubmittedNotebook

HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem .5rem;
text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;
white-space:pre-wrap}.passed{color:#0a5c0a}.failed,.error,.timeout,.kernel_crashed,
.missing_notebook,.invalid_notebook,.missing_cell{color:#9b1111;font-weight:600}
.manually_graded{color:#0a5c0a}.needs_manual_grade{color:#7a5300;font-weight:600}
"""


def write_feedback(
    results: list[CellResult],
    notebooks: list[SubmittedNotebook],
    definitions: dict[tuple[str, str], Notebook],
    autograded_dir: Path,
    feedback_dir: Path,
) -> None:
    """Write ``feedback/<student>/index.html`` and one page per submitted notebook."""
    by_notebook: dict[tuple[str, str, str], list[CellResult]] = defaultdict(list)
    for result in results:
        if result.notebook:
            by_notebook[(result.student_id, result.assignment, result.notebook)].append(result)
    students: dict[str, list[SubmittedNotebook]] = defaultdict(list)
    for submission in notebooks:
        students[submission.student_id].append(submission)
    for student_id, submissions in students.items():
        rows = []
        for submission in submissions:
            key = (student_id, submission.assignment, submission.notebook)
            cells = by_notebook[key]
            autograded = autograded_dir / student_id / submission.assignment
            page = feedback_dir / student_id / submission.assignment / f"{submission.notebook}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            sources = _public_test_sources(autograded / f"{submission.notebook}.ipynb")
            page.write_text(_notebook_page(student_id, submission, cells, sources), "utf-8")
            score = sum(r.score for r in cells)
            maximum = sum(r.max_score for r in cells)
            link = f"{submission.assignment}/{submission.notebook}.html"
            rows.append(
                f"<tr><td><a href='{html.escape(link)}'>{html.escape(submission.assignment)}/"
                f"{html.escape(submission.notebook)}</a></td><td>{score:g} / {maximum:g}</td></tr>"
            )
        body = (
            f"<h1>Feedback for {html.escape(student_id)}</h1>"
            "<table><tr><th>Notebook</th><th>Score</th></tr>" + "".join(rows) + "</table>"
        )
        (feedback_dir / student_id / "index.html").write_text(_page("Feedback", body), "utf-8")


def _notebook_page(
    student_id: str,
    submission: SubmittedNotebook,
    cells: list[CellResult],
    sources: dict[str, str],
) -> str:
    score = sum(r.score for r in cells)
    maximum = sum(r.max_score for r in cells)
    title = f"{submission.assignment}/{submission.notebook}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Student: {html.escape(student_id)}. "
        f"Score: <strong>{score:g} / {maximum:g}</strong>.</p>",
    ]
    if submission.status != "ok":
        parts.append(f"<p class='{submission.status}'>{html.escape(submission.detail)}</p>")
    awaiting = sum(1 for r in cells if r.status == Status.NEEDS_MANUAL_GRADE)
    if awaiting:
        parts.append(
            f"<p class='needs_manual_grade'>{awaiting} written answer(s) await grading by your "
            "instructor; the score above does not include them yet.</p>"
        )
    parts.append(
        "<table><tr><th>Test</th><th>Points</th><th>Result</th><th>What it found</th></tr>"
    )
    for cell in cells:
        parts.append(
            f"<tr><td>{html.escape(cell.grade_id)}</td><td>{cell.score:g} / {cell.max_score:g}</td>"
            f"<td class='{cell.status}' title='{html.escape(STATUSES.get(cell.status, ''))}'>"
            f"{html.escape(cell.status)}</td><td><pre>{html.escape(cell.message)}</pre></td></tr>"
        )
    parts.append("</table>")
    for cell in cells:
        source = sources.get(cell.grade_id)
        if source:
            parts.append(
                f"<h2>{html.escape(cell.grade_id)}</h2><p>Public part of the test:</p>"
                f"<pre>{html.escape(source)}</pre>"
            )
    return _page(f"Feedback: {title}", "".join(parts))


def _public_test_sources(path: Path) -> dict[str, str]:
    """The code of each graded cell up to its hidden-test marker (never past it)."""
    if not path.exists():
        return {}
    notebook = nbformat.read(path, as_version=4)
    sources = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            public = cell.source.split(HIDDEN_MARKER)[0].rstrip()
            if HIDDEN_MARKER in cell.source:
                public += "\n# (hidden tests run here; they are not shown)"
            sources[meta["grade_id"]] = public
    return sources


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
