"""Manual grading of written answers: review pages, a score sheet, its import into the gradebook.

``grader manual OUT`` writes, for an output folder of ``grader autograde``:

- ``OUT/manual/<assignment>/<notebook>/<grade_id>.html``: one page per manually graded cell with
  the question, the model answer and the rubric (from solutions/) beside every student's answer
  (from ``OUT/autograded/``), and ``OUT/manual/index.html``;
- ``OUT/manual/scores.csv``: one row per student × manually graded cell, with the scores and
  comments the gradebook already holds (blank until graded).

``grader manual OUT --scores SHEET`` checks a filled sheet (every problem is reported with its row;
nothing is recorded unless the whole sheet is valid), stores each score and comment in the
gradebook autograde wrote, as nbgrader's ``Grade.manual_score`` and ``Comment.manual_comment``
(what formgrader stores), and rewrites ``grades.csv``, ``results.json``, the feedback and the review
pages from it. ``grader autograde`` applies the same recorded scores when it grades again.

Students' answers are untrusted text: the pages show them HTML-escaped, never as markup, and allow
no scripts or remote content.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from grader.course import Assignment
from grader.csv_safety import csv_cell, read_csv_cell
from grader.feedback import write_feedback
from grader.gradebook import (
    CellKey,
    GradebookError,
    ManualGrade,
    read_manual_grades,
    record_manual_grades,
)
from grader.nbgrader_runner import sqlite_url
from grader.results import CellResult, Status, write_grades_csv, write_results_json
from grader.rubric import ManualCell, manual_cells
from grader.submissions import SubmittedNotebook

MANUAL_STATUSES = frozenset({Status.NEEDS_MANUAL_GRADE, Status.MANUALLY_GRADED})
AWAITING_MESSAGE = "Your written answer awaits grading by your instructor."
GRADED_MESSAGE = "Graded by your instructor."
COMMENT_PREFIX = "Instructor's comment: "
SHEET_COLUMNS = (
    "student_id",
    "assignment",
    "notebook",
    "grade_id",
    "max_score",
    "score",
    "comment",
)
# Statuses a whole notebook gets before grading (grader.submissions); its rows carry the reason.
NOTEBOOK_STATUSES = frozenset(
    {Status.MISSING_NOTEBOOK, Status.INVALID_NOTEBOOK, Status.WRONG_KERNEL}
)
MAX_ANSWER_CHARS = 20_000  # an answer longer than this is cut on the page (the notebook has it all)

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1a1a1a}table{border-collapse:collapse;
width:100%}td,th{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
.grid{display:grid;grid-template-columns:minmax(18rem,1fr) 2fr;gap:1.5rem}
.rubric{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto}
.none{color:#777;font-style:italic}
"""
# The pages hold students' text: no scripts, no remote images, fonts or frames, only inline CSS.
CSP = "default-src 'none'; style-src 'unsafe-inline'"


