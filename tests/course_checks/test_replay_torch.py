"""Verdicts outside the kernel for the PyTorch exercises: probes recorded, comparisons replayed.

The tests of ``rnn_torch``, ``gru_torch`` and ``lstm_torch`` run the student's modules inside
*probes* (``course_checks.probes``) that return data; the grader's re-check replays that data and
runs the comparisons again. The first tests do this in-process for every check of these
exercises, as the kernel and the grader would (records through JSON, the student's names as
``replay.Stub``); the last ones run the released ``gru_torch`` notebook in a real kernel, then the
grader's ReplayVerdicts, as autograding does.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
import torch
from torch import nn

import __main__
from course_checks import CheckFailure, layers, replay
from course_checks.adding import reference_adding_problem
from course_checks.ex1_rnn import rnn_torch as rnn
from course_checks.ex1_rnn.references import random_rnn_case
from course_checks.ex3_gru_torch import gru_torch as gru
from course_checks.ex3_gru_torch import layer as gru_layer
from course_checks.ex3_gru_torch.references import random_gru_case
from course_checks.ex4_lstm import lstm_torch as lstm
from course_checks.ex5_language import language_torch as language
from grader.course import load_course
from grader.preprocessors.replay_verdicts import MISMATCH_ERROR, take_records
from tests.course_checks.ex3_gru_torch.test_gru_torch import Oracle, make, make_cell, make_train
from tests.course_checks.ex4_lstm.test_lstm import (
    evaluate,
    make_train_model,
    set_forget_bias,
    torch_step,
    train_step,
)
from tests.course_checks.ex4_lstm.test_lstm import make as make_lstm
from tests.course_checks.ex5_language import test_language_torch as ex5
from tests.course_checks.ex6_seq2seq.test_seq2seq_torch import REPLAY_CASES
from tests.course_checks.test_course_checks import TinyRNN
from tests.support.factory import student_solution
from tests.support.replay_run import error_names, graded_cell, graded_with_replay


class LoadableRNN(TinyRNN):
    """TinyRNN with the exercise's load_from_torch."""

    def load_from_torch(self, rnn_module: nn.RNN) -> None:
        with torch.no_grad():
            self.W_x.copy_(rnn_module.weight_ih_l0.T)
            self.W_h.copy_(rnn_module.weight_hh_l0.T)
            self.b.copy_(rnn_module.bias_ih_l0 + rnn_module.bias_hh_l0)


def _rnn_step(x_t, h_prev, W_x, W_h, b):
    return torch.tanh(x_t @ W_x + h_prev @ W_h + b)


# (check, the student's answer, the test's other arguments) for every check that runs student code.
CHECKS: dict[str, tuple[Callable[..., Any], Any, tuple, dict]] = {
    "rnn_step": (rnn.check_torch_rnn_step, _rnn_step, (8118, 5, 6, 3), {"guarded": True}),
    "rnn_parameters": (rnn.check_rnn_parameters, LoadableRNN, (24, 16), {}),
    "rnn_module": (
        rnn.check_rnn_module,
        LoadableRNN,
        (9431, 7, 3, 4, 6),
        {"guarded": True, "also_without_h0": True},
    ),
    "rnn_h0_default": (rnn.check_rnn_h0_default, LoadableRNN, (52, 4, 2, 3, 5), {}),
    "rnn_load": (rnn.check_rnn_load_from_torch, LoadableRNN, (53, 6, 3, 4, 5), {}),
    "rnn_device": (rnn.check_rnn_device, LoadableRNN, ("cpu", 54, 5, 3, 2, 4), {}),
    "rnn_gradients": (
        rnn.check_module_gradients,
        LoadableRNN,
        (random_rnn_case(seed=61, T=6, B=2, D=3, H=5),),
        {},
    ),
    "gru_cell_parameters": (gru.check_cell_parameters, make_cell(), (24, 16), {}),
    "gru_cell": (gru.check_gru_cell, make_cell(), (8123, 5, 6, 3), {"guarded": True}),
    "gru_module": (gru.check_gru_module, make(), (9431, 7, 3, 4, 6), {"guarded": True}),
    "gru_h0_default": (gru.check_h0_default, make(), (52, 4, 2, 3, 5), {}),
    "gru_load": (gru.check_load_from_torch, make(), (53, 6, 3, 4, 5), {}),
    "gru_gradients": (gru.check_gru_gradients, make(), (random_gru_case(61, 6, 2, 3, 5),), {}),
    "gru_device": (gru.check_gru_device, make(), ("cpu", 54, 5, 3, 2, 4), {}),
    "adding_problem": (gru.check_adding_problem, reference_adding_problem, (1000, 10, 0), {}),
    "train": (gru.check_train, make_train(), (4242,), {"steps": 5, "T": 7, "lr": 0.03}),
    "lstm_step": (lstm.check_lstm_step, torch_step(), (8123, 5, 6, 3), {"guarded": True}),
    "lstm_parameters": (lstm.check_lstm_parameters, make_lstm(), (24, 16), {}),
    "lstm_module": (lstm.check_lstm_module, make_lstm(), (9431, 7, 3, 4, 6), {"guarded": True}),
    "lstm_state_default": (lstm.check_state_default, make_lstm(), (52, 4, 2, 3, 5), {}),
    "lstm_gradients": (
        lstm.check_lstm_gradients,
        make_lstm(),
        (lstm.random_lstm_case(61, 6, 2, 3, 5),),
        {},
    ),
    "lstm_device": (lstm.check_lstm_device, make_lstm(), ("cpu", 54, 5, 3, 2, 4), {}),
    "lstm_forget_bias": (lstm.check_forget_bias, set_forget_bias, (make_lstm(), 70, 5, 24), {}),
    "lstm_train_step": (lstm.check_train_step, train_step, (4242,), {"steps": 4, "T": 7}),
    "lstm_evaluate": (lstm.check_evaluate, evaluate, (5150,), {"n": 11, "T": 9}),
    "lstm_train_model": (lstm.check_train_model, make_train_model(), (6161,), {"eval_every": 3}),
    "lm_batchify": (language.check_batchify, ex5.batchify, (1003, 7), {"seed": 5101}),
    "lm_get_chunk": (language.check_get_chunk, ex5.get_chunk, (37, 5, 8), {"seed": 5201}),
    "lm_charlm": (language.check_charlm, ex5.make_lm(), (5301, 20, 7, 3, 6, 4), {"num_layers": 3}),
    "lm_train_step": (language.check_train_step, ex5.train_step, (5401,), {"steps": 4, "B": 4}),
    "lm_evaluate_bpc": (language.check_evaluate_bpc, ex5.make_evaluate(), (5501,), {"n": 32}),
    "lm_sample": (language.check_sample, ex5.make_sample(), (5601,), {"prompt": 1, "length": 20}),
    "lm_classifier": (
        language.check_classifier,
        ex5.make_classifier(),
        (5701, 13, 3, 4, 5, 9, 6, 12),
        {"bidirectional": True},
    ),
}
# Exercise 6's cases live beside its tests.
CHECKS.update(REPLAY_CASES)


