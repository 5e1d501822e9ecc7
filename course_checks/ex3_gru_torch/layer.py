"""Checks of the cell and the layer of Exercise 3, the GRU in PyTorch (Parts 1–3).

The student's modules keep PyTorch's layout: ``GRUCellFromScratch`` holds ``weight_ih (3H, D)``,
``weight_hh (3H, H)``, ``bias_ih (3H,)`` and ``bias_hh (3H,)``, three blocks stacked in the order
r, z, n (two gates and the candidate), and computes (reset after the matrix product, two bias
vectors; NOTATION.md), with ``gx = x weight_ih^T + bias_ih = [gx_r | gx_z | gx_n]`` and
``gh = h weight_hh^T + bias_hh = [gh_r | gh_z | gh_n]``::

    r = σ(gx_r + gh_r)
    z = σ(gx_z + gh_z)
    n = tanh(gx_n + r ⊙ gh_n)
    h_new = z ⊙ h + (1 − z) ⊙ n

Messages name PyTorch's blocks by PyTorch's names (``weight_hh[2H:3H]``, the n block of
``bias_hh``): the symbols ``W_hr``, ``W_hz`` belong to Chapter 2's row-vector matrices.

``GRUFromScratch`` holds one such cell as ``self.cell`` and follows ``torch.nn.GRU``'s
conventions: ``forward(x (T, B, D), h0 (1, B, H) or None) -> (output (T, B, H), h_n (1, B, H))``.

Right answers always come from ``torch.nn.GRU`` / ``torch.nn.GRUCell`` (and from autograd through
them). Wrong answers, which let a failure name the likely mistake, come from ``_variant_step``, a
GRU step with switchable mistakes whose mistake-free setting is asserted equal to ``nn.GRUCell``.
The layer's tests are ``course_checks.layers``' shared ones, configured by :class:`GRUChecks`;
Part 4's (the adding problem, the training) are in ``training.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.compare import (
    check_close,
    check_true,
    expect_tuple,
)
from course_checks.errors import CheckFailure
from course_checks.ex3_gru_torch.references import (
    PARAMETER_NAMES,
    GRUCase,
    Params,
    random_gru_case,
    reference_cell,
    reference_gru,
    torch_gru_cell_from,
    torch_gru_from,
)
from course_checks.ex3_gru_torch.wrong_answers import (
    _LOAD_HINT,
    _load_mistakes,
    cell_mistakes,
    forward_mistakes,
)
from course_checks.guards import BuiltinGuard
from course_checks.layers import RecurrentLayerChecks, StackedLayout, check_step_gradients
from course_checks.layouts import TorchLayout, call_in_layout
from course_checks.probes import (
    attempt,
    backward,
    outcome,
    parameter_facts,
    recorded_gradients,
    run_probe,
)

__all__ = [
    "GRU_BUILTINS",
    "GRU_FUNCTION_NAMES",
    "GRU_LAYOUT",
    "NO_BUILTIN_GRU_REASON",
    "call_gru",
    "check_cell_parameters",
    "check_gru_cell",
    "check_gru_device",
    "check_gru_gradients",
    "check_gru_module",
    "check_gru_outputs",
    "check_h0_default",
    "check_load_from_torch",
    "check_no_builtin_gru_modules",
    "no_builtin_gru",
    "run_gru",
    "set_gru_parameters",
]

# ---------------------------------------------------------------------------------------- guards

# Every public route to PyTorch's GRU in torch 2.13: the modules (float and dynamically quantized)
# and the functions behind them. ``torch._C._VariableFunctions.gru*`` is read-only, so it is not
# patched; ``guards.block_recurrent_kernels`` blocks it at the dispatcher.
GRU_BUILTINS = (
    "torch.nn.GRU.forward",
    "torch.nn.GRUCell.forward",
    "torch.ao.nn.quantized.dynamic.GRU.forward",
    "torch.ao.nn.quantized.dynamic.GRUCell.forward",
    "torch.gru",
    "torch.gru_cell",
    "torch.quantized_gru",
    "torch.quantized_gru_cell",
    "torch._VF.gru",
    "torch._VF.gru_cell",
    "torch._VF.quantized_gru",
    "torch._VF.quantized_gru_cell",
)

# Operator names (``torch.ops.aten.<name>.<overload>``) of the fused GRU kernels.
GRU_FUNCTION_NAMES = frozenset(
    {"gru", "gru_cell", "quantized_gru", "quantized_gru_cell", "_thnn_fused_gru_cell"}
)

NO_BUILTIN_GRU_REASON = (
    "Compute the gates r and z, the candidate n and the new state yourself, with torch "
    "operations on your own nn.Parameters: nn.GRU, nn.GRUCell and torch's fused gru / gru_cell "
    "functions may only be used by the tests, as the reference."
)


GRU_GUARD = BuiltinGuard(
    GRU_BUILTINS,
    NO_BUILTIN_GRU_REASON,
    "GRUFromScratch",
    "Write the GRU yourself with nn.Parameter weights; nn.GRU and nn.GRUCell are only allowed "
    "in the tests.",
    operators=GRU_FUNCTION_NAMES,
)
no_builtin_gru = GRU_GUARD.block  # any route to PyTorch's GRU raises within (hidden tests)
check_no_builtin_gru_modules = GRU_GUARD.check_modules
_guard = GRU_GUARD.guarded


# nn.GRUCell's parameters, as the checks name them (course_checks.layers).
GRU_CELL = StackedLayout(("r", "z", "n"), "nn.GRU", "nn.GRUCell", "nn.GRUCell's names")

# ------------------------------------------------------------------------------ calling students


def call_gru(function: Callable[..., Any], *args: Any, hint: str = "", **kwargs: Any) -> Any:
    """Call a student's function or module; turn a stub or an exception into an explanation.

    Like :func:`course_checks.call`, with hints in this exercise's layout (PyTorch's stacked
    weights, nn.GRU's state shapes). ``hint`` is added to the message of any exception. When the
    grader runs the notebook, the call is recorded, and replayed when it re-checks the test.
    """
    __tracebackhide__ = True
    return call_in_layout(GRU_LAYOUT, function, *args, hint=hint, **kwargs)


_SHAPES = (
    "Shapes: x is time-major, (T, B, D), so x[t] is one time step of shape (B, D); the cell's "
    "state h is (B, H), while h0 and h_n have nn.GRU's leading num_layers axis, (1, B, H); "
    "weight_ih is (3H, D), weight_hh (3H, H), bias_ih and bias_hh (3H,)."
)
GRU_LAYOUT = TorchLayout(
    _SHAPES, "weight_ih (3H, D) and weight_hh (3H, H)", "self.cell.weight_ih", "train"
)


# ------------------------------------------------------------------------------------ references


# --------------------------------------------------------------------------------- wrong answers


# ------------------------------------------------------------------------------- module checks


def _parameter(module: Any, name: str, what: str) -> torch.Tensor:
    __tracebackhide__ = True
    value = getattr(module, name, None)
    check_true(isinstance(value, torch.Tensor), GRU_CELL.no_tensor_message(name, what))
    return value


def _cell_facts(cell: Any, what: str) -> dict[str, Any]:
    """:func:`~course_checks.probes.parameter_facts` of a cell, once it holds no built-in GRU."""
    __tracebackhide__ = True
    check_no_builtin_gru_modules(cell, what)
    return parameter_facts(cell, PARAMETER_NAMES)


def _probe_new_cell(cell_class: Callable[..., Any], D: int, H: int, what: str) -> dict[str, Any]:
    """Build ``cell_class(D, H)``; the facts about its parameters."""
    __tracebackhide__ = True
    return _cell_facts(call_gru(cell_class, D, H), what)


def check_cell_parameters(
    cell: Any, D: int, H: int, what: str = "GRUCellFromScratch", *, initialised: bool = True
) -> dict[str, tuple[int, ...]]:
    """``cell`` registers exactly nn.GRUCell's four float64 parameters, shaped and initialised.

    ``cell`` is the student's class, built here as ``cell(D, H)`` in a recorded probe (so that
    the grader can re-check the test), or a module already built. With ``initialised=False``
    (after loading weights), only the names, shapes and dtypes are checked. Returns the shapes
    of the registered parameters, by name.
    """
    __tracebackhide__ = True
    if isinstance(cell, nn.Module):
        facts = _cell_facts(cell, what)
    else:
        facts = run_probe(_probe_new_cell, cell, D, H, what)
    GRU_CELL.check_facts(facts, D, H, what, initialised=initialised)
    return dict(facts["registered"])


def _set_cell(cell: Any, params: Params, what: str) -> None:
    __tracebackhide__ = True
    check_no_builtin_gru_modules(cell, what)
    registered = dict(cell.named_parameters())
    for name in PARAMETER_NAMES:
        value = _parameter(cell, name, what)
        check_true(
            isinstance(value, nn.Parameter) and registered.get(name) is value,
            f"{what}.{name} is a plain {type(value).__name__}, not an nn.Parameter: the module "
            f"does not register it, autograd does not compute its gradient, an optimizer would "
            f"not train it and model.to(device) would not move it. Wrap it: "
            f"self.{name} = nn.Parameter(...).",
        )
        shape = params[name].shape
        check_true(
            tuple(value.shape) == shape,
            f"{what}.{name} has shape {tuple(value.shape)}, expected {shape}: weight_ih is "
            f"(3H, D), weight_hh (3H, H), bias_ih and bias_hh (3H,), PyTorch's layout.",
        )
        with torch.no_grad():
            value.copy_(torch.from_numpy(params[name]))


def set_gru_parameters(model: Any, params: Params, what: str = "GRUFromScratch") -> None:
    """Copy PyTorch-layout ``params`` into ``model.cell``'s parameters (in place).

    Fails first if the model holds a built-in recurrent module: its outputs would not depend on
    these parameters, and "nn.GRUCell inside" says more than "wrong values".
    """
    __tracebackhide__ = True
    check_no_builtin_gru_modules(model, what)
    cell = getattr(model, "cell", None)
    check_true(
        isinstance(cell, nn.Module),
        f"{what} has no submodule `cell`: create it in __init__ as self.cell = "
        f"GRUCellFromScratch(input_size, hidden_size, dtype=dtype, device=device).",
    )
    _set_cell(cell, params, f"{what}.cell")
    names = sorted(name for name, _ in model.named_parameters())
    expected = sorted(f"cell.{name}" for name in PARAMETER_NAMES)
    check_true(
        names == expected,
        f"{what} registers the parameters {names}; it must hold exactly those of its cell, "
        f"{expected} (self.cell = GRUCellFromScratch(...), and nothing else).",
    )


def run_gru(model: Any, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[Any, Any]:
    """``model(x)`` or ``model(x, h0)``; check that it returns nn.GRU's pair ``(output, h_n)``."""
    __tracebackhide__ = True
    result = call_gru(model, x) if h0 is None else call_gru(model, x, h0)
    if isinstance(result, torch.Tensor):
        raise CheckFailure(
            f"GRUFromScratch.forward returned a single tensor of shape {tuple(result.shape)}; "
            f"like torch.nn.GRU it must return the pair (output, h_n): all the states, "
            f"(T, B, H), and the final state, (1, B, H). Returning only the last state is not "
            f"enough."
        )
    output, h_n = expect_tuple(result, ("output", "h_n"), "GRUFromScratch.forward")
    return output, h_n


