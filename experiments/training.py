"""One training run, from a plain-dict specification to a plain-dict result.

A specification names the task and its arguments, the model kind, hidden size, optional
forget-gate bias, seed, the number of steps, the batch size and the learning rate. Training uses
Adam with gradient-norm clipping (Pascanu et al. 2013) and scores the **validation** set every
``eval_every`` steps, keeping the checkpoint with the best validation score (early stopping) and
stopping as soon as the validation score is solved with a margin (``Task.stop``). The **test**
set is read once, at the end, by the chosen checkpoint: nothing during training depends on it.
Everything is seeded, and runs on one CPU thread, so a specification always gives the same result
on a given machine; the training batches depend on the seed only, so runs of different models
with one seed see the same data in the same order.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from experiments.models import SequenceModel
from experiments.tasks import Task, make_task

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "task_args": {},
    "forget_bias": None,
    "steps": 500,
    "batch": 64,
    "lr": 1e-2,
    "clip": 1.0,
    "eval_every": 50,
    # Stop at the first evaluation whose validation score is solved with a margin (Task.stop; if
    # False, train every step), and report the checkpoint with the best validation score ("best")
    # or the last one ("last").
    "stop_when_solved": True,
    "checkpoint": "best",
}


def build(spec: Spec) -> tuple[Task, SequenceModel]:
    """The task and the freshly initialised (seeded) model of a specification."""
    spec = {**DEFAULTS, **spec}
    task = make_task(spec["task"], **spec["task_args"])
    torch.manual_seed(spec["seed"])
    model = SequenceModel(
        spec["model"], task.input_size, spec["hidden"], task.output_size, spec["forget_bias"]
    )
    return task, model


@contextlib.contextmanager
def flushed_denormals() -> Iterator[None]:
    """Denormal numbers flushed to zero inside the block (the CPU's FTZ/DAZ modes).

    Gradients that vanish through time underflow to denormals, which CPUs process many times more
    slowly. Flushing replaces only magnitudes below float32's smallest normal number (about 1e-38)
    by zero; on the project's machine it made a tanh RNN's adding run at T = 100 about 1.6 times
    faster, with the same score and number of steps.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def train(spec: Spec) -> dict[str, Any]:
    """Train the model of ``spec`` and return its score history, final score and facts.

    Runs with denormals flushed to zero (:func:`flushed_denormals`).
    """
    with flushed_denormals():
        return _train(spec)


def _better(task: Task, score: float, best: float | None) -> bool:
    """Whether a validation score improves on the best so far (ties keep the earlier one)."""
    if best is None:
        return True
    return score > best if task.higher_is_better else score < best


def _train(spec: Spec) -> dict[str, Any]:
    """:func:`train`'s body.

    Returns ``score`` (the test score of the chosen checkpoint), ``solved`` (whether the task
    counts that test score as solved), ``val_score`` and ``val_solved`` (the same on validation),
    ``best_step`` (the chosen checkpoint's step: where the run stopped, if it was solved),
    ``steps`` (steps taken), ``history`` (``[step, validation score]`` pairs), ``train_loss``
    (every step's loss), ``train_score`` (the chosen checkpoint's score on the whole training set,
    for datasets; else None), ``parameters``, ``seconds`` (wall-clock, for information: runs may
    share the CPU) and ``cpu_seconds`` (this process's CPU time, which sharing does not inflate),
    and whatever the task's ``details`` adds (the sunspot forecasts).
    """
    spec = {**DEFAULTS, **spec}
    if spec["checkpoint"] not in ("best", "last"):
        raise ValueError(f"checkpoint must be 'best' or 'last', not {spec['checkpoint']!r}")
    started, started_cpu = time.perf_counter(), time.process_time()
    task, model = build(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    rng = np.random.default_rng(spec["seed"])
    validation = task.validation_batch()
    history: list[list[float]] = []
    losses: list[float] = []
    best_score: float | None = None
    best_state, best_step, step = None, 0, 0
    for step in range(1, spec["steps"] + 1):
        batch = task.train_batch(rng, spec["batch"])
        loss = task.loss(model(batch.x), batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
        optimizer.step()
        losses.append(float(loss.detach()))
        if step % spec["eval_every"] == 0 or step == spec["steps"]:
            with torch.no_grad():
                score = task.score(model(validation.x), validation)
            history.append([step, score])
            if spec["checkpoint"] == "last" or _better(task, score, best_score):
                best_score, best_step = score, step
                best_state = copy.deepcopy(model.state_dict())
            if spec["stop_when_solved"] and task.stop(score):
                break
    model.load_state_dict(best_state)
    test, train_set = task.test_batch(), task.train_eval_batch()
    with torch.no_grad():
        outputs = model(test.x)
        test_score = task.score(outputs, test)
        details = task.details(outputs, test)
        train_score = None if train_set is None else task.score(model(train_set.x), train_set)
    return {
        "score": test_score,
        "solved": bool(task.solved(test_score)),
        "val_score": best_score,
        "val_solved": bool(task.solved(best_score)),
        "best_step": best_step,
        "steps": step,
        "history": history,
        "train_loss": losses,
        "train_score": train_score,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - started_cpu,
        **details,
    }