def _recorded(monkeypatch, check: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple:
    """``check(*args, **kwargs)`` as the grader's kernel runs it: (its result, the records)."""
    records: list[dict] = []
    keep = lambda record: records.append(json.loads(json.dumps(record)))  # noqa: E731
    monkeypatch.setattr(replay, "_emit", keep)
    monkeypatch.setattr(replay, "_mode", "record")
    try:
        return check(*args, **kwargs), records
    finally:
        monkeypatch.setattr(replay, "_mode", "normal")


def _replayed(check: Callable[..., Any], records: list[dict], *args: Any, **kwargs: Any) -> Any:
    """``check`` as the grader's re-check runs it: the student's answer is a Stub."""
    with replay.replaying(records):
        return check(replay.Stub("student"), *args, **kwargs)


# The checks that replayed PyTorch notebooks import, from the registry (grader.course), so that a
# new check cannot be left out; "notebook.check" -> the function.
REGISTERED = {
    f"{notebook.name}.{name}": getattr(importlib.import_module(module), name)
    for assignment in load_course()
    for notebook in assignment.notebooks
    if notebook.replayed and "torch" in notebook.student_imports
    for module, name in notebook.check_imports
    if name.startswith("check_")
}
TESTED_ON_THEIR_OWN = {
    "gru_torch.check_adding_trained",  # test_the_trained_model_is_found_by_name
    # tests/course_checks/ex5_language/test_language_torch.py (a trained model, by name; a run
    # of the notebook's training, shortened there)
    "language_torch.check_lm_trained",
    "language_torch.check_lm_training",
    "seq2seq_torch.check_trained",  # tests/course_checks/ex6_seq2seq (a trained model, by name)
}
ARGUMENTS = {entry[0]: entry[1:] for entry in CHECKS.values()}


def test_the_cases_are_those_of_the_registry() -> None:
    registered = {c for n, c in REGISTERED.items() if n not in TESTED_ON_THEIR_OWN}
    assert len(REGISTERED) > len(TESTED_ON_THEIR_OWN) + 20, "the registry finds the checks"
    assert set(ARGUMENTS) == registered, "CHECKS: one case per check the notebooks import"


@pytest.mark.parametrize("name", sorted(set(REGISTERED) - TESTED_ON_THEIR_OWN))
def test_every_check_replays_from_its_record(name, monkeypatch) -> None:
    check = REGISTERED[name]
    assert check in ARGUMENTS, f"{name}: add its arguments to CHECKS"
    answer, args, kwargs = ARGUMENTS[check]
    torch.manual_seed(0)  # the initialisation checks draw from the global generator
    result, records = _recorded(monkeypatch, check, answer, *args, **kwargs)
    assert records and all("result" in record for record in records), records
    assert _replayed(check, records, *args, **kwargs) == result, "same verdict, same numbers"


def test_the_trained_model_is_found_by_name(monkeypatch) -> None:
    monkeypatch.setattr(__main__, "adding_model", Oracle(), raising=False)
    monkeypatch.setattr(__main__, "adding_losses", [0.1] * 5, raising=False)
    names = ("adding_model", "adding_losses", 5, 20, 1)
    result, records = _recorded(monkeypatch, gru.check_adding_trained, *names)
    assert result[0] < 1e-10
    monkeypatch.delattr(__main__, "adding_model")  # the re-check has no model, only the record
    with replay.replaying(records):
        assert gru.check_adding_trained(*names) == result
    monkeypatch.setattr(__main__, "adding_model", Oracle(), raising=False)
    with pytest.raises(CheckFailure, match="re-run the training cell"):
        gru.check_adding_trained(*names, from_scratch=True)  # normal mode: looked up again


def test_the_comparisons_run_again_outside_the_probe(monkeypatch) -> None:
    wrong = make_cell(swap=True)
    for module in (gru_layer, layers):  # a fooled kernel: no comparison fails in it
        monkeypatch.setattr(module, "check_close", lambda *args, **kwargs: None)
    _, records = _recorded(monkeypatch, gru.check_gru_cell, wrong, 0, 2, 3, 4)
    monkeypatch.undo()
    with pytest.raises(CheckFailure, match="z and 1 − z are swapped"):
        _replayed(gru.check_gru_cell, records, 0, 2, 3, 4)


def test_the_adding_data_travel_compactly(monkeypatch) -> None:
    _, records = _recorded(monkeypatch, gru.check_adding_problem, reference_adding_problem,
                           1000, 10, 0)  # fmt: skip
    size = len(json.dumps(records))
    assert size < 80_000, f"{size} bytes: x alone is 80 kB as float32, 107 kB in base64"


# ---------------------------------------------------------------- a real kernel, then the grader

ASSIGNMENT, NOTEBOOK = "ex3_gru_torch", "gru_torch"
# A wrong step (z and 1 − z swapped), and a torch function mode under which every tensor reads
# as zeros in NumPy: the kernel's comparisons then see 0 == 0.
FOOLS_THE_KERNEL = """
from torch.overrides import TorchFunctionMode


class _Blind(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.Tensor.numpy:
            return np.zeros(tuple(args[0].shape))
        return func(*args, **(kwargs or {}))


_Blind().__enter__()
"""


def _graded(notebook: nbformat.NotebookNode, tmp_path, monkeypatch) -> tuple:
    return graded_with_replay(notebook, ASSIGNMENT, NOTEBOOK, tmp_path, monkeypatch)


def test_an_honest_notebook_passes_the_replay(tmp_path, monkeypatch) -> None:
    executed, graded = _graded(student_solution(ASSIGNMENT, NOTEBOOK), tmp_path, monkeypatch)
    recorded = take_records(graded_cell(executed, "test_adding_trained"))
    assert [r["call"] for r in recorded] == ["_probe_trained"], "the model, found by its name"
    assert "result" in recorded[0], "the kernel found adding_model and adding_losses"
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert error_names(cell) == [], cell.metadata.nbgrader.grade_id
        assert replay.MIME_TYPE not in json.dumps(cell.get("outputs", [])), "records removed"


def test_a_kernel_fooled_by_a_torch_function_mode_is_caught(tmp_path, monkeypatch) -> None:
    nb = student_solution(ASSIGNMENT, NOTEBOOK)
    cell = graded_cell(nb, "gru_cell")
    cell.source = cell.source.replace("return z * h + (1 - z) * n", "return (1 - z) * h + z * n")
    cell.source += "\n" + FOOLS_THE_KERNEL
    # (The static scan now flags the torch.overrides import too; the replay is the second net.)
    executed, graded = _graded(nb, tmp_path, monkeypatch)
    assert error_names(graded_cell(executed, "test_cell_forward")) == [], "the kernel was fooled"
    fooled = graded_cell(graded, "test_cell_forward")
    assert error_names(fooled) == [MISMATCH_ERROR]
    assert "h_new from GRUCellFromScratch" in fooled.outputs[-1].evalue, "names the quantity"


@pytest.mark.slow
def test_an_honest_lstm_notebook_passes_the_replay(tmp_path, monkeypatch) -> None:
    """lstm_torch's records keep what its checks need: pairs of states, biases, histories."""
    notebook = student_solution("ex4_lstm", "lstm_torch")
    executed, graded = graded_with_replay(notebook, "ex4_lstm", "lstm_torch", tmp_path, monkeypatch)
    recorded = take_records(graded_cell(executed, "test_lstm_step"))
    assert [r["call"] for r in recorded] == ["_probe_lstm_step"], "one probe, recorded"
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            assert error_names(cell) == [], cell.metadata.nbgrader.grade_id
        assert replay.MIME_TYPE not in json.dumps(cell.get("outputs", [])), "records removed"
