"""Benchmark: the book's cold build (every chapter executed) and an unchanged rebuild (cache).

Run: ``.venv/bin/python benchmarks/book_build.py``. Builds into a temporary folder, so the
project's own ``_build`` is left alone. Prints both times and their ratio.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.paths import tool_env  # noqa: E402


def build(output: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--warningiserror",
         "--keep-going", "--path-output", str(output)],
        cwd=REPO, env=tool_env(), check=True, capture_output=True,
    )  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        cold = build(Path(tmp))
        cached = build(Path(tmp))
    print(f"cold build (all chapters executed): {cold:6.1f} s")
    print(f"rebuild, nothing changed (cache):   {cached:6.1f} s")
    print(f"ratio cold / cached:                {cold / cached:6.1f}x")


if __name__ == "__main__":
    main()
