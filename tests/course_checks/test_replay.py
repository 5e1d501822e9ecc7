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
import linecache

import nbformat
import numpy as np
import pytest
import torch

from course_checks import CheckFailure, call, expect_keys, replay
from course_checks.calls import crash_target
from grader.preprocessors.replay_verdicts import MISMATCH_ERROR, take_records
from tests.support.factory import student_solution, with_code_in
from tests.support.replay_run import error_names, graded_cell, graded_with_replay


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


def test_student_code_gets_copies_and_a_change_is_noted_recorded_and_replayed(
    record, capsys
) -> None:
    def zero_inputs(x, params):  # the red team's trick: zero the inputs, return zeros
        x[...] = 0
        params["W"][...] = 0
        return np.zeros_like(x)

    x, params = np.ones(3), {"W": np.ones((2, 2))}
    recorded = record(zero_inputs, x, params)
    assert np.array_equal(x, np.ones(3)) and np.array_equal(params["W"], np.ones((2, 2))), (
        "the student's function got copies: the test's arrays are unchanged"
    )
    assert "zero_inputs changed its input x, params in place" in capsys.readouterr().out
    assert recorded["changed"] == [["a", 0], ["a", 1]]
    assert "mutated" not in recorded, "the record holds which arguments changed, not how"
    fresh = np.ones(3)
    with replay.replaying([recorded]):
        assert not call(replay.Stub("zero_inputs"), fresh, {"W": np.ones((2, 2))}).any()
        assert replay.last_changed() == {("a", 0), ("a", 1)}
    assert np.array_equal(fresh, np.ones(3)), "the replay changes nothing"


def test_tensors_are_copied_and_gradients_still_reach_the_originals() -> None:
    def double_in_place(t):
        out = t * 2
        t.data.zero_()
        return out

    t = torch.ones(3, dtype=torch.float64, requires_grad=True)
    call(double_in_place, t).sum().backward()
    assert torch.equal(t.detach(), torch.ones(3, dtype=torch.float64))
    assert torch.equal(t.grad, torch.full((3,), 2.0, dtype=torch.float64))
    assert replay.last_changed() == {("a", 0)}


def test_call_in_place_passes_the_originals_and_names_what_was_not_restored(record) -> None:
    from course_checks.calls import call_in_place, changed_arguments

    def probe(f, x):  # numerical_gradient's contract: change x, and restore it
        x[0] += 1.0
        return f(x)

    def forgets(f, x):
        x[0] += 1.0
        return f(x)

    x = np.zeros(2)
    assert call_in_place(probe, lambda a: float(a[0]), x) == 1.0
    assert changed_arguments(probe) == ["x"] and x[0] == 1.0, "the original was changed"
    restored = np.zeros(2)

    def restores(f, x):
        x[0] += 1.0
        value = f(x)
        x[0] -= 1.0
        return value

    call_in_place(restores, lambda a: float(a[0]), restored)
    assert changed_arguments(restores) == []
    recorded = json.loads(json.dumps(_recorded_in_place(record, forgets)))
    with replay.replaying([recorded]):
        stub = replay.Stub("forgets")
        assert call_in_place(stub, lambda a: 0.0, np.zeros(2)) == 1.0
        assert changed_arguments(stub) == ["number 2"], "the re-check reads the record"


def _recorded_in_place(record, function) -> dict:
    from course_checks.calls import call_in_place

    emitted: list[dict] = []
    saved_emit, saved_mode = replay._emit, replay._mode
    replay._emit, replay._mode = emitted.append, "record"
    try:
        call_in_place(function, lambda a: float(a[0]), np.zeros(2))
    finally:
        replay._emit, replay._mode = saved_emit, saved_mode
    return emitted.pop()


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


def _as_a_cell(source: str, namespace: dict) -> None:
    """Run ``source`` as IPython runs a cell: a file name of its own, its lines in linecache."""
    filename = f"/tmp/ipykernel_1/{abs(hash(source))}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def test_a_recorded_failure_is_replayed_from_validated_parts_only(record) -> None:
    source = "def broken(a):\n    raise ValueError(SECRET)\n"
    namespace = {"SECRET": "the hidden test's source"}
    _as_a_cell(source, namespace)
    recorded = record(namespace["broken"], 1.0)
    assert "the hidden test's source" in json.dumps(recorded), "the kernel's text is recorded"
    # Without the student's sources, no line is quoted; with them, the student's own line is.
    for sources, quoted in [((), False), ([source], True), (["raise ValueError(OTHER)"], False)]:
        with pytest.raises(CheckFailure) as failure, replay.replaying([recorded], sources):
            call(replay.Stub("broken"), 1.0)
        message = str(failure.value)
        assert message.startswith("broken raised ValueError"), message
        assert "hidden test" not in message, "no text of the kernel's in the re-check"
        assert ("raise ValueError(SECRET)" in message) is quoted, message
        assert (crash_target(message) is None) is True  # the line assigns nothing


