"""Checks of ``solutions/ex1_rnn/rnn_torch.ipynb``: the vanilla RNN as a PyTorch module.

Like every PyTorch check of the course, a test is split in two (``course_checks.probes``)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from course_checks.calls import call
from course_checks.compare import check_close, check_true, check_uniform_spread, expect_tuple
from course_checks.ex1_rnn.references import (
    RNNCase,
    _describe,
    numpy_weights_from_torch,
    random_rnn_case,
    rnn_case,
    torch_rnn_cell_forward,
    torch_rnn_forward,
    torch_rnn_gradients,
)
from course_checks.ex1_rnn.wrong_answers import (
    cell_mistakes,
    forward_mistakes,
    load_mistakes,
    unrolled_gradient_mistakes,
)
from course_checks.guards import BuiltinGuard, float_recurrent_classes
from course_checks.layers import RecurrentLayerChecks, check_step_gradients
from course_checks.layouts import state_cut_message
from course_checks.probes import (
    attempt,
    backward,
    outcome,
    parameter_facts,
    recorded_gradients,
    run_probe,
)

__all__ = [
    "check_loaded_weights",
    "check_module_gradients",
    "check_rnn_device",
    "check_rnn_h0_default",
    "check_rnn_load_from_torch",
    "check_rnn_module",
    "check_rnn_outputs",
    "check_rnn_parameters",
    "check_torch_rnn_step",
    "run_rnn_module",
    "set_rnn_parameters",
]


# ---------------------------------------------------------------------------------------- guards

# Every public route to PyTorch's fused RNN: the modules and the functions behind them.
RNN_BUILTINS = (
    "torch.nn.RNN.forward",
    "torch.nn.RNNCell.forward",
    "torch.rnn_tanh",
    "torch.rnn_tanh_cell",
    "torch.rnn_relu",
    "torch.rnn_relu_cell",
    "torch._VF.rnn_tanh",
    "torch._VF.rnn_tanh_cell",
    "torch._VF.rnn_relu",
    "torch._VF.rnn_relu_cell",
)
NO_BUILTIN_RNN_REASON = (
    "Compute h_t = tanh(x_t @ W_x + h_prev @ W_h + b) yourself: nn.RNN, nn.RNNCell and torch's "
    "rnn_tanh functions may only be used by the tests."
)
RNN_GUARD = BuiltinGuard(
    RNN_BUILTINS,
    NO_BUILTIN_RNN_REASON,
    "RNNFromScratch",
    "Write the recurrence yourself with nn.Parameter weights; nn.RNN and nn.RNNCell are only "
    "allowed in the tests.",
    classes=float_recurrent_classes,
    require_module=False,
)
no_builtin_rnn = RNN_GUARD.block  # any route to PyTorch's RNN raises within (hidden tests)
check_no_builtin_rnn_modules = RNN_GUARD.check_modules

# ---------------------------------------------------------------------------------------- checks

PARAMETER_SHAPES = {"W_x": ("D", "H"), "W_h": ("H", "H"), "b": ("H",)}


# The inputs of rnn_step, and the names of their gradients in torch_rnn_gradients.
STEP_INPUTS = {"x_t": "dx", "h_prev": "dh0", "W_x": "dW_x", "W_h": "dW_h", "b": "db"}


def _step_cases(x_t: np.ndarray, h_prev: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The three cases of the step test: input term only, recurrent term only, both."""
    return [
        ("h_prev = 0: only the input term x_t @ W_x + b", x_t, np.zeros_like(h_prev)),
        ("x_t = 0: only the recurrent term h_prev @ W_h + b", np.zeros_like(x_t), h_prev),
        ("both terms", x_t, h_prev),
    ]


