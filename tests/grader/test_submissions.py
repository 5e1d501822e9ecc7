"""Submitted files are validated before nbgrader sees them; each problem gets its own status."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from grader.course import load_course
from grader.submissions import find_submissions, validate_notebook
from tests.support.tiny_course import write_tiny_course


def _valid(path):
    nbformat.write(nbformat.v4.new_notebook(), path)
    return path


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (None, "missing_notebook", "was not submitted"),
        (b"", "invalid_notebook", "is empty"),
        (b'{"cells": [', "invalid_notebook", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "invalid_notebook", "not valid JSON"),
        (b"[1, 2, 3]", "invalid_notebook", "not a Jupyter notebook"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "invalid_notebook", "nbformat 3"),
        (
            json.dumps({"nbformat": 4, "nbformat_minor": 5}).encode(),
            "invalid_notebook",
            "not a valid",
        ),
    ],
)
def test_bad_files_get_a_clear_status(tmp_path, content, status, words):
    path = tmp_path / "nb.ipynb"
    if content is not None:
        path.write_bytes(content)
    got_status, detail = validate_notebook(path)
    assert (got_status, words in detail) == (status, True), detail


def test_a_valid_notebook_is_ok(tmp_path):
    assert validate_notebook(_valid(tmp_path / "nb.ipynb")) == ("ok", "")


def test_find_submissions_sorts_students_and_flags_strays(tmp_path):
    write_tiny_course(tmp_path)
    assignments = load_course(tmp_path / "solutions")
    submitted = tmp_path / "submitted"
    (submitted / "zoe" / "tiny").mkdir(parents=True)
    _valid(submitted / "zoe" / "tiny" / "add.ipynb")
    (submitted / "adam" / "tiny").mkdir(parents=True)
    (submitted / "adam" / "homework1").mkdir(parents=True)
    (submitted / "not a student").mkdir()
    (submitted / "readme.txt").write_text("hi")
    notebooks, strays = find_submissions(submitted, assignments)
    assert [(n.student_id, n.status) for n in notebooks] == [
        ("adam", "missing_notebook"),
        ("zoe", "ok"),
    ]
    assert sorted((s.student_id, s.status) for s in strays) == [
        ("adam", "unknown_assignment"),
        ("not a student", "invalid_student_id"),
        ("readme.txt", "not_a_folder"),
    ]


# ------------------------------------------------- every parser of student input has limits


def _cells_notebook(cells: list[dict]) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).encode()


def _code(source, index: int = 0) -> dict:
    return {
        "cell_type": "code",
        "id": f"c{index}",
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


@pytest.mark.parametrize(
    ("content", "words"),
    [
        # the red team's 100 KB file: json.loads raised RecursionError, which stopped the batch
        (b"[" * 50_000 + b"]" * 50_000, "more than 64 levels deep"),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": '
            + b"{" * 30
            + b"[" * 40
            + b"]" * 40
            + b"}" * 30
            + b'}, "cells": []}',
            "more than 64 levels deep",
        ),
        (b"[" + b"[]," * 300_000 + b"[]]", "more than 200000 lists and objects"),
        (_cells_notebook([_code("x = 1", i) for i in range(1_001)]), "has 1001 cells"),
        (_cells_notebook([_code("#" * (256 * 1024 + 1))]), "cell 1 holds 262145 characters"),
        (_cells_notebook([_code(["#" * 1000 + "\n"] * 300)]), "cell 1 holds 300300 characters"),
        (
            _cells_notebook([_code("#" * 200_000, i) for i in range(11)]),
            "its cells hold 2200000 characters",
        ),
        # jsonschema and nbformat raise more than ValidationError on odd input
        (_cells_notebook([["not", "a", "cell"]]), "not a valid notebook"),
        (_cells_notebook([{**_code("x"), "source": {"a": 1}}]), "not a valid notebook"),
    ],
    ids=["deep", "deep_in_metadata", "many_lists", "cells", "cell", "cell_lines", "all", "x", "y"],
)
def test_parsers_have_limits(tmp_path, content, words):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(content)
    status, detail = validate_notebook(path)  # returns: it never raises
    assert status == "invalid_notebook" and words in detail, detail


def test_forty_thousand_cells_are_refused_at_once(tmp_path):
    """40,000 one-line cells took 672 s to grade; the limit refuses them in well under a second."""
    path = tmp_path / "nb.ipynb"
    path.write_bytes(_cells_notebook([_code(f"x{i} = {i}", i) for i in range(40_000)]))
    started = time.monotonic()
    status, detail = validate_notebook(path)
    assert (status, "has 40000 cells" in detail) == ("invalid_notebook", True)
    assert time.monotonic() - started < 3


def test_one_bad_file_costs_only_its_student(tmp_path):
    write_tiny_course(tmp_path)
    assignments = load_course(tmp_path / "solutions")
    submitted = tmp_path / "submitted"
    for student in ("amy", "deep", "zoe"):
        (submitted / student / "tiny").mkdir(parents=True)
        _valid(submitted / student / "tiny" / "add.ipynb")
    (submitted / "deep" / "tiny" / "add.ipynb").write_bytes(b"[" * 50_000 + b"]" * 50_000)
    notebooks, _ = find_submissions(submitted, assignments)
    assert [(n.student_id, n.status) for n in notebooks] == [
        ("amy", "ok"),
        ("deep", "invalid_notebook"),
        ("zoe", "ok"),
    ]