class ManualGradingError(Exception):
    """The sheet, the output folder or the gradebook cannot be used; nothing was recorded."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ReviewSummary:
    """What ``write_review`` wrote."""

    index: Path
    pages: list[Path]
    sheet: Path
    sheet_written: bool
    kept_because: str = ""  # why an existing sheet was left as it is
    answers: int = 0
    awaiting: int = 0


@dataclass
class ImportSummary:
    """What ``import_scores`` recorded."""

    recorded: int
    blank: int
    awaiting: int
    written: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class SheetRow:
    """One row of a score sheet; ``row`` is its spreadsheet row number (the header is row 1)."""

    row: int
    key: CellKey
    max_score: str
    score: float | None
    comment: str | None


def gradebook_url(out: Path, db_url: str | None) -> str:
    """The gradebook autograde wrote for ``out``: ``db_url``, or ``OUT/gradebook.db``."""
    if db_url:
        return db_url
    path = out / "gradebook.db"
    if not path.is_file():
        raise ManualGradingError(
            [f"{path} does not exist: run `grader autograde` first, or pass its --db URL"]
        )
    return sqlite_url(path)


def load_results(out: Path) -> list[CellResult]:
    """The rows autograde wrote to ``OUT/results.json``."""
    path = out / "results.json"
    if not path.is_file():
        raise ManualGradingError([f"{path} does not exist: run `grader autograde` first"])
    return [CellResult(**row) for row in json.loads(path.read_text(encoding="utf-8"))]


def apply_manual_grades(db_url: str, results: list[CellResult]) -> list[CellResult]:
    """``results`` with each manually graded cell's score, status and message from the gradebook.

    A cell with a recorded manual score becomes ``manually_graded`` with that score and the
    instructor's comment; one without stays ``needs_manual_grade`` with zero.
    """
    recorded = read_manual_grades(db_url, _keys(r for r in results if r.status in MANUAL_STATUSES))
    updated = []
    for result in results:
        if result.status in MANUAL_STATUSES:
            manual = recorded.get(_key(result))
            if manual is not None and manual.score is not None:
                comment = (manual.comment or "").strip()
                message = COMMENT_PREFIX + comment if comment else GRADED_MESSAGE
                result = replace(
                    result, score=manual.score, status=Status.MANUALLY_GRADED, message=message
                )
            else:
                result = replace(
                    result, score=0.0, status=Status.NEEDS_MANUAL_GRADE, message=AWAITING_MESSAGE
                )
        updated.append(result)
    return updated


def write_review(
    out: Path, assignments: list[Assignment], db_url: str, force: bool = False
) -> ReviewSummary:
    """Write the review pages and, unless it holds scores not imported yet, the score sheet.

    An existing ``scores.csv`` is rewritten only when every score and comment in it is already in
    the gradebook (or with ``force``), so that nothing an instructor typed is lost.
    """
    results = load_results(out)
    rows = [r for r in results if r.status in MANUAL_STATUSES]
    recorded = read_manual_grades(db_url, _keys(rows))
    summary = _write_pages(out, assignments, rows, recorded)
    sheet = summary.sheet
    if sheet.exists() and not force:
        summary.kept_because = _unimported(sheet, recorded)
    if not summary.kept_because:
        _write_sheet(sheet, _sheet_order(rows, assignments), recorded)
        summary.sheet_written = True
    return summary


def import_scores(
    out: Path, sheet: Path, assignments: list[Assignment], db_url: str
) -> ImportSummary:
    """Check ``sheet``, record its scores and comments in the gradebook, rewrite the outputs.

    Raises :class:`ManualGradingError` naming every faulty row, having written nothing, when the
    sheet is not entirely valid. Rows with neither score nor comment are left as they are.
    Importing the same sheet twice changes nothing the second time.
    """
    results = load_results(out)
    rows, problems = read_sheet(sheet)
    by_key = {_key(r): r for r in results if r.grade_id}
    students = {r.student_id for r in results}
    cells = {(r.assignment, r.notebook, r.grade_id) for r in results if r.grade_id}
    first_row: dict[CellKey, int] = {}
    grades: dict[CellKey, ManualGrade] = {}
    for row in rows:
        student_id, assignment, notebook, grade_id = row.key
        where = f"row {row.row} ({student_id} {assignment}/{notebook} {grade_id})"
        result = by_key.get(row.key)
        if result is None:
            if student_id not in students:
                problems.append(f"{where}: unknown student id {student_id!r}")
            elif (assignment, notebook, grade_id) not in cells:
                problems.append(f"{where}: no graded cell {assignment}/{notebook} {grade_id}")
            else:
                problems.append(f"{where}: {student_id} has no row for this cell in results.json")
            continue
        if result.status not in MANUAL_STATUSES:
            problems.append(
                f"{where}: this cell is not awaiting a manual grade (its status is {result.status})"
            )
            continue
        if row.key in first_row:
            problems.append(f"{where}: repeats row {first_row[row.key]}")
            continue
        first_row[row.key] = row.row
        if row.max_score and _number(row.max_score) != result.max_score:
            problems.append(
                f"{where}: max_score {row.max_score!r} is not the cell's {result.max_score:g} "
                "points (a sheet from another version of the course?)"
            )
        if row.score is None:
            if row.comment:
                problems.append(f"{where}: a comment needs a score (or leave both blank)")
            continue
        if not 0 <= row.score <= result.max_score:
            problems.append(f"{where}: score {row.score:g} is outside 0..{result.max_score:g}")
            continue
        grades[row.key] = ManualGrade(row.score, row.comment)
    if problems:
        raise ManualGradingError(problems)
    try:
        record_manual_grades(db_url, grades)
    except GradebookError as error:
        raise ManualGradingError([str(error)]) from error
    refreshed = apply_manual_grades(db_url, results)
    written = refresh_outputs(out, assignments, refreshed)
    rows_now = [r for r in refreshed if r.status in MANUAL_STATUSES]
    _write_pages(out, assignments, rows_now, read_manual_grades(db_url, _keys(rows_now)))
    return ImportSummary(
        recorded=len(grades),
        blank=sum(1 for row in rows if row.score is None),
        awaiting=sum(1 for r in rows_now if r.status == Status.NEEDS_MANUAL_GRADE),
        written=written,
    )


def refresh_outputs(
    out: Path, assignments: list[Assignment], results: list[CellResult]
) -> list[Path]:
    """Rewrite grades.csv, results.json and the feedback pages of ``out`` from ``results``."""
    write_grades_csv(results, out / "grades.csv")
    write_results_json(results, out / "results.json")
    by_name = {(a.name, nb.name): nb for a in assignments for nb in a.notebooks}
    write_feedback(results, _submissions(results), by_name, out / "autograded", out / "feedback")
    return [out / "grades.csv", out / "results.json", out / "feedback"]


def read_sheet(path: Path) -> tuple[list[SheetRow], list[str]]:
    """The rows of a score sheet, and the problems found reading it (each naming its row).

    Rows are numbered as a spreadsheet shows them: the header is row 1, a blank line is a row,
    and a comment spanning lines (quoted) stays one row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may save a byte-order mark
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"cannot read the score sheet {path}: {error}"]
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return [], [f"{path} is not a CSV file ({error})"]
    header = [name.strip() for name in records[0]] if records else []
    missing = [c for c in SHEET_COLUMNS if c not in header]
    if missing:
        return [], [
            f"{path}: the header lacks {', '.join(missing)} (expected {','.join(SHEET_COLUMNS)})"
        ]
    rows: list[SheetRow] = []
    problems: list[str] = []
    for number, record in enumerate(records[1:], start=2):
        if not any(value.strip() for value in record):
            continue  # a blank row
        if len(record) > len(header):
            problems.append(
                f"row {number}: has more cells than the header (a comma in a comment that is not "
                "in quotes?)"
            )
            continue
        record += [""] * (len(header) - len(record))  # empty trailing cells left out
        # read_csv_cell: a cell _write_sheet protected from spreadsheets reads back as written.
        raw = {
            name: read_csv_cell(value.strip()) for name, value in zip(header, record, strict=True)
        }
        key = (raw["student_id"], raw["assignment"], raw["notebook"], raw["grade_id"])
        where = f"row {number} ({key[0]} {key[1]}/{key[2]} {key[3]})"
        score = None
        if raw["score"]:
            score = _number(raw["score"])
            if score is None:
                problems.append(f"{where}: score {raw['score']!r} is not a number")
                continue
        rows.append(SheetRow(number, key, raw["max_score"], score, raw["comment"] or None))
    return rows, problems


