"""Benchmark: the book's cold build (every chapter executed) and an unchanged rebuild (cache).

Run: ``.venv/bin/python benchmarks/book_build.py``. Builds a copy of the book's sources in a
temporary folder, so the execution cache starts empty and the project's own ``_build`` is left
alone (Chapter 4's training results too, via ``GRU_EXPERIMENT_CACHE``). Prints the cold build, an
unchanged rebuild and a rebuild after a prose edit of Chapter 4, which re-executes the chapter with
its training results read from the cache.
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
    # Chapter 4's training results are cached too: in the copy's _build, so the first build is cold.
    env = {**tool_env(), "GRU_EXPERIMENT_CACHE": str(root / "_build" / ".experiments")}
    subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--warningiserror",
         "--keep-going"],
        cwd=root, env=env, check=True, capture_output=True,
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
        chapter = root / "book" / "04_gru_vs_lstm.md"
        chapter.write_text(chapter.read_text() + "\n<!-- an edit to the prose -->\n")
        prose_edit = build(root)  # Chapter 4 re-executes; its runs come from the result cache
    print(f"cold build (all chapters executed, experiments trained): {cold:6.1f} s")
    print(f"rebuild, nothing changed (execution cache):             {cached:6.1f} s")
    print(f"rebuild after editing Chapter 4's prose (result cache): {prose_edit:6.1f} s")
    print(f"ratio cold / cached:                                     {cold / cached:6.1f}x")


if __name__ == "__main__":
    main()