def _step_draw(seed: int, B: int, D: int, H: int) -> tuple[np.ndarray, ...]:
    """``x_t, h_prev, W_x, W_h, b, g`` of the step test, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    W_x, W_h = rng.normal(scale=0.5, size=(D, H)), rng.normal(scale=0.5, size=(H, H))
    b, g = rng.normal(scale=0.5, size=H), rng.normal(size=(B, H))
    return x_t, h_prev, W_x, W_h, b, g


def _probe_rnn_step(
    rnn_step: Callable[..., Any], seed: int, B: int, D: int, H: int, guarded: bool
) -> dict[str, Any]:
    """The student's step on the three cases; then backpropagate ``sum(g ⊙ h_t)`` of the last."""
    x_t, h_prev, W_x, W_h, b, g = _step_draw(seed, B, D, H)
    steps: list[dict[str, Any]] = []
    for _, x_case, h_case in _step_cases(x_t, h_prev):
        inputs = [torch.from_numpy(a).clone().requires_grad_(True) for a in (x_case, h_case)]
        weights = [torch.from_numpy(a).clone().requires_grad_(True) for a in (W_x, W_h, b)]
        with no_builtin_rnn() if guarded else contextlib.nullcontext():
            steps.append(attempt(call, rnn_step, *inputs, *weights))
        if "failure" in steps[-1]:
            return {"steps": steps}
    h_t = steps[-1]["value"]
    tensors = dict(zip(STEP_INPUTS, [*inputs, *weights], strict=True))
    return {
        "steps": steps,
        "backward": backward(lambda: (h_t * torch.from_numpy(g)).sum(), tensors),
    }


def check_torch_rnn_step(
    rnn_step: Callable[..., Any], seed: int, B: int, D: int, H: int, *, guarded: bool = False
) -> None:
    """Check a PyTorch RNN step ``rnn_step(x_t, h_prev, W_x, W_h, b)``: values, then gradients.

    Values are compared with ``torch.nn.RNNCell`` in three cases (``h_prev = 0``, ``x_t = 0``,
    both), so that a failure points at one term; gradients of ``L = sum(g ⊙ h_t)`` w.r.t. all
    five inputs with ``torch.nn.RNNCell``'s autograd. With ``guarded``, the student's calls run
    under :func:`~course_checks.guards.no_builtin_rnn` (the references run outside it).
    """
    __tracebackhide__ = True
    x_t, h_prev, W_x, W_h, b, g = _step_draw(seed, B, D, H)
    result = run_probe(_probe_rnn_step, rnn_step, seed, B, D, H, guarded)
    # The probe stops at its first failure; outcome() raises it in its place.
    for (label, x_case, h_case), step in zip(
        _step_cases(x_t, h_prev), result["steps"], strict=False
    ):
        check_close(
            f"h_t from rnn_step ({label})",
            outcome(step),
            torch_rnn_cell_forward(x_case, h_case, W_x, W_h, b),
            kind="torch",
            mistakes=cell_mistakes(x_case, h_case, W_x, W_h, b),
        )
    grads = recorded_gradients(
        result["backward"],
        "The h_t returned by rnn_step does not require grad, so autograd cannot differentiate "
        "it. Compute it with torch operations on the tensors you are given: no .numpy(), "
        ".detach(), .data, or new tensors built from their values.",
    )
    expected = torch_rnn_gradients(x_t[None], h_prev, W_x, W_h, b, g[None])
    expected["dx"] = expected["dx"][0]
    check_step_gradients(
        grads,
        {name: expected[key] for name, key in STEP_INPUTS.items()},
        user="rnn_step",
        loss="sum(g * h_t)",
        through="autograd through rnn_step",
    )


def set_rnn_parameters(
    model: torch.nn.Module, W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray
) -> None:
    """Copy NumPy-layout weights into ``model.W_x``, ``model.W_h`` and ``model.b`` (in place).

    Fails first if the model holds a built-in RNN module: its outputs would not depend on these
    parameters, and "nn.RNNCell inside" says more than "wrong values".
    """
    __tracebackhide__ = True
    check_no_builtin_rnn_modules(model)
    for name, value in (("W_x", W_x), ("W_h", W_h), ("b", b)):
        parameter = getattr(model, name, None)
        check_true(
            isinstance(parameter, torch.Tensor),
            f"RNNFromScratch has no tensor attribute {name}: store the parameters as self.W_x, "
            f"self.W_h and self.b.",
        )
        check_true(
            tuple(parameter.shape) == value.shape,
            f"self.{name} has shape {tuple(parameter.shape)}, expected {value.shape}: "
            f"W_x is (D, H), W_h is (H, H) and b is (H,) (this course's layout, x_t @ W_x).",
        )
        with torch.no_grad():
            parameter.copy_(torch.from_numpy(value))


