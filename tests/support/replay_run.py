"""Run a notebook as the grader does, recording, then re-check it: shared by the replay tests."""

from __future__ import annotations

import json

import nbformat
from nbclient import NotebookClient

from course_checks import replay
from grader.integrity import rebuild
from grader.preprocessors.replay_verdicts import ReplayVerdicts, replay_enabled
from tests.support.factory import EXERCISES


def graded_with_replay(
    notebook: nbformat.NotebookNode, assignment: str, name: str, tmp_path, monkeypatch
) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """Run ``notebook`` rebuilt around the release, recording: (as executed, after the replay)."""
    release = nbformat.read(EXERCISES / assignment / f"{name}.ipynb", as_version=4)
    assert replay_enabled(release)
    nb = rebuild(notebook, release).notebook
    monkeypatch.setenv(replay.RECORD_ENV, "1")
    NotebookClient(
        nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    executed = nbformat.from_dict(json.loads(json.dumps(nb)))
    ReplayVerdicts().preprocess(nb, {})
    return executed, nb


def graded_cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def error_names(cell: nbformat.NotebookNode) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]
