"""Verdicts outside the kernel: answers recorded in a real kernel, tests replayed in the grader.

The first tests cover the record format on its own; the last ones run the released notebook in a
real kernel with recording on, then the grader's ReplayVerdicts preprocessor, as autograding does:
an honest notebook keeps every point, and a notebook that fools the tests inside its own kernel
(without anything the static scan would see) is caught by the replay.
"""

from __future__ import annotations

import base64
import io
import json

import nbformat
import numpy as np
import pytest
import torch

from course_checks import CheckFailure, call, replay
from grader.replay_verdicts import MISMATCH_ERROR, take_records
from tests.factory import student_solution, with_code_in
from tests.replay_run import error_names, graded_cell, graded_with_replay


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        float("nan"),
        "text",
        np.arange(6.0).reshape(2, 3),
        np.float64(1.5),
        np.array([1, 2], dtype=np.int32),
        (np.zeros(2), [1.0, {"dx": np.ones((2, 2))}]),
    ],
)
def test_values_survive_the_record(value) -> None:
    back = replay.decode(json.loads(json.dumps(replay.encode(value))))
    assert type(back) is type(value)
    assert repr(back) == repr(value)  # same values, dtypes and nesting


def test_tensors_keep_their_kind_and_requires_grad() -> None:
    back = replay.decode(replay.encode(torch.ones(2, 3, dtype=torch.float64, requires_grad=True)))
    assert isinstance(back, torch.Tensor) and back.requires_grad and back.dtype == torch.float64


def test_objects_that_are_not_data_come_back_opaque() -> None:
    class Anything:
        def __eq__(self, other):
            return True

    back = replay.decode(replay.encode(Anything()))
    assert isinstance(back, replay.Opaque) and type(back).__name__ == "Anything"
    assert back != 1


def test_malformed_or_pickled_records_are_refused() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    pickled = {"t": "ndarray", "v": base64.b64encode(buffer.getvalue()).decode()}
    for bad in [pickled, {"t": "ndarray", "v": "not base64!"}, {"t": "module"}, {"v": 1}, []]:
        with pytest.raises(replay.ReplayError):
            replay.decode(bad)


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch):
    """``record(function, *args)``: what the kernel records for ``call(function, *args)``.

    The real recording path of :func:`course_checks.call`, with the display output (the one
    thing that needs a kernel) caught in a list.
    """
    emitted: list[dict] = []
    monkeypatch.setattr(replay, "_emit", emitted.append)

    def run(function, *args) -> dict:
        monkeypatch.setattr(replay, "_mode", "record")
        try:
            call(function, *args)
        except CheckFailure:
            pass
        finally:
            monkeypatch.setattr(replay, "_mode", "normal")
        return json.loads(json.dumps(emitted.pop()))  # as it travels: JSON

    return run


def test_replay_answers_from_the_record_and_applies_changes_to_arguments(record) -> None:
    def scale_in_place(a):
        a *= 2
        return a.sum()

    x = np.ones(3)
    recorded = record(scale_in_place, x.copy())
    stub = replay.Stub("scale_in_place")
    fresh = np.ones(3)
    with replay.replaying([recorded]):
        assert call(stub, fresh) == 6.0
    assert np.array_equal(fresh, [2.0, 2.0, 2.0]), "the replay shows the change the student made"


def test_replay_refuses_missing_extra_and_mismatched_records(record) -> None:
    recorded = record(np.tanh, np.zeros(3))
    stub = replay.Stub("tanh")
    with pytest.raises(replay.ReplayError, match="no recorded answer"), replay.replaying([]):
        call(stub, np.zeros(3))
    extra = replay.replaying([recorded, recorded])
    with pytest.raises(replay.ReplayError, match="not made by the test"), extra:
        call(stub, np.zeros(3))
    with pytest.raises(replay.ReplayError, match="does not match"), replay.replaying([recorded]):
        call(stub, np.zeros(4))
    with pytest.raises(replay.ReplayError, match=r"outside course_checks\.call"):
        stub(np.zeros(3))


def test_a_recorded_failure_is_replayed_as_that_failure(record) -> None:
    def broken(a):
        raise ValueError("shapes")

    with pytest.raises(CheckFailure, match="shapes"), replay.replaying([record(broken, 1.0)]):
        call(replay.Stub("broken"), 1.0)


def test_normal_mode_just_calls() -> None:
    assert replay.mode() == "normal"
    assert call(np.add, 1, 2) == 3


# ---------------------------------------------------------------- a real kernel, then the grader

ASSIGNMENT, NOTEBOOK = "ex1_rnn", "rnn_numpy"
FOOLS_THE_KERNEL = """
import numpy as np

def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):
    return np.zeros((x_t.shape[0], W_h.shape[0]))

def _quiet():
    global check_close
    check_close = lambda *args, **kwargs: None

_quiet()
"""


def _graded(notebook: nbformat.NotebookNode, tmp_path, monkeypatch) -> tuple:
    return graded_with_replay(notebook, ASSIGNMENT, NOTEBOOK, tmp_path, monkeypatch)


def test_an_honest_notebook_passes_the_replay(tmp_path, monkeypatch) -> None:
    executed, graded = _graded(student_solution(ASSIGNMENT, NOTEBOOK), tmp_path, monkeypatch)
    recorded = take_records(graded_cell(executed, "test_rnn_forward"))
    assert [r["call"] for r in recorded] == ["rnn_forward"] * 2, "the two public cases, recorded"
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert error_names(cell) == [], cell.metadata.nbgrader.grade_id
        assert replay.MIME_TYPE not in json.dumps(cell.get("outputs", [])), "records removed"


def test_a_kernel_fooled_by_a_hidden_rebinding_is_caught(tmp_path, monkeypatch) -> None:
    code = FOOLS_THE_KERNEL
    nb = with_code_in(ASSIGNMENT, NOTEBOOK, "rnn_cell_forward", code)
    executed, graded = _graded(nb, tmp_path, monkeypatch)
    assert error_names(graded_cell(executed, "test_rnn_cell_forward")) == [], (
        "the kernel was fooled"
    )
    cell = graded_cell(graded, "test_rnn_cell_forward")
    assert error_names(cell) == [MISMATCH_ERROR]
    assert "h_t from rnn_cell_forward" in cell.outputs[-1].evalue, "names the wrong quantity"
    assert error_names(graded_cell(graded, "test_clip_grad_norm")) == [], (
        "a right answer keeps its points"
    )


def test_switching_the_recorder_off_loses_the_points(tmp_path, monkeypatch) -> None:
    code = "import course_checks.replay\ncourse_checks.replay._mode = 'normal'"
    nb = with_code_in(ASSIGNMENT, NOTEBOOK, "rnn_cell_forward", code)
    executed, graded = _graded(nb, tmp_path, monkeypatch)
    assert error_names(graded_cell(executed, "test_rnn_cell_forward")) == []
    assert error_names(graded_cell(graded, "test_rnn_cell_forward")) == [MISMATCH_ERROR]
