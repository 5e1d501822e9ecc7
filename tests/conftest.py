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


# The modules that build or read the repository's own book (`_build/`): they share that folder,
# so they run on one worker, one after the other.
SHARED_BUILD = frozenset({"tests/book/test_book.py", "tests/book/test_browser.py"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n 2 --dist loadgroup`` (``make test``): one group per test module,
    so that a module's batch fixtures (a graded class, a built book) run once on one worker, and
    one group for the modules in :data:`SHARED_BUILD`."""
    for item in items:
        module = Path(str(item.path)).resolve().relative_to(REPO).as_posix()
        group = "shared-build" if module in SHARED_BUILD else module
        item.add_marker(pytest.mark.xdist_group(group))
