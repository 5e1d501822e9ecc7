"""Runs real nbgrader commands in a course folder of their own, with the venv's tools on PATH.

Each call gets a private course root, gradebook URL and Jupyter/IPython config folders, so that no
instructor or student configuration on the machine changes what nbgrader does.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from grader.nbgrader_app import run_in_child
from grader.paths import COURSE_ID, tool_env

_CONTEXT: multiprocessing.context.BaseContext | None = None
_CONTEXT_LOCK = threading.Lock()

# What nbgrader must skip when it copies an assignment folder.
IGNORED_FILES = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]


@dataclass(frozen=True)
class RunResult:
    """The outcome of one nbgrader command."""

    returncode: int | None  # None when it was stopped for running out of time
    seconds: float
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def jupyter_dir(course_root: Path) -> Path:
    """The private Jupyter folder (config/, data/, runtime/, ipython/) of ``course_root``'s runs."""
    return course_root.parent / f".{course_root.name}-jupyter"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def run_nbgrader(
    subcommand: str,
    args: list[str],
    *,
    course_root: Path,
    db_url: str,
    timeout: float | None = None,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``nbgrader SUBCOMMAND ARGS`` against ``course_root`` and ``db_url``.

    Args:
        subcommand: e.g. ``"generate_assignment"`` or ``"autograde"``.
        args: positional arguments and flags for the subcommand.
        course_root: the course folder (``source/``, ``release/``, ``submitted/`` …).
        db_url: the gradebook's SQLAlchemy URL.
        timeout: wall-clock seconds before the command and every process it started are killed.
        settings: extra traitlets settings, ``{"Execute.timeout": "30"}``.
        env: extra environment variables.
    """
    private = jupyter_dir(course_root)
    for sub in ("config", "data", "runtime", "ipython"):
        (private / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "CourseDirectory.root": str(course_root.resolve()),
        "CourseDirectory.db_url": db_url,
        "CourseDirectory.course_id": COURSE_ID,
        "CourseDirectory.ignore": repr(IGNORED_FILES),
        **(settings or {}),
    }
    argv = [subcommand, *args, *(f"--{key}={value}" for key, value in options.items())]
    environment = tool_env(
        JUPYTER_CONFIG_DIR=str(private / "config"),
        JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        JUPYTER_DATA_DIR=str(private / "data"),
        JUPYTER_PREFER_ENV_PATH="0",  # the job's own kernelspec (the sandbox) before the venv's
        IPYTHONDIR=str(private / "ipython"),
        **(env or {}),
    )
    log_path = course_root.parent / f".{course_root.name}-nbgrader.log"
    started = time.monotonic()
    process = _warm_context().Process(
        target=run_in_child, args=(argv, str(course_root), environment, str(log_path))
    )
    process.start()
    process.join(timeout)
    returncode: int | None = process.exitcode
    if process.is_alive():
        returncode = None
    kill_tree(process.pid)  # kernels run in sessions of their own; never leave one behind
    process.join()
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    return RunResult(returncode, time.monotonic() - started, log)


def _warm_context() -> multiprocessing.context.BaseContext:
    """The forkserver context whose server has imported nbgrader (see grader.nbgrader_app)."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["grader.nbgrader_app"])
            _CONTEXT = context
        return _CONTEXT


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (kernels start their own sessions)."""
    try:
        parent = psutil.Process(pid)
        processes = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGKILL)
    psutil.wait_procs(processes, timeout=5)


def copy_assignment_sources(source: Path, destination: Path) -> None:
    """Copy an assignment folder, leaving out checkpoints, caches and hidden files."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*IGNORED_FILES))
