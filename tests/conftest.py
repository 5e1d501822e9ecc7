"""Shared fixtures: the real grader CLI, run as instructors run it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def grader_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_grader(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    """``python -m grader ARGS`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=REPO,
        env=grader_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def grader():
    return run_grader
