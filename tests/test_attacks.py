"""The attack catalogue: hostile submissions graded in one batch with honest ones.

Each attack must gain nothing (no points beyond what its honest content earns, which here is
none), get the status named in the catalogue, and leave every honest student's grade, the
gradebook and the instructor's files exactly as they are without it in the batch.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_checks import replay
from tests.conftest import read_csv, run_grader
from tests.factory import EXERCISES, REPO, student_solution, write

ASSIGNMENT, NOTEBOOK = "ex1_rnn", "rnn_numpy"
SOLUTION_CELL = "rnn_cell_forward"  # the first answer cell: attacks go in there


@dataclass(frozen=True)
class Attack:
    id: str
    status: str  # what every graded cell of the attacker's notebook must report
    code: str = ""  # appended to the blank answer cell; {out}, {submitted} are filled in
    description: str = ""


ATTACKS = [
    Attack(
        "patch_allclose",
        "tampered",
        "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = print",
        "the issue's first attack: comparisons always true",
    ),
    Attack(
        "patch_helpers",
        "tampered",
        "import course_checks.compare as cc\ncc.check_close = lambda *a, **k: None",
        "replace the test helpers",
    ),
    Attack(
        "alias_patch",
        "tampered",
        "import numpy as np\nfor m in [np]:\n    m.allclose = lambda *a, **k: True",
        "patch through an alias the scan cannot resolve",
    ),
    Attack(
        "solution_search",
        "tampered",
        "import os, json\nfor root, _, files in os.walk('/'):\n"
        "    for f in files:\n        if f.endswith('.ipynb'):\n"
        "            for c in json.load(open(os.path.join(root, f)))['cells']:\n"
        "                if 'BEGIN SOLUTION' in ''.join(c['source']):\n"
        "                    exec(''.join(c['source']))",
        "the issue's second attack: run the instructor's solution cells",
    ),
    Attack(
        "read_solutions_by_path",
        "failed",
        f"text = open({str(REPO / 'solutions' / ASSIGNMENT / (NOTEBOOK + '.ipynb'))!r}).read()",
        "open() is allowed, but the sandbox has no solutions/ to read",
    ),
    Attack(
        "corrupt_gradebook",
        "failed",
        "with open({out!r} + '/gradebook.db', 'r+b') as f:\n    f.write(b'\\0' * 4096)",
        "the issue's third attack, by plain file writes: the gradebook is not in the sandbox",
    ),
    Attack(
        "read_peer",
        "failed",
        "peer = open({submitted!r} + '/alice/ex1_rnn/rnn_numpy.ipynb').read()",
        "copy a classmate's submission",
    ),
    Attack(
        "overwrite_instructor_file",
        "failed",
        f"open({str(REPO / 'README.md')!r}, 'w').write('owned')",
        "delete or overwrite the instructor's files",
    ),
    Attack(
        "shadow_helpers",
        "tampered",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n    return h_prev * 0\n"
        "def check_close(*args, **kwargs):\n    pass",
        "replace a test helper by defining one of the same name",
    ),
    Attack(
        "hidden_rebinding",
        "tampered",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n    return h_prev * 0\n"
        "def _quiet():\n    global check_close\n    check_close = print\n_quiet()",
        "the same, from inside a function (the replay catches it too: tests/test_replay.py)",
    ),
    Attack(
        "exception_hook",
        "tampered",
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
        "swallow every test failure with an IPython exception handler",
    ),
    Attack(
        "excepthook_via_sys",
        "tampered",
        "import sys\nsys.excepthook = lambda *a: None",
        "the interpreter's exception hook",
    ),
    Attack(
        "hang",
        "timeout",
        "def rnn_cell_forward(*args, **kwargs):\n    while True:\n        pass",
        "an endless loop under the tests",
    ),
    Attack("crash", "kernel_crashed", "exit()", "the kernel exits under the tests"),
    Attack("flood", "output_limit", "while True:\n    print('spam' * 1000)", "a flood of output"),
    Attack("memory_hog", "failed", "hog = bytearray(64 * 2**30)", "64 GiB: MemoryError, no OOM"),
]


def _blank() -> nbformat.NotebookNode:
    """The released notebook as handed out: every answer still raises NotImplementedError."""
    return nbformat.read(EXERCISES / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)


def _with_attack(code: str) -> nbformat.NotebookNode:
    nb = _blank()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == SOLUTION_CELL:
            cell.source += "\n" + code
    return nb


def _tampered_test_cells() -> nbformat.NotebookNode:
    """Blank answers, but every test cell rewritten to pass and worth 100 points, with outputs."""
    nb = _blank()
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        if info.get("grade") and not info.get("solution"):
            cell.source = "print('all tests passed')"
            info["points"] = 100
            cell.outputs = [nbformat.v4.new_output("stream", text="all tests passed\n")]
    return nb


def _structural_attacks() -> dict[str, tuple[nbformat.NotebookNode | str, str]]:
    """Attacks on the notebook file itself: name → (notebook or raw text, status)."""
    duplicated = _blank()
    tests = [c for c in duplicated.cells if c.metadata.get("nbgrader", {}).get("grade")]
    duplicated.cells += [nbformat.from_dict(json.loads(json.dumps(c))) for c in tests]
    retyped = _blank()
    for cell in retyped.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_"):
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    deleted = _blank()
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    r_kernel = student_solution(ASSIGNMENT, NOTEBOOK)
    r_kernel.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    return {
        "edited_tests": (_tampered_test_cells(), "failed"),
        "duplicated_tests": (duplicated, "failed"),
        "retyped_tests": (retyped, "failed"),
        "deleted_tests": (deleted, "failed"),
        "wrong_kernel": (r_kernel, "wrong_kernel"),
        "invalid_json": ('{"cells": [', "invalid_notebook"),
        "empty_file": ("", "invalid_notebook"),
        "nbformat3": ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}', "invalid_notebook"),
    }


STRUCTURAL_ATTACKS = _structural_attacks()


def _honest(submitted: Path) -> None:
    write(
        student_solution(ASSIGNMENT, NOTEBOOK),
        submitted / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
    )
    write(_blank(), submitted / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")


def _grade(submitted: Path, out: Path) -> list[dict[str, str]]:
    result = run_grader(
        "autograde", str(submitted), "--out", str(out), "--jobs", "2", "--cell-timeout", "10"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [r for r in read_csv(out / "grades.csv") if r["notebook"] in (NOTEBOOK, "")]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("attacks")
    _honest(root / "honest")
    honest_only = _grade(root / "honest", root / "honest-out")
    submitted, out = root / "submitted", root / "out"
    _honest(submitted)
    readme = hashlib.sha256((REPO / "README.md").read_bytes()).hexdigest()
    for attack in ATTACKS:
        code = attack.code.format(out=str(out), submitted=str(submitted))
        write(
            _with_attack(code),
            submitted / attack.id.replace("_", "-") / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
        )
    for name, (content, _) in STRUCTURAL_ATTACKS.items():
        path = submitted / name.replace("_", "-") / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        if isinstance(content, str):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        else:
            write(content, path)
    rows = _grade(submitted, out)
    return {"rows": rows, "honest_only": honest_only, "out": out, "readme": readme}


def _rows_of(rows: list[dict[str, str]], student: str) -> list[dict[str, str]]:
    return [r for r in rows if r["student_id"] == student]


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_attack_gains_nothing(batch: dict, attack: Attack) -> None:
    rows = _rows_of(batch["rows"], attack.id.replace("_", "-"))
    assert rows, f"no rows for {attack.id}"
    assert sum(float(r["score"]) for r in rows) == 0, attack.description
    statuses = {r["status"] for r in rows}
    if attack.status == "failed":  # the attack fails inside the sandbox: plain wrong answers
        assert statuses <= {"failed", "error"}, statuses
    else:
        assert attack.status in statuses, (attack.id, statuses)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STRUCTURAL_ATTACKS))
def test_notebook_attack_gains_nothing(batch: dict, name: str) -> None:
    rows = _rows_of(batch["rows"], name.replace("_", "-"))
    expected = STRUCTURAL_ATTACKS[name][1]
    assert rows and sum(float(r["score"]) for r in rows) == 0
    assert sum(float(r["max_score"]) for r in rows) == 17, "points come from the instructor"
    statuses = {r["status"] for r in rows}
    assert statuses <= ({"failed", "error"} if expected == "failed" else {expected}), statuses


@pytest.mark.slow
def test_honest_grades_unchanged_by_attackers(batch: dict) -> None:
    def scores(rows):
        return sorted(
            (r["student_id"], r["grade_id"], r["score"], r["status"])
            for r in rows
            if r["student_id"] in ("alice", "bob")
        )

    assert scores(batch["rows"]) == scores(batch["honest_only"])
    assert sum(float(r["score"]) for r in _rows_of(batch["rows"], "alice")) == 17


@pytest.mark.slow
def test_no_recorded_answers_reach_the_output(batch: dict) -> None:
    marker = replay.MIME_TYPE.encode()
    leaked = [p for p in batch["out"].rglob("*") if p.is_file() and marker in p.read_bytes()]
    assert not leaked, leaked


@pytest.mark.slow
def test_gradebook_and_instructor_files_intact(batch: dict) -> None:
    assert hashlib.sha256((REPO / "README.md").read_bytes()).hexdigest() == batch["readme"]
    with sqlite3.connect(batch["out"] / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        manual = db.execute("select count(*) from grade where manual_score is not null").fetchone()
    assert manual[0] == 0
