"""Checks of Exercise 3, the GRU in PyTorch: short test cells whose failures explain themselves.

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
The adding problem and the training loop have no PyTorch built-in; their references are here.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.adding import reference_adding_problem
from course_checks.cases import drawn
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
    _TinyRegressor,
    random_gru_case,
    reference_cell,
    reference_gru,
    reference_train,
    torch_gru_cell_from,
    torch_gru_from,
)
from course_checks.ex3_gru_torch.wrong_answers import (
    _LOAD_HINT,
    _TRAIN_VARIANTS,
    _load_mistakes,
    cell_mistakes,
    forward_mistakes,
)
from course_checks.guards import BuiltinGuard
from course_checks.layers import StackedLayout, check_gradients_like
from course_checks.layouts import TorchLayout, call_in_layout
from course_checks.probes import (
    attempt,
    backward,
    digest,
    notebook_value,
    outcome,
    parameter_facts,
    recorded_gradients,
    replaced_names,
    run_probe,
)

__all__ = [
    "GRU_BUILTINS",
    "GRU_FUNCTION_NAMES",
    "GRU_LAYOUT",
    "NO_BUILTIN_GRU_REASON",
    "call_gru",
    "check_adding_problem",
    "check_adding_trained",
    "check_cell_parameters",
    "check_gru_cell",
    "check_gru_device",
    "check_gru_gradients",
    "check_gru_module",
    "check_gru_outputs",
    "check_h0_default",
    "check_load_from_torch",
    "check_no_builtin_gru_modules",
    "check_train",
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
    for name, tensor in theirs.items():
        check_true(
            grads[name] is not None,
            f"{name}.grad is None after backward(): the step must use {name} through torch "
            f"operations (no .numpy(), .detach() or .data).",
        )
        check_close(
            f"the gradient of sum(g * h_new) with respect to {name} (autograd through "
            f"GRUCellFromScratch, compared with nn.GRUCell's)",
            grads[name],
            tensor.grad,
            kind="torch",
        )
    return largest


def _new_module(module_class: Callable[..., Any], D: int, H: int, guarded: bool) -> Any:
    __tracebackhide__ = True
    with _guard(guarded):
        model = call_gru(module_class, D, H)
    check_no_builtin_gru_modules(model)
    return model


def _probe_gru_run(
    module_class: Callable[..., Any],
    seed: int,
    sizes: tuple[int, int, int, int],
    with_h0: bool,
    guarded: bool,
) -> tuple[Any, Any]:
    """``(output, h_n)`` of the student's layer holding a random case's weights.

    The layer starts from the case's h0 (``with_h0``) or from ``h0=None``.
    """
    __tracebackhide__ = True
    case = random_gru_case(seed, *sizes)
    model = _new_module(module_class, *sizes[2:], guarded)
    set_gru_parameters(model, case.params)
    x, h0 = torch.from_numpy(case.x), torch.from_numpy(case.h0)[None]
    with _guard(guarded):
        return run_gru(model, x, h0) if with_h0 else run_gru(model, x)


def check_gru_module(
    module_class: Callable[..., Any],
    seed: int,
    T: int,
    B: int,
    D: int,
    H: int,
    *,
    guarded: bool = False,
) -> float:
    """``module_class(D, H)`` with given weights equals ``torch.nn.GRU``; return the max diff.

    First, ``module_class(D, H, dtype=torch.float32)`` must hold float32 parameters: a layer that
    builds its cell without passing ``dtype`` on passes every float64 test and then breaks the
    float32 training of Part 4, where nothing would say why.
    """
    __tracebackhide__ = True
    case = random_gru_case(seed, T, B, D, H)
    dtypes = run_probe(_probe_layer_dtypes, module_class, D, H)
    wrong = {name: dtype for name, dtype in dtypes.items() if dtype != str(torch.float32)}
    check_true(
        not wrong,
        f"GRUFromScratch({D}, {H}, dtype=torch.float32) holds parameters of another dtype "
        f"({', '.join(f'{name}: {dtype}' for name, dtype in wrong.items())}): pass dtype and "
        f"device on to the cell, self.cell = GRUCellFromScratch(input_size, hidden_size, "
        f"dtype=dtype, device=device). The training of Part 4 builds the layer in float32.",
    )
    output, h_n = run_probe(
        _probe_gru_run, module_class, seed, (T, B, D, H), with_h0=True, guarded=guarded
    )
    return check_gru_outputs(
        f"GRUFromScratch ({case.describe()})", output, h_n, case.x, case.h0, case.params
    )


def _probe_layer_dtypes(module_class: Callable[..., Any], D: int, H: int) -> dict[str, str]:
    """The dtype of every parameter of ``module_class(D, H, dtype=torch.float32)``, by name."""
    __tracebackhide__ = True
    model = call_gru(module_class, D, H, dtype=torch.float32)
    check_no_builtin_gru_modules(model)
    return {name: str(p.dtype) for name, p in model.named_parameters()}


def check_h0_default(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model(x)`` without ``h0`` starts from zeros of ``x``'s dtype and device."""
    __tracebackhide__ = True
    case = random_gru_case(seed, T, B, D, H)
    output, h_n = run_probe(
        _probe_gru_run, module_class, seed, (T, B, D, H), with_h0=False, guarded=False
    )
    zeros = np.zeros((B, H))
    return check_gru_outputs(
        f"GRUFromScratch with h0=None ({case.describe()})",
        output,
        h_n,
        case.x,
        zeros,
        case.params,
        mistakes={
            "h0=None must mean a zero state; you started from another state": (
                reference_gru(case.x, case.h0, case.params)[0]
            )
        },
    )


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


