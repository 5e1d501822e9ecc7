"""Shared fixtures: the real grader CLI, run as instructors run it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
SHARED_BUILD = ("tests/book/test_book.py", "tests/book/test_browser.py")
# The longest units of work, longest first (measured: the mistakes batch and the book build take
# about 12 minutes each on 2 cores), so that two workers finish at about the same time.
LONGEST_FIRST = ("shared-build", "tests/grader/test_mistakes.py", "tests/grader/test_attacks.py")


def _unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or ``shared-build``."""
    module = nodeid.split("::", 1)[0]
    return "shared-build" if module in SHARED_BUILD else module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest units first (a stable sort: the order inside a unit stays)."""
    rank = {unit: number for number, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test`` runs on pytest-xdist workers, one unit of work (:func:`_unit`) to a worker at
    a time: a module's batch fixtures (a graded class, a built book) then run once, on one
    worker, and the modules that share `_build/` never run at the same time."""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False  # keep the order of the collection: longest first
    return UnitScheduling(config, log)
