"""Composite checks for the vanilla-RNN exercise (ex1), so that its test cells stay short and alike.

Every check compares with PyTorch (``references.py``) and passes the matching wrong answers from
``wrong_answers.py`` so that a failure names the likely mistake. Public and hidden tests call the
same checks on different :class:`~course_checks.references.RNNCase` draws.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from .compare import call, check_close, check_true, check_uniform_init, expect_keys, expect_tuple
from .guards import check_no_builtin_rnn_modules, no_builtin_rnn
from .references import (
    RNNCase,
    numpy_weights_from_torch,
    torch_rnn_cell_forward,
    torch_rnn_forward,
    torch_rnn_gradients,
)
from .wrong_answers import (
    backward_mistakes,
    cell_mistakes,
    forward_mistakes,
    load_mistakes,
    unrolled_gradient_mistakes,
)

__all__ = [
    "GRADIENT_NAMES",
    "check_loaded_weights",
    "check_module_gradients",
    "check_rnn_backward",
    "check_rnn_outputs",
    "check_rnn_parameters",
    "check_torch_rnn_step",
    "run_rnn_module",
    "set_rnn_parameters",
]

GRADIENT_NAMES = ("dx", "dh0", "dW_x", "dW_h", "db")
PARAMETER_SHAPES = {"W_x": ("D", "H"), "W_h": ("H", "H"), "b": ("H",)}


def _describe(case: RNNCase) -> str:
    T, B, D, H = case.sizes
    steps = "1 time step" if T == 1 else f"{T} time steps"
    return f"{steps}, B={B}, D={D}, H={H}"


def check_rnn_backward(rnn_backward: Callable[..., Any], quantity: str, case: RNNCase) -> None:
    """Check one gradient of ``rnn_backward``: ``quantity`` is dx, dh0, dW_x, dW_h or db.

    ``rnn_backward(dhs, x, h0, hs, W_x, W_h)`` gets torch's states ``hs``, so a wrong forward pass
    cannot make a right backward pass fail. The reference is torch autograd of ``sum(dhs ⊙ hs)``.
    """
    __tracebackhide__ = True
    result = call(rnn_backward, case.dhs, case.x, case.h0, case.hs, case.W_x, case.W_h)
    grads = expect_keys(result, GRADIENT_NAMES, "rnn_backward")
    expected = torch_rnn_gradients(case.x, case.h0, *case.weights, case.dhs)
    mistakes = backward_mistakes(case.dhs, case.x, case.h0, case.hs, case.W_x, case.W_h)
    check_close(
        f"{quantity} from rnn_backward ({_describe(case)})",
        grads[quantity],
        expected[quantity],
        kind="numpy",
        mistakes=mistakes[quantity],
    )


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
    rng = np.random.default_rng(seed)
    x_t, h_prev = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    W_x, W_h = rng.normal(scale=0.5, size=(D, H)), rng.normal(scale=0.5, size=(H, H))
    b, g = rng.normal(scale=0.5, size=H), rng.normal(size=(B, H))
    cases = [
        ("h_prev = 0: only the input term x_t @ W_x + b", x_t, np.zeros((B, H))),
        ("x_t = 0: only the recurrent term h_prev @ W_h + b", np.zeros((B, D)), h_prev),
        ("both terms", x_t, h_prev),
    ]
    for label, x_case, h_case in cases:
        inputs = [torch.from_numpy(a).clone().requires_grad_(True) for a in (x_case, h_case)]
        weights = [torch.from_numpy(a).clone().requires_grad_(True) for a in (W_x, W_h, b)]
        with no_builtin_rnn() if guarded else contextlib.nullcontext():
            h_t = call(rnn_step, *inputs, *weights)
        check_close(
            f"h_t from rnn_step ({label})",
            h_t,
            torch_rnn_cell_forward(x_case, h_case, W_x, W_h, b),
            kind="torch",
            mistakes=cell_mistakes(x_case, h_case, W_x, W_h, b),
        )
    check_true(
        h_t.requires_grad,
        "The h_t returned by rnn_step does not require grad, so autograd cannot differentiate "
        "it. Compute it with torch operations on the tensors you are given: no .numpy(), "
        ".detach(), .data, or new tensors built from their values.",
    )
    (h_t * torch.from_numpy(g)).sum().backward()
    expected = torch_rnn_gradients(x_t[None], h_prev, W_x, W_h, b, g[None])
    expected["dx"] = expected["dx"][0]
    names = {"x_t": "dx", "h_prev": "dh0", "W_x": "dW_x", "W_h": "dW_h", "b": "db"}
    for (name, key), tensor in zip(names.items(), [*inputs, *weights], strict=True):
        check_true(
            tensor.grad is not None,
            f"{name}.grad is None after backward(): rnn_step must use {name} through torch "
            f"operations (no .numpy(), .detach() or .data).",
        )
        check_close(
            f"the gradient of sum(g * h_t) with respect to {name} (autograd through rnn_step)",
            tensor.grad,
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
    """Call ``model(x)`` or ``model(x, h0)`` and check that it returns two items ``(hs, h_T)``."""
    __tracebackhide__ = True
    result = call(model, x) if h0 is None else call(model, x, h0)
    hs, h_T = expect_tuple(result, ("hs", "h_T"), "RNNFromScratch.forward")
    return hs, h_T


def check_rnn_outputs(
    what: str,
    hs: Any,
    h_T: Any,
    x: np.ndarray,
    h0: np.ndarray,
    W_x: np.ndarray,
    W_h: np.ndarray,
    b: np.ndarray,
    mistakes: Mapping[str, Any] | None = None,
) -> float:
    """Check ``hs (T, B, H)`` and ``h_T (B, H)`` against ``torch.nn.RNN``; return the max abs diff.

    Args:
        what: where the outputs come from, in words (used in messages).
        hs, h_T: the module's outputs (torch tensors).
        x, h0, W_x, W_h, b: the inputs and NumPy-layout weights of the reference ``torch.nn.RNN``.
        mistakes: more known wrong outputs ``hs`` (e.g. from wrongly loaded weights).
    """
    __tracebackhide__ = True
    expected = torch_rnn_forward(x, h0, W_x, W_h, b)
    known = {**forward_mistakes(x, h0, W_x, W_h, b), **(mistakes or {})}
    check_close(f"hs from {what}", hs, expected, kind="torch", mistakes=known)
    check_close(
        f"h_T from {what}",
        h_T,
        expected[-1],
        kind="torch",
        mistakes={
            "h_T is the state after the last step, hs[-1]; you returned h0": h0,
            "h_T is the state after the last step, hs[-1]; you returned the first state": (
                expected[0]
            ),
        },
    )
    difference = max(
        float(np.max(np.abs(hs.detach().cpu().numpy() - expected))),
        float(np.max(np.abs(h_T.detach().cpu().numpy() - expected[-1]))),
    )
    return difference


def check_rnn_parameters(model: torch.nn.Module, D: int, H: int) -> None:
    """Check the parameters of a from-scratch RNN module.

    It must register exactly ``W_x (D, H)``, ``W_h (H, H)`` and ``b (H,)`` as float64
    ``nn.Parameter``s, initialised like ``torch.nn.RNN`` (uniform on ``[−1/√H, 1/√H]``), and hold
    no built-in recurrent module.
    """
    __tracebackhide__ = True
    check_no_builtin_rnn_modules(model)
    registered = dict(model.named_parameters())
    sizes = {"D": D, "H": H}
    for name, letters in PARAMETER_SHAPES.items():
        value = getattr(model, name, None)
        check_true(
            value is not None,
            f"RNNFromScratch has no attribute {name}: store the parameters as self.W_x, self.W_h "
            f"and self.b.",
        )
        check_true(
            isinstance(value, torch.nn.Parameter) and registered.get(name) is value,
            f"self.{name} is a plain {type(value).__name__}, not an nn.Parameter, so the module "
            f"does not register it: model.parameters() leaves it out, an optimizer would not train "
            f"it and model.to(device) would not move it. Wrap it: self.{name} = nn.Parameter(...).",
        )
        shape = tuple(sizes[letter] for letter in letters)
        transposed = len(shape) == 2 and tuple(value.shape) == shape[::-1] and shape[0] != shape[1]
        check_true(
            tuple(value.shape) == shape,
            f"self.{name} has shape {tuple(value.shape)}, expected {shape} "
            f"({' × '.join(letters)}; this course's layout is x_t @ W_x with W_x of shape (D, H))."
            + (" It is transposed (PyTorch's own layout)." if transposed else ""),
        )
        check_true(
            value.dtype == torch.float64,
            f"self.{name} has dtype {value.dtype}; create the parameters in float64 "
            f"(dtype=torch.float64 by default): float32 is too imprecise for the checks.",
        )
    extra = sorted(set(registered) - set(PARAMETER_SHAPES))
    check_true(
        not extra,
        f"RNNFromScratch has extra parameters {extra}; it needs exactly W_x, W_h and b.",
    )
    bound = 1.0 / math.sqrt(H)
    for name in ("W_x", "W_h"):
        check_uniform_init(name, getattr(model, name).detach(), bound, like="nn.RNN")
    b = model.b.detach()
    check_true(
        float(b.abs().max()) <= 2 * bound + 1e-12,
        f"self.b has values up to {float(b.abs().max()):.3g} in absolute value; initialise it "
        f"uniform on [-1/sqrt(H), 1/sqrt(H)] (or zeros).",
    )


def check_module_gradients(module_class: type[torch.nn.Module], case: RNNCase) -> None:
    """Check the autograd gradients of a from-scratch RNN module against ``torch.nn.RNN``'s.

    The loss is ``L = sum(dhs ⊙ hs) + sum(dh_T ⊙ h_T)`` with ``dh_T = dhs[0]`` (any fixed array
    would do); gradients w.r.t. ``W_x, W_h, b``, the input ``x`` and ``h0`` are compared.
    """
    __tracebackhide__ = True
    _, _, D, H = case.sizes
    model = call(module_class, D, H)
    set_rnn_parameters(model, *case.weights)
    x = torch.from_numpy(case.x).clone().requires_grad_(True)
    h0 = torch.from_numpy(case.h0).clone().requires_grad_(True)
    hs, h_T = run_rnn_module(model, x, h0)
    check_rnn_outputs("RNNFromScratch", hs, h_T, case.x, case.h0, *case.weights)
    dh_T = case.dhs[0]
    loss = (hs * torch.from_numpy(case.dhs)).sum() + (h_T * torch.from_numpy(dh_T)).sum()
    check_true(
        loss.requires_grad,
        "The outputs of RNNFromScratch do not require grad, so no gradient can flow back to "
        "the parameters: forward and rnn_step must use them and the inputs through torch "
        "operations (no .numpy(), .detach() or .data).",
    )
    loss.backward()
    upstream = case.dhs.copy()
    upstream[-1] += dh_T  # h_T is hs[-1]: its gradient adds to that of the last state
    expected = torch_rnn_gradients(case.x, case.h0, *case.weights, upstream)
    mistakes = unrolled_gradient_mistakes(
        case.dhs, dh_T, case.x, case.h0, case.hs, case.W_x, case.W_h
    )
    gradients = {
        "dW_x": ("model.W_x.grad", model.W_x.grad),
        "dW_h": ("model.W_h.grad", model.W_h.grad),
        "db": ("model.b.grad", model.b.grad),
        "dx": ("x.grad", x.grad),
        "dh0": ("h0.grad", h0.grad),
    }
    for key, (label, grad) in gradients.items():
        check_true(
            grad is not None,
            f"{label} is None after loss.backward(): no gradient reached it. Parameters must be "
            f"nn.Parameter (requires_grad=True), and forward must use them and the inputs without "
            f".detach(), .data or .numpy().",
        )
        check_close(
            f"{label} ({_describe(case)})",
            grad,
            expected[key],
            kind="torch",
            mistakes=mistakes[key],
        )
