"""Composite checks for the vanilla-RNN exercise (ex1), so that its test cells stay short and alike.

Every check compares with PyTorch (``references.py``) and passes the matching wrong answers from
``wrong_answers.py`` so that a failure names the likely mistake. Public and hidden tests call the
same checks on different :class:`~course_checks.references.RNNCase` draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_checks.calls import call, call_in_place, changed_arguments
from course_checks.compare import check_close, check_gradient, check_true, expect_keys, expect_tuple
from course_checks.ex1_rnn.references import (
    RNNCase,
    _describe,
    random_rnn_case,
    rnn_case,
    torch_clip_grad_norm,
    torch_hidden_gradient_norms,
    torch_rnn_cell_forward,
    torch_rnn_forward,
    torch_rnn_gradients,
)
from course_checks.ex1_rnn.wrong_answers import (
    backward_mistakes,
    cell_mistakes,
    clip_mistakes,
    finite_difference_mistakes,
    forward_mistakes,
    gradient_norm_mistakes,
)
from course_checks.gradients import backward_on_own_terms, numerical_gradient, others_note

__all__ = [
    "GRADIENT_NAMES",
    "check_clip_grad_norm",
    "check_hidden_gradient_norms",
    "check_numerical_gradient",
    "check_rnn_backward",
    "check_rnn_cell",
    "check_rnn_forward",
    "gradient_check",
]

GRADIENT_NAMES = ("dx", "dh0", "dW_x", "dW_h", "db")


def check_rnn_cell(rnn_cell_forward: Callable[..., Any], seed: int, B: int, D: int, H: int) -> None:
    """Check ``rnn_cell_forward(x_t, h_prev, W_x, W_h, b)`` against ``torch.nn.RNNCell``.

    Three cases: ``h_prev = 0`` (only the input term), ``x_t = 0`` (only the recurrent term)
    and both, so that a failure points at one term. Values drawn from ``seed``; use D != H, so
    that a transposed weight shows.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    x_t = rng.normal(size=(B, D))
    h_prev = rng.normal(size=(B, H))
    W_x = rng.normal(scale=0.5, size=(D, H))
    W_h = rng.normal(scale=0.5, size=(H, H))
    b = rng.normal(scale=0.5, size=H)
    cases = [
        ("h_prev = 0: only the input term x_t @ W_x + b", x_t, np.zeros((B, H))),
        ("x_t = 0: only the recurrent term h_prev @ W_h + b", np.zeros((B, D)), h_prev),
        ("both terms", x_t, h_prev),
    ]
    for label, x_case, h_case in cases:
        expected = torch_rnn_cell_forward(x_case, h_case, W_x, W_h, b)
        mistakes = cell_mistakes(x_case, h_case, W_x, W_h, b)
        h_t = call(rnn_cell_forward, x_case, h_case, W_x, W_h, b)
        check_close(
            f"h_t from rnn_cell_forward ({label})", h_t, expected, kind="numpy", mistakes=mistakes
        )


