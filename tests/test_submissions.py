"""Submitted files are validated before nbgrader sees them; each problem gets its own status."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.course import load_course
from grader.submissions import find_submissions, validate_notebook
from tests.tiny_course import write_tiny_course


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