def check_loaded_weights(model: torch.nn.Module, rnn: torch.nn.RNN) -> None:
    """Check ``model.W_x``, ``model.W_h`` and ``model.b`` after ``model.load_from_torch(rnn)``.

    The expected values (the mapping that the exercise asks for) stay here rather than in the
    notebook's test cell, so that the released notebook does not print the answer.
    """
    __tracebackhide__ = True
    weights = {name: p.detach().cpu().numpy() for name, p in rnn.named_parameters()}
    wrong = load_mistakes(
        weights["weight_ih_l0"],
        weights["weight_hh_l0"],
        weights["bias_ih_l0"],
        weights["bias_hh_l0"],
    )
    for name, value in zip(("W_x", "W_h", "b"), numpy_weights_from_torch(rnn), strict=True):
        check_close(
            f"model.{name} after load_from_torch",
            getattr(model, name, None),
            value,
            kind="torch",
            mistakes=wrong[name],
        )


def run_rnn_module(
    model: torch.nn.Module, x: torch.Tensor, h0: torch.Tensor | None = None
) -> tuple[Any, Any]:
    """Call ``model(x)`` or ``model(x, h0)``; check that it returns two items ``(hs, h_n)``.

    Like ``nn.RNN``, the module takes ``h0`` and returns ``h_n`` with the leading num_layers
    axis, ``(1, B, H)``.
    """
    __tracebackhide__ = True
    result = call(model, x) if h0 is None else call(model, x, h0)
    hs, h_n = expect_tuple(result, ("hs", "h_n"), "RNNFromScratch.forward")
    return hs, h_n


def check_rnn_outputs(
    what: str,
    hs: Any,
    h_n: Any,
    x: np.ndarray,
    h0: np.ndarray,
    W_x: np.ndarray,
    W_h: np.ndarray,
    b: np.ndarray,
    mistakes: Mapping[str, Any] | None = None,
) -> float:
    """Check ``hs (T, B, H)`` and ``h_n (1, B, H)`` against ``torch.nn.RNN``; the max abs diff.

    Args:
        what: where the outputs come from, in words (used in messages).
        hs, h_n: the module's outputs (torch tensors); ``h_n`` has nn.RNN's num_layers axis.
        x, h0, W_x, W_h, b: the inputs and NumPy-layout weights of the reference ``torch.nn.RNN``
            (``h0`` without the num_layers axis, ``(B, H)``).
        mistakes: more known wrong outputs ``hs`` (e.g. from wrongly loaded weights).
    """
    __tracebackhide__ = True
    expected = torch_rnn_forward(x, h0, W_x, W_h, b)
    _check_hs_layer_axis(f"hs from {what}", hs, *expected.shape)
    known = {**forward_mistakes(x, h0, W_x, W_h, b), **(mistakes or {})}
    check_close(f"hs from {what}", hs, expected, kind="torch", mistakes=known)
    _check_h_n_shape(f"h_n from {what}", h_n, *h0.shape)
    check_close(
        f"h_n from {what}",
        h_n,
        expected[-1:],
        kind="torch",
        mistakes={
            "h_n is the state after the last step, hs[-1:]; you returned h0": h0[None],
            "h_n is the state after the last step, hs[-1:]; you returned the first state": (
                expected[:1]
            ),
        },
    )
    difference = max(
        float(np.max(np.abs(hs.detach().cpu().numpy() - expected))),
        float(np.max(np.abs(h_n.detach().cpu().numpy() - expected[-1:]))),
    )
    return difference


def _check_hs_layer_axis(what: str, hs: Any, T: int, B: int, H: int) -> None:
    """``hs`` of shape ``(T, 1, B, H)``: the state kept h0's num_layers axis."""
    __tracebackhide__ = True
    check_true(
        tuple(getattr(hs, "shape", ())) != (T, 1, B, H) or B == 1,
        f"{what} has shape {(T, 1, B, H)}: the state kept h0's num_layers axis. h0 comes in as "
        f"nn.RNN takes it, (1, B, H), and rnn_step works on (B, H): start the recurrence from "
        f"h0[0].",
    )


def _check_h_n_shape(what: str, h_n: Any, B: int, H: int) -> None:
    """``h_n`` must have nn.RNN's leading num_layers axis, ``(1, B, H)``."""
    __tracebackhide__ = True
    shape = tuple(getattr(h_n, "shape", ()))
    check_true(
        shape != (B, H) or B == 1,
        f"{what} has shape {shape}; like torch.nn.RNN, RNNFromScratch returns h_n with a "
        f"leading num_layers axis, (1, B, H) = {(1, B, H)}: return h.unsqueeze(0) (or h[None]).",
    )


