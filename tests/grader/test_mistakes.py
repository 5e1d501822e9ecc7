"""Each catalogued mistake loses points and is named in its feedback; each graded cell catches one.

The mistakes are graded in one batch by the real grader (real nbgrader, real kernels), each as a
synthetic student whose notebook is the solution with exactly one mistake written in. The batch
holds the mistakes that the selected tests need, so that ``-k ex4`` grades one exercise's
catalogue (and checks its coverage) instead of all of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from grader.course import load_course
from tests.conftest import run_grader
from tests.mistakes.catalogue import Mistake
from tests.support.factory import all_mistakes, with_mistake, write

MISTAKES = all_mistakes()
ASSIGNMENTS = [a.name for a in load_course()]

pytestmark = pytest.mark.slow


def _needed(items: list[pytest.Item]) -> list[Mistake]:
    """The mistakes that the selected tests of this module grade, in catalogue order."""
    ids, assignments = set(), set()
    for item in items:
        if Path(str(item.path)) != Path(__file__):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "mistake" in params:
            ids.add(params["mistake"].id)
        if "assignment" in params:
            assignments.add(params["assignment"])
    return [m for m in MISTAKES if m.id in ids or m.assignment in assignments]


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """results[mistake id][grade_id] = result row (with message), for the mistaken notebook."""
    root = tmp_path_factory.mktemp("mistakes")
    needed = _needed(request.session.items)
    for mistake in needed:
        write(
            with_mistake(mistake),
            root / "submitted" / mistake.id / mistake.assignment / f"{mistake.notebook_name}.ipynb",
        )
    done = run_grader(
        "autograde",
        str(root / "submitted"),
        "--out",
        str(root / "out"),
        "--jobs",
        "2",
        "--cell-timeout",
        "60",
        "--quiet",
        # A guard against a hung batch, not a budget: every cell has its own limit, and the
        # batch's time is measured by the suite's durations (about 20 minutes on two busy cores).
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((root / "out" / "results.json").read_text())
    results: dict[str, dict[str, dict]] = defaultdict(dict)
    by_id = {m.id: m for m in needed}
    for row in rows:
        mistake = by_id[row["student_id"]]
        if row["notebook"] == mistake.notebook_name:
            results[mistake.id][row["grade_id"]] = row
    return results


def test_catalogue_is_well_formed():
    ids = [m.id for m in MISTAKES]
    assert len(ids) == len(set(ids)), "mistake ids must be unique"
    graded_cells = {
        (a.name, nb.name, c.grade_id)
        for a in load_course()
        for nb in a.notebooks
        for c in nb.graded_cells
    }
    for mistake in MISTAKES:
        assert mistake.loses and mistake.says, mistake.id
        assert not set(mistake.loses) & set(mistake.keeps), mistake.id
        assert not mistake.named_in or mistake.named_in in mistake.loses, mistake.id
        for grade_id in (*mistake.loses, *mistake.keeps):
            assert (mistake.assignment, mistake.notebook_name, grade_id) in graded_cells, (
                f"{mistake.id} names unknown graded cell {grade_id}"
            )


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.id)
def test_mistake_loses_points_and_is_named(graded, mistake):
    rows = graded[mistake.id]
    for grade_id in mistake.loses:
        row = rows[grade_id]
        assert row["score"] < row["max_score"], f"{mistake.id} keeps full points in {grade_id}"
    for grade_id in mistake.keeps:
        row = rows[grade_id]
        assert row["score"] == row["max_score"], (
            f"{mistake.id} costs points in {grade_id}, which the notebook isolates from it:\n"
            + row["message"]
        )
    lost_messages = [r["message"].lower() for r in rows.values() if r["score"] < r["max_score"]]
    for word in mistake.says:
        assert any(word.lower() in message for message in lost_messages), (
            f"no feedback of {mistake.id} names the mistake with {word!r}:\n"
            + "\n---\n".join(lost_messages)
        )
        if mistake.named_in:
            assert word.lower() in rows[mistake.named_in]["message"].lower(), (
                f"{mistake.id}: {mistake.named_in}'s feedback does not name it with {word!r}:\n"
                + rows[mistake.named_in]["message"]
            )
    for word in mistake.not_says:
        assert not any(word.lower() in message for message in lost_messages), (
            f"the feedback of {mistake.id} names a cause the evidence does not support, "
            f"{word!r}:\n" + "\n---\n".join(lost_messages)
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_cell_fails_for_some_mistake(graded, assignment):
    caught = {
        (m.assignment, m.notebook_name, grade_id)
        for m in MISTAKES
        if m.assignment == assignment
        for grade_id, row in graded[m.id].items()
        if row["score"] < row["max_score"]
    }
    uncaught = [
        f"{a.name}/{nb.name} {c.grade_id}"
        for a in load_course()
        if a.name == assignment
        for nb in a.notebooks
        for c in nb.graded_cells
        if c.autograded and (a.name, nb.name, c.grade_id) not in caught
    ]
    assert not uncaught, f"graded cells that no catalogued mistake makes fail: {uncaught}"
