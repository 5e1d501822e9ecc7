"""The grader's supervision of a batch: no notebook costs another, and no broken set-up grades.

- a zygote that dies is replaced, and a notebook that got no kernel because of it is graded again;
- before anyone is graded, the reference solutions are (the canary): a set-up in which they do not
  get full marks stops the batch with a message, and writes no grade;
- without bubblewrap (``GRADER_SANDBOX=off``) the grader refuses, and with ``--unisolated`` the
  limits-only kernel still works as root;
- batches running at once on one machine get different sandbox uids;
- folders a student wrote are deleted without recursion and without following links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from grader import uids
from grader.safe_tree import remove_tree
from grader.warm_kernels import WarmKernels
from tests.conftest import REPO, grader_env, read_csv
from tests.support.factory import student_solution, write

ASSIGNMENT, NOTEBOOK = "ex1_rnn", "rnn_numpy"
GRADE = [sys.executable, "-m", "grader", "autograde"]


def _honest(folder: Path, *students: str) -> None:
    for student in students:
        write(
            student_solution(ASSIGNMENT, NOTEBOOK),
            folder / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
        )


def _scores(out: Path) -> dict[str, float]:
    rows = [r for r in read_csv(out / "grades.csv") if r["notebook"] == NOTEBOOK]
    scores: dict[str, float] = {}
    for row in rows:
        scores[row["student_id"]] = scores.get(row["student_id"], 0) + float(row["score"])
    return scores


@pytest.mark.slow
@pytest.mark.skipif(not WarmKernels.wanted(), reason="warm kernels need the bubblewrap sandbox")
def test_a_dead_zygote_is_replaced_and_no_notebook_pays(tmp_path: Path) -> None:
    """The zygote is killed from outside after the first notebook: every notebook gets 17/17."""
    _honest(tmp_path / "in", "a", "b", "c")
    process = subprocess.Popen(
        [*GRADE, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1"],
        cwd=REPO,
        env=grader_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed: list[int] = []
    lines: list[str] = []

    def watch() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if " 1/3 " in line and not killed:
                for child in psutil.Process(process.pid).children(recursive=True):
                    if "serve" in child.cmdline() and "zygote.py" in " ".join(child.cmdline()):
                        child.kill()
                        killed.append(child.pid)

    watcher = threading.Thread(target=watch)
    watcher.start()
    process.wait(timeout=900)
    watcher.join()
    assert process.returncode == 0, "".join(lines)[-3000:]
    assert killed, "".join(lines)[-3000:]
    assert "starting a new zygote" in "".join(lines)
    assert _scores(tmp_path / "out") == {"a": 17, "b": 17, "c": 17}


@pytest.mark.slow
def test_the_canary_stops_a_broken_setup_before_any_grade(tmp_path: Path) -> None:
    """Kernels too small to import PyTorch: the solutions would fail, so nothing is graded."""
    _honest(tmp_path / "in", "alice")
    out = tmp_path / "out"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from grader.autograde import AutogradeOptions, autograde\n"
        "from grader.canary import CanaryFailed\n"
        "from grader.sandbox import Limits\n"
        "try:\n"
        "    autograde(Path(sys.argv[1]), Path(sys.argv[2]), AutogradeOptions(jobs=1,\n"
        "              limits=Limits(memory_mb=200), quiet=True))\n"
        "except CanaryFailed as error:\n"
        "    print('STOPPED', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in"), str(out)],
        cwd=REPO,
        env=grader_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert "STOPPED the reference solutions do not get full marks" in done.stdout, done.stderr
    assert "ex1_rnn/rnn_numpy: test_rnn_cell_forward" in done.stdout
    assert not (out / "grades.csv").exists() and not (out / "gradebook.db").exists()
    assert not (out / "feedback").exists()


def test_without_isolation_the_grader_refuses_unless_told(tmp_path: Path) -> None:
    # A kernel that sees the machine's files could rewrite course_checks, and every grade.
    _honest(tmp_path / "in", "alice")
    env = {**grader_env(), "GRADER_SANDBOX": "off"}
    argv = [*GRADE, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1"]
    refused = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "without isolation: GRADER_SANDBOX=off" in refused.stderr
    assert "--unisolated" in refused.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the red team's case: root without bubblewrap")
def test_limits_only_kernels_work_as_root(tmp_path: Path) -> None:
    _honest(tmp_path / "in", "alice")
    env = {**grader_env(), "GRADER_SANDBOX": "off"}
    done = subprocess.run(
        [
            *GRADE,
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--jobs",
            "1",
            "--unisolated",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LIMITS ONLY" in done.stderr
    assert _scores(tmp_path / "out") == {"alice": 17}


def test_batches_at_once_get_different_uids() -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from grader import uids; import sys, time; b = uids.reserve(); print(b.first, "
            "flush=True); sys.stdin.read()",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        theirs = int(holder.stdout.readline())
        mine = uids.reserve()
        try:
            assert mine.first != theirs
            assert {mine.uid(s) for s in range(uids.BLOCK_SIZE)}.isdisjoint(
                range(theirs, theirs + uids.BLOCK_SIZE)
            )
        finally:
            mine.release()
    finally:
        holder.communicate("", timeout=30)
    again = uids.reserve()  # the holder's block is free again once its process is gone
    try:
        assert again.first <= theirs
    finally:
        again.release()


def test_a_deep_tree_with_links_is_removed_and_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("the instructor's")
    tree = tmp_path / "tree"
    os.mkdir(tree)
    current = os.open(tree, os.O_RDONLY)  # built by descriptors: its paths outgrow PATH_MAX
    for depth in range(3000):
        os.mkdir("d", dir_fd=current)
        if depth in (5, 2999):
            os.symlink(str(outside), "link-to-outside", dir_fd=current)
            os.symlink(str(outside / "keep.txt"), "link-to-file", dir_fd=current)
        child = os.open("d", os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = child
    os.close(current)
    with pytest.raises(RecursionError):
        shutil.rmtree(tree)  # what the grader did before
    remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep.txt").read_text() == "the instructor's"


def test_plain_nbgrader_autograde_is_refused_from_the_repository() -> None:
    for command in ("autograde", "generate_feedback"):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "nbgrader"), command, "ex1_rnn"],
            cwd=REPO,
            env=grader_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0
        assert f"nbgrader {command} is disabled in this course" in done.stderr
        assert "python -m grader autograde" in done.stderr
    assert not (REPO / "autograded").exists() and not (REPO / "feedback").exists()