def _number(text: str) -> float | None:
    """``text`` as a finite number, or None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _write_sheet(path: Path, rows: list[CellResult], recorded: dict[CellKey, ManualGrade]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHEET_COLUMNS)
        for result in rows:
            manual = recorded.get(_key(result), ManualGrade(None))
            cells = [
                *_key(result),
                f"{result.max_score:g}",
                "" if manual.score is None else f"{manual.score:g}",
                (manual.comment or "") if manual.score is not None else "",
            ]
            writer.writerow([csv_cell(cell) for cell in cells])  # no cell runs as a formula


def _unimported(sheet: Path, recorded: dict[CellKey, ManualGrade]) -> str:
    """Why rewriting ``sheet`` would lose work ('' when it would not)."""
    rows, problems = read_sheet(sheet)
    if problems:
        return "it cannot be read as a score sheet (" + problems[0] + ")"
    pending = 0
    for row in rows:
        manual = recorded.get(row.key, ManualGrade(None))
        if row.score is None and row.comment is None:
            continue
        if row.score != manual.score or (row.comment or None) != (manual.comment or None):
            pending += 1
    return f"it holds {pending} score(s) not imported yet" if pending else ""


def _write_pages(
    out: Path,
    assignments: list[Assignment],
    rows: list[CellResult],
    recorded: dict[CellKey, ManualGrade],
) -> ReviewSummary:
    folder = out / "manual"
    folder.mkdir(parents=True, exist_ok=True)
    by_cell: dict[tuple[str, str, str], list[CellResult]] = defaultdict(list)
    for result in rows:
        by_cell[(result.assignment, result.notebook, result.grade_id)].append(result)
    answers = _Answers(out / "autograded")
    pages: list[Path] = []
    index_rows = []
    for cell in manual_cells(assignments):
        cell_rows = sorted(
            by_cell.get((cell.assignment, cell.notebook, cell.grade_id), []),
            key=lambda r: r.student_id,
        )
        relative = Path(cell.assignment, cell.notebook, f"{cell.grade_id}.html")
        page = folder / relative
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            _review_page(cell, cell_rows, answers, recorded), encoding="utf-8", errors="replace"
        )
        pages.append(page)
        awaiting = sum(1 for r in cell_rows if r.status == Status.NEEDS_MANUAL_GRADE)
        index_rows.append(
            f"<tr><td><a href='{html.escape(relative.as_posix())}'>"
            f"{html.escape(f'{cell.assignment}/{cell.notebook} {cell.grade_id}')}</a></td>"
            f"<td>{cell.points:g}</td><td>{len(cell_rows)}</td>"
            f"<td>{len(cell_rows) - awaiting}</td><td>{awaiting}</td></tr>"
        )
    body = (
        "<h1>Manually graded answers</h1>"
        "<p>Read each page, fill <code>scores.csv</code> (a score from 0 to the cell's points and "
        "an optional comment the student will see), then import it with "
        "<code>python -m grader manual OUT --scores scores.csv</code>.</p>"
        "<table><tr><th>Cell</th><th>Points</th><th>Answers</th><th>Graded</th>"
        "<th>Awaiting</th></tr>" + "".join(index_rows) + "</table>"
    )
    index = folder / "index.html"
    index.write_text(_page("Manual grading", body), encoding="utf-8")
    return ReviewSummary(
        index=index,
        pages=pages,
        sheet=folder / "scores.csv",
        sheet_written=False,
        answers=len(rows),
        awaiting=sum(1 for r in rows if r.status == Status.NEEDS_MANUAL_GRADE),
    )


class _Answers:
    """Students' answers, read from the notebooks autograde kept (the release + their answers)."""

    def __init__(self, autograded: Path):
        self.autograded = autograded
        self.cache: dict[tuple[str, str, str], dict[str, str] | None] = {}

    def get(self, student_id: str, assignment: str, notebook: str, grade_id: str) -> str | None:
        key = (student_id, assignment, notebook)
        if key not in self.cache:
            path = self.autograded / student_id / assignment / f"{notebook}.ipynb"
            self.cache[key] = self._read(path)
        cells = self.cache[key]
        return None if cells is None else cells.get(grade_id)

    @staticmethod
    def _read(path: Path) -> dict[str, str] | None:
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:  # missing or unreadable: the page says so, the others still get written
            return None
        sources = {}
        for cell in notebook.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id and isinstance(cell.get("source"), str):
                sources[grade_id] = cell.source
        return sources


