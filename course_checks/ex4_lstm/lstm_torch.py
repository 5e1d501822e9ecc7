"""Checks of Exercise 4's PyTorch notebook (``ex4_lstm/lstm_torch``): an LSTM module, trained.

The student's code keeps PyTorch's layout: the step function ``lstm_cell(x_t, h, c, weight_ih,
weight_hh, bias_ih, bias_hh) -> (h_new, c_new)`` reads the blocks stacked in the order i, f, g, o
(``weight_ih (4H, D)``, ``weight_hh (4H, H)``, two bias vectors of ``4H``), and
``LSTMFromScratch`` registers ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0`` and
``bias_hh_l0``, ``torch.nn.LSTM``'s names, so that ``load_state_dict`` moves weights between the
two. It follows ``nn.LSTM``'s conventions: ``forward(x (T, B, D), state=None or (h0, c0), each
(1, B, H)) -> (output (T, B, H), (h_n, c_n))``.

Right answers always come from ``torch.nn.LSTM`` / ``torch.nn.LSTMCell`` (and autograd through
them, ``lstm_references.py``); wrong ones, which let a failure name the likely mistake, from
``lstm_wrong_answers.py``. The tests of the training functions replay them on small float64
models against the reference loop below; their data come from ``gru_torch_checks``' adding
problem, the one the notebook gives.

Like every PyTorch check of the course, a test is split in two (``course_checks.probes``): a
probe builds and runs the student's objects and returns data, recorded by the grader; the
comparisons run on that data after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.adding import reference_adding_problem
from course_checks.cases import SequenceCase, drawn
from course_checks.compare import (
    check_close,
    check_true,
    expect_keys,
    expect_tuple,
)
from course_checks.errors import CheckFailure
from course_checks.ex4_lstm.references import (
    STACKED_NAMES,
    torch_lstm,
    torch_lstm_cell,
    torch_lstm_step,
)
from course_checks.ex4_lstm.wrong_answers import forward_mistakes, step_mistakes
from course_checks.guards import BuiltinGuard
from course_checks.layers import StackedLayout, check_gradients_like
from course_checks.layouts import TorchLayout, call_in_layout
from course_checks.probes import (
    attempt,
    backward,
    digest,
    outcome,
    parameter_facts,
    recorded_gradients,
    replaced_names,
    run_probe,
)

__all__ = [
    "KINDS",
    "LSTM_BUILTINS",
    "LSTM_LAYOUT",
    "NO_BUILTIN_LSTM_REASON",
    "PARAMETER_NAMES",
    "LSTMCase",
    "call_lstm",
    "check_evaluate",
    "check_forget_bias",
    "check_lstm_device",
    "check_lstm_gradients",
    "check_lstm_module",
    "check_lstm_parameters",
    "check_lstm_step",
    "check_no_builtin_lstm_modules",
    "check_state_default",
    "check_train_model",
    "check_train_step",
    "no_builtin_lstm",
    "random_lstm_case",
    "reference_evaluate",
    "reference_train_model",
    "reference_train_step",
    "tiny_regressor",
]

# ---------------------------------------------------------------------------------------- guards

# Every public route to PyTorch's LSTM in torch 2.13: the modules (float and dynamically quantized)
# and the functions behind them; block_torch_ops catches the operators by name.
LSTM_BUILTINS = (
    "torch.nn.LSTM.forward",
    "torch.nn.LSTMCell.forward",
    "torch.ao.nn.quantized.dynamic.LSTM.forward",
    "torch.ao.nn.quantized.dynamic.LSTMCell.forward",
    "torch.lstm",
    "torch.lstm_cell",
    "torch.quantized_lstm",
    "torch.quantized_lstm_cell",
    "torch._VF.lstm",
    "torch._VF.lstm_cell",
    "torch._VF.quantized_lstm_cell",
)
LSTM_FUNCTION_NAMES = frozenset(
    {"lstm", "lstm_cell", "quantized_lstm", "quantized_lstm_cell", "_thnn_fused_lstm_cell"}
)
NO_BUILTIN_LSTM_REASON = (
    "Compute the gates i, f, g, o, the cell and the hidden state yourself, with torch "
    "operations on the weights: nn.LSTM, nn.LSTMCell and torch's fused lstm / lstm_cell "
    "functions may only be used by the tests, as the reference."
)


LSTM_GUARD = BuiltinGuard(
    LSTM_BUILTINS,
    NO_BUILTIN_LSTM_REASON,
    "LSTMFromScratch",
    "Register your own nn.Parameters and run lstm_cell yourself; nn.LSTM and nn.LSTMCell are "
    "only allowed in the tests.",
    operators=LSTM_FUNCTION_NAMES,
)
no_builtin_lstm = LSTM_GUARD.block  # any route to PyTorch's LSTM raises within (hidden tests)
check_no_builtin_lstm_modules = LSTM_GUARD.check_modules
_guard = LSTM_GUARD.guarded


# nn.LSTM's parameters, as the checks name them (course_checks.layers).
LSTM_LAYER = StackedLayout(
    ("i", "f", "g", "o"),
    "nn.LSTM",
    "nn.LSTM",
    "nn.LSTM's names",
    suffix="_l0",
    verb="register",
    exactly="nn.LSTM's ",
    loads=True,
)

# ------------------------------------------------------------------------------ calling students

_SHAPES = (
    "Shapes: x is time-major, (T, B, D), so x[t] is one time step of shape (B, D); one step's "
    "states h and c are (B, H), while h0, c0, h_n and c_n have nn.LSTM's leading num_layers "
    "axis, (1, B, H); weight_ih_l0 is (4H, D), weight_hh_l0 (4H, H), bias_ih_l0 and bias_hh_l0 "
    "(4H,)."
)
LSTM_LAYOUT = TorchLayout(
    _SHAPES, "weight_ih (4H, D) and weight_hh (4H, H)", "self.weight_ih_l0", "train_model"
)


def call_lstm(function: Callable[..., Any], *args: Any, hint: str = "", **kwargs: Any) -> Any:
    """Call a student's function or module, with hints in this exercise's layout (recorded)."""
    __tracebackhide__ = True
    return call_in_layout(LSTM_LAYOUT, function, *args, hint=hint, **kwargs)


# ------------------------------------------------------------------------------------ test cases

PARAMETER_NAMES = tuple(f"{name}_l0" for name in STACKED_NAMES)
Params = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class LSTMCase(SequenceCase):
    """One random float64 case: inputs, states, PyTorch-layout weights and upstream gradients.

    The loss of the gradient tests is ``sum(g_out ⊙ output) + sum(g_h ⊙ h_n[0]) +
    sum(g_c ⊙ c_n[0])``.
    """

    seed: int
    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (B, H); nn.LSTM takes it as h0[None]
    c0: np.ndarray  # (B, H)
    params: dict[str, np.ndarray]  # weight_ih (4H, D), weight_hh (4H, H), bias_ih, bias_hh (4H,)
    g_out: np.ndarray  # (T, B, H)
    g_h: np.ndarray  # (B, H)
    g_c: np.ndarray  # (B, H)


def random_lstm_case(seed: int, T: int, B: int, D: int, H: int, scale: float = 0.5) -> LSTMCase:
    """Inputs, states and weights (normal, standard deviation ``scale``) drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    shapes = {"weight_ih": (4 * H, D), "weight_hh": (4 * H, H), "bias_ih": (4 * H,)}
    shapes["bias_hh"] = (4 * H,)
    params = {name: rng.normal(scale=scale, size=shape) for name, shape in shapes.items()}
    return LSTMCase(
        seed=seed,
        x=rng.normal(size=(T, B, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        c0=rng.normal(size=(B, H)),
        params=params,
        g_out=rng.normal(size=(T, B, H)),
        g_h=rng.normal(size=(B, H)),
        g_c=rng.normal(size=(B, H)),
    )


def _reference_run(case: LSTMCase, h0: np.ndarray, c0: np.ndarray) -> dict[str, np.ndarray]:
    lstm = torch_lstm(case.params)
    state = (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.from_numpy(case.x), state)
    return {"output": output.numpy(), "h_n": h_n.numpy(), "c_n": c_n.numpy()}


_HINT = (
    "compare your step with the equations at the top of the notebook, term by term, in "
    "PyTorch's block order i, f, g, o: the gates use the sigmoid, the cell candidate g tanh."
)

# ------------------------------------------------------------------------------------ the step

_STEP_INPUTS = ("x_t", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _step_cases(case: LSTMCase) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    x_t, h, c = case.x[0], case.h0, case.c0
    zeros, zeros_x = np.zeros_like(h), np.zeros_like(x_t)
    return [
        ("h = 0 and c = 0: only the input terms and the biases", x_t, zeros, zeros),
        ("x_t = 0: only the recurrent terms, the biases and the old cell", zeros_x, h, c),
        ("all terms", x_t, h, c),
    ]


def _probe_lstm_step(
    lstm_cell: Callable[..., Any], seed: int, B: int, D: int, H: int, guarded: bool
) -> dict[str, Any]:
    """The student's step on the three cases; then the gradients of the last one's loss.

    ``{"steps": n, "0": attempt, "1": attempt, …, "backward": …}``: one key per case keeps the
    pair ``(h_new, c_new)`` within the record's depth (``replay.MAX_DEPTH``).
    """
    __tracebackhide__ = True
    case = random_lstm_case(seed, 1, B, D, H)
    steps: list[dict[str, Any]] = []
    for _, x_case, h_case, c_case in _step_cases(case):
        inputs = [
            torch.from_numpy(a).clone().requires_grad_(True) for a in (x_case, h_case, c_case)
        ]
        weights = [
            torch.from_numpy(case.params[name]).clone().requires_grad_(True)
            for name in STACKED_NAMES
        ]
        with _guard(guarded):
            steps.append(attempt(call_lstm, lstm_cell, *inputs, *weights))
        if "failure" in steps[-1]:
            break
    recorded: dict[str, Any] = {"steps": len(steps), **{str(k): s for k, s in enumerate(steps)}}
    if "failure" in steps[-1]:
        return recorded
    result = steps[-1]["value"]
    g_h, g_c = torch.from_numpy(case.g_h), torch.from_numpy(case.g_c)

    def loss() -> Any:
        h_new, c_new = result
        return (h_new * g_h).sum() + (c_new * g_c).sum()

    tensors = dict(zip(_STEP_INPUTS, [*inputs, *weights], strict=True))
    return {**recorded, "backward": backward(loss, tensors)}


def check_lstm_step(
    lstm_cell: Callable[..., Any], seed: int, B: int, D: int, H: int, *, guarded: bool = False
) -> float:
    """Check ``lstm_cell(x_t, h, c, weight_ih, weight_hh, bias_ih, bias_hh) -> (h_new, c_new)``.

    Values against ``torch.nn.LSTMCell`` in three cases (no state, no input, both), ``c_new``
    first; then the gradients of ``L = sum(g_h ⊙ h_new) + sum(g_c ⊙ c_new)`` with respect to all
    seven inputs against nn.LSTMCell's autograd. With ``guarded``, the student's calls run under
    :func:`no_builtin_lstm`. Returns the largest difference in the values.
    """
    __tracebackhide__ = True
    case = random_lstm_case(seed, 1, B, D, H)
    result = run_probe(_probe_lstm_step, lstm_cell, seed, B, D, H, guarded)
    largest = 0.0
    # The probe stops at its first failure; outcome() raises it in its place.
    steps = [result[str(k)] for k in range(result["steps"])]
    for (label, x_case, h_case, c_case), step in zip(_step_cases(case), steps, strict=False):
        h_new, c_new = expect_tuple(outcome(step), ("h_new", "c_new"), "lstm_cell")
        reference = torch_lstm_step(x_case, h_case, c_case, case.params)
        wrong = step_mistakes(x_case, h_case, c_case, case.params, stacked=True)
        for name, got in (("c", c_new), ("h", h_new)):
            check_close(
                f"{name}_new from lstm_cell ({label}; B={B}, D={D}, H={H})",
                got,
                reference[name],
                kind="torch",
                mistakes=wrong[name],
                hint=_HINT,
            )
            largest = max(largest, float(np.max(np.abs(got.detach().numpy() - reference[name]))))
    grads = recorded_gradients(
        result["backward"],
        "The states returned by lstm_cell do not require grad, so autograd cannot "
        "differentiate them: compute them with torch operations on the tensors you are given "
        "(no .numpy(), .detach(), .data or new tensors built from their values).",
    )
    cell = torch_lstm_cell(case.params)
    ref_inputs = [
        torch.from_numpy(a).clone().requires_grad_(True) for a in (case.x[0], case.h0, case.c0)
    ]
    h_ref, c_ref = cell(ref_inputs[0], (ref_inputs[1], ref_inputs[2]))
    (
        (h_ref * torch.from_numpy(case.g_h)).sum() + (c_ref * torch.from_numpy(case.g_c)).sum()
    ).backward()
    theirs = dict(zip(_STEP_INPUTS[:3], ref_inputs, strict=True))
    theirs.update({name: getattr(cell, name) for name in STACKED_NAMES})
    for name, tensor in theirs.items():
        check_true(
            grads[name] is not None,
            f"{name}.grad is None after backward(): lstm_cell must use {name} through torch "
            f"operations (no .numpy(), .detach() or .data).",
        )
        check_close(
            f"the gradient of sum(g_h * h_new) + sum(g_c * c_new) with respect to {name} "
            f"(autograd through lstm_cell, compared with nn.LSTMCell's)",
            grads[name],
            tensor.grad,
            kind="torch",
        )
    return largest


# ------------------------------------------------------------------------------------ the layer


def _new_model(module_class: Callable[..., Any], D: int, H: int, guarded: bool, **kw: Any) -> Any:
    __tracebackhide__ = True
    with _guard(guarded):
        model = call_lstm(module_class, D, H, **kw)
    check_no_builtin_lstm_modules(model)
    return model


def _probe_new_lstm(module_class: Callable[..., Any], D: int, H: int) -> dict[str, Any]:
    """Build ``module_class(D, H)``; the facts about its parameters."""
    __tracebackhide__ = True
    return parameter_facts(_new_model(module_class, D, H, guarded=False), PARAMETER_NAMES)


def check_lstm_parameters(module_class: Callable[..., Any], D: int, H: int) -> dict[str, tuple]:
    """``module_class(D, H)`` registers nn.LSTM's four float64 parameters, named like them.

    Names, shapes, dtype and the uniform initialisation on ``[-1/sqrt(H), 1/sqrt(H)]`` are
    checked on the facts a probe collects. Returns the registered parameters' shapes, by name.
    """
    __tracebackhide__ = True
    facts = run_probe(_probe_new_lstm, module_class, D, H)
    LSTM_LAYER.check_facts(facts, D, H, "LSTMFromScratch", initialised=True)
    return dict(facts["registered"])


def _load(model: nn.Module, params: Params) -> None:
    """``model.load_state_dict`` of ``params`` under nn.LSTM's names, explained when it fails."""
    __tracebackhide__ = True
    state = {f"{name}_l0": torch.from_numpy(np.asarray(params[name])) for name in STACKED_NAMES}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        registered = sorted(name for name, _ in model.named_parameters())
        raise CheckFailure(
            f"model.load_state_dict(nn.LSTM's state_dict()) failed: LSTMFromScratch must "
            f"register exactly nn.LSTM's parameters, weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), "
            f"bias_ih_l0 and bias_hh_l0 (4H,), as nn.Parameters with these names. Yours: "
            f"{registered or 'none'}. PyTorch says: {str(error).strip()}"
        ) from None


def _run(model: Any, x: torch.Tensor, state: tuple | None) -> Any:
    __tracebackhide__ = True
    return call_lstm(model, x) if state is None else call_lstm(model, x, state)


def _probe_lstm_run(
    module_class: Callable[..., Any], seed: int, sizes: tuple, with_state: bool, guarded: bool
) -> Any:
    """What the student's layer, holding a random case's weights, returns on the case's input.

    The layer starts from the case's ``(h0, c0)`` (``with_state``) or from ``state=None``.
    """
    __tracebackhide__ = True
    case = random_lstm_case(seed, *sizes)
    model = _new_model(module_class, *sizes[2:], guarded)
    _load(model, case.params)
    x = torch.from_numpy(case.x)
    state = (torch.from_numpy(case.h0)[None], torch.from_numpy(case.c0)[None])
    with _guard(guarded):
        return _run(model, x, state if with_state else None)


def _unpack(result: Any, T: int, B: int, H: int, what: str) -> tuple[Any, Any, Any]:
    """``(output, h_n, c_n)`` from what the layer returned, or a failure that says what is off."""
    __tracebackhide__ = True
    form = "(output, (h_n, c_n))"
    if isinstance(result, torch.Tensor):
        raise CheckFailure(
            f"{what} returned a single tensor of shape {tuple(result.shape)}; like torch.nn.LSTM "
            f"it must return {form}: all the hidden states, (T, B, H), and the final states."
        )
    if isinstance(result, tuple | list) and len(result) == 3:
        raise CheckFailure(
            f"{what} returned three items; like torch.nn.LSTM it must return two, {form}: the "
            f"final states are one pair, return output, (h_n, c_n)."
        )
    output, final = expect_tuple(result, ("output", "(h_n, c_n)"), what)
    h_n, c_n = expect_tuple(final, ("h_n", "c_n"), f"the second item that {what} returns")
    shape = tuple(getattr(output, "shape", ()))
    check_true(
        shape != (B, T, H) or B == T,
        f"output from {what} has shape {shape} = (B, T, H): batch-first. x is time-major, "
        f"(T, B, D) like nn.LSTM's default input, so step t is x[t] (not x[:, t]) and output "
        f"stacks the T states along axis 0: (T, B, H) = {(T, B, H)}.",
    )
    check_true(
        not (len(shape) == 3 and shape[1:] == (B, H) and shape[0] == T + 1),
        f"output from {what} has {T + 1} steps, but x has T = {T}: return the T states "
        f"h_1 … h_T, not h_0 … h_T.",
    )
    for name, value in (("h_n", h_n), ("c_n", c_n)):
        check_true(
            tuple(getattr(value, "shape", ())) != (B, H) or B == 1,
            f"{name} from {what} has shape {(B, H)}; torch.nn.LSTM returns it with a leading "
            f"num_layers axis, (1, B, H) = {(1, B, H)}: return h.unsqueeze(0) (or h[None]).",
        )
    return output, h_n, c_n


def _check_outputs(
    what: str,
    result: Any,
    case: LSTMCase,
    h0: np.ndarray,
    c0: np.ndarray,
    mistakes: Mapping[str, Mapping[str, Any]] | None = None,
) -> float:
    """Compare the layer's ``(output, (h_n, c_n))`` with ``torch.nn.LSTM``'s; the max diff."""
    __tracebackhide__ = True
    T, B, _, H = case.sizes
    output, h_n, c_n = _unpack(result, T, B, H, what)
    expected = _reference_run(case, h0, c0)
    wrong = forward_mistakes(case.x, h0, c0, case.params, stacked=True)
    for key, extra in (mistakes or {}).items():
        wrong[key] = {**wrong[key], **extra}
    largest = 0.0
    for name, got, key in (("output", output, "output"), ("h_n", h_n, "h"), ("c_n", c_n, "c")):
        reference = expected[name]
        known = wrong[key] if name == "output" else {t: v[None] for t, v in wrong[key].items()}
        check_close(f"{name} from {what}", got, reference, kind="torch", mistakes=known, hint=_HINT)
        largest = max(largest, float(np.max(np.abs(got.detach().cpu().numpy() - reference))))
    return largest


def check_lstm_module(
    module_class: Callable[..., Any],
    seed: int,
    T: int,
    B: int,
    D: int,
    H: int,
    *,
    guarded: bool = False,
) -> float:
    """``module_class(D, H)``, loaded with nn.LSTM's state_dict, equals ``torch.nn.LSTM``.

    The weights are set with ``model.load_state_dict`` under nn.LSTM's names; the layer runs from
    the case's ``(h0, c0)``. Returns the largest difference.
    """
    __tracebackhide__ = True
    case = random_lstm_case(seed, T, B, D, H)
    result = run_probe(_probe_lstm_run, module_class, seed, (T, B, D, H), True, guarded)
    return _check_outputs(f"LSTMFromScratch ({case.describe()})", result, case, case.h0, case.c0)


def check_state_default(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model(x)`` without a state starts from zeros of ``x``'s dtype and device."""
    __tracebackhide__ = True
    case = random_lstm_case(seed, T, B, D, H)
    result = run_probe(_probe_lstm_run, module_class, seed, (T, B, D, H), False, False)
    zeros = np.zeros((B, H))
    given = _reference_run(case, case.h0, case.c0)
    text = "state=None must mean h0 = 0 and c0 = 0; you started from another state"
    return _check_outputs(
        f"LSTMFromScratch with state=None ({case.describe()})",
        result,
        case,
        zeros,
        zeros,
        mistakes={
            "output": {text: given["output"]},
            "h": {text: given["h_n"][0]},
            "c": {text: given["c_n"][0]},
        },
    )


def _truncated_gradients(case: LSTMCase, *, final_detached: bool) -> dict[str, np.ndarray]:
    """Gradients when the state (h and c) is detached between steps: none flow through time.

    ``final_detached``: the detach comes after storing each output, so h_n and c_n are detached
    too and only ``output`` carries a gradient.
    """
    cell = torch_lstm_cell(case.params)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    c0 = torch.from_numpy(case.c0)[None].clone().requires_grad_(True)
    h, c, states = h0[0], c0[0], []
    for x_t in x:
        h_new, c_new = cell(x_t, (h, c))
        states.append(h_new)
        h, c = h_new.detach(), c_new.detach()
    loss = (torch.stack(states) * torch.from_numpy(case.g_out)).sum()
    if not final_detached:
        loss = loss + (h_new * torch.from_numpy(case.g_h)).sum()
        loss = loss + (c_new * torch.from_numpy(case.g_c)).sum()
    loss.backward()
    grads = {f"{name}_l0": getattr(cell, name).grad.numpy() for name in STACKED_NAMES}
    return {**grads, "x": x.grad.numpy(), "h0": h0.grad.numpy(), "c0": c0.grad.numpy()}


def _probe_lstm_gradients(module_class: Callable[..., Any], case: LSTMCase) -> dict[str, Any]:
    """The student's layer on ``case``: what it returns, then the gradients of the test's loss."""
    __tracebackhide__ = True
    _, _, D, H = case.sizes
    model = _new_model(module_class, D, H, guarded=False)
    _load(model, case.params)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    c0 = torch.from_numpy(case.c0)[None].clone().requires_grad_(True)
    result = _run(model, x, (h0, c0))
    g_out, g_h, g_c = (torch.from_numpy(a) for a in (case.g_out, case.g_h, case.g_c))

    def loss() -> Any:
        output, (h_n, c_n) = result
        return (output * g_out).sum() + (h_n[0] * g_h).sum() + (c_n[0] * g_c).sum()

    tensors = {name: getattr(model, name) for name in PARAMETER_NAMES}
    tensors.update({"x": x, "h0": h0, "c0": c0})
    return {"result": result, "backward": backward(loss, tensors)}


def check_lstm_gradients(
    module_class: Callable[..., Any],
    case: LSTMCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Autograd through the layer equals autograd through ``torch.nn.LSTM`` (same weights).

    The loss is ``sum(g_out ⊙ output) + sum(g_h ⊙ h_n[0]) + sum(g_c ⊙ c_n[0])``; the gradients
    with respect to the four parameters, ``x``, ``h0`` and ``c0`` are compared.
    """
    __tracebackhide__ = True
    case = drawn(case, random_lstm_case, seed, (T, B, D, H))
    probed = run_probe(_probe_lstm_gradients, module_class, case)
    _check_outputs(f"LSTMFromScratch ({case.describe()})", probed["result"], case, case.h0, case.c0)
    grads = recorded_gradients(
        probed["backward"],
        "The outputs of LSTMFromScratch do not require grad, so no gradient can flow back to "
        "the parameters: use them and the inputs through torch operations only (no .numpy(), "
        ".detach() or .data).",
    )
    lstm = torch_lstm(case.params)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    c0 = torch.from_numpy(case.c0)[None].clone().requires_grad_(True)
    output, (h_n, c_n) = lstm(x, (h0, c0))
    g_out, g_h, g_c = (torch.from_numpy(a) for a in (case.g_out, case.g_h, case.g_c))
    ((output * g_out).sum() + (h_n[0] * g_h).sum() + (c_n[0] * g_c).sum()).backward()
    theirs = {name: getattr(lstm, name) for name in PARAMETER_NAMES}
    theirs.update({"x": x, "h0": h0, "c0": c0})
    detached = (
        "the state is detached between steps (h.detach(), c.detach() or .data), so no gradient "
        "flows back through time: keep h and c in the graph"
    )
    truncated = {
        detached: _truncated_gradients(case, final_detached=False),
        detached + " (h_n and c_n too)": _truncated_gradients(case, final_detached=True),
    }
    check_gradients_like(
        grads,
        theirs,
        truncated,
        what="LSTMFromScratch",
        reference="nn.LSTM",
        prefix="model.",
        states=("h0", "c0"),
        case=case.describe(),
    )


def _probe_lstm_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> dict[str, Any]:
    """Move the student's layer to ``device``: where its parameters went, and a run there."""
    __tracebackhide__ = True
    case = random_lstm_case(seed, T, B, D, H)
    model = _new_model(module_class, D, H, guarded=False)
    _load(model, case.params)
    model = model.to(device)
    on = {name: p.device.type for name, p in model.named_parameters()}
    run = attempt(_run, model, torch.from_numpy(case.x).to(device), None)
    devices = []
    if "value" in run:
        with contextlib.suppress(Exception):  # a malformed result is the check's to report
            output, (h_n, c_n) = run["value"]
            devices = [str(v.device) for v in (output, h_n, c_n)]
    # The attempt's "value" or "failure" at the top: (output, (h_n, c_n)) nests two deep.
    return {"parameters": on, "devices": devices, **run}


def check_lstm_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model.to(device)`` moves the parameters; forward on ``device`` returns tensors there."""
    __tracebackhide__ = True
    case = random_lstm_case(seed, T, B, D, H)
    result = run_probe(_probe_lstm_device, module_class, device, seed, T, B, D, H)
    kind = torch.device(device).type
    on = result["parameters"]
    check_true(
        bool(on) and all(value == kind for value in on.values()),
        f"after model.to({device!r}) the parameters are on {on}.",
    )
    zeros = np.zeros((B, H))
    difference = _check_outputs(f"LSTMFromScratch on {device}", outcome(result), case, zeros, zeros)
    check_true(
        all(torch.device(d).type == kind for d in result["devices"]),
        f"for an input on {device} forward returned tensors on {result['devices']}: create new "
        f"tensors (the zero state) with device=x.device.",
    )
    return difference


# ------------------------------------------------------------------------------- forget bias


def _bias_facts(module: nn.Module) -> dict[str, Any]:
    """The biases, and fingerprints of the weights (flat: the record keeps four levels)."""
    return {
        "bias_ih": module.bias_ih_l0.detach().cpu().clone(),
        "bias_hh": module.bias_hh_l0.detach().cpu().clone(),
        "weights": [digest(module.weight_ih_l0), digest(module.weight_hh_l0)],
    }


def _probe_forget_bias(
    set_forget_bias: Callable[..., Any],
    module_class: Callable[..., Any],
    seed: int,
    D: int,
    H: int,
    value: float,
) -> dict[str, Any]:
    """``set_forget_bias`` on a seeded ``nn.LSTM``; ``module_class(D, H)`` without and with
    ``forget_bias=value``, from the same seed (so that the two differ only by the option)."""
    __tracebackhide__ = True
    torch.manual_seed(seed)
    lstm = nn.LSTM(D, H, dtype=torch.float64)
    weights = [digest(lstm.weight_ih_l0), digest(lstm.weight_hh_l0)]

    def function_facts() -> dict[str, Any]:
        call_lstm(set_forget_bias, lstm, value)
        facts = _bias_facts(lstm)
        facts["weights_kept"] = weights == facts["weights"]
        return facts

    def module_facts(**options: Any) -> dict[str, Any]:
        torch.manual_seed(seed)
        return _bias_facts(_new_model(module_class, D, H, guarded=False, **options))

    return {
        "function": attempt(function_facts),
        "plain": attempt(module_facts),
        "module": attempt(module_facts, forget_bias=value),
    }


def _forget_bias_mistakes(
    value: float, H: int, bias_ih: np.ndarray, bias_hh: np.ndarray
) -> dict[str, np.ndarray]:
    """Wrong biases the gates see, ``bias_ih + bias_hh`` (4H,), after setting the forget bias.

    ``bias_ih`` and ``bias_hh`` are the initial values, which the other blocks must keep.
    """
    initial = bias_ih + bias_hh
    forget = slice(H, 2 * H)

    def with_block(k: int, v: float | np.ndarray = value) -> np.ndarray:
        biases = initial.copy()
        biases[k * H : (k + 1) * H] = v
        return biases

    mistakes = {}
    for k, name in enumerate(("input gate i", "", "cell candidate g", "output gate o")):
        if k == 1:
            continue
        text = (
            f"the value is in the block of the {name}: PyTorch's order is i, f, g, o, so the "
            f"forget gate is the second block, rows H:2H (rows {k}H:{k + 1}H are the {name})"
        )
        mistakes[text] = with_block(k)
        # the same slip in bias_ih only, with bias_hh's forget block set to 0 as asked
        half = with_block(k, value + bias_hh[k * H : (k + 1) * H])
        half[forget] = bias_ih[forget]
        mistakes[text + "; bias_hh's block there keeps its value"] = half
    mistakes[
        "the value was put into the forget block of both bias vectors: the gate adds bias_ih "
        "and bias_hh, so it sees twice the value; set bias_ih's forget block to the value and "
        "bias_hh's to 0"
    ] = with_block(1, 2 * value)
    mistakes[
        "bias_hh_l0's forget block was not set to 0: the gate adds bias_ih and bias_hh, so it "
        "sees the value plus bias_hh's random initial value"
    ] = with_block(1, value + bias_hh[forget])
    zeroed = np.zeros(4 * H)
    zeroed[forget] = value
    mistakes[
        "the other biases were set to 0: only the forget block changes, and the input gate, "
        "the cell candidate and the output gate keep their biases as PyTorch initialised them"
    ] = zeroed
    mistakes[
        "the whole bias vector was set to the value; only the forget gate's block, rows H:2H, "
        "gets it, and the other blocks keep their initial biases"
    ] = np.full(4 * H, value)
    mistakes["the biases were not changed: the forget block still has its initial bias"] = initial
    return mistakes


def check_forget_bias(
    set_forget_bias: Callable[..., Any],
    module_class: Callable[..., Any],
    seed: int,
    D: int,
    H: int,
    value: float = 1.0,
) -> None:
    """The forget-gate bias initialisation of Jozefowicz et al. (2015), as Chapter 4 sets it.

    ``set_forget_bias(lstm, value)`` on a seeded ``nn.LSTM``, then
    ``module_class(D, H, forget_bias=value)``: in both, the biases the gates see,
    ``bias_ih + bias_hh``, must be ``value`` on the forget block (rows H:2H) and keep their
    initial values on the other blocks, and the weights keep theirs. The layer is compared
    with ``module_class(D, H)`` built from the same seed, not with nn.LSTM's initialisation:
    that is ``test_lstm_parameters``' to judge, so a wrong initialisation costs one test.
    """
    __tracebackhide__ = True
    result = run_probe(_probe_forget_bias, set_forget_bias, module_class, seed, D, H, value)
    torch.manual_seed(seed)
    fresh = nn.LSTM(D, H, dtype=torch.float64)  # the nn.LSTM set_forget_bias was given
    initial = (fresh.bias_ih_l0.detach().numpy(), fresh.bias_hh_l0.detach().numpy())

    def expected_from(bias_ih: np.ndarray, bias_hh: np.ndarray) -> np.ndarray:
        expected = bias_ih + bias_hh
        expected[H : 2 * H] = value
        return expected

    facts = outcome(result["function"])
    check_close(
        f"bias_ih_l0 + bias_hh_l0, the biases the gates see, after "
        f"set_forget_bias(lstm, {value:g}) on an nn.LSTM({D}, {H})",
        facts["bias_ih"] + facts["bias_hh"],
        expected_from(*initial),
        kind="torch",
        mistakes=_forget_bias_mistakes(value, H, *initial),
        hint="set rows H:2H of bias_ih_l0 to the value and rows H:2H of bias_hh_l0 to 0, inside "
        "`with torch.no_grad():`, and leave the other rows as they are.",
    )
    check_true(
        facts["weights_kept"],
        "set_forget_bias changed the weights weight_ih_l0 or weight_hh_l0: it sets the biases "
        "only, and the weights keep their initialisation.",
    )
    plain = outcome(result["plain"])
    facts = outcome(result["module"])
    plain_biases = (plain["bias_ih"].numpy(), plain["bias_hh"].numpy())
    check_close(
        f"bias_ih_l0 + bias_hh_l0 of LSTMFromScratch({D}, {H}, forget_bias={value:g}), "
        f"compared with LSTMFromScratch({D}, {H}) built from the same seed",
        facts["bias_ih"] + facts["bias_hh"],
        expected_from(*plain_biases),
        kind="torch",
        mistakes=_forget_bias_mistakes(value, H, *plain_biases),
        hint="with forget_bias given, __init__ must initialise the parameters as without it and "
        "then set the forget bias like set_forget_bias (the given last lines of __init__ call "
        "it on self).",
    )
    check_true(
        facts["weights"] == plain["weights"],
        f"LSTMFromScratch({D}, {H}, forget_bias={value:g}) has other weights than "
        f"LSTMFromScratch({D}, {H}) built from the same seed: forget_bias may only change the "
        f"forget block of the biases.",
    )


# -------------------------------------------------------------------------------- training

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


_STEP_VARIANTS: dict[str, dict[str, Any]] = {
    "optimizer.zero_grad() is missing: without it loss.backward() adds each step's gradient to "
    "the previous ones, so every update uses the sum of all past gradients; call "
    "optimizer.zero_grad() before loss.backward()": {"zero_grad": False},
    "the gradients are not clipped before the update (clipping after optimizer.step() comes "
    "too late): call torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) between "
    "loss.backward() and optimizer.step()": {"clip": False},
    "the loss compares predictions of shape (B,) with targets of shape (B, 1), which broadcast "
    "to a (B, B) matrix: compare tensors of the same shape, torch.mean((model(x) - y) ** 2)": {
        "target": "column"
    },
    "optimizer.step() is called before loss.backward(), so it never sees this step's gradient "
    "(and zero_grad() then discards it): zero_grad(), backward(), clip, step(), in that order": {
        "order": "step_first"
    },
    "the loss is the sum of the squared errors; use their mean, torch.mean((model(x) - y) ** 2)": {
        "reduce": "sum"
    },
}


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


_MODEL_VARIANTS: dict[str, dict[str, Any]] = {
    "the optimizer is created inside the loop, so Adam's running averages start again at every "
    "step: create it once, before the loop": {"optimizer_per_step": True},
    "step k must train on adding_problem(batch_size, T, seed=seed + k), a new batch at every "
    "step; every step used the same batch": {"same_batch": True},
    "the test MSE is measured on the training batch; measure it on test_set, the same held-out "
    "sequences at every evaluation": {"evaluate_on": "batch"},
    "the evaluations come at the wrong steps: evaluate after every eval_every updates, that is "
    "when (k + 1) % eval_every == 0, and record k + 1, the number of updates done": {
        "schedule": "before"
    },
}


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