def check_gru_outputs(
    what: str,
    output: Any,
    h_n: Any,
    x: np.ndarray,
    h0: np.ndarray,
    params: Params,
    mistakes: Mapping[str, Any] | None = None,
) -> float:
    """Check ``output (T, B, H)`` and ``h_n (1, B, H)`` against ``torch.nn.GRU``; max abs diff."""
    __tracebackhide__ = True
    expected, expected_n = reference_gru(x, h0, params)
    T, B, H = expected.shape
    shape = tuple(getattr(output, "shape", ()))
    check_true(
        shape != (B, T, H) or B == T,
        f"output from {what} has shape {shape} = (B, T, H): batch-first. x is time-major, "
        f"(T, B, D) like nn.GRU's default input, so step t is x[t] (not x[:, t]) and output "
        f"stacks the T states along axis 0: (T, B, H) = {(T, B, H)}.",
    )
    if len(shape) == 3 and shape[1:] == (B, H) and shape[0] != T:
        first = output[0].detach().cpu().numpy() if isinstance(output, torch.Tensor) else None
        with_h0 = shape[0] == T + 1 and first is not None and np.allclose(first, h0, atol=1e-9)
        raise CheckFailure(
            f"output from {what} has {shape[0]} steps, but x has T = {T} (its first axis): "
            + (
                "return the T states h_1 … h_T, not h_0 … h_T."
                if with_h0
                else "x is time-major, (T, B, D) like nn.GRU's default input, so loop over "
                "x[t] for t in range(x.shape[0]), not over x[:, t]."
            )
        )
    known = {**forward_mistakes(x, h0, params), **(mistakes or {})}
    check_close(
        f"output from {what}",
        output,
        expected,
        kind="torch",
        mistakes=known,
        hint="compare your step with Chapter 2's equations (book/02_gru_equations.md), term by "
        "term, in PyTorch's block order r, z, n.",
    )
    _check_h_n_shape(f"h_n from {what}", h_n, B, H)
    check_close(
        f"h_n from {what}",
        h_n,
        expected_n,
        kind="torch",
        mistakes={
            "h_n is the state after the last step, output[-1:]; you returned h0": h0[None],
            "h_n is the state after the last step, output[-1:]; you returned the first state": (
                expected[:1]
            ),
        },
    )
    return max(
        float(np.max(np.abs(output.detach().cpu().numpy() - expected))),
        float(np.max(np.abs(h_n.detach().cpu().numpy() - expected_n))),
    )


