"""``grader check`` passes on the real course and fails, with a clear message, when it should."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.check import check, release_problems, source_problems
from grader.course import load_course
from grader.release import release
from tests.conftest import REPO, grader_env, run_grader
from tests.support.tiny_course import QUESTION, WRITTEN_ANSWER, write_tiny_course


@pytest.mark.slow
def test_real_course_is_consistent():
    done = run_grader("check", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "course is consistent" in done.stdout


@pytest.mark.slow
def test_check_catches_stale_release_and_a_wrong_solution(tmp_path):
    # (The passing case is test_real_course_is_consistent.) A solution that loses points and a
    # hand-edited released notebook are both reported.
    write_tiny_course(tmp_path)
    release(tmp_path / "exercises", tmp_path / "solutions")
    write_tiny_course(tmp_path, body="return a - b")
    released = tmp_path / "exercises" / "tiny" / "add.ipynb"
    released.write_text(released.read_text().replace("Add two numbers", "Add 2 numbers"))
    report = check(tmp_path / "solutions", tmp_path / "exercises")
    text = "\n".join(report.problems)
    assert "solution notebook loses points in tiny/add test_add" in text
    assert "exercises/ is out of date" in text and "differs" in text


def test_source_rules(tmp_path):
    path = write_tiny_course(tmp_path)
    assert source_problems(path) == []
    notebook = json.loads(path.read_text())
    notebook["cells"][3]["metadata"]["nbgrader"]["points"] = 0
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    path.write_text(json.dumps(notebook))
    problems = "\n".join(source_problems(path))
    assert "graded but has no points" in problems
    assert "stores outputs" in problems


@pytest.mark.slow
def test_release_leaks_no_solution_or_hidden_test(tmp_path):
    write_tiny_course(tmp_path)
    (tmp_path / "exercises" / "gone").mkdir(parents=True)
    release(tmp_path / "exercises", tmp_path / "solutions")
    text = (tmp_path / "exercises" / "tiny" / "add.ipynb").read_text()
    assert "raise NotImplementedError()" in text
    assert "return a + b" not in text and "HIDDEN" not in text and "20, 22" not in text
    assert not (tmp_path / "exercises" / "gone").exists(), "release keeps a stale folder"
    shutil.rmtree(tmp_path / "exercises")


@pytest.mark.slow
def test_plain_nbgrader_from_the_root_uses_the_course_layout(tmp_path):
    """`nbgrader generate_assignment` with the root's config releases into exercises/."""
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    shutil.copytree(REPO / "solutions", tmp_path / "solutions")
    done = subprocess.run(
        [Path(sys.executable).parent / "nbgrader", "generate_assignment", "ex1_rnn", "--force"],
        cwd=tmp_path,
        env=grader_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for released in (REPO / "exercises" / "ex1_rnn").glob("*.ipynb"):
        produced = tmp_path / "exercises" / "ex1_rnn" / released.name
        assert produced.read_bytes() == released.read_bytes(), released.name
    assert (tmp_path / "gradebook.db").exists()


@pytest.mark.parametrize(
    ("written", "points", "problem"),
    [
        (WRITTEN_ANSWER, 2, None),
        ("Addition is commutative.", 2, "has no rubric: add a line 'Rubric (2 points)'"),
        (WRITTEN_ANSWER, 3, "has a rubric of 2 points but the cell is worth 3"),
        (
            WRITTEN_ANSWER.replace("(1 point) relates", "(2 points) relates"),
            2,
            "has rubric items worth 3 points in all, not the 2 of its header",
        ),
        (WRITTEN_ANSWER.split("\n\n")[1], 2, "has no model answer before its rubric"),
        ("   ", 2, "its solution region is empty"),
    ],
)
def test_manually_graded_answers_need_a_model_answer_and_a_rubric(
    tmp_path, written, points, problem
):
    path = write_tiny_course(tmp_path, written=written, written_points=points)
    problems = source_problems(path)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and "(why_commutative)" in problems[0], problems
        assert problem in problems[0], problems


@pytest.mark.slow
def test_check_accepts_written_answers_and_catches_a_leaked_rubric(tmp_path):
    """The solution's written answer awaits the instructor (not a lost point); the release scores
    zero and holds neither the model answer nor the rubric."""
    write_tiny_course(tmp_path, written=WRITTEN_ANSWER)
    release(tmp_path / "exercises", tmp_path / "solutions")
    report = check(tmp_path / "solutions", tmp_path / "exercises")
    assert report.problems == []
    assert "tiny/add: 2 graded cells, 4 points" in report.lines
    assert (
        "tiny/add: 1 of them graded by the instructor (2 points; `grader manual`)" in report.lines
    )

    pristine = tmp_path / "release"
    shutil.copytree(tmp_path / "exercises", pristine)
    released = tmp_path / "exercises" / "tiny" / "add.ipynb"
    notebook = json.loads(released.read_text())
    question = next(
        c for c in notebook["cells"] if c["metadata"]["nbgrader"]["grade_id"] == "question"
    )
    original = "".join(question["source"])
    model, rubric = WRITTEN_ANSWER.split("\n\n")
    for leak in (model, rubric.splitlines()[0], rubric.splitlines()[-1]):  # whole lines, pasted
        question["source"] = original + "\n" + leak
        released.write_text(json.dumps(notebook))
        problems = release_problems(
            load_course(tmp_path / "solutions"), pristine, tmp_path / "exercises"
        )
        leaks = [p for p in problems if "leaks the model answer or rubric of why_commutative" in p]
        assert len(leaks) == 1 and leak.strip() in leaks[0], problems
    # A line the instructions of the source notebook show as well is not a secret.
    path = write_tiny_course(tmp_path, written=f"{QUESTION}\n{WRITTEN_ANSWER}")
    assert source_problems(path) == []
    question["source"] = original
    released.write_text(json.dumps(notebook))
    assert release_problems(load_course(tmp_path / "solutions"), pristine, pristine) == []
