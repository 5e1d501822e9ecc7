"""Checks of the training part of ``solutions/ex4_lstm/lstm_torch.ipynb``: one optimiser step, the
evaluation and the training loop of small RNN, GRU and LSTM regressors on the adding problem.

The tests replay the student's functions on small float64 models against the reference loop
below; their data come from the adding problem the notebook gives (``course_checks.adding``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.adding import reference_adding_problem
from course_checks.compare import check_close, check_true, expect_keys
from course_checks.ex4_lstm.layer import call_lstm
from course_checks.ex4_lstm.wrong_answers import _MODEL_VARIANTS, _STEP_VARIANTS
from course_checks.probes import digest, replaced_names, run_probe

__all__ = [
    "KINDS",
    "check_evaluate",
    "check_train_model",
    "check_train_step",
    "reference_evaluate",
    "reference_train_model",
    "reference_train_step",
    "tiny_regressor",
]

KINDS = ("rnn", "gru", "lstm")


_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class _TinyRegressor(nn.Module):
    """A small float64 recurrent regressor: the last hidden state through a linear read-out."""

    def __init__(self, kind: str, hidden_size: int) -> None:
        super().__init__()
        self.recurrent = _MODULES[kind](2, hidden_size, dtype=torch.float64)
        self.readout = nn.Linear(hidden_size, 1, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.recurrent(x)
        return self.readout(output[-1])[:, 0]


def tiny_regressor(kind: str, hidden_size: int, seed: int) -> nn.Module:
    """A :class:`_TinyRegressor` of ``kind`` ("rnn", "gru", "lstm"), initialised from ``seed``."""
    torch.manual_seed(seed)
    return _TinyRegressor(kind, hidden_size)


def reference_train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    max_norm: float,
    *,
    zero_grad: bool = True,
    clip: bool = True,
    target: str = "same",
    order: str = "backward_first",
    reduce: str = "mean",
) -> float:
    """One update on ``(x, y)``, as the exercise asks, with switchable mistakes (defaults right).

    Returns the loss before the update, the mean squared error of ``model(x)`` against ``y``.
    """
    goal = y[:, None] if target == "column" else y
    errors = (model(x) - goal) ** 2
    loss = errors.sum() if reduce == "sum" else errors.mean()
    if zero_grad:
        optimizer.zero_grad()
    if order == "step_first":
        optimizer.step()
        loss.backward()
    else:
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
    return loss.item()


def reference_evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean squared error of ``model(x)`` against ``y``, without recording a graph."""
    with torch.no_grad():
        return torch.mean((model(x) - y) ** 2).item()


def _batches(steps: int, T: int, batch_size: int, seed: int) -> list[tuple]:
    return [reference_adding_problem(batch_size, T, seed + k) for k in range(steps)]


def _probe_train_step(
    train_step: Callable[..., Any], seed: int, arguments: dict[str, Any]
) -> dict[str, Any]:
    """The losses the student's ``train_step`` returns and the parameters it leaves, per kind."""
    __tracebackhide__ = True
    result = {}
    for kind in KINDS:
        model = tiny_regressor(kind, arguments["hidden_size"], seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=arguments["lr"])
        losses = []
        for x, y in _batches(arguments["steps"], arguments["T"], arguments["batch_size"], seed):
            x, y = x.double(), y.double()
            losses.append(call_lstm(train_step, model, optimizer, x, y, arguments["max_norm"]))
        parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
        result[kind] = {"losses": losses, "parameters": parameters}
    return result


def _reference_steps(seed: int, kind: str, arguments: Mapping[str, Any], **switches: Any) -> tuple:
    model = tiny_regressor(kind, arguments["hidden_size"], seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments["lr"])
    losses = [
        reference_train_step(
            model, optimizer, x.double(), y.double(), arguments["max_norm"], **switches
        )
        for x, y in _batches(arguments["steps"], arguments["T"], arguments["batch_size"], seed)
    ]
    return losses, dict(model.named_parameters())


