"""A database URL for larger setups: autograde into a real PostgreSQL server's gradebook.

The fixture starts a throwaway PostgreSQL cluster (Debian's PostgreSQL 15, which ``make test``
expects on the machine) that listens on a Unix socket only, in a temporary folder, and stops it
afterwards. PostgreSQL refuses to run as root, so under root it runs as Debian's ``postgres``
user (or ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grader.paths import COURSE_ID
from tests.conftest import read_csv, run_grader
from tests.support.factory import EXERCISES, student_solution, write


def _server_user() -> tuple[int, int]:
    for name in ("postgres", "nobody"):  # initdb needs a user with a passwd entry
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    pytest.fail("no unprivileged user (postgres or nobody) to run PostgreSQL as")


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)), None
    )
    return Path(found).resolve().parent if found else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    uid, gid = _server_user()
    drop = [f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    return ["setpriv", *drop, *argv]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL (initdb) is not installed: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="grader-pg-"))
    data, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    if os.geteuid() == 0:
        for path in (root, socket_dir):
            os.chown(path, *_server_user())
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(root)}

    def run(*argv: str) -> None:
        subprocess.run(
            _as_server_user([str(bin_dir / argv[0]), *argv[1:]]),
            env=env,
            check=True,
            capture_output=True,
            cwd=root,
            timeout=120,
        )

    run("initdb", "-D", str(data), "-A", "trust", "-U", "grader", "--no-sync")
    run(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(root / "server.log"),
        "-w",
        "-o",
        f"-k {socket_dir} -h '' -F",  # Unix socket only; no fsync for a throwaway cluster
        "start",
    )
    try:
        run("createdb", "-h", str(socket_dir), "-U", "grader", "gradebook")
        yield f"postgresql+psycopg2://grader@/gradebook?host={socket_dir}"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _scores(db_url: str) -> dict[tuple[str, str], float]:
    """Each student's total score per notebook, as the gradebook holds it."""
    totals: dict[tuple[str, str], float] = {}
    with Gradebook(db_url, COURSE_ID) as gradebook:
        for student in gradebook.students:
            for notebook in ("rnn_numpy", "rnn_torch"):
                submitted = gradebook.find_submission_notebook(notebook, "ex1_rnn", student.id)
                totals[(student.id, notebook)] = submitted.score
    return totals


@pytest.mark.slow
def test_autograde_into_postgresql(postgres_url: str, tmp_path: Path) -> None:
    submitted = tmp_path / "submitted"
    for notebook in ("rnn_numpy", "rnn_torch"):
        write(
            student_solution("ex1_rnn", notebook),
            submitted / "alice" / "ex1_rnn" / f"{notebook}.ipynb",
        )
    blank = EXERCISES / "ex1_rnn" / "rnn_numpy.ipynb"
    (submitted / "bob" / "ex1_rnn").mkdir(parents=True)
    shutil.copyfile(blank, submitted / "bob" / "ex1_rnn" / "rnn_numpy.ipynb")

    for out in (tmp_path / "first", tmp_path / "second"):  # grading twice changes nothing
        result = run_grader("autograde", str(submitted), "--out", str(out), "--db", postgres_url)
        assert result.returncode == 0, result.stderr[-3000:]
        assert not (out / "gradebook.db").exists(), "grades go to the URL, not to SQLite"
        rows = read_csv(out / "grades.csv")
        expected: dict[tuple[str, str], float] = {}
        for row in rows:
            if row["grade_id"]:
                key = (row["student_id"], row["notebook"])
                expected[key] = expected.get(key, 0.0) + float(row["score"])
        scores = _scores(postgres_url)
        assert scores == expected
        assert scores[("alice", "rnn_numpy")] == 17 and scores[("alice", "rnn_torch")] == 12
        assert scores[("bob", "rnn_numpy")] == 0 and scores[("bob", "rnn_torch")] == 0
