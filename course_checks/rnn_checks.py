"""Composite checks for the vanilla-RNN exercise (ex1), so that its test cells stay short and alike.

Every check compares with PyTorch (``references.py``) and passes the matching wrong answers from
``wrong_answers.py`` so that a failure names the likely mistake. Public and hidden tests call the
same checks on different :class:`~course_checks.references.RNNCase` draws.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from .compare import (
    CheckFailure,
    as_numpy,
    call,
    call_in_place,
    changed_arguments,
    check_close,
    check_gradient,
    check_true,
    check_uniform_spread,
    crash_target,
    expect_keys,
    expect_tuple,
)
from .guards import check_no_builtin_rnn_modules, no_builtin_rnn
from .probes import attempt, backward, outcome, parameter_facts, recorded_gradients, run_probe
from .references import (
    RNNCase,
    numerical_gradient,
    numpy_weights_from_torch,
    random_rnn_case,
    torch_clip_grad_norm,
    torch_hidden_gradient_norms,
    torch_rnn_cell_forward,
    torch_rnn_forward,
    torch_rnn_gradients,
)
from .wrong_answers import (
    backward_mistakes,
    cell_mistakes,
    clip_mistakes,
    finite_difference_mistakes,
    forward_mistakes,
    gradient_norm_mistakes,
    load_mistakes,
    unrolled_gradient_mistakes,
)

__all__ = [
    "GRADIENT_NAMES",
    "backward_on_own_terms",
    "check_clip_grad_norm",
    "check_hidden_gradient_norms",
    "check_loaded_weights",
    "check_module_gradients",
    "check_numerical_gradient",
    "check_rnn_backward",
    "check_rnn_cell",
    "check_rnn_device",
    "check_rnn_forward",
    "check_rnn_h0_default",
    "check_rnn_load_from_torch",
    "check_rnn_module",
    "check_rnn_outputs",
    "check_rnn_parameters",
    "check_torch_rnn_step",
    "gradient_check",
    "others_note",
    "run_rnn_module",
    "set_rnn_parameters",
    "state_cut_message",
]

GRADIENT_NAMES = ("dx", "dh0", "dW_x", "dW_h", "db")
PARAMETER_SHAPES = {"W_x": ("D", "H"), "W_h": ("H", "H"), "b": ("H",)}
# The inputs of rnn_step, and the names of their gradients in torch_rnn_gradients.
STEP_INPUTS = {"x_t": "dx", "h_prev": "dh0", "W_x": "dW_x", "W_h": "dW_h", "b": "db"}


def _describe(case: RNNCase) -> str:
    T, B, D, H = case.sizes
    steps = "1 time step" if T == 1 else f"{T} time steps"
    return f"{steps}, B={B}, D={D}, H={H}"


def rnn_case(
    case: RNNCase | None = None,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> RNNCase:
    """``case``, or the :func:`~course_checks.references.random_rnn_case` of ``seed`` and sizes.

    Test cells pass a seed and sizes, so that the case, which holds torch's states, is made here
    and never reaches the notebook's namespace.
    """
    if case is not None:
        return case
    if None in (seed, T, B, D, H):
        raise TypeError("pass a case, or seed= and the sizes T=, B=, D=, H=")
    return random_rnn_case(seed, T, B, D, H)  # type: ignore[arg-type]


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


def backward_on_own_terms(
    run: Callable[[Any], Any],
    what: str,
    own: tuple[str, ...],
    names: tuple[str, ...],
    case: Any,
    square: Callable[[Any], Any],
) -> tuple[Any, Any]:
    """``(run(case), case)``; after an error on a line that computes another gradient, a retry.

    ``run`` calls the student's backward pass on a case. When it raises and the line that raised
    (:func:`~course_checks.compare.crash_target`) assigns to one of ``names`` that is not in
    ``own`` (the quantities this test checks), the batch size may be what trips that line (an
    axis slip between the batch, input and hidden axes): the pass runs again on ``square(case)``,
    the same case with ``B = D = H``, and this test checks its own quantities there. The error
    is that other gradient's test's to report. Anything else is raised as it is.
    """
    __tracebackhide__ = True
    try:
        return run(case), case
    except CheckFailure as failure:
        target = crash_target(str(failure))
        if target is not None and target not in names and "d" + target in names:
            target = "d" + target  # grads["W_xr"] += … computes dW_xr
        _, B, D, H = case.sizes
        if target not in names or target in own or B == D == H:
            raise
        retry = square(case)
        try:
            result = run(retry)
        except CheckFailure:
            raise failure from None
        print(
            f"{what} raised an error on a case with B={B}, D={D}, H={H}, on the line that "
            f"computes {target} (its own test reports it); {', '.join(own)} is checked on the "
            f"same case with B = D = H = {H} instead, where that line runs."
        )
        return result, retry


def others_note(
    what: str, grads: Mapping[str, Any], expected: Mapping[str, np.ndarray], own: tuple[str, ...]
) -> str:
    """Which of the other gradients that ``what`` returned match PyTorch's, and which do not."""
    right, wrong = [], []
    for key, value in expected.items():
        if key in own:
            continue
        try:
            got = np.asarray(as_numpy(grads.get(key)), dtype=np.float64)
        except (TypeError, ValueError):
            wrong.append(key)
            continue
        good = got.shape == value.shape and bool(np.allclose(got, value, atol=1e-6, rtol=0))
        (right if good else wrong).append(key)
    if not wrong:
        return f"The other gradients of {what} ({', '.join(right)}) match PyTorch's on this case."
    return (
        f"Of the other gradients of {what}, "
        + (f"{', '.join(right)} match PyTorch's and " if right else "")
        + f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not, on this case."
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
    for name, key in STEP_INPUTS.items():
        check_true(
            grads[name] is not None,
            f"{name}.grad is None after backward(): rnn_step must use {name} through torch "
            f"operations (no .numpy(), .detach() or .data).",
        )
        check_close(
            f"the gradient of sum(g * h_t) with respect to {name} (autograd through rnn_step)",
            grads[name],
            expected[key],
            kind="torch",
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


def check_rnn_h0_default(
    module_class: Callable[..., Any], seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model(x)`` without ``h0`` starts from zeros of ``x``'s dtype and device."""
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    runs = run_probe(_probe_rnn_runs, module_class, seed, (T, B, D, H), ("zeros",), guarded=False)
    zeros = np.zeros((B, H))
    return check_rnn_outputs("RNNFromScratch with h0=None", *runs[0], case.x, zeros, *case.weights)


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


def _probe_rnn_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> dict[str, Any]:
    """Move the student's module to ``device``: where its parameters went, and a run there."""
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    model = _new_rnn(module_class, case).to(device)
    on = {name: p.device.type for name, p in model.named_parameters()}
    run = attempt(run_rnn_module, model, torch.from_numpy(case.x).to(device))  # h0=None
    devices = [str(getattr(v, "device", None)) for v in run.get("value", ())]
    return {"parameters": on, "run": run, "devices": devices}


def check_rnn_device(
    module_class: Callable[..., Any], device: str, seed: int, T: int, B: int, D: int, H: int
) -> float:
    """``model.to(device)`` moves the parameters; forward on ``device`` returns tensors there."""
    __tracebackhide__ = True
    case = random_rnn_case(seed, T, B, D, H)
    result = run_probe(_probe_rnn_device, module_class, device, seed, T, B, D, H)
    on = result["parameters"]
    check_true(
        set(PARAMETER_SHAPES) <= set(on),
        f"model.to({device!r}) moved only the registered parameters {sorted(on)}: W_x, W_h "
        f"and b must be nn.Parameter attributes to move with the module.",
    )
    kind = torch.device(device).type
    check_true(
        all(value == kind for value in on.values()),
        f"after model.to({device!r}) the parameters are on {on}.",
    )
    hs, h_n = outcome(result["run"])
    difference = check_rnn_outputs(
        f"RNNFromScratch on {device}", hs, h_n, case.x, np.zeros((B, H)), *case.weights
    )
    hs_device, h_n_device = result["devices"]
    check_true(
        torch.device(hs_device).type == torch.device(h_n_device).type == kind,
        f"for an input on {device} forward returned tensors on {hs_device} and "
        f"{h_n_device}: create new tensors with device=x.device.",
    )
    return difference


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


def state_cut_message(state: str, what: str) -> str:
    """Why ``<state>.grad`` is None when the outputs, already checked, do depend on ``state``.

    The outputs matched those of the built-in module started from the given state, so the
    state was used: what stops the gradient is a cut in the graph, not an ignored argument.
    """
    return (
        f"{state}.grad is None after loss.backward(), although the outputs of {what} match "
        f"those computed from the given {state}, so your forward uses its values: the state "
        f"leaves the graph somewhere. A .detach() or .data on the state (at the start, or at "
        f"every step), a copy built from its values (torch.tensor(...), .numpy()), or a new "
        f"tensor filled from it cut the gradient that must flow back through time to {state}. "
        f"Use the given tensor itself in torch operations."
    )