def _rnn_facts(model: Any) -> dict[str, Any]:
    """:func:`~course_checks.probes.parameter_facts` of an RNN module, once it holds no nn.RNN."""
    __tracebackhide__ = True
    check_no_builtin_rnn_modules(model)
    return parameter_facts(model, tuple(PARAMETER_SHAPES))


def _probe_new_rnn(module_class: Callable[..., Any], D: int, H: int) -> dict[str, Any]:
    """Build ``module_class(D, H)``; the facts about its parameters."""
    __tracebackhide__ = True
    return _rnn_facts(call(module_class, D, H))


def check_rnn_parameters(model: Any, D: int, H: int) -> dict[str, tuple[int, ...]]:
    """Check the parameters of a from-scratch RNN module; return the registered shapes by name.

    It must register exactly ``W_x (D, H)``, ``W_h (H, H)`` and ``b (H,)`` as float64
    ``nn.Parameter``s, initialised like ``torch.nn.RNN`` (uniform on ``[−1/√H, 1/√H]``), and hold
    no built-in recurrent module.

    Args:
        model: the student's class, built here as ``model(D, H)`` in a recorded probe (so that
            the grader can re-check the test), or a module already built.
        D, H: the input and hidden sizes.
    """
    __tracebackhide__ = True
    if isinstance(model, torch.nn.Module):
        facts = _rnn_facts(model)
    else:
        facts = run_probe(_probe_new_rnn, model, D, H)
    _check_rnn_facts(facts, D, H)
    return dict(facts["registered"])


def _check_rnn_facts(facts: Mapping[str, Any], D: int, H: int) -> None:
    __tracebackhide__ = True
    sizes = {"D": D, "H": H}
    for name, letters in PARAMETER_SHAPES.items():
        fact = facts[name]
        check_true(
            fact["type"] != "NoneType",
            f"RNNFromScratch has no attribute {name}: store the parameters as self.W_x, self.W_h "
            f"and self.b.",
        )
        check_true(
            fact["registered"],
            f"self.{name} is a plain {fact['type']}, not an nn.Parameter, so the module "
            f"does not register it: model.parameters() leaves it out, an optimizer would not train "
            f"it and model.to(device) would not move it. Wrap it: self.{name} = nn.Parameter(...).",
        )
        shape = tuple(sizes[letter] for letter in letters)
        got = tuple(fact["shape"])
        transposed = len(shape) == 2 and got == shape[::-1] and shape[0] != shape[1]
        check_true(
            got == shape,
            f"self.{name} has shape {got}, expected {shape} "
            f"({' × '.join(letters)}; this course's layout is x_t @ W_x with W_x of shape (D, H))."
            + (" It is transposed (PyTorch's own layout)." if transposed else ""),
        )
        check_true(
            fact["dtype"] == str(torch.float64),
            f"self.{name} has dtype {fact['dtype']}; create the parameters in float64 "
            f"(dtype=torch.float64 by default): float32 is too imprecise for the checks.",
        )
    extra = sorted(set(facts["registered"]) - set(PARAMETER_SHAPES))
    check_true(
        not extra,
        f"RNNFromScratch has extra parameters {extra}; it needs exactly W_x, W_h and b.",
    )
    bound = 1.0 / math.sqrt(H)
    for name in ("W_x", "W_h"):
        check_uniform_spread(name, facts[name]["spread"], bound, like="nn.RNN")
    low, high, _, _ = facts["b"]["spread"]
    largest = max(abs(low), abs(high))
    check_true(
        largest <= 2 * bound + 1e-12,
        f"self.b has values up to {largest:.3g} in absolute value; initialise it "
        f"uniform on [-1/sqrt(H), 1/sqrt(H)] (or zeros).",
    )


def _new_rnn(module_class: Callable[..., Any], case: RNNCase) -> torch.nn.Module:
    """``module_class(D, H)`` holding the case's weights (fails first on a built-in RNN inside)."""
    __tracebackhide__ = True
    _, _, D, H = case.sizes
    model = call(module_class, D, H)
    check_no_builtin_rnn_modules(model)
    set_rnn_parameters(model, *case.weights)
    return model


def _probe_rnn_runs(
    module_class: Callable[..., Any],
    seed: int,
    sizes: tuple[int, int, int, int],
    starts: tuple[str, ...],
    guarded: bool,
) -> list[tuple[Any, Any]]:
    """``(hs, h_n)`` of the student's module on a random case, once per start: "h0" or "zeros".

    ``h0`` goes in as nn.RNN takes it, with the num_layers axis: ``(1, B, H)``.
    """
    __tracebackhide__ = True
    case = random_rnn_case(seed, *sizes)
    model = _new_rnn(module_class, case)
    x, h0 = torch.from_numpy(case.x), torch.from_numpy(case.h0)[None]
    with no_builtin_rnn() if guarded else contextlib.nullcontext():
        return [run_rnn_module(model, x, h0 if start == "h0" else None) for start in starts]


