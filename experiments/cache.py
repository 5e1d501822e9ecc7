"""Where the experiments' results and prepared data are stored: ``_build/.experiments`` in the
repository, or ``$GRU_EXPERIMENT_CACHE``. A module of its own, so that the data caches of the
chapters' packages (``signals/arrays.py``) and the runner, which imports them, both read it
without an import cycle."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "_build" / ".experiments"


def cache_dir() -> Path:
    """The results' folder (it may not exist yet)."""
    return Path(os.environ.get("GRU_EXPERIMENT_CACHE", DEFAULT_CACHE))
