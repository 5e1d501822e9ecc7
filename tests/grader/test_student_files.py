"""Submitted files are opened without following links: a link, a hard link or a special file at
any level of ``SUBMITTED/<student>/<assignment>/<notebook>.ipynb`` is refused with a plain reason,
and grading reads the bytes that were validated, never the path again.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import nbformat
import pytest

from grader.course import load_course
from grader.submissions import (
    SubmissionChanged,
    SubmittedNotebook,
    find_submissions,
    load_submission,
)
from tests.support.tiny_course import write_tiny_course


def _notebook(marker: str) -> str:
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(f"# {marker}")]
    return nbformat.writes(nb)


@pytest.fixture
def course(tmp_path):
    """(assignments, submitted folder, a secret notebook outside it that links point to)."""
    write_tiny_course(tmp_path)
    submitted = tmp_path / "submitted"
    (submitted / "honest" / "tiny").mkdir(parents=True)
    (submitted / "honest" / "tiny" / "add.ipynb").write_text(_notebook("honest's own work"))
    secret = tmp_path / "solutions" / "tiny" / "add.ipynb"  # the instructor's solution
    return load_course(tmp_path / "solutions"), submitted, secret


def _rows(submitted: Path, assignments) -> dict[str, tuple[str, str]]:
    notebooks, strays = find_submissions(submitted, assignments)
    rows = {n.student_id: (n.status, n.detail) for n in notebooks}
    rows.update({s.student_id: (s.status, s.detail) for s in strays})
    return rows


def _in_thread(function, *args):
    """Run ``function`` with a deadline: a FIFO opened for reading would block forever."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function(*args)), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "find_submissions hung"
    return result[0]


def test_links_at_every_level_are_refused(course) -> None:
    assignments, submitted, secret = course
    # the notebook itself links to the solution
    (submitted / "file_link" / "tiny").mkdir(parents=True)
    (submitted / "file_link" / "tiny" / "add.ipynb").symlink_to(secret)
    # the assignment folder links to another student's
    (submitted / "folder_link").mkdir()
    (submitted / "folder_link" / "tiny").symlink_to(submitted / "honest" / "tiny")
    # the student folder links to another student's
    (submitted / "student_link").symlink_to(submitted / "honest")
    # a relative link through the parent
    (submitted / "relative" / "tiny").mkdir(parents=True)
    (submitted / "relative" / "tiny" / "add.ipynb").symlink_to("../../honest/tiny/add.ipynb")
    rows = _rows(submitted, assignments)
    assert rows["honest"] == ("ok", "")
    assert rows["file_link"] == ("invalid_notebook", "add.ipynb is a symbolic link, not a file")
    assert rows["relative"][1] == "add.ipynb is a symbolic link, not a file"
    assert rows["folder_link"][0] == "invalid_notebook"
    assert "the folder tiny is a symbolic link" in rows["folder_link"][1]
    assert rows["student_link"] == ("not_a_folder", "is a symbolic link, not a folder")