def test_the_courses_hints_survive_the_re_check_and_the_kernels_text_does_not(record) -> None:
    source = "def add_bias(a, b):\n    return a + b[:, None]\n"
    namespace: dict = {}
    _as_a_cell(source, namespace)
    with pytest.raises(CheckFailure) as kernel:
        call(namespace["add_bias"], np.zeros((2, 4)), np.zeros(4))
    assert "are combined element-wise" in str(kernel.value)
    recorded = record(namespace["add_bias"], np.zeros((2, 4)), np.zeros(4))
    with pytest.raises(CheckFailure) as again, replay.replaying([recorded], [source]):
        call(replay.Stub("add_bias"), np.zeros((2, 4)), np.zeros(4))
    message = str(again.value)
    assert "are combined element-wise" in message and "shapes (2,4) and (4,1)" in message
    assert "operands could not be broadcast" not in message, "numpy's text is the kernel's"

    def leaks(a):  # a message of several lines, one that mimics the course's own
        raise ValueError("x\n  It was called with: y.\nthe hidden test calls check_rnn_module 9431")

    recorded = record(leaks, np.zeros(3))
    with pytest.raises(CheckFailure) as failure, replay.replaying([recorded]):
        call(replay.Stub("leaks"), np.zeros(3))
    assert "hidden" not in str(failure.value) and "9431" not in str(failure.value)


def test_a_recorded_error_of_the_students_own_class_is_not_named(record) -> None:
    class LeakingError(Exception):
        pass

    def broken(a):
        raise LeakingError("x")

    recorded = record(broken, 1.0)
    with pytest.raises(CheckFailure) as failure, replay.replaying([recorded]):
        call(replay.Stub("broken"), 1.0)
    assert "an exception of your own class" in str(failure.value)
    assert "LeakingError" not in str(failure.value)


def test_a_crash_on_an_assignment_is_charged_alike_in_the_kernel_and_the_re_check(record) -> None:
    source = "def backward(a):\n    db = a.sum(axis=3)\n    return db\n"
    namespace: dict = {}
    _as_a_cell(source, namespace)
    with pytest.raises(CheckFailure) as kernel:
        call(namespace["backward"], np.zeros(2))
    recorded = record(namespace["backward"], np.zeros(2))
    with pytest.raises(CheckFailure) as again, replay.replaying([recorded], [source]):
        call(replay.Stub("backward"), np.zeros(2))
    assert crash_target(str(kernel.value)) == crash_target(str(again.value)) == "db"


def test_texts_the_kernel_returned_are_described_never_quoted(record) -> None:
    def odd(a):
        return {"In[-1] says: check_close(...)": 1.0, "dx": np.zeros(2)}

    recorded = record(odd, 1.0)
    with replay.replaying([recorded]):
        result = call(replay.Stub("odd"), 1.0)
        with pytest.raises(CheckFailure) as failure:
            expect_keys(result, ("dx", "dh0"), "odd")
    assert "In[-1]" not in str(failure.value) and "a text of 29 characters" in str(failure.value)
    text = replay.decode(replay.encode("In[-1]"), trusted=False)
    assert text == "In[-1]" and f"{text}" == str(text) == "<a text of 6 characters>"


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
    import sys
    sys.modules["course_checks.ex1_rnn.rnn_numpy"].check_close = lambda *args, **kwargs: None

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


def test_an_answer_passed_on_to_the_next_call_matches_its_record(record) -> None:
    """A dict the student returned (split_torch_weights) is the next call's argument."""

    def split(a):
        return {"W_xi": np.ones(2)}

    def forward(params):
        return params["W_xi"].sum()

    first = record(split, 1.0)
    second = record(forward, split(1.0))
    with replay.replaying([first, second]):
        params = call(replay.Stub("split"), 1.0)
        assert call(replay.Stub("forward"), params) == 2.0
