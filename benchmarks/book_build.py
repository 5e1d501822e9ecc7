"""Benchmark: the book's cold build (every chapter executed) and an unchanged rebuild (cache).

Run: ``.venv/bin/python benchmarks/book_build.py``. Builds a copy of the book's sources in a
temporary folder, so the execution cache starts empty and the project's own ``_build`` is left
alone. Prints both times and their ratio.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.paths import tool_env  # noqa: E402

SOURCES = ("_config.yml", "_toc.yml", "book", "exercises")


def build(root: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--warningiserror",
         "--keep-going"],
        cwd=root, env=tool_env(), check=True, capture_output=True,
    )  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        root = Path(tmp)
        for name in SOURCES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name)
            else:
                shutil.copy(source, root / name)
        cold = build(root)
        cached = build(root)
    print(f"cold build (all chapters executed): {cold:6.1f} s")
    print(f"rebuild, nothing changed (cache):   {cached:6.1f} s")
    print(f"ratio cold / cached:                {cold / cached:6.1f}x")


if __name__ == "__main__":
    main()
