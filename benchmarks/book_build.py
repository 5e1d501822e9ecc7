"""Benchmark: the book's cold build, idle or under load, and each chapter's slowest cell.

Run: ``.venv/bin/python benchmarks/book_build.py [--load N | --load cores] [--cpus 0]``.

Builds a copy of the repository in a temporary folder exactly as ``make book`` does (the
experiments' training step, ``python -m experiments``, then ``jupyter-book build``), so the
execution cache and the training results start empty and the project's own ``_build`` is left
alone (``GRU_EXPERIMENT_CACHE`` points into the copy). Prints:

- the cold build, split into training and Jupyter Book;
- an unchanged rebuild, and a rebuild after a prose edit of Chapter 4 (which re-executes the
  chapter with its results read from the cache);
- every chapter's slowest cell against the cell time limit of ``_config.yml``, measured by
  executing the chapter again in a fresh kernel with nbclient's per-cell timing (the book's build
  does not record it), under the same conditions; the margin is the limit divided by that time,
  and the book asks for at least 3.

``--load N`` runs N busy processes (a Python loop each, at normal priority) for the whole
benchmark, as a laptop's browser and editor would compete for the CPU; ``--load cores`` runs one
per core. ``--cpus 0`` pins the build (not the load) to the listed cores, e.g. one core of two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.paths import tool_env  # noqa: E402

REQUIRED_MARGIN = 3.0  # no cell may come within a factor of 3 of the cell time limit


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy until the block ends."""
    loaders = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loader in loaders:
            loader.kill()
            loader.wait()


class Book:
    """A copy of the repository as a fresh clone has it (tracked and untracked, not ignored,
    files), whose own packages are imported first, built as ``make book`` builds, on given cores."""

    def __init__(self, root: Path, cpus: set[int] | None) -> None:
        self.root, self.cpus = root, cpus
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
        for name in filter(None, listed):
            if (REPO / name).is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, root / name)
        self.env = {
            **tool_env(),
            "PYTHONPATH": str(root),  # the copy's experiments, grader, booktools, course_checks
            "GRU_EXPERIMENT_CACHE": str(root / "_build" / ".experiments"),
        }

    def _run(self, *argv: str) -> float:
        started = time.monotonic()
        done = subprocess.run(
            argv,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None,
        )
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return time.monotonic() - started

    def train(self) -> float:
        """The training step (``make experiments``)."""
        return self._run(sys.executable, "-m", "experiments", "--quiet")

    def build(self) -> float:
        """Jupyter Book, as ``make book`` runs it."""
        jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
        return self._run(jupyter_book, "build", ".", "--warningiserror", "--keep-going")

    def chapters(self) -> list[Path]:
        toc = yaml.safe_load((self.root / "_toc.yml").read_text())
        files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
        return [self.root / f"{name}.md" for name in files if (self.root / f"{name}.md").is_file()]

    def slowest_cell(self, chapter: Path, limit: float) -> tuple[float, int, int]:
        """Seconds of the chapter's slowest cell, its number, and the number of code cells."""
        notebook = read_myst_markdown_notebook(chapter.read_text(), path=chapter)
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)  # the kernel inherits this process's cores
        try:
            NotebookClient(
                notebook,
                timeout=int(limit),
                record_timing=True,
                resources={"metadata": {"path": str(chapter.parent)}},
            ).execute(cwd=str(chapter.parent), env=self.env, stderr=subprocess.DEVNULL)
        finally:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        times = []
        for cell in cells:
            stamps = cell.metadata.get("execution", {})
            start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
            times.append(_seconds(start, end))
        if not times:
            return 0.0, 0, 0
        slowest = max(range(len(times)), key=times.__getitem__)
        return times[slowest], slowest + 1, len(cells)


def _seconds(start: str | None, end: str | None) -> float:
    from datetime import datetime

    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", default="0", help="busy processes: a number, or 'cores'")
    parser.add_argument("--cpus", help="cores the build may use, e.g. '0' or '0,1'")
    parser.add_argument("--no-rebuilds", action="store_true", help="skip the two rebuilds")
    args = parser.parse_args()
    load = os.cpu_count() if args.load == "cores" else int(args.load)
    cpus = {int(c) for c in args.cpus.split(",")} if args.cpus else None
    limit = float(yaml.safe_load((REPO / "_config.yml").read_text())["execute"]["timeout"])
    where = f"cores {sorted(cpus)}" if cpus else f"all {os.cpu_count()} cores"
    print(f"book build on {where}, with {load} busy process(es) competing", flush=True)
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp, busy_processes(load):
        book = Book(Path(tmp), cpus)
        started = os.getloadavg()
        training = book.train()
        building = book.build()
        print(f"cold build: {training + building:6.1f} s  (training step {training:.1f} s, "
              f"jupyter-book {building:.1f} s; load average before {started[0]:.1f}, "
              f"after {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
        if not args.no_rebuilds:
            cached = book.train() + book.build()
            chapter = book.root / "book" / "04_gru_vs_lstm.md"
            chapter.write_text(chapter.read_text() + "\n<!-- an edit to the prose -->\n")
            prose_edit = book.train() + book.build()
            print(f"rebuild, nothing changed (both caches):                  {cached:6.1f} s")
            print(f"rebuild after editing Chapter 4's prose (result cache):  {prose_edit:6.1f} s")
            print(f"ratio cold / unchanged rebuild:                          "
                  f"{(training + building) / cached:6.1f}x")  # fmt: skip
        print(f"slowest cell per page (fresh kernel, cell limit {limit:.0f} s, "
              f"margin required {REQUIRED_MARGIN:g}x):", flush=True)  # fmt: skip
        worst = float("inf")
        for chapter in book.chapters():
            seconds, number, cells = book.slowest_cell(chapter, limit)
            if not cells:
                continue
            margin = limit / max(seconds, 1e-3)
            worst = min(worst, margin)
            flag = "" if margin >= REQUIRED_MARGIN else "  <-- within 3x of the limit"
            print(f"  {chapter.stem:28s} {seconds:7.1f} s (cell {number} of {cells}), "
                  f"margin {margin:6.1f}x{flag}", flush=True)  # fmt: skip
        print(f"smallest margin: {worst:.1f}x ({'ok' if worst >= REQUIRED_MARGIN else 'FAILS'})")


if __name__ == "__main__":
    main()