def _check_floats(values: Any, count: int, what: str) -> None:
    __tracebackhide__ = True
    check_true(
        isinstance(values, list | tuple) and len(values) == count,
        f"{what}: expected {count} values, got {values!r:.200}.",
    )
    check_true(
        all(isinstance(v, float | int) and not isinstance(v, bool) for v in values),
        f"{what} must be Python floats; the first is a {type(values[0]).__name__}. Return "
        f"loss.item(): a tensor would also keep its whole graph in memory.",
    )


def check_train_step(
    train_step: Callable[..., Any],
    seed: int,
    *,
    steps: int = 3,
    T: int = 6,
    batch_size: int = 5,
    lr: float = 0.05,
    max_norm: float = 0.05,
    hidden_size: int = 3,
) -> None:
    """Replay ``train_step`` on small float64 RNN, GRU and LSTM regressors against the reference.

    ``steps`` updates with Adam on the adding problem; the losses it returns and the parameters
    it leaves must equal :func:`reference_train_step`'s. A small ``max_norm`` keeps clipping
    active, so that a missing clip shows.
    """
    __tracebackhide__ = True
    arguments = {"steps": steps, "T": T, "batch_size": batch_size, "lr": lr}
    arguments.update({"max_norm": max_norm, "hidden_size": hidden_size})
    result = run_probe(_probe_train_step, train_step, seed, arguments)
    for kind in KINDS:
        losses, trained = result[kind]["losses"], result[kind]["parameters"]
        what = f"the losses returned by train_step on a small {_MODULES[kind].__name__} regressor"
        _check_floats(losses, steps, what)
        expected, parameters = _reference_steps(seed, kind, arguments)
        wrong_losses, wrong_parameters = {}, {}
        for text, switches in _STEP_VARIANTS.items():
            wrong_losses[text], wrong_parameters[text] = _reference_steps(
                seed, kind, arguments, **switches
            )
        initial = dict(tiny_regressor(kind, hidden_size, seed).named_parameters())
        check_true(
            any(not torch.equal(trained[name], p) for name, p in initial.items()),
            "train_step did not change the model's parameters: call optimizer.step() after "
            "loss.backward().",
        )
        settings = f"(lr={lr}, max_norm={max_norm}, seed={seed}), compared with the reference"
        check_close(
            f"{what} {settings}",
            np.asarray(losses, dtype=np.float64),
            np.asarray(expected),
            atol=1e-8,
            mistakes={text: np.asarray(value) for text, value in wrong_losses.items()},
            hint="train_step computes loss = torch.mean((model(x) - y) ** 2), then zero_grad(), "
            "backward(), clip_grad_norm_(model.parameters(), max_norm) and step(), and returns "
            "loss.item().",
        )
        for name, parameter in parameters.items():
            check_close(
                f"the parameter {name} of the {_MODULES[kind].__name__} regressor after "
                f"{steps} calls of train_step, compared with the reference",
                trained[name],
                parameter,
                atol=1e-8,
                mistakes={text: value[name] for text, value in wrong_parameters.items()},
            )


def _probe_evaluate(evaluate: Callable[..., Any], seed: int, n: int, T: int, H: int) -> dict:
    """What the student's ``evaluate`` returns, and what it did to the model."""
    __tracebackhide__ = True
    model = tiny_regressor("lstm", H, seed)
    before = [digest(p) for p in model.parameters()]
    x, y = reference_adding_problem(n, T, seed)
    value = call_lstm(evaluate, model, x.double(), y.double())
    return {
        "value": value,
        "requires_grad": bool(getattr(value, "requires_grad", False)),
        "changed": before != [digest(p) for p in model.parameters()],
        "gradients": any(p.grad is not None for p in model.parameters()),
    }


