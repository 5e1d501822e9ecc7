"""Manually graded written answers, end to end, with the real grader, nbgrader and gradebook.

A tiny course with one autograded test and one written answer (``why_commutative``, 2 points) is
released and autograded for four students; then ``grader manual`` writes the review pages and the
score sheet, a filled sheet is imported (bad sheets are refused with nothing written), and a new
autograde run keeps the instructor's scores. The module-scoped fixtures build on one another
(graded → reviewed → imported → regraded); each test checks one stage.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import html
import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from grader.course import load_course
from grader.integrity import rebuild
from grader.manual import (
    AWAITING_MESSAGE,
    SHEET_COLUMNS,
    ManualGradingError,
    import_scores,
    read_sheet,
)
from grader.nbgrader_runner import sqlite_url
from grader.paths import COURSE_ID
from grader.release import release
from grader.results import STATUSES
from grader.rubric import released_source
from grader.tamper import scan_cells
from tests.conftest import read_csv, run_grader
from tests.support.tiny_course import WRITTEN_ANSWER, write_tiny_course

CELL = "why_commutative"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
HOSTILE = (
    '<script>alert("pwned")</script>\n'
    "</pre></td></tr></table><img src=x onerror=alert(1)>\n"
    "```python\nimport os\nos.system('rm -rf /')\n```\n"
    "### BEGIN SOLUTION\nRubric (2 points): give me full marks\n### END SOLUTION\n"
    "Très bien ✓ — 交换律"
)
# The kernel exits before the tests run: exit() stops its event loop 0.1 s later, and the cell
# sleeps past that, so the stop is due before the next cell can arrive (the scan refuses the
# raw-memory tricks that would crash it at once).
CRASH = "\nimport time\nexit()\ntime.sleep(1)"
ANSWERS = {
    "alice": "Addition is commutative: a + b = b + a, so swapping the arguments changes nothing.",
    "carol": HOSTILE,
    "dave": "Swapping the two numbers does not change their sum.",
    # Text UTF-8 cannot hold (a lone surrogate, which JSON allows) and a NUL character.
    "erin": "Commutativity \ud800 of \x00 addition.",
}
# The filled sheet: (score, comment) per student; dave's row stays blank (graded later).
SCORES = {
    "alice": ("2", "Clear and complete."),
    "bob": ("0", "No answer."),
    "carol": ("1.5", "Say <why> it is commutative, & relate it to add."),
}


def _student(
    release_nb: nbformat.NotebookNode, code: str | None, answer: str | None, after: str = ""
) -> nbformat.NotebookNode:
    """The release with ``code`` as the body of ``add`` (``after`` it, at top level) and
    ``answer`` as the written answer (``None``: as released)."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "add" and code is not None:
            assert STUB in cell.source
            cell.source = cell.source.replace(STUB, f"    {code}") + after
        if grade_id == CELL and answer is not None:
            cell.source = answer
    return nb


def _db(out: Path) -> str:
    return sqlite_url(out / "gradebook.db")


def _manual_grades(out: Path) -> dict[str, tuple[float | None, str | None, bool]]:
    """Each student's (manual_score, manual_comment, needs_manual_grade) of the written answer."""
    found = {}
    with Gradebook(_db(out), COURSE_ID) as gradebook:
        for student in gradebook.students:
            try:
                grade = gradebook.find_grade(CELL, "add", "tiny", student.id)
                comment = gradebook.find_comment(CELL, "add", "tiny", student.id)
            except MissingEntry:
                continue
            found[student.id] = (
                grade.manual_score,
                comment.manual_comment,
                grade.needs_manual_grade,
            )
    return found


def _snapshot(out: Path) -> dict[str, str]:
    """A digest of every output file and of the gradebook's manual grades."""
    files = {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.suffix in {".csv", ".json", ".html"}
    }
    return {**files, "gradebook": repr(sorted(_manual_grades(out).items()))}


def _rows(out: Path, grade_id: str = CELL) -> dict[str, dict[str, str]]:
    return {r["student_id"]: r for r in read_csv(out / "grades.csv") if r["grade_id"] == grade_id}


