"""Checks of Exercise 4's NumPy notebook (``ex4_lstm/lstm_numpy``): the LSTM from scratch.

Every check compares with PyTorch (``lstm_references.py``) and passes the matching wrong answers
from ``lstm_wrong_answers.py``, so that a failure names the likely mistake. Public and hidden
tests call the same checks on different seeds and sizes. Terms are isolated where a mistake could
hide: the state or the input set to zero, and gates forced shut or open through their bias
(``b = ±40``), so that, say, a missing input gate shows as a wrong ``c_t`` when only ``i_t`` is
shut. The notation is NOTATION.md's: per-gate parameters ``W_xi, W_hi, b_i, …, W_xo, W_ho, b_o``,
row vectors, time-major sequences.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from course_checks.calls import call_with_shapes, changed_arguments
from course_checks.cases import SequenceCase, drawn
from course_checks.compare import (
    check_block_order,
    check_close,
    check_true,
    expect_keys,
    expect_tuple,
)
from course_checks.ex4_lstm.references import (
    GATES,
    LSTM_PARAMETER_NAMES,
    lstm_params_from_torch,
    random_gate_params,
    stacked_from_gates,
    torch_lstm_forward,
    torch_lstm_step,
    torch_parameter_count,
)
from course_checks.ex4_lstm.wrong_answers import (
    GATE_NAMES,
    count_mistakes,
    forward_mistakes,
    gate_mistakes,
    order_readings,
    split_mistakes,
    step_mistakes,
)

__all__ = [
    "LSTM_SHAPES",
    "LSTMCase",
    "check_count_parameters",
    "check_lstm_against_torch",
    "check_lstm_cell",
    "check_lstm_forward",
    "check_lstm_gates",
    "check_split_torch_weights",
    "random_lstm_case",
]

SHUT, OPEN = -40.0, 40.0  # sigmoid(±40) is 0 or 1 to float64 precision (4e-18)

# The shape sentence of compare.call's hint is written for the RNN; this one names the LSTM's.
LSTM_SHAPES = (
    "Shapes: sequences are time-major, x is (T, B, D), so x[t] is one time step of shape (B, D) "
    "and axis 0 is time; the states h and c are (B, H); W_xi, W_xf, W_xg and W_xo are (D, H), "
    "W_hi, W_hf, W_hg and W_ho are (H, H), and every bias is (H,). Check the order of the "
    "matrix products, any transposes (.T), and which axis is time and which is batch."
)
_HINT = (
    "compare your code with the equations at the top of the notebook, term by term: the three "
    "gates use the sigmoid, the cell candidate g_t uses tanh."
)


@dataclass(frozen=True)
class LSTMCase(SequenceCase):
    """Inputs, initial states and per-gate parameters of one test, drawn from a seed."""

    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (B, H)
    c0: np.ndarray  # (B, H)
    params: dict[str, np.ndarray]


def random_lstm_case(seed: int, T: int, B: int, D: int, H: int) -> LSTMCase:
    """A random float64 case drawn from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    params = random_gate_params(rng, D, H)
    x = rng.normal(size=(T, B, D))
    h0 = rng.normal(scale=0.5, size=(B, H))
    c0 = rng.normal(size=(B, H))
    return LSTMCase(x, h0, c0, params)


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``compare.call``, with the LSTM's shapes in the hint that follows a shape error."""
    __tracebackhide__ = True
    return call_with_shapes(LSTM_SHAPES, function, *args)


def _copy(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in params.items()}


def _step(x_t: np.ndarray, h: np.ndarray, c: np.ndarray, params: Mapping) -> dict:
    """PyTorch's gates and new states for per-gate ``params`` (see ``torch_lstm_step``)."""
    return torch_lstm_step(x_t, h, c, stacked_from_gates(params))


# ------------------------------------------------------------------------------------- gates


