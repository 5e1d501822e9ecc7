"""Checks of the step and the layer of Exercise 4's PyTorch notebook (``ex4_lstm/lstm_torch``).

The student's code keeps PyTorch's layout: the step function ``lstm_cell(x_t, h, c, weight_ih,
weight_hh, bias_ih, bias_hh) -> (h_new, c_new)`` reads the blocks stacked in the order i, f, g, o
(``weight_ih (4H, D)``, ``weight_hh (4H, H)``, two bias vectors of ``4H``), and
``LSTMFromScratch`` registers ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0`` and
``bias_hh_l0``, ``torch.nn.LSTM``'s names, so that ``load_state_dict`` moves weights between the
two. It follows ``nn.LSTM``'s conventions: ``forward(x (T, B, D), state=None or (h0, c0), each
(1, B, H)) -> (output (T, B, H), (h_n, c_n))``.

Right answers always come from ``torch.nn.LSTM`` / ``torch.nn.LSTMCell`` (and autograd through
them, ``references.py``); wrong ones, which let a failure name the likely mistake, from
``wrong_answers.py``. The layer's tests are ``course_checks.layers``' shared ones, configured by
:class:`LSTMChecks`; the training functions' tests are in ``training.py``.

Like every PyTorch check of the course, a test is split in two (``course_checks.probes``): a
probe builds and runs the student's objects and returns data, recorded by the grader; the
comparisons run on that data after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.cases import SequenceCase
from course_checks.compare import (
    check_close,
    check_true,
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
from course_checks.layers import RecurrentLayerChecks, StackedLayout, check_step_gradients
from course_checks.layouts import TorchLayout, call_in_layout
from course_checks.probes import (
    attempt,
    backward,
    digest,
    outcome,
    parameter_facts,
    recorded_gradients,
    run_probe,
)

__all__ = [
    "LSTM_BUILTINS",
    "LSTM_LAYOUT",
    "NO_BUILTIN_LSTM_REASON",
    "PARAMETER_NAMES",
    "LSTMCase",
    "call_lstm",
    "check_forget_bias",
    "check_lstm_device",
    "check_lstm_gradients",
    "check_lstm_module",
    "check_lstm_parameters",
    "check_lstm_step",
    "check_no_builtin_lstm_modules",
    "check_state_default",
    "no_builtin_lstm",
    "random_lstm_case",
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
    check_step_gradients(
        grads,
        {name: tensor.grad for name, tensor in theirs.items()},
        user="lstm_cell",
        loss="sum(g_h * h_new) + sum(g_c * c_new)",
        through="autograd through lstm_cell, compared with nn.LSTMCell's",
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


class LSTMChecks(RecurrentLayerChecks):
    """The layer tests (``course_checks.layers``) for ``LSTMFromScratch`` against ``nn.LSTM``:
    two states ``(h0, c0)``, the parameters registered under ``nn.LSTM``'s names."""

    name = "LSTMFromScratch"
    reference = "nn.LSTM"
    guard = LSTM_GUARD
    layout = LSTM_LAYER
    states = ("h0", "c0")
    finals = "h_n and c_n"
    no_state = "state=None"
    detached = (
        "the state is detached between steps (h.detach(), c.detach() or .data), so no gradient "
        "flows back through time: keep h and c in the graph"
    )
    upstream = ("g_h", "g_c")
    draw = staticmethod(random_lstm_case)
    run_layer = staticmethod(_run)
    reference_layer = staticmethod(torch_lstm)
    reference_cell = staticmethod(torch_lstm_cell)

    def new_model(self, module_class: Callable[..., Any], case: LSTMCase, guarded: bool) -> Any:
        __tracebackhide__ = True
        _, _, D, H = case.sizes
        model = _new_model(module_class, D, H, guarded)
        _load(model, case.params)
        return model

    def check_outputs(
        self, what: str, result: Any, case: LSTMCase, state: tuple, mistakes: Any = None
    ) -> float:
        __tracebackhide__ = True
        return _check_outputs(what, result, case, *state, mistakes=mistakes)

    def given_state_mistakes(self, case: LSTMCase) -> dict[str, dict[str, np.ndarray]]:
        given = _reference_run(case, case.h0, case.c0)
        text = "state=None must mean h0 = 0 and c0 = 0; you started from another state"
        return {
            "output": {text: given["output"]},
            "h": {text: given["h_n"][0]},
            "c": {text: given["c_n"][0]},
        }

    def step(self, cell: Any, x_t: torch.Tensor, state: tuple) -> tuple[Any, tuple]:
        h_new, c_new = cell(x_t, state)
        return h_new, (h_new, c_new)

    def devices_message(self, device: str, devices: list[str]) -> str:
        return (
            f"for an input on {device} forward returned tensors on {devices}: create new "
            f"tensors (the zero state) with device=x.device."
        )


LSTM_CHECKS = LSTMChecks()
check_lstm_module = LSTM_CHECKS.check_module
check_state_default = LSTM_CHECKS.check_default_state
check_lstm_gradients = LSTM_CHECKS.check_gradients
check_lstm_device = LSTM_CHECKS.check_device


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
