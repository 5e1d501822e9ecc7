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
import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import replay
from .cases import SequenceCase, drawn
from .compare import (
    _SIGNATURE_HINT,  # the same advice in every exercise
    CheckFailure,
    check_close,
    check_true,
    check_uniform_spread,
    expect_tuple,
    student_failure,
    unpack_hint,
    where_raised,
)
from .guards import block_torch_ops, builtin_recurrent_classes, no_builtin_recurrent
from .probes import (
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
from .rnn_checks import state_cut_message

__all__ = [
    "GRU_BUILTINS",
    "GRU_FUNCTION_NAMES",
    "GRU_LAYOUT",
    "NO_BUILTIN_GRU_REASON",
    "GRUCase",
    "TorchLayout",
    "call_gru",
    "call_in_layout",
    "cell_mistakes",
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
    "forward_mistakes",
    "no_builtin_gru",
    "random_gru_case",
    "reference_adding_problem",
    "reference_train",
    "run_gru",
    "set_gru_parameters",
    "torch_gru_from",
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


@contextlib.contextmanager
def no_builtin_gru() -> Iterator[None]:
    """Within the block, any route to PyTorch's GRU raises :class:`CheckFailure` (hidden tests)."""
    with no_builtin_recurrent(GRU_BUILTINS, NO_BUILTIN_GRU_REASON), _block_gru_ops():
        yield


def _block_gru_ops() -> contextlib.AbstractContextManager[None]:
    """Block ``torch.ops.aten.gru*`` overloads (named ``gru.input``, ``gru_cell.default``…)."""
    return block_torch_ops(GRU_FUNCTION_NAMES, NO_BUILTIN_GRU_REASON)


def check_no_builtin_gru_modules(module: Any, what: str = "GRUFromScratch") -> None:
    """Fail if ``module`` is or holds a built-in recurrent module (nn.GRU, nn.GRUCell, …)."""
    __tracebackhide__ = True
    if not isinstance(module, nn.Module):
        raise CheckFailure(f"{what} must be an nn.Module; got a {type(module).__name__}.")
    for name, submodule in module.named_modules():
        if isinstance(submodule, builtin_recurrent_classes()):
            where = f"self.{name}" if name else "the module itself"
            raise CheckFailure(
                f"{what} contains a built-in recurrent module ({where} is an "
                f"nn.{type(submodule).__name__}). Write the GRU yourself with nn.Parameter "
                f"weights; nn.GRU and nn.GRUCell are only allowed in the tests."
            )


# ------------------------------------------------------------------------------ calling students


@dataclass(frozen=True)
class TorchLayout:
    """What the hints after an exception say about a PyTorch exercise's layout."""

    shapes: str  # the sentence about shapes that ends the hint after a shape error
    weights: str  # the stacked weights, e.g. "weight_ih (3H, D) and weight_hh (3H, H)"
    parameter: str  # a parameter that values are copied into, e.g. "self.cell.weight_ih"
    train: str  # the exercise's training function, e.g. "train"


def call_gru(function: Callable[..., Any], *args: Any, hint: str = "", **kwargs: Any) -> Any:
    """Call a student's function or module; turn a stub or an exception into an explanation.

    Like :func:`course_checks.call`, with hints in this exercise's layout (PyTorch's stacked
    weights, nn.GRU's state shapes). ``hint`` is added to the message of any exception. When the
    grader runs the notebook, the call is recorded, and replayed when it re-checks the test.
    """
    __tracebackhide__ = True
    return call_in_layout(GRU_LAYOUT, function, *args, hint=hint, **kwargs)


def call_in_layout(
    layout: TorchLayout, function: Callable[..., Any], *args: Any, hint: str = "", **kwargs: Any
) -> Any:
    """:func:`call_gru` for another PyTorch exercise, whose hints describe ``layout``."""
    __tracebackhide__ = True
    return replay.through(
        function,
        args,
        kwargs,
        lambda a, k: _explained_call(function, a, k, hint, layout),
        _callable_name(function),
    )


def _explained_call(
    function: Callable[..., Any],
    args: tuple,
    kwargs: Mapping[str, Any],
    hint: str,
    layout: TorchLayout,
) -> Any:
    __tracebackhide__ = True
    name = _callable_name(function)
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise student_failure(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.",
            stub=True,
        ) from None
    except CheckFailure:
        raise
    except Exception as error:
        shapes = ", ".join(_describe(a) for a in (*args, *kwargs.values())) or "no arguments"
        hints = [h for h in (hint, _hint_for(error, layout)) if h]
        raise student_failure(
            f"{name} raised {type(error).__name__}: {error}\n"
            f"  It was called with: {shapes}.\n"
            + where_raised(error, function)
            + "  "
            + "\n  ".join(hints),
            error=error,
            function=function,
        ) from None


def _callable_name(function: Any) -> str:
    if isinstance(function, nn.Module):
        return f"{type(function).__name__}.forward"
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return name or type(function).__name__


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, nn.Module):
        return type(value).__name__
    return repr(value) if isinstance(value, int | float | bool) else type(value).__name__


_SHAPES = (
    "Shapes: x is time-major, (T, B, D), so x[t] is one time step of shape (B, D); the cell's "
    "state h is (B, H), while h0 and h_n have nn.GRU's leading num_layers axis, (1, B, H); "
    "weight_ih is (3H, D), weight_hh (3H, H), bias_ih and bias_hh (3H,)."
)
GRU_LAYOUT = TorchLayout(
    _SHAPES, "weight_ih (3H, D) and weight_hh (3H, H)", "self.cell.weight_ih", "train"
)


def _hint_for(error: Exception, layout: TorchLayout) -> str:
    """The likely mistake behind an exception, in the words of the exercise of ``layout``."""
    text = str(error)
    lowered = text.lower()
    if "leaf variable" in lowered and "in-place" in lowered:
        return (
            "An nn.Parameter was changed in place while autograd records: copy values into "
            "parameters inside `with torch.no_grad():`."
        )
    if "cannot assign" in lowered and "parameter" in lowered:
        return (
            "A registered nn.Parameter can only be replaced by another nn.Parameter: copy the "
            f"values in instead, {layout.parameter}.copy_(...) inside `with torch.no_grad():`."
        )
    if "unexpected keyword argument" in lowered or "positional argument" in lowered:
        return _SIGNATURE_HINT
    if "values to unpack" in lowered or "cannot unpack" in lowered:
        return unpack_hint(text)
    if any(f in lowered for f in ("dtype", "scalar type", "double != float", "float != double")):
        return (
            "float32 and float64 are mixed. The checks run in float64: create the parameters "
            "with the `dtype` argument (float64 by default) and every new tensor with the "
            "input's dtype and device, torch.zeros(..., dtype=x.dtype, device=x.device); a "
            f"tensor made without a dtype is float32. In {layout.train}, convert each batch to "
            "the model's dtype and device (x.to(parameter))."
        )
    product = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", text)
    if product:
        _, inner, rows, columns = (int(g) for g in product.groups())
        if inner == columns and inner != rows:
            return (
                f"A weight of shape ({rows}, {columns}) is used without transposing it: PyTorch "
                f"stores one row per output unit, {layout.weights}, so the products are "
                f"x_t @ weight_ih.T and h @ weight_hh.T (transpose).\n  {layout.shapes}"
            )
        return layout.shapes
    if any(
        f in lowered
        for f in ("shape", "size of tensor", "must match the size", "mat1", "dimension", "index")
    ):
        return layout.shapes
    return "Read the error above, then re-run the cell that defines the function."


# ------------------------------------------------------------------------------------ references

Params = Mapping[str, np.ndarray]
PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class GRUCase(SequenceCase):
    """One random float64 test case: inputs, PyTorch-layout parameters and upstream gradients."""

    seed: int
    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (B, H); nn.GRU takes it as h0[None]
    params: dict[str, np.ndarray]  # weight_ih (3H, D), weight_hh (3H, H), bias_ih, bias_hh (3H,)
    g_out: np.ndarray  # (T, B, H): the loss is sum(g_out ⊙ output) + sum(g_n ⊙ h_n[0])
    g_n: np.ndarray  # (B, H)


def random_gru_case(seed: int, T: int, B: int, D: int, H: int, scale: float = 0.5) -> GRUCase:
    """Inputs, states and weights (normal, standard deviation ``scale``) drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    shapes = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H), "bias_ih": (3 * H,)}
    shapes["bias_hh"] = (3 * H,)
    params = {name: rng.normal(scale=scale, size=shape) for name, shape in shapes.items()}
    return GRUCase(
        seed=seed,
        x=rng.normal(size=(T, B, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        params=params,
        g_out=rng.normal(size=(T, B, H)),
        g_n=rng.normal(size=(B, H)),
    )


def _copy_into(module: nn.Module, params: Params, suffix: str) -> None:
    with torch.no_grad():
        for name in PARAMETER_NAMES:
            getattr(module, name + suffix).copy_(torch.from_numpy(np.asarray(params[name])))


def torch_gru_from(params: Params) -> nn.GRU:
    """A float64 one-layer, time-major ``torch.nn.GRU`` holding ``params`` (PyTorch layout)."""
    H3, D = params["weight_ih"].shape
    gru = nn.GRU(D, H3 // 3, dtype=torch.float64)
    _copy_into(gru, params, "_l0")
    return gru


def torch_gru_cell_from(params: Params) -> nn.GRUCell:
    """A float64 ``torch.nn.GRUCell`` holding ``params``."""
    H3, D = params["weight_ih"].shape
    cell = nn.GRUCell(D, H3 // 3, dtype=torch.float64)
    _copy_into(cell, params, "")
    return cell


def reference_cell(x_t: np.ndarray, h: np.ndarray, params: Params) -> np.ndarray:
    """``torch.nn.GRUCell``'s new state for ``x_t (B, D)`` and ``h (B, H)``."""
    with torch.no_grad():
        return torch_gru_cell_from(params)(torch.from_numpy(x_t), torch.from_numpy(h)).numpy()


def reference_gru(x: np.ndarray, h0: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """``torch.nn.GRU``'s ``(output (T, B, H), h_n (1, B, H))`` for ``x (T, B, D)``, ``h0 (B, H)``.

    ``h0`` has no num_layers axis here; nn.GRU gets ``h0[None]``.
    """
    with torch.no_grad():
        output, h_n = torch_gru_from(params)(torch.from_numpy(x), torch.from_numpy(h0)[None])
    return output.numpy(), h_n.numpy()


# --------------------------------------------------------------------------------- wrong answers

_ORDER_NOTE = (
    "PyTorch stacks the three blocks in the order r, z, n (rows 0:H the reset gate, H:2H the "
    "update gate, 2H:3H the candidate) in weight_ih, weight_hh, bias_ih and bias_hh alike"
)

# Mistakes of the GRU step: description -> switches of _variant_step.
_CELL_VARIANTS: dict[str, dict[str, Any]] = {
    "z and 1 − z are swapped: the new state is z ⊙ h + (1 − z) ⊙ n (z close to 1 keeps the old "
    "state, as in PyTorch and Cho et al.), not (1 − z) ⊙ h + z ⊙ n (Chung et al.'s convention)": {
        "swap": True
    },
    "the reset gate is applied before the matrix product, (r ⊙ h) @ weight_hh[2H:3H].T + "
    "bias_hh[2H:3H] (the form of Cho et al. and Dive into Deep Learning); torch.nn.GRU applies "
    "it after the product: r ⊙ gh_n with gh_n = h @ weight_hh[2H:3H].T + bias_hh[2H:3H]": {
        "reset": "before"
    },
    "the n block of bias_hh (bias_hh[2H:3H]) is added outside the reset product; torch.nn.GRU's "
    "candidate is n = tanh(gx_n + r ⊙ gh_n) with gh_n = h @ weight_hh[2H:3H].T + "
    "bias_hh[2H:3H]: add bias_hh to h @ weight_hh.T, not to the input side": {"b_hn": "outside"},
    "bias_hh is missing: torch.nn.GRU adds both bias vectors, bias_ih to x_t @ weight_ih.T and "
    "bias_hh to h @ weight_hh.T": {"bias_hh": 0},
    "bias_ih is missing: torch.nn.GRU adds both bias vectors, bias_ih to x_t @ weight_ih.T and "
    "bias_hh to h @ weight_hh.T": {"bias_ih": 0},
    "bias_hh is doubled (added on both sides, or loaded as bias_ih_l0 + bias_hh_l0): "
    "torch.nn.GRU adds bias_ih to x_t @ weight_ih.T and bias_hh to h @ weight_hh.T, "
    "each once": {"bias_hh_input": True},
    "the candidate uses a sigmoid; n = tanh(…), with values in (−1, 1)": {"activation": "sigmoid"},
    "the reset gate is missing from the candidate: n = tanh(gx_n + r ⊙ gh_n), where gh_n = "
    "h @ weight_hh[2H:3H].T + bias_hh[2H:3H]": {"reset": "none"},
    "the new state is the candidate n alone; interpolate: h_new = z ⊙ h + (1 − z) ⊙ n": {
        "update": "candidate"
    },
}


def _cell_variants() -> dict[str, dict[str, Any]]:
    """Every known wrong step: the switches above and the five wrong orders of the blocks."""
    variants = dict(_CELL_VARIANTS)
    for order in itertools.permutations("rzn"):
        if order != ("r", "z", "n"):
            text = ", ".join(order)
            variants[
                f"the blocks are read in the wrong order {text}; {_ORDER_NOTE}: e.g. "
                f"gx_r, gx_z, gx_n = gx.chunk(3, dim=1)"
            ] = {"order": "".join(order)}
    return variants


def _variant_step(
    x: torch.Tensor,
    h: torch.Tensor,
    params: Params,
    *,
    order: str = "rzn",
    swap: bool = False,
    reset: str = "after",
    b_hn: str = "inside",
    bias_ih: float = 1.0,
    bias_hh: float = 1.0,
    bias_hh_input: bool = False,
    activation: str = "tanh",
    update: str = "interpolate",
) -> torch.Tensor:
    """One GRU step with switchable mistakes (the defaults are right; they are checked to be).

    ``order`` names the gates that the code reads from blocks 0, 1 and 2 ("zrn": block 0 as z).
    """
    H = h.shape[1]
    p = {k: torch.from_numpy(np.asarray(v)) for k, v in params.items()}
    # Read block i as gate order[i]: rearrange so that r, z, n below get the blocks the code uses.
    index = [order.index(g) for g in "rzn"]
    p = {k: torch.cat([v[i * H : (i + 1) * H] for i in index]) for k, v in p.items()}
    W_in, W_hn = p["weight_ih"][2 * H :], p["weight_hh"][2 * H :]
    b_in, b_hn_value = p["bias_ih"][2 * H :], p["bias_hh"][2 * H :]
    gi = x @ p["weight_ih"].T + bias_ih * p["bias_ih"]
    if bias_hh_input:
        gi = gi + p["bias_hh"]
    gh = h @ p["weight_hh"].T + bias_hh * p["bias_hh"]
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    squash = torch.sigmoid if activation == "sigmoid" else torch.tanh
    if reset == "before":
        n = squash(x @ W_in.T + bias_ih * b_in + (r * h) @ W_hn.T + bias_hh * b_hn_value)
    elif reset == "none":
        n = squash(gi[:, 2 * H :] + gh[:, 2 * H :])
    elif b_hn == "outside":
        n = squash(gi[:, 2 * H :] + r * (h @ W_hn.T) + b_hn_value)
    else:
        n = squash(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    if update == "candidate":
        return n
    return (1 - z) * h + z * n if swap else z * h + (1 - z) * n


def _assert_variant_reference(x: np.ndarray, h: np.ndarray, params: Params) -> None:
    right = _variant_step(torch.from_numpy(x), torch.from_numpy(h), params).numpy()
    assert np.allclose(right, reference_cell(x, h, params), atol=1e-12, rtol=0), "variant"


def cell_mistakes(x_t: np.ndarray, h: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Wrong new states of one step: ``{description: value (B, H)}``."""
    _assert_variant_reference(x_t, h, params)
    x, state = torch.from_numpy(x_t), torch.from_numpy(h)
    return {
        text: _variant_step(x, state, params, **switches).numpy()
        for text, switches in _cell_variants().items()
    }


def _rolled(
    x: np.ndarray, h0: np.ndarray, step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> np.ndarray:
    h, states = torch.from_numpy(h0), []
    for x_t in torch.from_numpy(x):
        h = step(x_t, h)
        states.append(h)
    return torch.stack(states).numpy()


def forward_mistakes(x: np.ndarray, h0: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Wrong ``output (T, B, H)`` of a multi-step forward: wrong steps, wrong bookkeeping."""
    _assert_variant_reference(x[0], h0, params)
    mistakes = {
        text: _rolled(x, h0, lambda x_t, h, s=switches: _variant_step(x_t, h, params, **s))
        for text, switches in _cell_variants().items()
    }
    output, _ = reference_gru(x, h0, params)
    zeros = np.zeros_like(h0)
    mistakes.update(
        {
            "h0 is ignored: when h0 is given, the recurrence must start from h0[0] (you started "
            "from zeros)": reference_gru(x, zeros, params)[0],
            "output is shifted by one step: output[t] must be the state after reading x[t] "
            "(h_1 … h_T), not the one before it (h_0 … h_{T−1})": np.concatenate(
                [h0[None], output[:-1]]
            ),
            "the state is not carried from step to step: every step started from h0 instead "
            "of the previous state": np.concatenate(
                [reference_gru(x[t : t + 1], h0, params)[0] for t in range(len(x))]
            ),
            "the time order is reversed: step through x[0], x[1], …, x[T−1] in that order": (
                reference_gru(x[::-1].copy(), h0, params)[0][::-1].copy()
            ),
        }
    )
    return mistakes


# ------------------------------------------------------------------------------- module checks


def _parameter(module: Any, name: str, what: str) -> torch.Tensor:
    __tracebackhide__ = True
    value = getattr(module, name, None)
    check_true(isinstance(value, torch.Tensor), _no_tensor_message(name, what))
    return value


def _no_tensor_message(name: str, what: str) -> str:
    return (
        f"{what} has no tensor attribute {name}: store the parameters as self.weight_ih, "
        f"self.weight_hh, self.bias_ih and self.bias_hh (nn.GRUCell's names)."
    )


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
    _check_cell_facts(facts, D, H, what, initialised)
    return dict(facts["registered"])


def _check_cell_facts(
    facts: Mapping[str, Any], D: int, H: int, what: str, initialised: bool
) -> None:
    __tracebackhide__ = True
    shapes = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H)}
    shapes.update({"bias_ih": (3 * H,), "bias_hh": (3 * H,)})
    letters = {"weight_ih": "(3H, D)", "weight_hh": "(3H, H)", "bias_ih": "(3H,)"}
    letters["bias_hh"] = "(3H,)"
    for name, shape in shapes.items():
        fact = facts[name]
        check_true(fact["tensor"], _no_tensor_message(name, what))
        check_true(
            fact["registered"],
            f"self.{name} is a plain {fact['type']}, not an nn.Parameter, so the module "
            f"does not register it: model.parameters() leaves it out, an optimizer would not "
            f"train it and model.to(device) would not move it. Wrap it: "
            f"self.{name} = nn.Parameter(...).",
        )
        got = tuple(fact["shape"])
        transposed = len(shape) == 2 and got == shape[::-1]
        check_true(
            got == shape,
            f"self.{name} has shape {got}, expected {shape}, that is "
            f"{letters[name]} with D={D}, H={H}: PyTorch's layout, the three blocks r, z, n "
            f"stacked along the first axis." + (" Yours is transposed." if transposed else ""),
        )
        check_true(
            fact["dtype"] == str(torch.float64),
            f"self.{name} has dtype {fact['dtype']}; create the parameters with the `dtype` "
            f"argument (float64 by default, dtype=dtype): float32 is too imprecise for the "
            f"checks, which match torch.nn.GRU to 1e-6.",
        )
    extra = sorted(set(facts["registered"]) - set(shapes))
    check_true(
        not extra,
        f"{what} has extra parameters {extra}; it needs exactly weight_ih, weight_hh, bias_ih "
        f"and bias_hh.",
    )
    if not initialised:
        return
    bound = 1.0 / math.sqrt(H)
    for name in shapes:
        check_uniform_spread(name, facts[name]["spread"], bound, like="nn.GRUCell")


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


def _guard(guarded: bool) -> contextlib.AbstractContextManager[None]:
    return no_builtin_gru() if guarded else contextlib.nullcontext()


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


_LOAD_HINT = (
    "In load_from_torch, your parameters have exactly the shapes of nn.GRU's: copy "
    "gru.weight_ih_l0 into self.cell.weight_ih as it is, with no transpose (unlike Exercise 1, "
    "whose W_x was the transpose of weight_ih_l0), and likewise the other three."
)


def _load_mistakes(gru: nn.GRU, before: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Wrong values of the four parameters after ``load_from_torch``, per parameter."""
    w = {name: getattr(gru, f"{name}_l0").detach().cpu().numpy() for name in PARAMETER_NAMES}
    H = w["weight_hh"].shape[1]
    swapped = {k: np.concatenate([v[H : 2 * H], v[:H], v[2 * H :]]) for k, v in w.items()}
    summed = w["bias_ih"] + w["bias_hh"]
    mistakes: dict[str, dict[str, Any]] = {}
    for name in PARAMETER_NAMES:
        mistakes[name] = {
            f"self.cell.{name} was not changed by load_from_torch: copy gru.{name}_l0 into it "
            f"(inside `with torch.no_grad():`)": before[name],
            f"the r and z blocks of self.cell.{name} are swapped: keep PyTorch's order r, z, n "
            f"and copy gru.{name}_l0 as it is": swapped[name],
        }
    mistakes["bias_ih"][
        "bias_ih was loaded as bias_ih_l0 + bias_hh_l0, as in Exercise 1: the GRU keeps the two "
        "biases apart (the n block of bias_hh sits inside the reset product), so copy each into "
        "its own parameter"
    ] = summed
    mistakes["bias_hh"][
        "bias_hh was set to zero after summing the biases into bias_ih: the GRU keeps the two "
        "biases apart (the n block of bias_hh sits inside the reset product), so copy each into "
        "its own parameter"
    ] = np.zeros_like(w["bias_hh"])
    mistakes["bias_hh"][
        "bias_hh was loaded as bias_ih_l0 + bias_hh_l0: the GRU keeps the two biases apart, so "
        "copy each into its own parameter"
    ] = summed
    return mistakes


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
    _check_cell_facts(result["facts"], D, H, "GRUFromScratch.cell", initialised=False)
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
    for name, tensor in theirs.items():
        label = name if name in ("x", "h0") else f"model.cell.{name}"
        check_true(
            grads[name] is not None,
            state_cut_message("h0", "GRUFromScratch")
            if name == "h0"
            else f"{label}.grad is None after loss.backward(): no gradient reached it. "
            "Parameters must be nn.Parameter, used through torch operations without "
            ".detach(), .data or .numpy().",
        )
        check_close(
            f"{label}.grad ({case.describe()}), compared with nn.GRU's",
            grads[name],
            tensor.grad,
            kind="torch",
            mistakes={text: grads_of[name] for text, grads_of in truncated.items()},
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


def reference_adding_problem(n: int, T: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem as Chapter 2 draws it.

    The variant of Le et al. (2015) and Arjovsky et al. (2016), a simplification of Hochreiter &
    Schmidhuber's (1997) original. Returns ``x (T, n, 2)`` float32, ``x[..., 0]`` uniform
    numbers on [0, 1) and ``x[..., 1]`` markers, 1 at one step of each half of the sequence,
    and ``y (n,)``, the sum of the two marked numbers.
    """
    generator = torch.Generator().manual_seed(seed)
    numbers = torch.rand(T, n, generator=generator)
    first = torch.randint(0, T // 2, (n,), generator=generator)
    second = torch.randint(T // 2, T, (n,), generator=generator)
    markers = torch.zeros(T, n)
    markers[first, torch.arange(n)] = 1.0
    markers[second, torch.arange(n)] = 1.0
    return torch.stack([numbers, markers], dim=-1), (numbers * markers).sum(dim=0)


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


class _TinyRegressor(nn.Module):
    """A small float64 GRU regressor on which a student's ``train`` is replayed."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(2, hidden_size, dtype=torch.float64)
        self.readout = nn.Linear(hidden_size, 1, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(x)[1][0])[:, 0]


_TRAIN_VARIANTS: dict[str, dict[str, Any]] = {
    "optimizer.zero_grad() is missing: without it loss.backward() adds each step's gradient to "
    "the previous ones, so every update uses the sum of all past gradients; call "
    "optimizer.zero_grad() before loss.backward()": {"zero_grad": False},
    "the gradients are not clipped before the update (clipping after optimizer.step() comes "
    "too late): call torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) between "
    "loss.backward() and optimizer.step()": {"clip": "none"},
    "every step uses the same batch: step k must train on adding_problem(batch_size, T, "
    "seed=seed + k)": {"same_batch": True},
    "the loss compares predictions of shape (B,) with targets of shape (B, 1), which broadcast "
    "to a (B, B) matrix: compare tensors of the same shape, torch.mean((model(x) - y) ** 2)": {
        "target": "column"
    },
    "optimizer.step() is called before loss.backward(), so it never sees this step's gradient "
    "(and zero_grad() then discards it): zero_grad(), backward(), clip, step(), in that order": {
        "order": "step_first"
    },
}


def reference_train(
    model: nn.Module,
    steps: int,
    T: int,
    batch_size: int,
    lr: float,
    max_norm: float,
    seed: int,
    *,
    zero_grad: bool = True,
    clip: str = "before",
    same_batch: bool = False,
    target: str = "same",
    order: str = "backward_first",
) -> list[float]:
    """The training loop the exercise asks for, with switchable mistakes (defaults are right).

    Adam(lr) on the mean squared error; step k uses ``reference_adding_problem(batch_size, T,
    seed + k)``, converted to the model's dtype and device; gradients clipped to ``max_norm``.
    Returns the loss of every step (before its update). Trains ``model`` in place.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    parameter = next(model.parameters())
    losses = []
    for step in range(steps):
        x, y = reference_adding_problem(batch_size, T, seed if same_batch else seed + step)
        x, y = x.to(parameter), y.to(parameter)
        goal = y[:, None] if target == "column" else y
        loss = torch.mean((model(x) - goal) ** 2)
        if zero_grad:
            optimizer.zero_grad()
        if order == "step_first":
            optimizer.step()
            loss.backward()
        else:
            loss.backward()
            if clip == "before":
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
        losses.append(loss.item())
    return losses


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