def check_lstm_gates(lstm_gates: Callable[..., Any], seed: int, B: int, D: int, H: int) -> None:
    """Check ``lstm_gates(x_t, h_prev, params) -> (i_t, f_t, g_t, o_t)`` against PyTorch.

    Three cases so that a failure points at one term: ``h_prev = 0`` (input terms and biases
    only), ``x_t = 0`` (recurrent terms and biases only), then both.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    params = random_gate_params(rng, D, H)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    zeros = np.zeros((B, H))
    cases = [
        ("h_prev = 0: only the input terms x_t @ W_xk + b_k of each block k", x_t, zeros),
        ("x_t = 0: only the recurrent terms h_prev @ W_hk + b_k", np.zeros((B, D)), h_prev),
        ("both terms", x_t, h_prev),
    ]
    for label, x_case, h_case in cases:
        result = _call(lstm_gates, x_case.copy(), h_case.copy(), _copy(params))
        gates = expect_tuple(result, ("i_t", "f_t", "g_t", "o_t"), "lstm_gates")
        reference = _step(x_case, h_case, np.zeros((B, H)), params)
        wrong = gate_mistakes(x_case, h_case, params)
        for gate, got in zip(GATES, gates, strict=True):
            check_close(
                f"{gate}_t, the {GATE_NAMES[gate]}, from lstm_gates ({label}; B={B}, D={D}, H={H})",
                got,
                reference[gate],
                kind="numpy",
                mistakes=wrong[gate],
                hint=_HINT,
            )


# -------------------------------------------------------------------------------------- cell


def _forced(params: Mapping[str, np.ndarray], **biases: float) -> dict[str, np.ndarray]:
    """``params`` with each named gate (``i=``, ``f=``, ``o=``) forced to sigmoid(bias)."""
    D, H = params["W_xi"].shape
    forced = dict(params)
    for gate, bias in biases.items():
        forced.update(
            {f"W_x{gate}": np.zeros((D, H)), f"W_h{gate}": np.zeros((H, H))}
            | {f"b_{gate}": np.full(H, bias)}
        )
    return forced


def check_lstm_cell(
    lstm_cell_forward: Callable[..., Any], seed: int, B: int, D: int, H: int
) -> None:
    """Check ``lstm_cell_forward(x_t, h_prev, c_prev, params) -> (h_t, c_t)`` against PyTorch.

    Cases isolate one part each: no state; no input; the forget gate shut (``c_t = i_t ⊙ g_t``);
    the input gate shut (``c_t = f_t ⊙ c_{t−1}``); the cell kept exactly (``f_t = 1``,
    ``i_t = 0``); the output gate open (``h_t = tanh(c_t)``); then everything. ``c_t`` is
    compared first, since ``h_t`` is computed from it.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    params = random_gate_params(rng, D, H)
    x_t, h_prev, c_prev = (rng.normal(size=shape) for shape in ((B, D), (B, H), (B, H)))
    zeros = np.zeros((B, H))
    cases = [
        ("h_prev = 0 and c_prev = 0: only the input terms, c_t = i_t ⊙ g_t", x_t, zeros, zeros,
         params),
        ("x_t = 0: only the recurrent terms and the old cell", np.zeros((B, D)), h_prev, c_prev,
         params),
        ("f_t = 0, forced by b_f = −40: the cell forgets, c_t = i_t ⊙ g_t", x_t, h_prev, c_prev,
         _forced(params, f=SHUT)),
        ("i_t = 0, forced by b_i = −40: nothing is written, c_t = f_t ⊙ c_{t−1}", x_t, h_prev,
         c_prev, _forced(params, i=SHUT)),
        ("f_t = 1 and i_t = 0, forced by b_f = +40 and b_i = −40: the cell is kept exactly, "
         "c_t = c_{t−1}", x_t, h_prev, c_prev, _forced(params, f=OPEN, i=SHUT)),
        ("o_t = 1, forced by b_o = +40: h_t = tanh(c_t)", x_t, h_prev, c_prev,
         _forced(params, o=OPEN)),
        ("all terms", x_t, h_prev, c_prev, params),
    ]  # fmt: skip
    for label, x_case, h_case, c_case, p in cases:
        result = _call(lstm_cell_forward, x_case.copy(), h_case.copy(), c_case.copy(), _copy(p))
        h_t, c_t = expect_tuple(result, ("h_t", "c_t"), "lstm_cell_forward")
        reference = _step(x_case, h_case, c_case, p)
        wrong = step_mistakes(x_case, h_case, c_case, p)
        for name, got in (("c", c_t), ("h", h_t)):
            check_close(
                f"{name}_t from lstm_cell_forward ({label}; B={B}, D={D}, H={H})",
                got,
                reference[name],
                kind="numpy",
                mistakes=wrong[name],
                hint=_HINT,
            )


# ------------------------------------------------------------------------------ forward pass