def _review_page(
    cell: ManualCell,
    rows: list[CellResult],
    answers: _Answers,
    recorded: dict[CellKey, ManualGrade],
) -> str:
    title = f"{cell.assignment}/{cell.notebook} {cell.grade_id}"
    awaiting = sum(1 for r in rows if r.status == Status.NEEDS_MANUAL_GRADE)
    table = []
    for result in rows:
        answer = answers.get(result.student_id, result.assignment, result.notebook, result.grade_id)
        manual = recorded.get(_key(result), ManualGrade(None))
        table.append(
            f"<tr id='{html.escape(result.student_id)}'><td>{html.escape(result.student_id)}</td>"
            f"<td>{_answer_html(answer, cell.released)}</td>"
            f"<td>{'–' if manual.score is None else f'{manual.score:g}'} / {cell.points:g}</td>"
            f"<td>{html.escape(manual.comment or '') if manual.score is not None else ''}</td></tr>"
        )
    body = (
        f"<h1>{html.escape(title)} ({cell.points:g} points)</h1>"
        f"<p><a href='../../index.html'>All cells</a>. {len(rows)} answers, {awaiting} awaiting "
        "a grade. Score them in <code>scores.csv</code>.</p><div class='grid'><div class='rubric'>"
        f"<h2>Question</h2>{_text_html(cell.question)}"
        f"<h2>Model answer</h2>{_text_html(cell.model_answer)}"
        f"<h2>Rubric</h2>{_text_html(cell.rubric)}</div>"
        "<div><h2>Answers</h2><table><tr><th>Student</th><th>Answer</th><th>Score</th>"
        "<th>Comment</th></tr>" + "".join(table) + "</table></div></div>"
    )
    return _page(f"Manual grading: {title}", body)