def check_rnn_forward(
    rnn_forward: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> None:
    """Check ``rnn_forward(x, h0, W_x, W_h, b)``: every state against ``torch.nn.RNN``'s."""
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    mistakes = forward_mistakes(case.x, case.h0, *case.weights)
    hs = call(rnn_forward, case.x, case.h0, *case.weights)
    check_close(
        f"hs from rnn_forward (T={T}, B={B}, D={D}, H={H})",
        hs,
        case.hs,
        kind="numpy",
        mistakes=mistakes,
    )


def check_numerical_gradient(
    numerical_gradient: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> None:
    """Check ``numerical_gradient(f, x)`` on the RNN loss ``L = sum(dhs ⊙ hs)`` of torch.nn.RNN.

    The loss does not depend on the student's rnn_forward, and the expected gradients come from
    torch autograd; for b, W_x and x (1-D, 2-D and 3-D arrays). ``f`` reads the arrays, which
    ``numerical_gradient`` changes in place and must restore: that is checked too.
    """
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    x, h0, W_x, W_h, b = case.x.copy(), case.h0, case.W_x.copy(), case.W_h, case.b.copy()
    expected = torch_rnn_gradients(x, h0, W_x, W_h, b, case.dhs)

    def loss(_: np.ndarray) -> float:  # reads the arrays, which numerical_gradient changes
        return float(np.sum(case.dhs * torch_rnn_forward(x, h0, W_x, W_h, b)))

    for name, array in [("b", b), ("W_x", W_x), ("x", x)]:  # 1-D, 2-D and 3-D arrays
        mistakes = finite_difference_mistakes(loss, array)
        numeric = call_in_place(numerical_gradient, loss, array)
        check_true(
            not changed_arguments(numerical_gradient),
            f"numerical_gradient changed its input {name}: restore each entry to its old "
            f"value after probing it.",
        )
        check_close(
            f"numerical_gradient of L with respect to {name}",
            numeric,
            expected["d" + name],
            atol=1e-8,
            kind="numpy",
            mistakes=mistakes,
        )


def check_hidden_gradient_norms(
    hidden_gradient_norms: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> None:
    """Check ``hidden_gradient_norms(dh_T, hs, W_h)`` against torch autograd through nn.RNN."""
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    dh_T = case.dhs[-1]
    expected = torch_hidden_gradient_norms(case.x, case.h0, *case.weights, dh_T)
    mistakes = gradient_norm_mistakes(dh_T, case.hs, case.W_h)
    norms = call(hidden_gradient_norms, dh_T, case.hs, case.W_h)
    check_close(
        f"norms from hidden_gradient_norms (T={T})",
        norms,
        expected,
        kind="numpy",
        mistakes=mistakes,
    )


def check_clip_grad_norm(
    clip_grad_norm: Callable[..., Any], seed: int, max_norm: float, D: int, H: int
) -> None:
    """Check ``clip_grad_norm(grads, max_norm)`` against ``torch.nn.utils.clip_grad_norm_``.

    The total norm, each clipped gradient, and that the arrays it was given are unchanged.
    """
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    grads = {
        "dW_x": rng.normal(size=(D, H)),
        "dW_h": rng.normal(size=(H, H)),
        "db": rng.normal(size=H),
    }
    expected, expected_total = torch_clip_grad_norm(grads, max_norm)
    wrong_clipped, wrong_totals = clip_mistakes(grads, max_norm)
    result = call(clip_grad_norm, grads, max_norm)
    unchanged = not changed_arguments(clip_grad_norm)
    clipped, total_norm = expect_tuple(result, ("clipped", "total_norm"), "clip_grad_norm")
    check_close(
        f"total_norm (max_norm = {max_norm})", total_norm, expected_total, mistakes=wrong_totals
    )
    clipped = expect_keys(clipped, tuple(grads), "clip_grad_norm's dict of clipped gradients")
    for name in grads:
        check_close(
            f"clipped {name} (total norm {expected_total:.3g}, max_norm = {max_norm})",
            clipped[name],
            expected[name],
            mistakes=wrong_clipped[name],
        )
    check_true(
        unchanged,
        "clip_grad_norm changed the arrays it was given: return rescaled copies in a new "
        "dict (g * scale makes a new array, g *= scale changes g).",
    )


def check_rnn_backward(
    rnn_backward: Callable[..., Any],
    quantity: str,
    case: RNNCase | None = None,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> None:
    """Check one gradient of ``rnn_backward``: ``quantity`` is dx, dh0, dW_x, dW_h or db.

    The case is drawn from ``seed`` with the sizes ``T, B, D, H`` (or given as ``case``).

    ``rnn_backward(dhs, x, h0, hs, W_x, W_h)`` gets torch's states ``hs``, so a wrong forward pass
    cannot make a right backward pass fail. The reference is torch autograd of ``sum(dhs ⊙ hs)``.
    When ``rnn_backward`` raises on a line that computes *another* gradient, this gradient is
    checked on the same case with ``B = D = H`` instead (see
    :func:`backward_on_own_terms`), so that the error costs only that gradient's test.
    """
    __tracebackhide__ = True
    case = rnn_case(case, seed, T, B, D, H)
    result, case = backward_on_own_terms(
        lambda c: call(rnn_backward, c.dhs, c.x, c.h0, c.hs, c.W_x, c.W_h),
        "rnn_backward",
        (quantity,),
        GRADIENT_NAMES,
        case,
        _square_rnn_case,
    )
    grads = expect_keys(result, GRADIENT_NAMES, "rnn_backward")
    expected = torch_rnn_gradients(case.x, case.h0, *case.weights, case.dhs)
    mistakes = backward_mistakes(case.dhs, case.x, case.h0, case.hs, case.W_x, case.W_h)
    check_close(
        f"{quantity} from rnn_backward ({_describe(case)})",
        grads[quantity],
        expected[quantity],
        kind="numpy",
        mistakes=mistakes[quantity],
        hint=others_note("rnn_backward", grads, expected, (quantity,)),
    )


def _square_rnn_case(case: RNNCase) -> RNNCase:
    """``case`` with ``B = D = H`` (rows and input columns repeated or cut), states recomputed."""
    _, B, D, H = case.sizes
    rows, columns = np.arange(H) % B, np.arange(H) % D
    x = case.x[:, rows][:, :, columns].copy()
    h0, dhs, W_x = case.h0[rows].copy(), case.dhs[:, rows].copy(), case.W_x[columns].copy()
    hs = torch_rnn_forward(x, h0, W_x, case.W_h, case.b)
    return RNNCase(x=x, h0=h0, W_x=W_x, W_h=case.W_h, b=case.b, dhs=dhs, hs=hs)


def gradient_check(
    rnn_forward: Callable[..., Any],
    rnn_backward: Callable[..., Any],
    case: RNNCase | None = None,
    threshold: float = 1e-7,
    *,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> dict[str, float]:
    """The student's ``rnn_backward`` against the course's finite differences of the RNN loss.

    The loss is ``L = sum(dhs ⊙ hs)``. The student's ``rnn_forward`` is checked first (to
    torch.nn.RNN's states, and in float64 to the last digits: the backward pass gets its states);
    then for each of the five inputs, the analytic gradient of ``rnn_backward`` and the centered
    differences of L (computed by the course, ``references.numerical_gradient``, on torch.nn.RNN:
    never the student's own ``numerical_gradient``, whose own test checks it) must agree to the
    course's relative error ``‖a − n‖ / (‖a‖ + ‖n‖)`` below ``threshold`` (one number per array).
    Returns the relative error of every gradient.
    """
    __tracebackhide__ = True
    case = rnn_case(case, seed, T, B, D, H)
    inputs = {
        "x": case.x.copy(),
        "h0": case.h0.copy(),
        "W_x": case.W_x.copy(),
        "W_h": case.W_h.copy(),
        "b": case.b.copy(),
    }

    def torch_loss(_: np.ndarray) -> float:  # numerical_gradient changes one entry at a time
        return float(np.sum(case.dhs * torch_rnn_forward(*inputs.values())))

    numerics = {"d" + name: numerical_gradient(torch_loss, array) for name, array in inputs.items()}
    wrong_backward = backward_mistakes(case.dhs, case.x, case.h0, case.hs, case.W_x, case.W_h)
    forward_wrong = forward_mistakes(case.x, case.h0, *case.weights)
    hs = call(rnn_forward, case.x, case.h0, *case.weights)
    check_close(
        f"hs from rnn_forward, the function the gradient check differentiates ({_describe(case)})",
        hs,
        case.hs,
        kind="numpy",
        mistakes=forward_wrong,
    )
    _check_float64_states("rnn_forward", hs, case.hs)
    grads = call(rnn_backward, case.dhs, case.x, case.h0, hs, case.W_x, case.W_h)
    grads = expect_keys(grads, GRADIENT_NAMES, "rnn_backward")
    errors = {}
    for name in GRADIENT_NAMES:
        errors[name] = check_gradient(
            name,
            grads[name],
            numerics[name],
            threshold=threshold,
            analytic_mistakes=wrong_backward[name],
        )
    return errors


def _check_float64_states(what: str, hs: Any, expected: np.ndarray) -> None:
    """Fail when ``hs`` is right to 1e-6 but rounds through float32 (float64 code: ~1e-15)."""
    __tracebackhide__ = True
    rounding = float(np.max(np.abs(np.asarray(hs, dtype=np.float64) - expected)))
    check_true(
        not rounding > 1e-11,
        f"Your {what} differs from torch by {rounding:.1e}, where float64 code agrees to about "
        f"1e-15: it rounds through float32 somewhere (.astype(np.float32), dtype=np.float32). "
        f"float32 keeps about 7 significant digits, and a gradient check, whose centered "
        f"differences (L(p + eps) - L(p - eps)) / (2 * eps) with eps = 1e-5 divide that rounding "
        f"error by 2e-5, needs every digit. Keep the whole computation in float64.",
    )
