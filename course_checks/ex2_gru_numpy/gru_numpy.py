"""Composite checks for the NumPy GRU exercise (ex2), so that its test cells stay short and alike.

Every check compares with PyTorch (``gru_references.py``) and passes the matching wrong answers
from ``gru_wrong_answers.py`` so that a failure names the likely mistake. Public and hidden tests
call the same checks on different seeds and sizes. Terms are isolated where a mistake could hide:
the state or the input set to zero, and gates forced open or shut through their bias (``b = ±40``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from course_checks import student_output
from course_checks.calls import call_with_shapes, changed_arguments
from course_checks.cases import SequenceCase, drawn
from course_checks.compare import (
    check_block_order,
    check_close,
    check_gradient,
    check_true,
    expect_keys,
    rel_error,
)
from course_checks.errors import CheckFailure
from course_checks.ex2_gru_numpy.references import (
    GRU_PARAMETER_NAMES,
    gru_params_from_torch,
    random_gru_params,
    torch_gru_cell_gates,
    torch_gru_forward,
    torch_gru_gradients,
)
from course_checks.ex2_gru_numpy.wrong_answers import (
    backward_mistakes,
    candidate_mistakes,
    cell_mistakes,
    forward_mistakes,
    gate_mistakes,
    sigmoid_mistakes,
    split_mistakes,
    split_order_readings,
)
from course_checks.gradients import backward_on_own_terms, numerical_gradient, others_note

__all__ = [
    "GRADIENT_GROUPS",
    "GRADIENT_NAMES",
    "ISOLATED",
    "GRUCase",
    "check_candidate_state",
    "check_gate",
    "check_gru_backward",
    "check_gru_cell",
    "check_gru_forward",
    "check_sigmoid",
    "check_split_torch_weights",
    "gradient_check",
    "isolated_case",
    "random_gru_case",
]

GRADIENT_NAMES = ("dx", "dh0", *("d" + name for name in GRU_PARAMETER_NAMES))
GRADIENT_GROUPS = {
    "reset": ("dW_xr", "dW_hr", "db_r"),
    "update": ("dW_xz", "dW_hz", "db_z"),
    "candidate": ("dW_xh", "dW_hh", "db_xh", "db_hh"),
    "dx": ("dx",),
    "dh0": ("dh0",),
}
SHUT, OPEN = -40.0, 40.0  # sigmoid(±40) is 0 or 1 to float64 precision (4e-18)

# The shape sentence of calls.call's hint is written for the RNN; this one names the GRU's shapes.
GRU_SHAPES = (
    "Shapes: sequences are time-major, x is (T, B, D), so x[t] is one time step of shape (B, D) "
    "and axis 0 is time; a state h is (B, H); W_xr, W_xz and W_xh are (D, H), W_hr, W_hz and "
    "W_hh are (H, H), and every bias is (H,), so a bias gradient sums over the batch axis "
    "(axis 0). Check the order of the matrix products, any transposes (.T), and which axis is "
    "time and which is batch."
)
_BACKWARD_HINT = (
    "gru_backward gets torch.nn.GRU's states hs, so your forward pass cannot cause this; but if "
    "you recompute the gates with reset_gate, update_gate and candidate_state, their tests must "
    "pass first."
)
_GATE_FUNCTIONS = (("reset_gate", "r"), ("update_gate", "z"), ("candidate_state", "h_tilde"))


@dataclass(frozen=True)
class GRUCase(SequenceCase):
    """Inputs, per-gate parameters, upstream gradients and torch.nn.GRU's states for one test."""

    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (B, H)
    params: dict[str, np.ndarray]
    dhs: np.ndarray  # (T, B, H), the gradient of L = sum(dhs * hs) with respect to hs
    hs: np.ndarray  # (T, B, H), computed by torch.nn.GRU