def _truncated_gradients(case: GRUCase, *, h_n_detached: bool) -> dict[str, np.ndarray]:
    """Gradients when the state is detached between steps (no gradient flows through time).

    ``h_n_detached``: the detach comes after storing each state, so h_n is detached too.
    """
    cell = torch_gru_cell_from(case.params)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    h, states = h0[0], []
    for x_t in x:
        h = cell(x_t, h)
        states.append(h)
        h = h.detach()
    output = torch.stack(states)
    loss = (output * torch.from_numpy(case.g_out)).sum()
    if not h_n_detached:
        loss = loss + (states[-1] * torch.from_numpy(case.g_n)).sum()
    loss.backward()
    grads = {name: getattr(cell, name).grad.numpy() for name in PARAMETER_NAMES}
    return {**grads, "x": x.grad.numpy(), "h0": h0.grad.numpy()}


def _probe_gru_gradients(module_class: Callable[..., Any], case: GRUCase) -> dict[str, Any]:
    """The student's layer on ``case``: its outputs, then the gradients of the test's loss."""
    __tracebackhide__ = True
    _, _, D, H = case.sizes
    model = _new_module(module_class, D, H, guarded=False)
    set_gru_parameters(model, case.params)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    output, h_n = run_gru(model, x, h0)
    g_out, g_n = torch.from_numpy(case.g_out), torch.from_numpy(case.g_n)
    tensors = {name: getattr(model.cell, name) for name in PARAMETER_NAMES}
    tensors.update({"x": x, "h0": h0})
    gradients = backward(lambda: (output * g_out).sum() + (h_n[0] * g_n).sum(), tensors)
    return {"output": output, "h_n": h_n, "backward": gradients}