def test_hard_links_and_special_files_are_refused(course) -> None:
    assignments, submitted, _ = course
    for student in ("hard", "outside", "fifo", "device", "sock", "folder"):
        (submitted / student / "tiny").mkdir(parents=True)
    os.link(submitted / "honest" / "tiny" / "add.ipynb", submitted / "hard" / "tiny" / "add.ipynb")
    solution = submitted.parent / "solution-outside.ipynb"  # e.g. the instructor's solutions/
    solution.write_bytes((submitted / "honest" / "tiny" / "add.ipynb").read_bytes())
    os.link(solution, submitted / "outside" / "tiny" / "add.ipynb")
    os.mkfifo(submitted / "fifo" / "tiny" / "add.ipynb")
    os.mknod(submitted / "device" / "tiny" / "add.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(submitted / "sock" / "tiny" / "add.ipynb"))
    (submitted / "folder" / "tiny" / "add.ipynb").mkdir()
    try:
        rows = _in_thread(_rows, submitted, assignments)
    finally:
        listener.close()
    assert rows["outside"] == (
        "invalid_notebook",
        "add.ipynb is a hard link to a file outside the submissions",
    )
    # Both names inside the submissions: both are graded, so that a student's link to a
    # classmate's file never costs the classmate their grade (the copy is the instructor's call).
    assert rows["hard"] == ("ok", "") and rows["honest"] == ("ok", "")
    assert rows["fifo"] == ("invalid_notebook", "add.ipynb is a FIFO (named pipe), not a file")
    assert rows["device"] == ("invalid_notebook", "add.ipynb is a device, not a file")
    assert rows["sock"] == ("invalid_notebook", "add.ipynb is a socket, not a file")
    assert rows["folder"] == ("invalid_notebook", "add.ipynb is a folder, not a file")


def test_odd_names_are_not_followed_or_trusted(course) -> None:
    assignments, submitted, _ = course
    (submitted / "alice\n" / "tiny").mkdir(parents=True)  # "$" in a regex accepts this
    os.mkdir(os.fsencode(submitted) + b"/bad\xffbyte")  # not UTF-8
    (submitted / "zed" / "=HYPERLINK(x)").mkdir(parents=True)
    rows = _rows(submitted, assignments)
    assert rows["alice\\x0a"][0] == "invalid_student_id"
    assert rows["bad\\xff" + "byte"][0] == "invalid_student_id"
    _, strays = find_submissions(submitted, assignments)
    assert ("zed", "=HYPERLINK(x)", "unknown_assignment") in {
        (s.student_id, s.assignment, s.status) for s in strays
    }
    assert all(s.student_id.isprintable() for s in strays)


def test_grading_reads_the_validated_bytes_not_the_path(course) -> None:
    assignments, submitted, secret = course
    notebooks, _ = find_submissions(submitted, assignments)
    (honest,) = notebooks
    assert "honest's own work" in load_submission(honest).cells[0].source
    path = submitted / "honest" / "tiny" / "add.ipynb"
    # swapped for a link to the solution after validation
    path.rename(path.with_suffix(".bak"))
    path.symlink_to(secret)
    with pytest.raises(SubmissionChanged, match="symbolic link"):
        load_submission(honest)
    # or for other bytes
    path.unlink()
    path.write_text(_notebook("something else"))
    with pytest.raises(SubmissionChanged, match="changed during grading"):
        load_submission(honest)
    # or the folder on the way for a link
    path.unlink()
    path.with_suffix(".bak").rename(path)
    assert load_submission(honest).cells[0].source == "# honest's own work"
    (submitted / "honest").rename(submitted / "elsewhere")
    (submitted / "honest").symlink_to(submitted / "elsewhere")
    with pytest.raises(SubmissionChanged, match="symbolic link"):
        load_submission(honest)


def test_a_file_larger_than_the_limit_is_not_read_whole(course, monkeypatch) -> None:
    assignments, submitted, _ = course
    monkeypatch.setattr("grader.submissions.MAX_NOTEBOOK_BYTES", 1000)
    (submitted / "big" / "tiny").mkdir(parents=True)
    (submitted / "big" / "tiny" / "add.ipynb").write_text(" " * 5000 + _notebook("big"))
    assert _rows(submitted, assignments)["big"] == (
        "invalid_notebook",
        "add.ipynb is larger than 1000 bytes",
    )


def test_a_submission_the_grader_built_passes_the_same_checks(tmp_path) -> None:
    """Like the canary (the reference solution the grader writes): no digest, checked on read."""
    folder = tmp_path / "work" / "canary" / "tiny"
    folder.mkdir(parents=True)
    path = folder / "add.ipynb"
    path.write_text(_notebook("reference"))
    made = SubmittedNotebook("canary", "tiny", "add", path, "ok")
    assert load_submission(made).cells[0].source == "# reference"
    path.write_text("[" * 100 + "]" * 100)
    with pytest.raises(SubmissionChanged, match="more than 64 levels deep"):
        load_submission(made)
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere.ipynb")
    with pytest.raises(SubmissionChanged, match="symbolic link"):
        load_submission(made)