def check_evaluate(evaluate: Callable[..., Any], seed: int, n: int = 7, T: int = 6) -> float:
    """``evaluate(model, x, y)`` returns the MSE as a float and leaves the model as it was."""
    __tracebackhide__ = True
    hidden_size = 3
    result = run_probe(_probe_evaluate, evaluate, seed, n, T, hidden_size)
    value = result["value"]
    check_true(
        not result["changed"],
        "evaluate changed the model's parameters: it only measures the model (no optimizer, "
        "no train_step).",
    )
    check_true(
        not result["gradients"],
        "evaluate computed gradients (the parameters' .grad are set): it only measures the "
        "model, so no backward(); wrap it in `with torch.no_grad():`.",
    )
    check_true(
        isinstance(value, float | int) and not isinstance(value, bool),
        f"evaluate must return a Python float; it returned a {type(value).__name__}"
        + (" that requires grad" if result["requires_grad"] else "")
        + ". Return loss.item().",
    )
    model = tiny_regressor("lstm", hidden_size, seed)
    x, y = reference_adding_problem(n, T, seed)
    x, y = x.double(), y.double()
    with torch.no_grad():
        prediction = model(x)
    check_close(
        f"the value of evaluate on a small LSTM regressor and {n} sequences, compared with the "
        f"mean squared error",
        value,
        reference_evaluate(model, x, y),
        atol=1e-10,
        dtype=None,
        mistakes={
            "the predictions (B,) and targets (B, 1) broadcast to a (B, B) matrix: compare "
            "tensors of the same shape, torch.mean((model(x) - y) ** 2)": float(
                torch.mean((prediction - y[:, None]) ** 2)
            ),
            "this is the sum of the squared errors; evaluate returns their mean": float(
                torch.sum((prediction - y) ** 2)
            ),
            "this is the root of the mean squared error; evaluate returns the mean squared error "
            "itself": float(torch.sqrt(torch.mean((prediction - y) ** 2))),
            "this is the mean absolute error; evaluate returns the mean squared error": float(
                torch.mean((prediction - y).abs())
            ),
        },
    )
    return float(value)


