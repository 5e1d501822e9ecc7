"""The experiments' training step: resumable, with progress, clear failures, and a chapter that
only reads results (experiments/runner.py, experiments/__main__.py).

Runs real training in real worker processes on tiny specifications, with a result cache of the
test's own (``GRU_EXPERIMENT_CACHE``), so the book's cache is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from experiments import runner
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def tiny(seed: int, steps: int = 60) -> dict:
    """A run of a second or less: a tanh RNN on a short adding problem, scored only at the end
    (so it never stops early and its length is its budget)."""
    return {
        "task": "adding",
        "task_args": {"length": 10},
        "model": "rnn",
        "hidden": 4,
        "seed": seed,
        "steps": steps,
        "batch": 8,
        "eval_every": 10**9,
    }


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GRU_EXPERIMENT_CACHE", str(folder))
    return folder


def test_reading_without_training_names_the_command(cache):
    with pytest.raises(runner.MissingResults) as missing:
        runner.load_all([tiny(0), tiny(1)])
    message = str(missing.value)
    assert "2 of 2 training runs" in message and "python -m experiments" in message
    assert "make book" in message and "rnn on adding" in message


def test_a_failing_run_is_named_and_the_others_are_kept(cache):
    broken = {**tiny(5), "task": "no_such_task"}
    with pytest.raises(runner.TrainingFailed) as failed:
        runner.run_all([tiny(0), broken, tiny(1)], workers=2)
    message = str(failed.value)
    assert "1 of 3 training runs failed" in message and "no_such_task" in message
    assert "python -m experiments" in message
    kept = runner.load_all([tiny(0), tiny(1)])  # trained before the failure was reported
    assert [result["spec"]["seed"] for result in kept] == [0, 1]
    assert kept[0]["steps"] >= 1


SCRIPT = textwrap.dedent(
    """
    import sys
    from tests.book.test_experiment_runner import tiny
    from experiments.runner import run_all

    if __name__ == "__main__":
        run_all([tiny(seed, steps=int(sys.argv[1])) for seed in range(8)], workers=2,
                progress=True)
    """
)


def run_script(tmp_path: Path, steps: int) -> subprocess.Popen:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), str(steps)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches it and its workers
        # A shell's background job (CI) ignores SIGINT, and children inherit that; a terminal
        # user's does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_progress_bar_counts_runs_and_gives_the_time_left(cache, tmp_path):
    done = run_script(tmp_path, steps=40)
    _, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr[-2000:]
    assert "8/8 runs" in stderr and "left" in stderr and "elapsed" in stderr, stderr[-1000:]


def test_an_interrupted_step_resumes_where_it_stopped(cache, tmp_path):
    # About 2 s per run, 8 runs on 2 workers: Ctrl-C lands after the first result, mid-batch.
    process = run_script(tmp_path, steps=3000)
    deadline = time.monotonic() + 240
    while not list(cache.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    stopped = time.monotonic()
    _, stderr = process.communicate(timeout=120)
    # The workers are ended, not left to finish the run each was handed next (seconds each).
    assert time.monotonic() - stopped < 10, "Ctrl-C did not stop the step promptly"
    first = {path.name: path.stat().st_mtime_ns for path in cache.glob("*.json")}
    assert 1 <= len(first) < 8, f"{len(first)} results after the interruption: {stderr[-800:]}"
    assert not list(cache.glob("*.tmp")), "an interrupted run left half a result"
    # Running again trains only what is missing and leaves the finished results alone.
    results = runner.run_all([tiny(seed, steps=3000) for seed in range(8)], workers=2)
    assert len(results) == 8
    for name, mtime in first.items():
        assert (cache / name).stat().st_mtime_ns == mtime, f"{name} was trained again"
    assert all(json.loads(path.read_text())["steps"] >= 1 for path in cache.glob("*.json"))
