"""Benchmark: each solution notebook's execution time, and its autograde time with real nbgrader.

Run: ``.venv/bin/python benchmarks/notebook_times.py``. Executes every notebook in solutions/ with
nbclient (the time a student waits for "Run all"), then autogrades all of them one at a time with
``python -m grader autograde --jobs 1`` and prints where the time goes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.course import load_course  # noqa: E402
from grader.paths import tool_env  # noqa: E402


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={
        "metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    import os

    os.environ.update(tool_env())
    print("execution with nbclient (Run all):")
    for assignment in load_course():
        for notebook in assignment.notebooks:
            print(f"  {assignment.name}/{notebook.name}: {execute(notebook.path):5.1f} s")
    with tempfile.TemporaryDirectory(prefix="autograde-bench-") as tmp:
        submitted = Path(tmp) / "submitted" / "solution"
        for assignment in load_course():
            (submitted / assignment.name).mkdir(parents=True)
            for notebook in assignment.notebooks:
                (submitted / assignment.name / notebook.path.name).write_bytes(
                    notebook.path.read_bytes()
                )
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "grader", "autograde", str(submitted.parent), "--out",
             str(Path(tmp) / "out"), "--jobs", "1"],
            cwd=REPO, env=tool_env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        total = time.monotonic() - started
    print("autograde with real nbgrader, one notebook at a time (--jobs 1):")
    for line in done.stderr.splitlines():
        match = re.match(r"\[\d+/\d+\] solution (\S+): (\S+) in ([\d.]+) s", line)
        if match:
            print(f"  {match[1]}: {match[3]:>5} s (score {match[2]})")
    print(f"  whole batch, including generating the gradebook template: {total:.1f} s")


if __name__ == "__main__":
    main()