def check_lstm_forward(
    lstm_forward: Callable[..., Any],
    case: LSTMCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Check ``lstm_forward(x, h0, c0, params) -> (hs, (h_T, c_T))`` against ``torch.nn.LSTM``."""
    __tracebackhide__ = True
    case = drawn(case, random_lstm_case, seed, (T, B, D, H))
    result = _call(lstm_forward, case.x.copy(), case.h0.copy(), case.c0.copy(), _copy(case.params))
    _check_run(result, case.x, case.h0, case.c0, case.params, "lstm_forward", case.describe())


def _check_run(
    result: Any,
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    params: Mapping[str, np.ndarray],
    what: str,
    sizes: str,
    *,
    hint: str = _HINT,
    stacked: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Compare what ``lstm_forward`` returned with ``torch.nn.LSTM`` holding ``params``.

    With ``stacked`` (PyTorch's layout), the mistakes include those of reading that layout.
    """
    __tracebackhide__ = True
    hs, final = expect_tuple(result, ("hs", "(h_T, c_T)"), what)
    h_T, c_T = expect_tuple(final, ("h_T", "c_T"), f"the second item that {what} returns")
    layout = stacked if stacked is not None else stacked_from_gates(params)
    expected, expected_h, expected_c = torch_lstm_forward(x, h0, c0, layout)
    if stacked is None:
        wrong = forward_mistakes(x, h0, c0, params)
    else:
        wrong = forward_mistakes(x, h0, c0, stacked, stacked=True)
    for name, got, reference, key in (
        ("hs", hs, expected, "output"),
        ("h_T, the final hidden state,", h_T, expected_h, "h"),
        ("c_T, the final cell,", c_T, expected_c, "c"),
    ):
        check_close(
            f"{name} from {what} ({sizes})",
            got,
            reference,
            kind="numpy",
            mistakes=wrong[key],
            hint=hint,
        )


# ------------------------------------------------------------------ reading PyTorch's weights


def _torch_draw(seed: int, D: int, H: int) -> tuple[torch.nn.LSTM, list[np.ndarray]]:
    """A float64 ``nn.LSTM(D, H)`` with PyTorch's default initialisation, and its four arrays."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(D, H, dtype=torch.float64)
    stacked = [
        getattr(lstm, f"{name}_l0").detach().numpy().copy()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    return lstm, stacked


def check_split_torch_weights(
    split_torch_weights: Callable[..., Any], seed: int, D: int, H: int
) -> dict[str, np.ndarray]:
    """Check the per-gate parameters read from a ``torch.nn.LSTM`` (default initialisation).

    Returns the parameters the student's function returned.
    """
    __tracebackhide__ = True
    lstm, stacked = _torch_draw(seed, D, H)
    before = [array.copy() for array in stacked]
    result = _call(split_torch_weights, *stacked)
    params = expect_keys(result, LSTM_PARAMETER_NAMES, "split_torch_weights")
    check_true(
        not changed_arguments(split_torch_weights),
        "split_torch_weights changed the arrays it was given: read them, do not write into them.",
    )
    expected = lstm_params_from_torch(lstm)
    wrong = split_mistakes(*before)
    layout = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), before, strict=True))
    check_block_order(params, expected, order_readings(layout), f"D={D}, H={H}")
    for name in LSTM_PARAMETER_NAMES:
        check_close(
            f"params[{name!r}] from split_torch_weights (D={D}, H={H})",
            params[name],
            expected[name],
            kind="numpy",
            mistakes=wrong[name],
        )
    return dict(params)


def check_lstm_against_torch(
    split_torch_weights: Callable[..., Any],
    lstm_forward: Callable[..., Any],
    seed: int,
    T: int,
    B: int,
    D: int,
    H: int,
) -> float:
    """Your LSTM with the weights of a ``torch.nn.LSTM``, end to end, against that module.

    The weights are read with the student's ``split_torch_weights`` and run through their
    ``lstm_forward``; the outputs and final states are compared with ``nn.LSTM``'s own. Returns
    the largest absolute difference.
    """
    __tracebackhide__ = True
    lstm, stacked = _torch_draw(seed, D, H)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, D))
    h0, c0 = rng.normal(scale=0.5, size=(B, H)), rng.normal(size=(B, H))
    result = _call(split_torch_weights, *(array.copy() for array in stacked))
    params = expect_keys(result, LSTM_PARAMETER_NAMES, "split_torch_weights")
    run = _call(lstm_forward, x.copy(), h0.copy(), c0.copy(), _copy(params))
    layout = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), stacked, strict=True))
    _check_run(
        run,
        x,
        h0,
        c0,
        lstm_params_from_torch(lstm),
        "lstm_forward with the weights from split_torch_weights",
        f"an nn.LSTM with PyTorch's initialisation; {T} time steps, B={B}, D={D}, H={H}",
        hint="if the tests of split_torch_weights or lstm_forward fail, fix them first.",
        stacked=layout,
    )
    hs, (h_T, c_T) = run
    expected = torch_lstm_forward(x, h0, c0, layout)
    return max(
        float(np.max(np.abs(np.asarray(got) - reference)))
        for got, reference in zip((hs, h_T, c_T), expected, strict=True)
    )


# ------------------------------------------------------------------------- counting parameters

_MODULES = {"rnn": "nn.RNN", "gru": "nn.GRU", "lstm": "nn.LSTM"}


def check_count_parameters(
    count_parameters: Callable[..., Any], sizes: list[tuple[int, int]]
) -> None:
    """``count_parameters(kind, D, H)`` equals ``sum(p.numel())`` of PyTorch's one-layer module.

    For each ``(D, H)`` of ``sizes`` and each kind "rnn", "gru", "lstm".
    """
    __tracebackhide__ = True
    for D, H in sizes:
        for kind, module in _MODULES.items():
            got = _call(count_parameters, kind, D, H)
            what = f"count_parameters({kind!r}, {D}, {H})"
            check_true(
                got is not None,
                f"{what} returned None. Did you forget the `return` statement?",
            )
            check_true(
                isinstance(got, numbers.Integral) and not isinstance(got, bool),
                f"{what} must return an int, a count; it returned {type(got).__name__} {got!r} "
                f"(use * and +, or int(...), not /).",
            )
            check_close(
                f"{what}, compared with sum(p.numel() for p in {module}({D}, {H}).parameters())",
                got,
                torch_parameter_count(kind, D, H),
                atol=0,
                dtype=None,
                mistakes=count_mistakes(kind, D, H),
                hint=f"{module} stores weight_ih_l0, weight_hh_l0, bias_ih_l0 and bias_hh_l0; "
                "count the entries of each from its shape.",
            )