def reference_train_model(
    model: nn.Module,
    steps: int,
    T: int,
    test_set: tuple[torch.Tensor, torch.Tensor],
    batch_size: int,
    lr: float,
    max_norm: float,
    seed: int,
    eval_every: int,
    *,
    optimizer_per_step: bool = False,
    schedule: str = "after",
    same_batch: bool = False,
    evaluate_on: str = "test",
) -> dict[str, list]:
    """The loop of ``train_model``, with switchable mistakes (the defaults are right).

    Adam(lr); update k (k = 0, …, steps − 1) trains on ``reference_adding_problem(batch_size, T,
    seed + k)`` converted to the model's dtype and device; after every ``eval_every`` updates the
    test MSE is recorded. Returns ``{"train_loss", "test_step", "test_mse"}``.
    """
    parameter = next(model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x_test, y_test = (v.to(parameter) for v in test_set)
    history: dict[str, list] = {"train_loss": [], "test_step": [], "test_mse": []}
    for k in range(steps):
        if optimizer_per_step:
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        x, y = reference_adding_problem(batch_size, T, seed if same_batch else seed + k)
        x, y = x.to(parameter), y.to(parameter)
        history["train_loss"].append(reference_train_step(model, optimizer, x, y, max_norm))
        due = k % eval_every == 0 if schedule == "before" else (k + 1) % eval_every == 0
        if due:
            history["test_step"].append(k if schedule == "before" else k + 1)
            measured = (x, y) if evaluate_on == "batch" else (x_test, y_test)
            history["test_mse"].append(reference_evaluate(model, *measured))
    return history


def _probe_train_model(
    train_model: Callable[..., Any], seed: int, arguments: dict[str, Any], test: dict[str, int]
) -> dict[str, Any]:
    """The history the student's ``train_model`` returns and the parameters it leaves.

    It trains a fresh small float64 LSTM regressor, with the notebook's ``adding_problem``,
    ``train_step`` and ``evaluate`` bound to the references for the call, so that a mistake in
    one of those does not count here too.
    """
    __tracebackhide__ = True
    model = tiny_regressor("lstm", test["hidden_size"], seed)
    test_set = reference_adding_problem(test["size"], arguments["T"], test["seed"])
    references = {
        "adding_problem": reference_adding_problem,
        "train_step": reference_train_step,
        "evaluate": reference_evaluate,
    }
    with replaced_names(getattr(train_model, "__globals__", {}), references):
        history = call_lstm(train_model, model, test_set=test_set, seed=seed, **arguments)
    parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
    return {"history": history, "parameters": parameters}


def check_train_model(
    train_model: Callable[..., Any],
    seed: int,
    *,
    steps: int = 6,
    T: int = 5,
    batch_size: int = 4,
    lr: float = 0.05,
    max_norm: float = 0.05,
    eval_every: int = 2,
    test_size: int = 7,
) -> dict[str, list]:
    """Replay ``train_model`` on a small float64 LSTM regressor and compare its history.

    The history must be ``{"train_loss": [steps floats], "test_step": [eval_every, 2 eval_every,
    …], "test_mse": [one float per evaluation]}`` with the values of
    :func:`reference_train_model` on the same data. Returns the history.
    """
    __tracebackhide__ = True
    arguments = {"steps": steps, "T": T, "batch_size": batch_size, "lr": lr}
    arguments.update({"max_norm": max_norm, "eval_every": eval_every})
    test = {"size": test_size, "seed": seed + 10_000, "hidden_size": 3}
    result = run_probe(_probe_train_model, train_model, seed, arguments, test)
    history = expect_keys(result["history"], ("train_loss", "test_step", "test_mse"), "train_model")
    test_set = reference_adding_problem(test_size, T, test["seed"])
    settings = f"steps={steps}, eval_every={eval_every}"

    def reference(**switches: Any) -> tuple[dict[str, list], dict[str, torch.Tensor]]:
        model = tiny_regressor("lstm", test["hidden_size"], seed)
        run = reference_train_model(model, test_set=test_set, seed=seed, **arguments, **switches)
        return run, dict(model.named_parameters())

    expected, parameters = reference()
    wrong = {text: reference(**switches) for text, switches in _MODEL_VARIANTS.items()}
    _check_floats(history["train_loss"], steps, f'history["train_loss"] ({settings})')
    check_close(
        f'history["train_loss"] ({settings}), compared with the reference loop',
        np.asarray(history["train_loss"], dtype=np.float64),
        np.asarray(expected["train_loss"]),
        atol=1e-8,
        mistakes={text: np.asarray(run["train_loss"]) for text, (run, _) in wrong.items()},
        hint="update k trains on adding_problem(batch_size, T, seed=seed + k), converted to the "
        "model's dtype and device, with train_step and one Adam optimizer built before the loop.",
    )
    steps_got = list(history["test_step"]) if isinstance(history["test_step"], list | tuple) else []
    check_true(
        steps_got == expected["test_step"],
        f'history["test_step"] ({settings}) is {history["test_step"]!r}; expected '
        f"{expected['test_step']}: evaluate after every eval_every updates, when "
        f"(k + 1) % eval_every == 0, and record k + 1, the number of updates done.",
    )
    _check_floats(
        history["test_mse"], len(expected["test_mse"]), f'history["test_mse"] ({settings})'
    )
    check_close(
        f'history["test_mse"] ({settings}), compared with the reference loop',
        np.asarray(history["test_mse"], dtype=np.float64),
        np.asarray(expected["test_mse"]),
        atol=1e-8,
        mistakes={text: np.asarray(run["test_mse"]) for text, (run, _) in wrong.items()},
        hint="measure evaluate(model, x_test, y_test) on test_set, converted to the model's "
        "dtype and device, right after the update.",
    )
    for name, parameter in parameters.items():
        check_close(
            f"the parameter {name} after train_model, compared with the reference loop",
            result["parameters"][name],
            parameter,
            atol=1e-8,
            mistakes={text: params[name] for text, (_, params) in wrong.items()},
        )
    return dict(history)