def check_gru_gradients(
    module_class: Callable[..., Any],
    case: GRUCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Autograd through the module equals autograd through ``torch.nn.GRU`` (same weights).

    The loss is ``L = sum(g_out ⊙ output) + sum(g_n ⊙ h_n[0])``; gradients w.r.t. the four
    parameters, the input ``x`` and ``h0`` are compared.
    """
    __tracebackhide__ = True
    case = drawn(case, random_gru_case, seed, (T, B, D, H))
    result = run_probe(_probe_gru_gradients, module_class, case)
    output, h_n = result["output"], result["h_n"]
    check_gru_outputs("GRUFromScratch", output, h_n, case.x, case.h0, case.params)
    grads = recorded_gradients(
        result["backward"],
        "The outputs of GRUFromScratch do not require grad, so no gradient can flow back to "
        "the parameters: use them and the inputs through torch operations only (no .numpy(), "
        ".detach() or .data).",
    )
    g_out, g_n = torch.from_numpy(case.g_out), torch.from_numpy(case.g_n)
    gru = torch_gru_from(case.params)
    ref_x = torch.from_numpy(case.x).clone().requires_grad_(True)
    ref_h0 = torch.from_numpy(case.h0)[None].clone().requires_grad_(True)
    ref_out, ref_n = gru(ref_x, ref_h0)
    ((ref_out * g_out).sum() + (ref_n[0] * g_n).sum()).backward()
    detached = (
        "the state is detached between steps (h.detach() or h.data), so no gradient flows "
        "back through time: keep h in the graph"
    )
    truncated = {
        detached: _truncated_gradients(case, h_n_detached=True),
        detached + " (h_n too)": _truncated_gradients(case, h_n_detached=False),
    }
    theirs = {name: getattr(gru, f"{name}_l0") for name in PARAMETER_NAMES}
    theirs.update({"x": ref_x, "h0": ref_h0})
    check_gradients_like(
        grads,
        theirs,
        truncated,
        what="GRUFromScratch",
        reference="nn.GRU",
        prefix="model.cell.",
        states=("h0",),
        case=case.describe(),
    )


def _probe_gru_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> dict[str, Any]:
    """Move the student's layer to ``device``: where its parameters went, and a run there."""
    __tracebackhide__ = True
    case = random_gru_case(seed, T, B, D, H)
    model = _new_module(module_class, D, H, guarded=False)
    set_gru_parameters(model, case.params)
    model = model.to(device)
    on = {name: p.device.type for name, p in model.named_parameters()}
    run = attempt(run_gru, model, torch.from_numpy(case.x).to(device))  # h0=None
    devices = [str(getattr(v, "device", None)) for v in run.get("value", ())]
    return {"parameters": on, "run": run, "devices": devices}


def check_gru_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model.to(device)`` moves the parameters; forward on ``device`` returns tensors there."""
    __tracebackhide__ = True
    case = random_gru_case(seed, T, B, D, H)
    result = run_probe(_probe_gru_device, module_class, device, seed, T, B, D, H)
    kind = torch.device(device).type
    on = result["parameters"]
    check_true(
        all(value == kind for value in on.values()),
        f"after model.to({device!r}) the parameters are on {on}.",
    )
    output, h_n = outcome(result["run"])
    difference = check_gru_outputs(
        f"GRUFromScratch on {device}", output, h_n, case.x, np.zeros((B, H)), case.params
    )
    output_device, h_n_device = result["devices"]
    check_true(
        torch.device(output_device).type == torch.device(h_n_device).type == kind,
        f"for an input on {device} forward returned tensors on {output_device} and "
        f"{h_n_device}: create new tensors with device=x.device.",
    )
    return difference


# ------------------------------------------------------------------------------ adding problem


def check_adding_problem(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> None:
    """Check the student's ``adding_problem(n, T, seed)``: layout, markers, targets, seeding."""
    __tracebackhide__ = True
    probed = run_probe(_probe_adding_data, adding_problem, n, T, seed)
    data = _expand_adding_data(probed)
    x, y = expect_tuple(data, ("x", "y"), "adding_problem")
    for name, value in (("x", x), ("y", y)):
        check_true(
            isinstance(value, torch.Tensor),
            f"adding_problem must return torch tensors; {name} is a {type(value).__name__}.",
        )
    check_true(
        tuple(x.shape) != (n, T, 2) or n == T,
        f"x has shape {tuple(x.shape)} = (n, T, 2), batch-first; the course's sequences are "
        f"time-major, like nn.GRU's input: x must be (T, n, 2) = {(T, n, 2)}.",
    )
    check_true(
        tuple(x.shape) == (T, n, 2),
        f"x has shape {tuple(x.shape)}; expected (T, n, 2) = {(T, n, 2)}: time-major, with "
        f"two features per step, the number and the marker.",
    )
    check_true(
        tuple(y.shape) != (T,) or n == T,
        f"y has shape {tuple(y.shape)} = (T,): the sum ran over the wrong axis (the batch). "
        f"Sum over time, axis 0, to get one target per sequence, shape (n,).",
    )
    check_true(
        tuple(y.shape) == (n,),
        f"y has shape {tuple(y.shape)}; expected (n,) = {(n,)}, one target per sequence "
        f"(not (n, 1)).",
    )
    for name, value in (("x", x), ("y", y)):
        check_true(
            value.dtype == torch.float32,
            f"{name} has dtype {value.dtype}; the training data are float32 (torch.rand's "
            f"default), like the model you train.",
        )
    numbers, markers = x[..., 0].double(), x[..., 1].double()
    check_true(
        bool(((markers == 0) | (markers == 1)).all()),
        "x[..., 1] must hold the markers, 0 or 1; it holds other values. Are the two features "
        "in the order (number, marker)?",
    )
    check_true(
        float(numbers.min()) >= 0 and float(numbers.max()) < 1,
        f"the numbers x[..., 0] lie in [{float(numbers.min()):.3g}, {float(numbers.max()):.3g}]; "
        f"they must be uniform on [0, 1): torch.rand, not torch.randn.",
    )
    spread = float(numbers.std())
    check_true(
        numbers.numel() < 1000 or (abs(float(numbers.mean()) - 0.5) < 0.05 and spread > 0.25),
        f"the numbers have mean {float(numbers.mean()):.3f} and standard deviation "
        f"{spread:.3f}; uniform numbers on [0, 1) have 0.5 and 0.289 (torch.rand).",
    )
    counts = markers.sum(dim=0)
    single = int((counts == 1).sum())
    check_true(
        single == 0,
        f"{single} of the {n} sequences have one marker instead of two: both positions were "
        f"drawn from the whole sequence and coincided. Draw the first marker in the first half, "
        f"[0, T // 2), and the second in the second half, [T // 2, T).",
    )
    check_true(
        bool((counts == 2).all()),
        f"every sequence needs exactly two markers; the counts per sequence range from "
        f"{int(counts.min())} to {int(counts.max())}.",
    )
    half = T // 2
    early, late = markers[:half].sum(dim=0), markers[half:].sum(dim=0)
    check_true(
        bool((early == 1).all() and (late == 1).all()),
        f"in {int((early != 1).sum())} of the {n} sequences the two markers are not one in each "
        f"half: draw the first from [0, T // 2) = [0, {half}) and the second from "
        f"[T // 2, T) = [{half}, {T}).",
    )
    if n >= 20 * T:  # enough sequences to see every position
        used = (markers.sum(dim=1) > 0).sum()
        check_true(
            int(used) == T,
            f"over {n} sequences the markers use only {int(used)} of the {T} positions: draw "
            f"their positions at random for each sequence (torch.randint with the generator).",
        )
    expected = (numbers * markers).sum(dim=0)
    check_close(
        "y, the targets of adding_problem",
        y.double(),
        expected,
        atol=1e-5,
        mistakes={
            "y must be the sum of the two marked numbers only; you summed all numbers": (
                numbers.sum(dim=0)
            ),
            "y must be the sum of the two marked numbers, not their mean": expected / 2,
            "y must be the sum of the marked numbers, not their product": (
                torch.where(markers == 1, numbers, torch.ones_like(numbers)).prod(dim=0)
            ),
        },
    )
    # Two more calls, compared by fingerprint: the record then holds the data only once.
    again = run_probe(_probe_digests, adding_problem, n, T, seed)
    check_true(
        again == [digest(x), digest(y)],
        "adding_problem(n, T, seed) returned different data for the same seed: draw everything "
        "from one torch.Generator seeded with `seed` (torch.Generator().manual_seed(seed)).",
    )
    other = run_probe(_probe_digests, adding_problem, n, T, seed + 1)
    check_true(
        other[0] != digest(x),
        f"adding_problem returned the same data for the seeds {seed} and {seed + 1}: the seed "
        f"is ignored. Seed the generator with it: torch.Generator().manual_seed(seed).",
    )
    torch_kept, numpy_kept = probed.get("kept", (True, True))
    check_true(
        torch_kept,
        "adding_problem changed PyTorch's global random state (torch.manual_seed, or torch.rand "
        "or torch.randint without generator=generator): the notebook asks it to leave that "
        "state alone, so that the random numbers of every other cell do not depend on how often "
        "adding_problem was called. Draw everything from its own generator, "
        "generator = torch.Generator().manual_seed(seed), passed as generator=generator.",
    )
    check_true(
        numpy_kept,
        "adding_problem changed NumPy's global random state (np.random.seed or np.random.rand): "
        "leave it alone, and draw everything from a torch.Generator seeded with `seed`.",
    )


def _probe_adding_data(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> Any:
    """What ``adding_problem(n, T, seed)`` returns, with the markers of ``x`` as uint8.

    The markers are 0 or 1: when ``x[..., 1]`` survives a round trip through uint8 bit for bit,
    it travels as uint8, which makes the record of ``x`` almost half as large. Anything else
    travels as it is. :func:`_expand_adding_data` rebuilds the same ``(x, y)``.
    """
    __tracebackhide__ = True
    before = _global_random_states()
    result = call_gru(adding_problem, n, T, seed)
    kept = {"kept": [a == b for a, b in zip(before, _global_random_states(), strict=True)]}
    x = result[0] if isinstance(result, tuple | list) and len(result) == 2 else None
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.ndim == 3):
        return {"as_is": result, **kept}
    if x.shape[-1] != 2:
        return {"as_is": result, **kept}
    markers = x[..., 1].detach().cpu()
    small = markers.to(torch.uint8)
    if digest(small.to(markers.dtype)) != digest(markers):
        return {"as_is": result, **kept}
    kind = "tuple" if isinstance(result, tuple) else "list"
    numbers = x[..., 0].detach().cpu()
    return {"numbers": numbers, "markers": small, "y": result[1], "kind": kind, **kept}


def _global_random_states() -> tuple[str, str]:
    """Fingerprints of PyTorch's and NumPy's global random states (CPU)."""
    numpy_state = np.random.get_state()
    numpy_text = digest(np.asarray(numpy_state[1])) + str(numpy_state[2:])
    return digest(torch.random.get_rng_state()), numpy_text


def _expand_adding_data(data: Mapping[str, Any]) -> Any:
    """The ``(x, y)`` that :func:`_probe_adding_data` recorded."""
    if "as_is" in data:
        return data["as_is"]
    numbers = data["numbers"]
    x = torch.stack([numbers, data["markers"].to(numbers.dtype)], dim=-1)
    return (x, data["y"]) if data["kind"] == "tuple" else [x, data["y"]]


def _probe_digests(adding_problem: Callable[..., Any], n: int, T: int, seed: int) -> list[str]:
    """The fingerprint (``probes.digest``) of each item that ``adding_problem`` returns."""
    __tracebackhide__ = True
    result = call_gru(adding_problem, n, T, seed)
    return [digest(item) for item in (result if isinstance(result, tuple | list) else [result])]


# -------------------------------------------------------------------------------------- training


@contextlib.contextmanager
def _reference_data(namespace: dict[str, Any]) -> Iterator[None]:
    """Make ``adding_problem`` in the notebook's namespace the reference one, for the block.

    ``train`` looks ``adding_problem`` up in the notebook's globals when it runs; replaying it on
    the reference data keeps a wrong ``adding_problem`` from failing the test of ``train`` too.
    """
    with replaced_names(namespace, {"adding_problem": reference_adding_problem}):
        yield


def _probe_train(
    train: Callable[..., Any], hidden_size: int, arguments: dict[str, Any]
) -> dict[str, Any]:
    """The losses the student's ``train`` returns, and the parameters it leaves.

    It trains a fresh :class:`_TinyRegressor` (seeded with ``arguments["seed"]``) on the
    reference data.
    """
    __tracebackhide__ = True
    torch.manual_seed(arguments["seed"])
    model = _TinyRegressor(hidden_size)
    with _reference_data(getattr(train, "__globals__", {})):
        losses = call_gru(train, model, show_progress=False, **arguments)
    parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
    return {"losses": losses, "parameters": parameters}


def check_train(
    train: Callable[..., Any],
    seed: int,
    *,
    steps: int = 4,
    T: int = 6,
    batch_size: int = 5,
    lr: float = 0.05,
    max_norm: float = 0.05,
    hidden_size: int = 3,
) -> None:
    """Replay ``train`` on a small float64 model and compare, step by step, with the reference.

    The losses it returns and the parameters it leaves must equal :func:`reference_train`'s on
    the same data; a small ``max_norm`` keeps clipping active, so that a missing clip shows.
    """
    __tracebackhide__ = True
    arguments = {"steps": steps, "T": T, "batch_size": batch_size, "lr": lr}
    arguments.update({"max_norm": max_norm, "seed": seed})
    result = run_probe(_probe_train, train, hidden_size, arguments)
    losses, trained = result["losses"], result["parameters"]
    torch.manual_seed(seed)
    initial = _TinyRegressor(hidden_size)  # the model train started from
    check_true(
        isinstance(losses, list | tuple),
        f"train must return the list of the training losses; it returned a "
        f"{type(losses).__name__}.",
    )
    check_true(
        len(losses) == steps,
        f"train(steps={steps}) returned {len(losses)} losses; it must return one per step.",
    )
    check_true(
        all(isinstance(v, float | int) and not isinstance(v, bool) for v in losses),
        f"train must return Python floats; the first loss is a {type(losses[0]).__name__}. "
        f"Append loss.item(): a tensor would also keep its whole graph in memory.",
    )
    check_true(
        any(not torch.equal(trained[name], p) for name, p in initial.named_parameters()),
        "train did not change the model's parameters: build the optimizer on "
        "model.parameters() and call optimizer.step() after loss.backward().",
    )
    expected_model = copy.deepcopy(initial)
    expected = reference_train(expected_model, **arguments)
    wrong_losses, wrong_parameters = {}, {}
    for text, switches in _TRAIN_VARIANTS.items():
        variant_model = copy.deepcopy(initial)
        wrong_losses[text] = reference_train(variant_model, **arguments, **switches)
        wrong_parameters[text] = dict(variant_model.named_parameters())
    check_close(
        f"the losses returned by train (steps={steps}, T={T}, batch_size={batch_size}, "
        f"lr={lr}, max_norm={max_norm}, seed={seed}), compared with the reference loop",
        np.asarray(losses, dtype=np.float64),
        np.asarray(expected),
        atol=1e-8,
        mistakes={text: np.asarray(value) for text, value in wrong_losses.items()},
        hint="step k must use adding_problem(batch_size, T, seed=seed + k) converted to the "
        "model's dtype and device, the loss torch.mean((model(x) - y) ** 2), Adam with "
        "learning rate lr, and clip_grad_norm_ to max_norm between backward() and step().",
    )
    for name, parameter in expected_model.named_parameters():
        check_close(
            f"the parameter {name} after train, compared with the reference loop",
            trained[name],
            parameter,
            atol=1e-8,
            mistakes={text: value[name] for text, value in wrong_parameters.items()},
        )


def _probe_trained(
    model: Any, losses: Any, T: int, seed: int, n: int, from_scratch: bool
) -> dict[str, Any]:
    """The trained model's predictions on ``n`` fresh sequences, and the losses it trained with.

    ``model`` and ``losses`` are the objects, or the names of the notebook's variables that hold
    them (as the notebooks pass them). With ``from_scratch``, the model must hold no built-in GRU.
    """
    __tracebackhide__ = True
    model = notebook_value(model) if isinstance(model, str) else model
    losses = notebook_value(losses) if isinstance(losses, str) else losses
    if from_scratch:
        check_no_builtin_gru_modules(model, "adding_model")
    facts = {"module": isinstance(model, nn.Module), "losses": losses}
    facts["recurrent"] = type(getattr(model, "recurrent", None)).__name__
    if facts["module"]:
        facts["dtypes"] = {name: str(p.dtype) for name, p in model.named_parameters()}
        x, _ = reference_adding_problem(n, T, seed)
        facts["prediction"] = attempt(_predict, model, x)
    return facts


def _predict(model: nn.Module, x: torch.Tensor) -> Any:
    """``model(x)`` on the model's dtype and device; a wrongly shaped answer only by its shape."""
    __tracebackhide__ = True
    parameter = next(model.parameters())
    with torch.no_grad():
        prediction = call_gru(model, x.to(parameter))
    if isinstance(prediction, torch.Tensor) and tuple(prediction.shape) == (x.shape[1],):
        return prediction
    return f"{type(prediction).__name__}{tuple(getattr(prediction, 'shape', ()))}"


def check_adding_trained(
    model: Any,
    losses: Any,
    steps: int,
    T: int,
    seed: int,
    *,
    margin: float = 0.1,
    from_scratch: bool = False,
) -> tuple[float, float]:
    """The trained model's test MSE on fresh data is below ``margin`` × the baseline's.

    ``model`` and ``losses`` are the trained model and the losses ``train`` returned, or (in the
    notebooks) the names of the variables that hold them, ``"adding_model"`` and
    ``"adding_losses"``: the grader's re-check has no trained model, only what the kernel
    recorded. With ``from_scratch``, the model must be an ``AddingRegressor`` around the
    student's ``GRUFromScratch``. The baseline always answers 1.0, the mean target, whose MSE is
    1/6 ≈ 0.167 for uniform numbers. Returns ``(mse, baseline)``.
    """
    __tracebackhide__ = True
    n = 2000
    facts = run_probe(_probe_trained, model, losses, T, seed, n, from_scratch)
    if from_scratch:
        check_true(
            facts["recurrent"] == "GRUFromScratch",
            "adding_model must be trained with your GRUFromScratch: re-run the training cell as "
            "given.",
        )
    check_true(
        facts["module"],
        "adding_model does not exist or is not a module: run the training cell above first.",
    )
    losses = facts["losses"]
    if losses is None:
        dtypes = facts.get("dtypes", {})
        mixed = sorted(set(dtypes.values()))
        check_true(
            len(mixed) <= 1,
            "adding_losses does not exist: the training cell above stopped with an error. "
            f"adding_model holds parameters of {len(mixed)} dtypes ("
            + "; ".join(
                f"{dtype}: " + ", ".join(n for n, d in dtypes.items() if d == dtype)
                for dtype in mixed
            )
            + "), so its layers cannot work together. GRUFromScratch(2, 32, "
            "dtype=torch.float32) must create every parameter in float32: pass dtype and device "
            "on to GRUCellFromScratch.",
        )
    check_true(
        losses is not None,
        "adding_losses does not exist: the training cell above did not run to its end. Run it "
        "and read the error it shows: it names the line and the function that failed.",
    )
    check_true(
        isinstance(losses, list | tuple) and len(losses) == steps,
        f"adding_losses must be the list of the {steps} training losses that train returned.",
    )
    # detach() first: float() of a tensor that requires grad warns on stderr, which nbgrader
    # counts as an error (losses kept as tensors are test_train's finding, not this test's).
    losses = [float(v.detach() if isinstance(v, torch.Tensor) else v) for v in losses]
    _, y = reference_adding_problem(n, T, seed)
    prediction = outcome(facts["prediction"])
    check_true(
        isinstance(prediction, torch.Tensor) and tuple(prediction.shape) == (n,),
        "the trained model must return one prediction per sequence, shape (n,).",
    )
    mse = float(torch.mean((prediction.double().cpu() - y.double()) ** 2))
    baseline = float(torch.mean((1.0 - y.double()) ** 2))
    first = float(np.mean(losses[: max(1, steps // 10)]))
    last = float(np.mean(losses[-max(1, steps // 10) :]))
    check_true(
        math.isfinite(mse) and mse < margin * baseline,
        f"After training, the test MSE on {len(y)} fresh sequences is {mse:.4f}, "
        f"{mse / baseline:.2f} × the baseline's {baseline:.4f} (always answering 1.0); it must "
        f"be below {margin:g} × baseline = {margin * baseline:.4f}. The training loss went from "
        f"{first:.4f} (first tenth of the steps) to {last:.4f} (last tenth). The training uses "
        f"your train, GRUFromScratch and adding_problem: if test_train, a test of the layer or "
        f"test_adding_problem fails, its message says what to fix. If they all pass, run the "
        f"notebook again in order from the top: the training cell trains with the functions "
        f"defined last, and its settings must stay as given.",
    )
    return mse, baseline