def _check_h_n_shape(what: str, h_n: Any, B: int, H: int) -> None:
    __tracebackhide__ = True
    shape = tuple(getattr(h_n, "shape", ()))
    check_true(
        shape != (B, H) or B == 1,
        f"{what} has shape {shape}; torch.nn.GRU returns h_n with a leading num_layers axis, "
        f"(1, B, H) = {(1, B, H)}: return h.unsqueeze(0) (or h[None]).",
    )


def _cell_cases(x_t: np.ndarray, h: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The three cases of the cell test: input terms only, recurrent terms only, both."""
    return [
        ("h = 0: only the input terms and the biases", x_t, np.zeros_like(h)),
        ("x_t = 0: only the recurrent terms and the biases", np.zeros_like(x_t), h),
        ("both terms", x_t, h),
    ]


def _probe_gru_cell(
    cell_class: Callable[..., Any], seed: int, B: int, D: int, H: int, guarded: bool
) -> dict[str, Any]:
    """The student's cell on the three cases, then the gradients of ``sum(g ⊙ h_new)``.

    The cell holds the case's weights; the gradients are those of the last case. The probe
    stops at its first failure.
    """
    __tracebackhide__ = True
    case = random_gru_case(seed, 1, B, D, H)
    with _guard(guarded):
        cell = call_gru(cell_class, D, H)
    _set_cell(cell, case.params, "GRUCellFromScratch")
    steps: list[dict[str, Any]] = []
    for _, x_case, h_case in _cell_cases(case.x[0], case.h0):
        inputs = [torch.from_numpy(a).clone().requires_grad_(True) for a in (x_case, h_case)]
        with _guard(guarded):
            steps.append(attempt(call_gru, cell, *inputs))
        if "failure" in steps[-1]:
            return {"steps": steps}
    h_new, g = steps[-1]["value"], torch.from_numpy(case.g_n)
    tensors = {"x_t": inputs[0], "h": inputs[1]}
    tensors.update({f"cell.{name}": getattr(cell, name) for name in PARAMETER_NAMES})
    return {"steps": steps, "backward": backward(lambda: (h_new * g).sum(), tensors)}


def check_gru_cell(
    cell_class: Callable[..., Any], seed: int, B: int, D: int, H: int, *, guarded: bool = False
) -> float:
    """Check ``cell_class(D, H)``'s step against ``torch.nn.GRUCell``: values, then gradients.

    Values in three cases (``h = 0``, ``x_t = 0``, both), so that a failure points at the input
    or the recurrent terms; gradients of ``L = sum(g ⊙ h_new)`` w.r.t. the inputs and the four
    parameters against nn.GRUCell's autograd. With ``guarded``, the student's code runs under
    :func:`no_builtin_gru`. Returns the largest difference in the values.
    """
    __tracebackhide__ = True
    case = random_gru_case(seed, 1, B, D, H)
    x_t, h = case.x[0], case.h0
    result = run_probe(_probe_gru_cell, cell_class, seed, B, D, H, guarded)
    largest = 0.0
    # The probe stops at its first failure; outcome() raises it in its place.
    for (label, x_case, h_case), step in zip(_cell_cases(x_t, h), result["steps"], strict=False):
        h_new = outcome(step)
        expected = reference_cell(x_case, h_case, case.params)
        check_close(
            f"h_new from GRUCellFromScratch ({label})",
            h_new,
            expected,
            kind="torch",
            mistakes=cell_mistakes(x_case, h_case, case.params),
            hint="compare your step with Chapter 2's equations (book/02_gru_equations.md), "
            "term by term, in PyTorch's block order r, z, n.",
        )
        largest = max(largest, float(np.max(np.abs(h_new.detach().numpy() - expected))))
    grads = recorded_gradients(
        result["backward"],
        "The state returned by GRUCellFromScratch does not require grad, so autograd cannot "
        "differentiate it: compute it with torch operations on the parameters and the inputs "
        "(no .numpy(), .detach(), .data or new tensors built from their values).",
    )
    reference = torch_gru_cell_from(case.params)
    ref_inputs = [torch.from_numpy(a).clone().requires_grad_(True) for a in (x_t, h)]
    (reference(*ref_inputs) * torch.from_numpy(case.g_n)).sum().backward()
    theirs = {"x_t": ref_inputs[0], "h": ref_inputs[1]}
    theirs.update({f"cell.{name}": getattr(reference, name) for name in PARAMETER_NAMES})
    check_step_gradients(
        grads,
        {name: tensor.grad for name, tensor in theirs.items()},
        user="the step",
        loss="sum(g * h_new)",
        through="autograd through GRUCellFromScratch, compared with nn.GRUCell's",
    )
    return largest


def _new_module(module_class: Callable[..., Any], D: int, H: int, guarded: bool) -> Any:
    __tracebackhide__ = True
    with _guard(guarded):
        model = call_gru(module_class, D, H)
    check_no_builtin_gru_modules(model)
    return model


class GRUChecks(RecurrentLayerChecks):
    """The layer tests (``course_checks.layers``) for ``GRUFromScratch`` against ``nn.GRU``: one
    state ``h0``, the parameters in ``model.cell`` under ``nn.GRUCell``'s names."""

    name = "GRUFromScratch"
    reference = "nn.GRU"
    guard = GRU_GUARD
    layout = GRU_CELL
    prefix = "model.cell."
    detached = (
        "the state is detached between steps (h.detach() or h.data), so no gradient flows "
        "back through time: keep h in the graph"
    )
    gradients_name_the_case = False
    draw = staticmethod(random_gru_case)
    run_layer = staticmethod(run_gru)
    reference_layer = staticmethod(torch_gru_from)
    reference_cell = staticmethod(torch_gru_cell_from)

    def new_model(self, module_class: Callable[..., Any], case: GRUCase, guarded: bool) -> Any:
        __tracebackhide__ = True
        _, _, D, H = case.sizes
        model = _new_module(module_class, D, H, guarded)
        set_gru_parameters(model, case.params)
        return model

    def check_outputs(
        self, what: str, result: Any, case: GRUCase, state: tuple, mistakes: Any = None
    ) -> float:
        __tracebackhide__ = True
        output, h_n = result
        return check_gru_outputs(what, output, h_n, case.x, state[0], case.params, mistakes)

    def given_state_mistakes(self, case: GRUCase) -> dict[str, np.ndarray]:
        return {
            "h0=None must mean a zero state; you started from another state": (
                reference_gru(case.x, case.h0, case.params)[0]
            )
        }

    def student_parameters(self, model: Any) -> dict[str, Any]:
        return {name: getattr(model.cell, name) for name in PARAMETER_NAMES}

    def step(self, cell: Any, x_t: torch.Tensor, state: tuple) -> tuple[Any, tuple]:
        h = cell(x_t, state[0])
        return h, (h,)

    def check_construction(self, module_class: Callable[..., Any], D: int, H: int) -> None:
        """``module_class(D, H, dtype=torch.float32)`` holds float32 parameters: a layer that
        builds its cell without passing ``dtype`` on passes every float64 test and then breaks
        the float32 training of Part 4, where nothing would say why."""
        __tracebackhide__ = True
        dtypes = run_probe(_probe_layer_dtypes, module_class, D, H)
        wrong = {name: dtype for name, dtype in dtypes.items() if dtype != str(torch.float32)}
        check_true(
            not wrong,
            f"GRUFromScratch({D}, {H}, dtype=torch.float32) holds parameters of another dtype "
            f"({', '.join(f'{name}: {dtype}' for name, dtype in wrong.items())}): pass dtype and "
            f"device on to the cell, self.cell = GRUCellFromScratch(input_size, hidden_size, "
            f"dtype=dtype, device=device). The training of Part 4 builds the layer in float32.",
        )


GRU_CHECKS = GRUChecks()
check_gru_module = GRU_CHECKS.check_module
check_h0_default = GRU_CHECKS.check_default_state
check_gru_gradients = GRU_CHECKS.check_gradients
check_gru_device = GRU_CHECKS.check_device


def _probe_layer_dtypes(module_class: Callable[..., Any], D: int, H: int) -> dict[str, str]:
    """The dtype of every parameter of ``module_class(D, H, dtype=torch.float32)``, by name."""
    __tracebackhide__ = True
    model = call_gru(module_class, D, H, dtype=torch.float32)
    check_no_builtin_gru_modules(model)
    return {name: str(p.dtype) for name, p in model.named_parameters()}


def _load_draw(seed: int, T: int, B: int, D: int, H: int) -> tuple[nn.GRU, np.ndarray, np.ndarray]:
    """The load test's ``nn.GRU`` (with its own random weights) and inputs ``x``, ``h0``."""
    torch.manual_seed(seed)
    gru = nn.GRU(D, H, dtype=torch.float64)  # one layer, time-major: the reference
    rng = np.random.default_rng(seed)
    return gru, rng.normal(size=(T, B, D)), rng.normal(scale=0.5, size=(B, H))


def _probe_gru_load(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> dict[str, Any]:
    """Load an ``nn.GRU`` into the student's layer: its cell before and after, then a run."""
    __tracebackhide__ = True
    gru, x, h0 = _load_draw(seed, T, B, D, H)
    model = _new_module(module_class, D, H, guarded=False)
    cell = getattr(model, "cell", None)
    check_true(
        isinstance(cell, nn.Module),
        "GRUFromScratch has no submodule `cell`: create it in __init__ as self.cell = "
        "GRUCellFromScratch(input_size, hidden_size, dtype=dtype, device=device).",
    )
    what = "GRUFromScratch.cell"
    before = {n: _parameter(cell, n, what).detach().cpu().numpy().copy() for n in PARAMETER_NAMES}
    call_gru(model.load_from_torch, gru, hint=_LOAD_HINT)
    facts = _cell_facts(cell, what)
    after = {name: getattr(cell, name, None) for name in PARAMETER_NAMES}
    run = attempt(run_gru, model, torch.from_numpy(x), torch.from_numpy(h0)[None])
    return {"before": before, "facts": facts, "after": after, "run": run}


def check_load_from_torch(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``load_from_torch(gru)`` copies nn.GRU's weights, and the model then matches ``gru``."""
    __tracebackhide__ = True
    result = run_probe(_probe_gru_load, module_class, seed, T, B, D, H)
    gru, x, h0 = _load_draw(seed, T, B, D, H)
    # Still registered float64 parameters (their values are nn.GRU's now, not an initialisation).
    GRU_CELL.check_facts(result["facts"], D, H, "GRUFromScratch.cell", initialised=False)
    wrong = _load_mistakes(gru, result["before"])
    for name in PARAMETER_NAMES:
        check_close(
            f"model.cell.{name} after load_from_torch, compared with gru.{name}_l0",
            result["after"][name],
            getattr(gru, f"{name}_l0"),
            kind="torch",
            mistakes=wrong[name],
        )
    with torch.no_grad():  # nn.GRU itself, end to end
        expected, expected_n = gru(torch.from_numpy(x), torch.from_numpy(h0)[None])
    output, h_n = outcome(result["run"])
    params = {n: getattr(gru, f"{n}_l0").detach().numpy() for n in PARAMETER_NAMES}
    check_close(
        "output after load_from_torch, compared with the loaded nn.GRU",
        output,
        expected,
        kind="torch",
        mistakes=forward_mistakes(x, h0, params),
    )
    _check_h_n_shape("h_n after load_from_torch", h_n, B, H)
    check_close("h_n after load_from_torch, compared with the loaded nn.GRU", h_n, expected_n)
    with torch.no_grad():
        return max(float((output - expected).abs().max()), float((h_n - expected_n).abs().max()))


# ------------------------------------------------------------------------------ adding problem


# -------------------------------------------------------------------------------------- training