def check_rnn_module(
    module_class: Callable[..., Any],
    seed: int,
    T: int,
    B: int,
    D: int,
    H: int,
    *,
    guarded: bool = False,
    also_without_h0: bool = False,
) -> float:
    """``module_class(D, H)`` with given weights equals ``torch.nn.RNN``; return the max diff.

    With ``guarded``, forward runs under :func:`~course_checks.guards.no_builtin_rnn`; with
    ``also_without_h0``, the same model also runs from ``h0=None`` (a zero state).
    """
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    starts = ("h0", "zeros") if also_without_h0 else ("h0",)
    runs = run_probe(_probe_rnn_runs, module_class, seed, (T, B, D, H), starts, guarded=guarded)
    difference = check_rnn_outputs("RNNFromScratch", *runs[0], case.x, case.h0, *case.weights)
    if also_without_h0:
        zeros = np.zeros_like(case.h0)
        check_rnn_outputs("RNNFromScratch, h0=None", *runs[1], case.x, zeros, *case.weights)
    return difference


class RNNChecks(RecurrentLayerChecks):
    """The layer tests (``course_checks.layers``) for ``RNNFromScratch`` against ``nn.RNN``: one
    state ``h0``, the parameters ``W_x``, ``W_h`` and ``b`` (this exercise's own layout)."""

    name = "RNNFromScratch"
    reference = "nn.RNN"
    guard = RNN_GUARD
    default_state_names_the_case = False
    draw = staticmethod(random_rnn_case)
    run_layer = staticmethod(run_rnn_module)

    def new_model(self, module_class: Callable[..., Any], case: RNNCase, guarded: bool) -> Any:
        __tracebackhide__ = True
        return _new_rnn(module_class, case)

    def check_outputs(
        self, what: str, result: Any, case: RNNCase, state: tuple, mistakes: Any = None
    ) -> float:
        __tracebackhide__ = True
        hs, h_n = result
        return check_rnn_outputs(what, hs, h_n, case.x, state[0], *case.weights, mistakes)

    def check_moved(self, on: Mapping[str, str], device: str) -> None:
        __tracebackhide__ = True
        check_true(
            set(PARAMETER_SHAPES) <= set(on),
            f"model.to({device!r}) moved only the registered parameters {sorted(on)}: W_x, W_h "
            f"and b must be nn.Parameter attributes to move with the module.",
        )
        super().check_moved(on, device)


RNN_CHECKS = RNNChecks()
check_rnn_h0_default = RNN_CHECKS.check_default_state
check_rnn_device = RNN_CHECKS.check_device


def _load_draw(
    seed: int, T: int, B: int, D: int, H: int
) -> tuple[torch.nn.RNN, np.ndarray, np.ndarray]:
    """The load test's ``nn.RNN`` (with its own random weights) and inputs ``x``, ``h0``."""
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(D, H, dtype=torch.float64)  # tanh, one layer, time-major: the reference
    rng = np.random.default_rng(seed)
    return rnn, rng.normal(size=(T, B, D)), rng.normal(size=(B, H))


