"""The snapshot comparison names every verdict that changed, and nothing else."""

from __future__ import annotations

from tests.support.grading_snapshot import differences


def _snapshot(status: str = "failed", message: str = "expected 1.0, got 2.0") -> dict:
    return {
        "cells": {"mistakes m1 ex1_rnn/rnn_numpy test_rnn_cell_forward": [0, 2, status, message]},
        "feedback": {"mistakes m1/ex1_rnn/rnn_numpy.html": "rnn_numpy " + message},
        "grades.csv mistakes": "student_id,score\nm1,0\n",
    }


def test_identical_snapshots_have_no_differences() -> None:
    assert differences(_snapshot(), _snapshot()) == []


def test_a_changed_status_or_message_is_named() -> None:
    changed = differences(_snapshot(), _snapshot(status="error"))
    assert len(changed) == 1 and "test_rnn_cell_forward" in changed[0], changed
    reworded = differences(_snapshot(), _snapshot(message="expected 1.0, got 2.00"))
    assert len(reworded) == 2, reworded  # the cell's message and its feedback page
    assert any("rnn_numpy.html" in line for line in reworded)


def test_a_missing_cell_or_changed_csv_is_named() -> None:
    after = _snapshot()
    after["cells"] = {}
    after["grades.csv mistakes"] = "student_id,score\nm1,2\n"
    changed = differences(_snapshot(), after)
    assert any("test_rnn_cell_forward" in line for line in changed)
    assert "grades.csv mistakes differs" in changed
