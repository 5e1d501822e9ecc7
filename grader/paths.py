"""Where the course lives, and the environment every external tool runs in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = REPO_ROOT / "solutions"
EXERCISES_DIR = REPO_ROOT / "exercises"
COURSE_ID = "gru-course"


def venv_bin() -> Path:
    """This interpreter's scripts folder (``.venv/bin``), not resolved, so the venv stays in use."""
    return Path(sys.executable).parent


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for nbgrader and kernels: the venv's bin first on PATH, plus ``extra``.

    nbgrader runs ``alembic`` as a program, and Jupyter starts the ``python3`` kernel through PATH,
    so both must find this venv's executables before any other.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(venv_bin()), env.get("PATH", "")])
    env["PYTHONHASHSEED"] = "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(extra)
    return env