def _answer_html(answer: str | None, released: str) -> str:
    if answer is None:
        return "<p class='none'>(not in OUT/autograded: the notebook could not be read)</p>"
    if answer.strip() == released.strip():
        return "<p class='none'>(no answer: the cell is as released)</p>"
    text = answer.strip()
    cut = ""
    if len(text) > MAX_ANSWER_CHARS:
        cut = (
            f"<p class='none'>(cut after {MAX_ANSWER_CHARS} characters of {len(text)}; the whole "
            "answer is in the notebook in OUT/autograded)</p>"
        )
        text = text[:MAX_ANSWER_CHARS]
    return f"<pre>{html.escape(text)}</pre>{cut}"


def _text_html(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>" if text.strip() else "<p class='none'>(none)</p>"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _sheet_order(rows: list[CellResult], assignments: list[Assignment]) -> list[CellResult]:
    """One question at a time: rows by assignment, notebook, cell position, then student."""
    position = {
        (a.name, nb.name, cell.grade_id): index
        for a in assignments
        for nb in a.notebooks
        for index, cell in enumerate(nb.graded_cells)
    }
    return sorted(
        rows,
        key=lambda r: (
            r.assignment,
            r.notebook,
            position.get((r.assignment, r.notebook, r.grade_id), -1),
            r.grade_id,
            r.student_id,
        ),
    )


def _submissions(results: list[CellResult]) -> list[SubmittedNotebook]:
    """The submitted notebooks behind ``results``, as feedback needs them, in results order."""
    seen: dict[tuple[str, str, str], SubmittedNotebook] = {}
    for result in results:
        key = (result.student_id, result.assignment, result.notebook)
        if result.notebook and key not in seen:
            whole = result.status in NOTEBOOK_STATUSES
            seen[key] = SubmittedNotebook(
                *key, Path(), result.status if whole else "ok", result.message if whole else ""
            )
    return list(seen.values())


def _key(result: CellResult) -> CellKey:
    return (result.student_id, result.assignment, result.notebook, result.grade_id)


def _keys(results: Iterable[CellResult]) -> list[CellKey]:
    return [_key(r) for r in results]