def _probe_rnn_load(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> dict[str, Any]:
    """Load an ``nn.RNN`` into the student's module: its parameters, then its outputs."""
    __tracebackhide__ = True
    rnn, x, h0 = _load_draw(seed, T, B, D, H)
    model = call(module_class, D, H)
    call(model.load_from_torch, rnn)
    facts = _rnn_facts(model)
    loaded = {name: getattr(model, name, None) for name in PARAMETER_SHAPES}
    run = attempt(run_rnn_module, model, torch.from_numpy(x), torch.from_numpy(h0)[None])
    return {"facts": facts, "loaded": loaded, "run": run}


def check_rnn_load_from_torch(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``load_from_torch(rnn)`` maps ``nn.RNN``'s weights, and the model then matches ``rnn``.

    The parameters must stay registered float64 ``nn.Parameter``s, hold the mapped weights, and
    the model's outputs must equal those of the ``nn.RNN`` itself; returns the max difference.
    """
    __tracebackhide__ = True
    result = run_probe(_probe_rnn_load, module_class, seed, T, B, D, H)
    rnn, x, h0 = _load_draw(seed, T, B, D, H)
    _check_rnn_facts(result["facts"], D, H)  # still registered float64 parameters
    check_loaded_weights(SimpleNamespace(**result["loaded"]), rnn)
    with torch.no_grad():  # nn.RNN's h0 and h_n have a leading num_layers axis: (1, B, H)
        expected_hs, expected_h_n = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    hs, h_n = outcome(result["run"])
    _check_hs_layer_axis("hs after load_from_torch", hs, T, B, H)
    check_close(
        "hs after load_from_torch, compared with nn.RNN",
        hs,
        expected_hs,
        kind="torch",
        mistakes=forward_mistakes(x, h0, *numpy_weights_from_torch(rnn)),
    )
    _check_h_n_shape("h_n after load_from_torch", h_n, B, H)
    check_close("h_n after load_from_torch, compared with nn.RNN's h_n", h_n, expected_h_n)
    with torch.no_grad():
        return max(float((hs - expected_hs).abs().max()), float((h_n - expected_h_n).abs().max()))


def _probe_rnn_gradients(module_class: Callable[..., Any], case: RNNCase) -> dict[str, Any]:
    """The student's module on ``case``: its outputs, then the gradients of the test's loss."""
    __tracebackhide__ = True
    model = _new_rnn(module_class, case)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)  # (1, B, H), as nn.RNN
    hs, h_n = run_rnn_module(model, x, h0)
    dhs, dh_T = torch.from_numpy(case.dhs), torch.from_numpy(case.dhs[0])
    tensors = {"dW_x": model.W_x, "dW_h": model.W_h, "db": model.b, "dx": x, "dh0": h0}
    gradients = backward(lambda: (hs * dhs).sum() + (h_n[0] * dh_T).sum(), tensors)
    return {"hs": hs, "h_n": h_n, "backward": gradients}


def check_module_gradients(
    module_class: Callable[..., Any],
    case: RNNCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Check the autograd gradients of a from-scratch RNN module against ``torch.nn.RNN``'s.

    The case is drawn from ``seed`` with the sizes ``T, B, D, H`` (or given as ``case``).

    The loss is ``L = sum(dhs ⊙ hs) + sum(dh_T ⊙ h_n[0])`` with ``dh_T = dhs[0]`` (any fixed
    array would do); gradients w.r.t. ``W_x, W_h, b``, the input ``x`` and ``h0 (1, B, H)`` are
    compared.
    """
    __tracebackhide__ = True
    case = rnn_case(case, seed, T, B, D, H)
    result = run_probe(_probe_rnn_gradients, module_class, case)
    check_rnn_outputs("RNNFromScratch", result["hs"], result["h_n"], case.x, case.h0, *case.weights)
    grads = recorded_gradients(
        result["backward"],
        "The outputs of RNNFromScratch do not require grad, so no gradient can flow back to "
        "the parameters: forward and rnn_step must use them and the inputs through torch "
        "operations (no .numpy(), .detach() or .data).",
    )
    dh_T = case.dhs[0]
    upstream = case.dhs.copy()
    upstream[-1] += dh_T  # h_n[0] is hs[-1]: its gradient adds to that of the last state
    expected = torch_rnn_gradients(case.x, case.h0, *case.weights, upstream)
    expected["dh0"] = expected["dh0"][None]  # h0 goes in as (1, B, H)
    mistakes = unrolled_gradient_mistakes(
        case.dhs, dh_T, case.x, case.h0, case.hs, case.W_x, case.W_h
    )
    mistakes["dh0"] = {text: value[None] for text, value in mistakes["dh0"].items()}
    labels = {"dW_x": "model.W_x.grad", "dW_h": "model.W_h.grad", "db": "model.b.grad"}
    labels.update({"dx": "x.grad", "dh0": "h0.grad"})
    for key, label in labels.items():
        check_true(
            grads[key] is not None,
            state_cut_message("h0", "RNNFromScratch")
            if key == "dh0"
            else f"{label} is None after loss.backward(): no gradient reached it. Parameters must "
            f"be nn.Parameter (requires_grad=True), and forward must use them and the inputs "
            f"without .detach(), .data or .numpy().",
        )
        check_close(
            f"{label} ({_describe(case)})",
            grads[key],
            expected[key],
            kind="torch",
            mistakes=mistakes[key],
        )