def _write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _autograde(root: Path) -> None:
    done = run_grader(
        "autograde",
        str(root / "submitted"),
        "--out",
        str(root / "out"),
        "--solutions",
        str(root / "solutions"),
        "--jobs",
        "2",
        "--quiet",
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Five students autograded: alice right, bob the untouched release, carol a hostile answer,
    dave a written answer in a notebook whose kernel dies, erin an answer that is not Unicode."""
    root = tmp_path_factory.mktemp("manual")
    write_tiny_course(root, written=WRITTEN_ANSWER)
    release(root / "exercises", root / "solutions")
    release_nb = nbformat.read(root / "exercises" / "tiny" / "add.ipynb", as_version=4)
    students = {
        "alice": _student(release_nb, "return a + b", ANSWERS["alice"]),
        "bob": _student(release_nb, None, None),
        "carol": _student(release_nb, "return b + a", ANSWERS["carol"]),
        "dave": _student(release_nb, "return a + b", ANSWERS["dave"], after=CRASH),
        "erin": _student(release_nb, "return a + b", ANSWERS["erin"]),
    }
    for student, nb in students.items():
        path = root / "submitted" / student / "tiny" / "add.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb), encoding="ascii")  # JSON escapes, as any editor may write
    _autograde(root)
    return root, root / "out"


@pytest.fixture(scope="module")
def reviewed(graded):
    root, out = graded
    done = run_grader("manual", str(out), "--solutions", str(root / "solutions"))
    assert done.returncode == 0, done.stdout + done.stderr
    return root, out, done


@pytest.fixture(scope="module")
def imported(reviewed):
    root, out, _ = reviewed
    sheet = out / "manual" / "scores.csv"
    rows = read_csv(sheet)
    for row in rows:
        row["score"], row["comment"] = SCORES.get(row["student_id"], ("", ""))
    _write_sheet(sheet, rows)
    done = run_grader(
        "manual",
        str(out),
        "--scores",
        str(sheet),
        "--db",  # the default, given explicitly: any gradebook URL autograde wrote works
        _db(out),
        "--solutions",
        str(root / "solutions"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root, out, done


@pytest.fixture(scope="module")
def regraded(imported):
    root, out, _ = imported
    before = read_csv(out / "grades.csv")
    _autograde(root)
    return root, out, before


@pytest.mark.slow
def test_written_answers_await_the_instructor(graded):
    _, out = graded
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    for row in rows.values():
        assert (row["status"], row["score"], row["max_score"]) == ("needs_manual_grade", "0", "2")
    tests = _rows(out, "test_add")
    assert {s: r["status"] for s, r in tests.items() if s != "bob"} == {
        "alice": "passed",
        "carol": "passed",  # a hostile written answer is text: never run, never "tampered"
        "dave": "kernel_crashed",
        "erin": "passed",
    }
    assert tests["bob"]["status"] in {"failed", "error"}
    messages = json.loads((out / "results.json").read_text())
    assert {m["message"] for m in messages if m["grade_id"] == CELL} == {AWAITING_MESSAGE}
    page = (out / "feedback" / "alice" / "tiny" / "add.html").read_text()
    assert "awaits grading by your instructor" in page
    assert "needs_manual_grade" in STATUSES and "manually_graded" in STATUSES
    assert all(g == (None, None, True) for g in _manual_grades(out).values())
    assert len(_manual_grades(out)) == 5


@pytest.mark.slow
def test_review_page_shows_rubric_and_escaped_answers(reviewed):
    _, out, done = reviewed
    assert "1 review page(s)" in done.stdout and "5 answers, 5 awaiting" in done.stdout
    page = (out / "manual" / "tiny" / "add" / f"{CELL}.html").read_text()
    index = (out / "manual" / "index.html").read_text()
    assert f"tiny/add/{CELL}.html" in index
    assert html.escape("Why does `add(a, b)` return the same value") in page  # the question
    assert "Addition of numbers is commutative" in page  # the model answer
    assert "Rubric (2 points)" in page and "(1 point) says that addition is commutative" in page
    assert "YOUR ANSWER HERE" not in page.split("<h2>Answers</h2>")[0]
    for student in ("alice", "dave"):  # dave's kernel died; his answer is still there to grade
        assert html.escape(ANSWERS[student]) in page
    assert "Commutativity ? of \x00 addition." in page  # erin's, made valid Unicode
    assert "no answer: the cell is as released" in page.split("id='bob'")[1].split("</tr>")[0]
    # carol's answer is text on the page, never markup
    assert html.escape(HOSTILE) in page
    lowered = page.lower()
    assert "<script" not in lowered and "<img" not in lowered and "onerror=alert" in lowered
    assert "content-security-policy" in lowered and "default-src 'none'" in lowered
    sheet = out / "manual" / "scores.csv"
    assert sheet.read_text().splitlines()[0] == ",".join(SHEET_COLUMNS)
    assert [
        (r["student_id"], r["grade_id"], r["max_score"], r["score"]) for r in read_csv(sheet)
    ] == [(student, CELL, "2", "") for student in ("alice", "bob", "carol", "dave", "erin")]


def _bad_sheets(out: Path) -> dict[str, tuple[list[dict[str, str]], list[str]]]:
    """Sheets that must be refused, with the words each error must contain."""
    base = {r["student_id"]: r for r in read_csv(out / "manual" / "scores.csv")}

    def row(student: str, **changes: str) -> dict[str, str]:
        return {**base[student], "score": "1", "comment": "", **changes}

    return {
        "unknown ids": (
            [
                row("alice"),  # valid: must not be recorded either
                row("alice", student_id="zed"),
                row("bob", grade_id="why_not"),
                row("bob", grade_id="test_add"),
            ],
            [
                "row 3 (zed tiny/add why_commutative): unknown student id 'zed'",
                "row 4 (bob tiny/add why_not): no graded cell tiny/add why_not",
                "row 5 (bob tiny/add test_add): this cell is not awaiting a manual grade",
            ],
        ),
        "bad scores": (
            [
                row("alice", score="3"),
                row("bob", score="-1"),
                row("carol", score="two"),
                row("dave", score="nan"),
            ],
            [
                "row 2 (alice tiny/add why_commutative): score 3 is outside 0..2",
                "row 3 (bob tiny/add why_commutative): score -1 is outside 0..2",
                "row 4 (carol tiny/add why_commutative): score 'two' is not a number",
                "row 5 (dave tiny/add why_commutative): score 'nan' is not a number",
            ],
        ),
        "repeats and stale sheet": (
            [
                row("alice"),
                row("alice", score="2"),
                row("bob", max_score="5"),
                row("carol", score="", comment="Good, but no score"),
            ],
            [
                "row 3 (alice tiny/add why_commutative): repeats row 2",
                "row 4 (bob tiny/add why_commutative): max_score '5' is not the cell's 2 points",
                "row 5 (carol tiny/add why_commutative): a comment needs a score",
            ],
        ),
    }


@pytest.mark.slow
def test_bad_sheets_are_refused_with_nothing_written(reviewed, tmp_path):
    root, out, _ = reviewed
    assignments = load_course(root / "solutions")
    for name, (rows, errors) in _bad_sheets(out).items():
        sheet = _write_sheet(tmp_path / f"{name}.csv", rows)
        before = _snapshot(out)
        with pytest.raises(ManualGradingError) as refused:
            import_scores(out, sheet, assignments, _db(out))
        for error in errors:
            assert any(problem.startswith(error) for problem in refused.value.problems), (
                name,
                error,
                refused.value.problems,
            )
        assert len(refused.value.problems) == len(errors), refused.value.problems
        assert _snapshot(out) == before, f"{name}: something was written"
    # Through the command line: a sheet without a score column, exit 1, every problem named.
    sheet = tmp_path / "no_score.csv"
    sheet.write_text("student_id,assignment,notebook,grade_id,max_score,comment\n")
    before = _snapshot(out)
    done = run_grader(
        "manual", str(out), "--scores", str(sheet), "--solutions", str(root / "solutions")
    )
    assert done.returncode == 1 and "the header lacks score" in done.stderr, done.stderr
    assert "nothing was recorded" in done.stderr
    # No gradebook where autograde would have written it.
    done = run_grader("manual", str(tmp_path), "--solutions", str(root / "solutions"))
    assert done.returncode == 1 and "gradebook.db does not exist" in done.stderr, done.stderr
    assert _snapshot(out) == before


@pytest.mark.slow
def test_import_records_scores_in_the_gradebook_and_refreshes_grades(imported):
    root, out, done = imported
    assert "recorded 3 manual score(s) (2 blank row(s)" in done.stdout, done.stdout
    assert _manual_grades(out) == {
        "alice": (2.0, "Clear and complete.", False),
        "bob": (0.0, "No answer.", False),
        "carol": (1.5, "Say <why> it is commutative, & relate it to add.", False),
        "dave": (None, None, True),
        "erin": (None, None, True),
    }
    rows = _rows(out)
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        "alice": ("2", "manually_graded"),
        "bob": ("0", "manually_graded"),
        "carol": ("1.5", "manually_graded"),
        "dave": ("0", "needs_manual_grade"),
        "erin": ("0", "needs_manual_grade"),
    }
    all_rows = read_csv(out / "grades.csv")
    with Gradebook(_db(out), COURSE_ID) as gradebook:  # nbgrader's totals agree with grades.csv
        for student in ANSWERS.keys() | {"bob"}:
            total = sum(float(r["score"]) for r in all_rows if r["student_id"] == student)
            assert gradebook.find_submission("tiny", student).score == pytest.approx(total)
    assert sum(float(r["score"]) for r in all_rows if r["student_id"] == "alice") == 4
    carol = (out / "feedback" / "carol" / "tiny" / "add.html").read_text()
    assert "1.5 / 2" in carol and "manually_graded" in carol
    assert html.escape("Instructor's comment: Say <why> it is commutative, & relate") in carol
    assert "<why>" not in carol
    assert "Score: <strong>3.5 / 4</strong>" in carol
    assert "awaits grading" in (out / "feedback" / "dave" / "tiny" / "add.html").read_text()
    page = (out / "manual" / "tiny" / "add" / f"{CELL}.html").read_text()
    assert "<td>1.5 / 2</td>" in page.split("id='carol'")[1]

    # Importing the same sheet again changes nothing.
    before = _snapshot(out)
    sheet = out / "manual" / "scores.csv"
    again = run_grader(
        "manual", str(out), "--scores", str(sheet), "--solutions", str(root / "solutions")
    )
    assert again.returncode == 0, again.stderr
    assert _snapshot(out) == before

    # Writing the sheet again keeps what was recorded, and never drops scores not imported yet.
    done = run_grader("manual", str(out), "--solutions", str(root / "solutions"))
    assert done.returncode == 0 and "wrote" in done.stdout, done.stderr
    assert {r["student_id"]: r["score"] for r in read_csv(sheet)} == {
        "alice": "2",
        "bob": "0",
        "carol": "1.5",
        "dave": "",
        "erin": "",
    }
    rows = read_csv(sheet)
    next(r for r in rows if r["student_id"] == "dave")["score"] = "1"  # typed, not imported
    _write_sheet(sheet, rows)
    done = run_grader("manual", str(out), "--solutions", str(root / "solutions"))
    assert done.returncode == 0 and "1 score(s) not imported yet" in done.stderr, done.stderr
    assert [r["score"] for r in read_csv(sheet) if r["student_id"] == "dave"] == ["1"]


@pytest.mark.slow
def test_autograding_again_keeps_the_manual_scores(regraded):
    _, out, before = regraded
    assert read_csv(out / "grades.csv") == before
    assert _manual_grades(out)["carol"] == (
        1.5,
        "Say <why> it is commutative, & relate it to add.",
        False,
    )
    assert "1.5 / 2" in (out / "feedback" / "carol" / "tiny" / "add.html").read_text()


def test_written_answers_survive_integrity_and_are_never_scanned_as_code(tmp_path):
    """grader.integrity carries markdown answers over; they are text, not code to scan or run."""
    solution = nbformat.read(write_tiny_course(tmp_path, written=WRITTEN_ANSWER), as_version=4)
    release_nb = copy.deepcopy(solution)
    for cell in release_nb.cells:
        if cell.metadata["nbgrader"].get("solution"):
            cell.source = released_source(cell.source, cell.cell_type)[0]
    answer = next(c for c in release_nb.cells if c.metadata["nbgrader"]["grade_id"] == CELL)
    assert answer.source == "YOUR ANSWER HERE"

    submitted = _student(release_nb, "return a + b", HOSTILE)
    theirs = next(c for c in submitted.cells if c.metadata["nbgrader"]["grade_id"] == CELL)
    theirs.metadata["nbgrader"]["points"] = 100  # edited metadata changes nothing
    rebuilt = rebuild(submitted, release_nb)
    cell = next(c for c in rebuilt.notebook.cells if c.metadata["nbgrader"]["grade_id"] == CELL)
    assert cell.cell_type == "markdown" and cell.source == HOSTILE
    assert cell.metadata == answer.metadata and rebuilt.missing_answers == []
    assert all(c.cell_type == "code" for c in rebuilt.student_cells)
    assert scan_cells(rebuilt.student_cells) == []  # "import os" in a markdown answer is text

    # Text that UTF-8 cannot hold would stop nbgrader from writing the notebook: it is replaced.
    theirs.source = ANSWERS["erin"]
    with pytest.raises(UnicodeEncodeError):
        nbformat.writes(submitted).encode("utf-8")
    rebuilt = rebuild(submitted, release_nb)
    nbformat.writes(rebuilt.notebook).encode("utf-8")
    cell = next(c for c in rebuilt.notebook.cells if c.metadata["nbgrader"]["grade_id"] == CELL)
    assert cell.source == "Commutativity ? of \x00 addition."

    # An answer turned into a code cell is not run: the release's empty answer stays.
    theirs.cell_type = "code"
    theirs.outputs, theirs.execution_count = [], None
    theirs.source = "import os\nos.system('true')"
    rebuilt = rebuild(copy.deepcopy(submitted), release_nb)
    cell = next(c for c in rebuilt.notebook.cells if c.metadata["nbgrader"]["grade_id"] == CELL)
    assert (cell.cell_type, cell.source) == ("markdown", "YOUR ANSWER HERE")
    assert rebuilt.missing_answers == [CELL]
    assert all("os.system" not in c.source for c in rebuilt.student_cells)


def test_score_sheet_reading(tmp_path):
    sheet = tmp_path / "scores.csv"
    sheet.write_text(
        "\ufeff" + ",".join(SHEET_COLUMNS) + "\n"  # a spreadsheet's byte-order mark
        'alice,tiny,add,why,2, 1.5 ,"Good,\nbut short"\n'
        "\n"
        "bob,tiny,add,why,2,,\n"
        "carol,tiny,add,why,2,inf,\n"
        "dave,tiny,add,why,2,1\n"  # the empty comment left out
        "erin,tiny,add,why,2,1,Good, but short\n",
        encoding="utf-8",
    )
    rows, problems = read_sheet(sheet)
    assert [(r.row, r.key[0], r.score, r.comment) for r in rows] == [
        (2, "alice", 1.5, "Good,\nbut short"),
        (4, "bob", None, None),
        (6, "dave", 1.0, None),
    ]
    assert problems == [
        "row 5 (carol tiny/add why): score 'inf' is not a number",
        "row 7: has more cells than the header (a comma in a comment that is not in quotes?)",
    ]
    assert read_sheet(tmp_path / "absent.csv")[1][0].startswith("cannot read the score sheet")
