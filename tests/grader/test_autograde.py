"""``python -m grader autograde`` on a small class: correct, blank, wrong, corrupt, crash, loop.

Everything runs for real: the CLI, nbgrader, kernels, the gradebook. The class is built from the
course's own first assignment, so the test follows the course as it grows.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader.course import load_course
from grader.paths import COURSE_ID
from grader.results import CSV_COLUMNS, STATUSES
from tests.conftest import read_csv, run_grader
from tests.support.factory import (
    EXERCISES,
    SOLUTIONS,
    all_mistakes,
    hidden_test_lines,
    student_solution,
    with_code_in,
    with_mistake,
    write,
)

pytestmark = pytest.mark.slow

ASSIGNMENT = "ex1_rnn"
CELL_TIMEOUT = 8


def _solution_cells(notebook: str) -> list[tuple[str, str, str]]:
    """(grade_id, defined function, grade_id of the next graded cell) of each solution cell
    that defines a function, in notebook order."""
    nb = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    cells: list[tuple[str, str, str]] = []
    pending: tuple[str, str] | None = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        match = re.search(r"^def (\w+)\(", cell.source, re.MULTILINE)
        if meta.get("solution") and match:
            pending = (meta["grade_id"], match.group(1))
        elif meta.get("grade") and pending:
            cells.append((*pending, meta["grade_id"]))
            pending = None
    return cells


def _build_class(root: Path) -> dict[str, str]:
    """Write the class under ``root``; return what each student stands for."""
    course = {a.name: a for a in load_course()}[ASSIGNMENT]
    first, second = (nb.name for nb in course.notebooks)
    mistake = next(m for m in all_mistakes() if m.assignment == ASSIGNMENT)
    last_cell, last_function, loop_test = _solution_cells(first)[-1]

    def put(student: str, notebook: str, nb) -> None:
        write(nb, root / student / ASSIGNMENT / f"{notebook}.ipynb")

    (root / "bob").mkdir(parents=True)
    shutil.copytree(EXERCISES / ASSIGNMENT, root / "bob" / ASSIGNMENT)  # released, untouched
    for notebook in (first, second):
        put("alice", notebook, student_solution(ASSIGNMENT, notebook))
    # carol: one catalogued mistake, the other notebook correct
    put("carol", mistake.notebook_name, with_mistake(mistake))
    other = second if mistake.notebook_name == first else first
    put("carol", other, student_solution(ASSIGNMENT, other))
    # dave: a truncated (corrupt) first notebook, no second notebook
    (root / "dave" / ASSIGNMENT).mkdir(parents=True)
    text = (SOLUTIONS / ASSIGNMENT / f"{first}.ipynb").read_text()
    (root / "dave" / ASSIGNMENT / f"{first}.ipynb").write_text(text[: len(text) // 2])
    # erin: an endless loop in the first notebook's last function; the kernel exits in the second
    loop = f"def {last_function}(*args, **kwargs):\n    while True:\n        pass\n"
    put("erin", first, with_code_in(ASSIGNMENT, first, last_cell, loop))
    second_cell = _solution_cells(second)[0][0]
    put("erin", second, with_code_in(ASSIGNMENT, second, second_cell, "exit()"))
    # frank: a folder for an assignment that does not exist; "bad id!" cannot be a student id
    put("frank", "whatever", student_solution(ASSIGNMENT, first))
    shutil.move(str(root / "frank" / ASSIGNMENT), str(root / "frank" / "no_such_assignment"))
    (root / "bad id!" / ASSIGNMENT).mkdir(parents=True)
    return {"mistake": mistake.id, "first": first, "second": second, "loop_test": loop_test}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    info = _build_class(root / "submitted")
    done = run_grader(
        "autograde",
        str(root / "submitted"),
        "--out",
        str(root / "out"),
        "--jobs",
        "2",
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--notebook-timeout",
        "300",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_csv(root / "out" / "grades.csv")
    return root, info, rows, done


def _rows(rows, student, notebook=None):
    return [r for r in rows if r["student_id"] == student and notebook in (None, r["notebook"])]


def test_grades_csv_has_the_stable_columns_and_known_statuses(graded):
    root, _, rows, _ = graded
    header = (root / "out" / "grades.csv").read_text().splitlines()[0]
    assert header == ",".join(CSV_COLUMNS)
    assert {r["status"] for r in rows} <= set(STATUSES)


def test_correct_submission_gets_full_marks_and_blank_gets_zero(graded):
    _, _, rows, _ = graded
    course = {a.name: a for a in load_course()}[ASSIGNMENT]
    expected_cells = sum(len(nb.graded_cells) for nb in course.notebooks)
    alice, bob = _rows(rows, "alice"), _rows(rows, "bob")
    assert len(alice) == len(bob) == expected_cells
    assert all(r["status"] == "passed" and r["score"] == r["max_score"] for r in alice)
    assert all(float(r["score"]) == 0 for r in bob)
    assert all(r["status"] in {"failed", "error"} for r in bob)


def test_a_mistake_costs_points_only_where_it_is(graded):
    _, info, rows, _ = graded
    mistake = next(m for m in all_mistakes() if m.id == info["mistake"])
    carol = {r["grade_id"]: r for r in _rows(rows, "carol", mistake.notebook_name)}
    for grade_id in mistake.loses:
        assert float(carol[grade_id]["score"]) < float(carol[grade_id]["max_score"])
    other = info["second"] if mistake.notebook_name == info["first"] else info["first"]
    assert all(r["status"] == "passed" for r in _rows(rows, "carol", other))


def test_broken_submissions_get_a_status_and_zero(graded):
    _, info, rows, _ = graded
    dave_first = _rows(rows, "dave", info["first"])
    assert dave_first and all(r["status"] == "invalid_notebook" for r in dave_first)
    dave_second = _rows(rows, "dave", info["second"])
    assert dave_second and all(r["status"] == "missing_notebook" for r in dave_second)
    assert all(float(r["score"]) == 0 for r in dave_first + dave_second)

    erin_loop = {r["grade_id"]: r for r in _rows(rows, "erin", info["first"])}
    assert erin_loop[info["loop_test"]]["status"] == "timeout"
    assert float(erin_loop[info["loop_test"]]["score"]) == 0
    # The cells before the loop were graded normally.
    assert any(r["status"] == "passed" for r in erin_loop.values())
    erin_crash = _rows(rows, "erin", info["second"])
    assert erin_crash and all(r["status"] == "kernel_crashed" for r in erin_crash)
    assert all(float(r["score"]) == 0 for r in erin_crash)

    assert [r["status"] for r in _rows(rows, "frank")] == ["unknown_assignment"]
    assert [r["status"] for r in _rows(rows, "bad id!")] == ["invalid_student_id"]


def test_feedback_explains_and_hides_the_hidden_tests(graded):
    root, info, _, _ = graded
    feedback = root / "out" / "feedback"
    for student in ("alice", "bob", "carol", "dave", "erin"):
        assert (feedback / student / "index.html").exists()
    carol = (feedback / "carol" / ASSIGNMENT / f"{info['first']}.html").read_text()
    carol += (feedback / "carol" / ASSIGNMENT / f"{info['second']}.html").read_text()
    mistake = next(m for m in all_mistakes() if m.id == info["mistake"])
    assert all(word.lower() in carol.lower() for word in mistake.says)
    bob = (feedback / "bob" / ASSIGNMENT / f"{info['first']}.html").read_text()
    assert "not implemented yet" in bob
    secret = hidden_test_lines()
    assert secret, "the course should have hidden tests"
    for page in feedback.rglob("*.html"):
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "Traceback" not in text
        leaked = [line for line in secret if line in text or _escaped(line) in text]
        assert not leaked, f"{page} shows hidden test code: {leaked[:3]}"


def _escaped(line: str) -> str:
    return html.escape(line)


def test_gradebook_holds_the_same_scores(graded):
    root, _, rows, _ = graded
    with Gradebook(f"sqlite:///{root / 'out' / 'gradebook.db'}", COURSE_ID) as gradebook:
        for student in ("alice", "bob", "carol"):
            submission = gradebook.find_submission(ASSIGNMENT, student)
            expected = sum(float(r["score"]) for r in _rows(rows, student))
            assert submission.score == pytest.approx(expected)
        assert gradebook.find_submission(ASSIGNMENT, "alice").score == pytest.approx(
            sum(float(r["max_score"]) for r in _rows(rows, "alice"))
        )


def test_same_submissions_same_grades_with_one_job(graded, tmp_path):
    """Grades do not depend on parallelism, on who else is in the batch, or on warm kernels."""
    root, _, rows, _ = graded
    for student in ("alice", "carol"):
        shutil.copytree(root / "submitted" / student, tmp_path / "submitted" / student)
    done = run_grader(
        "autograde",
        str(tmp_path / "submitted"),
        "--out",
        str(tmp_path / "out"),
        "--jobs",
        "1",
        "--cold-kernels",  # the batch above forked its kernels from warm sandboxes
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    again = read_csv(tmp_path / "out" / "grades.csv")
    assert again == [r for r in rows if r["student_id"] in ("alice", "carol")]
    messages = json.loads((tmp_path / "out" / "results.json").read_text())
    assert all(m["status"] == "passed" for m in messages if m["student_id"] == "alice")


def test_usage_errors_exit_non_zero(tmp_path):
    done = run_grader("autograde", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "is not a folder" in done.stderr