def random_gru_case(seed: int, T: int, B: int, D: int, H: int) -> GRUCase:
    """A random float64 case drawn from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    params = random_gru_params(rng, D, H)
    x = rng.normal(size=(T, B, D))
    h0 = rng.normal(scale=0.5, size=(B, H))
    dhs = rng.normal(size=(T, B, H))
    return GRUCase(x, h0, params, dhs, torch_gru_forward(x, h0, params))


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``calls.call``, with the GRU's shapes in the hint that follows a shape error."""
    __tracebackhide__ = True
    return call_with_shapes(GRU_SHAPES, function, *args)


def _copy(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.array(value) for name, value in params.items()}


# ----------------------------------------------------------------------------------- sigmoid


def _raising_overflow(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run with NumPy's overflow and invalid-value warnings turned into failures."""

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            try:
                return function(*args)
            except FloatingPointError as error:
                raise CheckFailure(
                    f"sigmoid raised a floating-point warning on large |a|: {error}.\n"
                    "  For a = -1000, np.exp(-a) = exp(1000) overflows float64 (exp(710) is "
                    "already too large), and exp(a) overflows the same way for a = +1000. "
                    "NumPy only warns and may still return the right number, but "
                    "exp(a) / (1 + exp(a)) gives inf / inf = NaN.\n"
                    "  Write a numerically stable sigmoid that only takes exp of non-positive "
                    "numbers: with e = np.exp(-np.abs(a)), sigmoid(a) is 1 / (1 + e) where "
                    "a >= 0 and e / (1 + e) where a < 0. Note that np.where(cond, f(a), g(a)) "
                    "computes both f(a) and g(a) for every entry before choosing, so exp must "
                    "not overflow in either branch."
                ) from None

    return guarded


def check_sigmoid(sigmoid: Callable[[np.ndarray], np.ndarray], seed: int, shape: tuple) -> None:
    """Check ``sigmoid`` against ``torch.sigmoid``: moderate values, then |a| up to 1000.

    The extreme values run with NumPy's overflow warnings raised as errors: a naive
    ``1 / (1 + np.exp(-a))`` overflows there, and the message says how to make it stable.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    extremes = np.array([-1000.0, -745.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 745.0, 1e3])
    cases = [
        ("moderate a", rng.normal(scale=3.0, size=shape)),
        ("large |a|, up to 1000", extremes),
        (f"large |a|, shape {shape}", rng.normal(scale=400.0, size=shape)),
    ]
    for label, a in cases:
        before = a.copy()
        got = _call(_raising_overflow(sigmoid), a)
        check_true(
            not changed_arguments(sigmoid),
            "sigmoid changed its input a in place: compute the result in a new array.",
        )
        check_close(
            f"sigmoid(a) ({label})",
            got,
            torch.sigmoid(torch.from_numpy(before)).numpy(),
            kind="numpy",
            mistakes=sigmoid_mistakes(before),
        )


# ------------------------------------------------------------------------------------- gates


def check_gate(function: Callable[..., Any], gate: str, seed: int, B: int, D: int, H: int) -> None:
    """Check ``reset_gate`` (``gate="r"``) or ``update_gate`` (``gate="z"``) against PyTorch.

    Three cases so that a failure points at one term: ``h_prev = 0`` (input term and bias only),
    ``x_t = 0`` (recurrent term and bias only), then both.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    params = random_gru_params(rng, D, H)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    name = {"r": "reset_gate", "z": "update_gate"}[gate]
    cases = [
        (f"h_prev = 0: only the input term x_t @ W_x{gate} + b_{gate}", x_t, np.zeros((B, H))),
        (
            f"x_t = 0: only the recurrent term h_prev @ W_h{gate} + b_{gate}",
            np.zeros((B, D)),
            h_prev,
        ),
        ("both terms", x_t, h_prev),
    ]
    for label, x_case, h_case in cases:
        got = _call(function, x_case.copy(), h_case.copy(), _copy(params))
        check_close(
            f"{gate}_t from {name} ({label}; B={B}, D={D}, H={H})",
            got,
            torch_gru_cell_gates(x_case, h_case, params)[gate],
            kind="numpy",
            mistakes=gate_mistakes(x_case, h_case, params, gate),
        )


def _forced(params: Mapping[str, np.ndarray], gate: str, bias: float) -> dict[str, np.ndarray]:
    """``params`` with ``gate`` ("r" or "z") forced to sigmoid(bias) in every unit and row."""
    D, H = params["W_xr"].shape
    return {
        **params,
        f"W_x{gate}": np.zeros((D, H)),
        f"W_h{gate}": np.zeros((H, H)),
        f"b_{gate}": np.full(H, bias),
    }


def check_candidate_state(
    candidate_state: Callable[..., Any], seed: int, B: int, D: int, H: int
) -> None:
    """Check ``candidate_state(x_t, h_prev, r_t, params)`` against PyTorch's new gate ``n_t``.

    The reset gate ``r_t`` is PyTorch's own in every case; it is forced to 1 (no reset) and to 0
    (the whole recurrent part, ``b_hh`` included, is removed) before random values, so that a
    failure tells a bias placement from the side of the matrix product the reset is applied on.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    params = random_gru_params(rng, D, H)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    zeros_h, zeros_x = np.zeros((B, H)), np.zeros((B, D))
    cases = [
        (
            "r_t = 1, no reset: tanh(x_t @ W_xh + b_xh + h_prev @ W_hh + b_hh)",
            x_t,
            h_prev,
            _forced(params, "r", OPEN),
        ),
        (
            "r_t = 0: the reset removes the whole recurrent part, b_hh included: "
            "tanh(x_t @ W_xh + b_xh)",
            x_t,
            h_prev,
            _forced(params, "r", SHUT),
        ),
        ("h_prev = 0: x_t @ W_xh + b_xh + r_t * b_hh", x_t, zeros_h, params),
        ("x_t = 0: b_xh + r_t * (h_prev @ W_hh + b_hh)", zeros_x, h_prev, params),
        ("r_t between 0 and 1", x_t, h_prev, params),
    ]
    for label, x_case, h_case, p in cases:
        reference = torch_gru_cell_gates(x_case, h_case, p)
        r_t = reference["r"]
        got = _call(candidate_state, x_case.copy(), h_case.copy(), r_t.copy(), _copy(p))
        check_close(
            f"h̃_t from candidate_state ({label}; B={B}, D={D}, H={H})",
            got,
            reference["h_tilde"],
            kind="numpy",
            mistakes=candidate_mistakes(x_case, h_case, r_t, p),
        )


# ---------------------------------------------------------------------- cell and forward pass


def check_gru_cell(gru_cell_forward: Callable[..., Any], seed: int, B: int, D: int, H: int) -> None:
    """Check ``gru_cell_forward(x_t, h_prev, params)`` against ``torch.nn.GRUCell``.

    Cases isolate one part each: no state, no input, the update gate shut (``h_t = h̃_t``) and
    open (``h_t = h_prev``), the reset gate shut, then everything at once.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    params = random_gru_params(rng, D, H)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    cases = [
        ("h_prev = 0: only the input terms", x_t, np.zeros((B, H)), params),
        ("x_t = 0: only the recurrent terms", np.zeros((B, D)), h_prev, params),
        (
            "z_t = 0, forced by b_z = -40: the new state is the candidate, h_t = h̃_t",
            x_t,
            h_prev,
            _forced(params, "z", SHUT),
        ),
        (
            "z_t = 1, forced by b_z = +40: the old state is kept, h_t = h_prev",
            x_t,
            h_prev,
            _forced(params, "z", OPEN),
        ),
        (
            "r_t = 0, forced by b_r = -40: the candidate ignores the past",
            x_t,
            h_prev,
            _forced(params, "r", SHUT),
        ),
        ("all terms", x_t, h_prev, params),
    ]
    for label, x_case, h_case, p in cases:
        got = _call(gru_cell_forward, x_case.copy(), h_case.copy(), _copy(p))
        check_close(
            f"h_t from gru_cell_forward ({label}; B={B}, D={D}, H={H})",
            got,
            torch_gru_cell_gates(x_case, h_case, p)["h"],
            kind="numpy",
            mistakes=cell_mistakes(x_case, h_case, p),
        )


def check_gru_forward(
    gru_forward: Callable[..., Any],
    case: GRUCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Check all states ``hs (T, B, H)`` of ``gru_forward(x, h0, params)`` against torch.nn.GRU."""
    __tracebackhide__ = True
    case = drawn(case, random_gru_case, seed, (T, B, D, H))
    hs = _call(gru_forward, case.x.copy(), case.h0.copy(), _copy(case.params))
    check_close(
        f"hs from gru_forward ({case.describe()})",
        hs,
        case.hs,
        kind="numpy",
        mistakes=forward_mistakes(case.x, case.h0, case.params),
    )


def check_split_torch_weights(
    split_torch_weights: Callable[..., Any], seed: int, D: int, H: int
) -> None:
    """Check the per-gate parameters read from a ``torch.nn.GRU`` (default initialisation)."""
    __tracebackhide__ = True
    torch.manual_seed(seed)
    gru = torch.nn.GRU(D, H, dtype=torch.float64)
    stacked = [
        getattr(gru, f"{name}_l0").detach().numpy().copy()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    before = [array.copy() for array in stacked]
    result = _call(split_torch_weights, *stacked)
    params = expect_keys(result, GRU_PARAMETER_NAMES, "split_torch_weights")
    check_true(
        not changed_arguments(split_torch_weights),
        "split_torch_weights changed the arrays it was given: read them, do not write into them.",
    )
    expected = gru_params_from_torch(gru)
    wrong = split_mistakes(*before)
    check_block_order(params, expected, split_order_readings(*before), f"D={D}, H={H}")
    for name in GRU_PARAMETER_NAMES:
        check_close(
            f"params[{name!r}] from split_torch_weights (D={D}, H={H})",
            params[name],
            expected[name],
            kind="numpy",
            mistakes=wrong[name],
        )


# ------------------------------------------------------------------------------ backward pass


# The recurrent weights zeroed in a gate's several-step case: the other two blocks' paths from
# h_t back to h_{t-1} are then zero, so that a mistake in their derivatives cannot reach this
# gate's gradients through time (their own tests catch it).
ISOLATED = {"reset": ("W_hz", "W_hh"), "update": ("W_hr", "W_hh"), "candidate": ("W_hr", "W_hz")}


def isolated_case(case: GRUCase, group: str) -> tuple[GRUCase, str]:
    """``case`` as the test of ``group`` uses it, and the words that say how, for the message.

    With more than one step, the gates' tests zero the recurrent weights of the other blocks
    (:data:`ISOLATED`); one step, ``dx`` and ``dh0`` use the case as it is.
    """
    zeroed = ISOLATED.get(group)
    if not zeroed or case.x.shape[0] == 1:
        return case, case.describe()
    params = {**case.params, **{name: np.zeros_like(case.params[name]) for name in zeroed}}
    hs = torch_gru_forward(case.x, case.h0, params)
    isolated = GRUCase(case.x, case.h0, params, case.dhs, hs)
    return isolated, f"{case.describe()}, {' = '.join(zeroed)} = 0"


def check_gru_backward(
    gru_backward: Callable[..., Any],
    group: str,
    case: GRUCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Check one group of gradients of ``gru_backward`` (see :data:`GRADIENT_GROUPS`).

    ``gru_backward(dhs, x, h0, hs, params)`` gets torch's states ``hs``, so a wrong forward pass
    cannot make a right backward pass fail. The reference is torch autograd of ``sum(dhs ⊙ hs)``.
    A gate's several-step case zeroes the other blocks' recurrent weights (:func:`isolated_case`),
    and an error on a line that computes another group's gradient is that group's to report
    (``rnn_checks.backward_on_own_terms``), so that one mistake costs one test.
    """
    __tracebackhide__ = True
    case = drawn(case, random_gru_case, seed, (T, B, D, H))
    case, sizes = isolated_case(case, group)
    own, rows = GRADIENT_GROUPS[group], case.x.shape[1]
    result, case = backward_on_own_terms(
        lambda c: _call(
            gru_backward, c.dhs.copy(), c.x.copy(), c.h0.copy(), c.hs.copy(), _copy(c.params)
        ),
        "gru_backward",
        own,
        GRADIENT_NAMES,
        case,
        _square_gru_case,
    )
    if case.x.shape[1] != rows:  # checked on the retry with B = D = H
        sizes = f"{sizes}; with B = D = H = {case.x.shape[1]}"
    grads = expect_keys(result, GRADIENT_NAMES, "gru_backward")
    expected = torch_gru_gradients(case.x, case.h0, case.params, case.dhs)
    wrong = backward_mistakes(case.dhs, case.x, case.h0, case.hs, case.params)
    hint = " ".join(
        [
            _upstream_note(gru_backward, case) or _BACKWARD_HINT,
            others_note("gru_backward", grads, expected, own),
        ]
    )
    for key in own:
        check_close(
            f"{key} from gru_backward ({sizes})",
            grads[key],
            expected[key],
            kind="numpy",
            mistakes=wrong[key],
            hint=hint,
        )


def _square_gru_case(case: GRUCase) -> GRUCase:
    """``case`` with ``B = D = H`` (rows and input columns repeated or cut), states recomputed."""
    _, B, D, H = case.sizes
    rows, columns = np.arange(H) % B, np.arange(H) % D
    x = case.x[:, rows][:, :, columns].copy()
    h0, dhs = case.h0[rows].copy(), case.dhs[:, rows].copy()
    params = {
        name: value[columns].copy() if name.startswith("W_x") else value
        for name, value in case.params.items()
    }
    return GRUCase(x, h0, params, dhs, torch_gru_forward(x, h0, params))


def _upstream_note(gru_backward: Callable[..., Any], case: GRUCase) -> str:
    """Which of the notebook's gate functions disagree with PyTorch on the case's first step.

    ``gru_backward`` usually recomputes the gates with ``reset_gate``, ``update_gate`` and
    ``candidate_state``; when one of them (looked up where ``gru_backward`` was defined) is wrong,
    a wrong gradient is no news about the backward pass, and the note says which one to fix
    first, naming its likely mistake. Returns ``""`` when they all agree (or cannot be found).
    """
    namespace = getattr(gru_backward, "__globals__", {})
    x_t, h_prev, params = case.x[0], case.h0, case.params
    reference = torch_gru_cell_gates(x_t, h_prev, params)
    known = {
        "r": gate_mistakes(x_t, h_prev, params, "r"),
        "z": gate_mistakes(x_t, h_prev, params, "z"),
        "h_tilde": candidate_mistakes(x_t, h_prev, reference["r"], params),
    }
    problems = []
    for name, key in _GATE_FUNCTIONS:
        function = namespace.get(name)
        if not callable(function):
            continue
        args = [x_t.copy(), h_prev.copy()]
        if key == "h_tilde":
            args.append(reference["r"].copy())
        # A direct call, not through call(): it only words a hint, and the grader's re-check,
        # which has no student functions, words it without them (the verdict is the same).
        try:
            with np.errstate(all="ignore"), student_output.caught(name):
                got = np.asarray(function(*args, _copy(params)), dtype=np.float64)
        except Exception:  # the function's own test explains the error
            problems.append(f"your {name} raises an error")
            continue
        if got.shape == reference[key].shape and np.allclose(got, reference[key], atol=1e-6):
            continue
        likely = [
            text
            for text, value in known[key].items()
            if np.shape(value) == got.shape and np.allclose(got, value, atol=1e-6)
        ]
        problems.append(
            f"your {name} does not match PyTorch"
            + (f" (likely mistake: {'; or: '.join(likely)})" if likely else "")
        )
    if not problems:
        found = [name for name, _ in _GATE_FUNCTIONS if callable(namespace.get(name))]
        if len(found) == len(_GATE_FUNCTIONS):
            return (
                "Your reset_gate, update_gate and candidate_state agree with PyTorch on this "
                "case, and gru_backward gets torch.nn.GRU's states hs: the difference comes from "
                "gru_backward itself."
            )
        return ""
    them = "it" if len(problems) == 1 else "them"
    return (
        "gru_backward recomputes the gates, and "
        + "; ".join(problems)
        + f". If your gru_backward calls {them}, fix {them} first: "
        + ("its own test says" if len(problems) == 1 else "their own tests say")
        + " more."
    )


def gradient_check(
    gru_forward: Callable[..., Any],
    gru_backward: Callable[..., Any],
    case: GRUCase | None = None,
    threshold: float = 1e-7,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> dict[str, float]:
    """Check the student's ``gru_backward`` against the course's finite differences.

    The loss is ``L = sum(dhs ⊙ hs)``. The student's ``gru_forward`` is checked first (values,
    and float64 to the last digits: ``gru_backward`` gets its states); then every gradient
    (``dx``, ``dh0`` and one per parameter) must agree with the centered differences of L that
    the course computes on torch.nn.GRU (``references.numerical_gradient``; never a function of
    the notebook's, which a student may redefine) to a relative error below ``threshold``.

    Returns:
        The relative error of every gradient, by name (``"dx"``, ``"dW_xr"``, …).
    """
    __tracebackhide__ = True
    case = drawn(case, random_gru_case, seed, (T, B, D, H))
    inputs = {"x": case.x.copy(), "h0": case.h0.copy(), **_copy(case.params)}
    params = {name: inputs[name] for name in GRU_PARAMETER_NAMES}  # the same arrays

    def torch_loss(_: np.ndarray) -> float:  # one entry of inputs changes at a time
        return float(np.sum(case.dhs * torch_gru_forward(inputs["x"], inputs["h0"], params)))

    numerics = {"d" + name: numerical_gradient(torch_loss, array) for name, array in inputs.items()}
    # check_gradient can only tell a mistake from the numerical gradient: drop the mistakes that
    # give the right gradient on this case (by the course's relative error, as it compares).
    right = torch_gru_gradients(case.x, case.h0, case.params, case.dhs)
    wrong = {
        key: {
            text: value
            for text, value in mistakes.items()
            if np.shape(value) != right[key].shape or not rel_error(value, right[key]) < threshold
        }
        for key, mistakes in backward_mistakes(
            case.dhs, case.x, case.h0, case.hs, case.params
        ).items()
    }
    hs = _call(gru_forward, case.x, case.h0, case.params)
    check_close(
        f"hs from gru_forward, the function the gradient check differentiates ({case.describe()})",
        hs,
        case.hs,
        kind="numpy",
        mistakes=forward_mistakes(case.x, case.h0, case.params),
    )
    rounding = float(np.max(np.abs(np.asarray(hs, dtype=np.float64) - case.hs)))
    check_true(
        not rounding > 1e-11,
        f"Your gru_forward differs from torch.nn.GRU by {rounding:.1e}, where float64 code "
        f"agrees to about 1e-15: it rounds through float32 somewhere (.astype(np.float32), "
        f"dtype=np.float32). float32 keeps about 7 significant digits, and a gradient check, "
        f"whose centered differences (L(p + eps) - L(p - eps)) / (2 * eps) with eps = 1e-5 "
        f"divide that rounding error by 2e-5, needs every digit. Keep the whole computation in "
        f"float64.",
    )
    result = _call(gru_backward, case.dhs, case.x, case.h0, np.array(hs), case.params)
    grads = expect_keys(result, GRADIENT_NAMES, "gru_backward")
    errors = {}
    for name in inputs:
        errors["d" + name] = check_gradient(
            "d" + name,
            grads["d" + name],
            numerics["d" + name],
            threshold=threshold,
            analytic_mistakes=wrong["d" + name],
        )
    return errors
