"""Checks of Exercise 6's NumPy notebook (``ex6_seq2seq/attention_numpy``): additive attention.

The scores, the masked softmax, the context and the forward pass are compared with PyTorch
(``references.py``) on a batch whose sources have different lengths, with random values at the
padding (which must get no weight); the masked softmax also on scores of magnitude 1000, on
padded scores far above the real ones and on columns far apart, where only a stable formula that
masks before it normalises stays finite. The backward pass is compared with autograd, then with
the course's finite differences (NOTATION.md's rule). Each check passes the values of the known
mistakes (``wrong_answers.py``), so that a failure names the likely one; public and hidden tests
call the same checks on other seeds, sizes and masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_checks.calls import call_with_shapes, changed_arguments
from course_checks.compare import (
    check_close,
    check_gradient,
    check_true,
    expect_keys,
    expect_tuple,
    rel_error,
)
from course_checks.ex6_seq2seq.references import (
    GRADIENT_NAMES,
    AttentionCase,
    attention_loss,
    random_attention_case,
    random_mask,
    torch_attention,
    torch_attention_gradients,
    torch_context,
    torch_masked_softmax,
    torch_scores,
)
from course_checks.ex6_seq2seq.wrong_answers import (
    backward_mistakes,
    context_mistakes,
    forward_mistakes,
    score_mistakes,
    softmax_mistakes,
)
from course_checks.gradients import numerical_gradient
from course_checks.probes import attempt, outcome, run_probe

__all__ = [
    "ATTENTION_SHAPES",
    "BACKWARD_GROUPS",
    "check_attention_backward",
    "check_attention_context",
    "check_attention_forward",
    "check_attention_scores",
    "check_masked_softmax",
    "gradient_check",
    "score_cases",
]

ATTENTION_SHAPES = (
    "Shapes: sequences are time-major: the annotations Hs are (S, B, He), one row per source "
    "position and sequence; the decoder state s is (B, Hd); W_a is (Hd, A), U_a is (He, A) and "
    "v_a is (A,); the scores e and the weights alpha are (S, B), the context c is (B, He). "
    "s @ W_a is (B, A) and broadcasts against Hs @ U_a, (S, B, A); sum over the source "
    "positions with axis=0."
)
_SCORES = (
    "e[j, b] = tanh(s[b] @ W_a + Hs[j, b] @ U_a) @ v_a for every source position j and sequence "
    "b: s @ W_a (B, A) broadcasts against Hs @ U_a (S, B, A)."
)
_SOFTMAX = (
    "alpha[:, b] is the softmax of e[:, b] over the real positions (mask[:, b] True): set the "
    "padded scores to -inf, subtract each column's max, exponentiate and divide by the column's "
    "sum, all over axis 0."
)
_CONTEXT = "c[b] = Σ_j alpha[j, b] Hs[j, b]: (alpha[..., None] * Hs).sum(axis=0), shape (B, He)."
_BACKWARD = (
    "with dalpha[j, b] = dc[b] · Hs[j, b]: de = alpha ⊙ (dalpha − Σ_j alpha ⊙ dalpha), "
    "da = de[..., None] v_a ⊙ (1 − t²) with t = tanh(s W_a + Hs U_a); ds = Σ_j da[j] @ W_a.T, "
    "dHs = alpha[..., None] dc + da @ U_a.T, dW_a = s.T @ Σ_j da[j], dU_a = Σ_{j,b} Hs[j, b].T "
    "da[j, b], dv_a = Σ_{j,b} de[j, b] t[j, b]."
)
# The groups of gradients that the two backward tests check.
BACKWARD_GROUPS = {"inputs": ("ds", "dHs"), "parameters": ("dW_a", "dU_a", "dv_a")}


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``calls.call``, with the attention's shapes in the hint that follows a shape error."""
    __tracebackhide__ = True
    return call_with_shapes(ATTENTION_SHAPES, function, *args)


def _case(seed: int, S: int, B: int, Hd: int, He: int, A: int) -> AttentionCase:
    return random_attention_case(seed, S, B, Hd, He, A)


# ----------------------------------------------------------------------------- the scores


def check_attention_scores(
    attention_scores: Callable[..., Any], seed: int, S: int, B: int, Hd: int, He: int, A: int
) -> None:
    """``attention_scores(s, Hs, W_a, U_a, v_a)`` against PyTorch's ``tanh(s W_a + Hs U_a) v_a``.

    Twice: on the case, and with the state set to zero, where only ``Hs U_a`` remains (a wrong
    use of ``s`` then shows as a difference on the first case only).
    """
    __tracebackhide__ = True
    case = _case(seed, S, B, Hd, He, A)
    for label, s in (("", case.s), ("; the decoder state s set to 0", np.zeros_like(case.s))):
        args = (s, case.Hs, case.W_a, case.U_a, case.v_a)
        got = _call(attention_scores, *(np.array(a) for a in args))
        check_close(
            f"e from attention_scores ({case.describe()}{label})",
            got,
            torch_scores(*args),
            kind="numpy",
            mistakes=score_mistakes(*args),
            hint=_SCORES,
        )


# ------------------------------------------------------------------------ the masked softmax


def score_cases(seed: int, S: int, B: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, e, mask)``: moderate scores; scores of magnitude 1000; padded scores far above
    the real ones; columns far apart (``B ≥ 2``). Each with its own random mask."""
    rng = np.random.default_rng(seed)
    masks = [random_mask(rng, S, B) for _ in range(4)]
    moderate = rng.normal(size=(S, B))
    large = 1000.0 * rng.normal(size=(S, B))
    high = np.where(masks[2], rng.normal(size=(S, B)), 1000.0 + 10 * rng.normal(size=(S, B)))
    offsets = rng.permutation(np.linspace(-1000.0, 1000.0, B))
    apart = rng.normal(size=(S, B)) + offsets[None, :]
    sizes = f"S={S}, B={B}"

    def lengths(mask: np.ndarray) -> str:
        return ", ".join(str(int(n)) for n in mask.sum(0))

    return [
        (
            f"moderate scores, standard normal; {sizes}; source lengths {lengths(masks[0])}",
            moderate,
            masks[0],
        ),
        (
            f"large scores, standard deviation 1000, where exp(e) overflows; {sizes}; source "
            f"lengths {lengths(masks[1])}",
            large,
            masks[1],
        ),
        (
            f"the padded positions' scores about 1000 above the real ones; {sizes}; source "
            f"lengths {lengths(masks[2])}",
            high,
            masks[2],
        ),
        (
            f"columns far apart: each column shifted by its own offset, from −1000 to +1000; "
            f"{sizes}; source lengths {lengths(masks[3])}",
            apart,
            masks[3],
        ),
    ]


def check_masked_softmax(masked_softmax: Callable[..., Any], seed: int, S: int, B: int) -> None:
    """``masked_softmax(e, mask)`` against ``torch.softmax(e.masked_fill(~mask, -inf), dim=0)``
    on :func:`score_cases`: exactly 0 at the padding, and ``e`` left unchanged."""
    __tracebackhide__ = True
    for label, e, mask in score_cases(seed, S, B):
        got = _call(masked_softmax, e.copy(), mask.copy())
        check_true(
            not changed_arguments(masked_softmax),
            "masked_softmax changed its input e (or mask) in place (e[...] = ..., e -= ...): "
            "compute the result in a new array, np.where(mask, e, -np.inf), so that the caller's "
            "scores stay as they were.",
        )
        expected = torch_masked_softmax(e, mask)
        check_close(
            f"alpha from masked_softmax ({label})",
            got,
            expected,
            kind="numpy",
            mistakes=softmax_mistakes(e, mask),
            hint=_SOFTMAX,
            nan_matches=True,
        )
        padded = np.asarray(got, dtype=np.float64)[~mask]
        if np.any(padded != 0):
            check_true(
                False,
                f"alpha from masked_softmax ({label}) gives the padded positions weights up to "
                f"{float(np.max(np.abs(padded))):.2g}, not exactly 0: set their scores to -inf "
                f"(np.where(mask, e, -np.inf)) before the softmax, so that exp gives exactly 0 "
                f"there.",
            )


# ------------------------------------------------------------------------------- the context


def check_attention_context(
    attention_context: Callable[..., Any], seed: int, S: int, B: int, He: int
) -> None:
    """``attention_context(alpha, Hs)``: ``Σ_j alpha[j, b] Hs[j, b]``, with PyTorch's weights
    (zero at the padding, whose annotations are random)."""
    __tracebackhide__ = True
    case = _case(seed, S, B, 3, He, 2)
    alpha = torch_attention(*case.arrays)["alpha"]
    got = _call(attention_context, alpha.copy(), case.Hs.copy())
    check_close(
        f"c from attention_context ({case.describe()})",
        got,
        torch_context(alpha, case.Hs),
        kind="numpy",
        mistakes=context_mistakes(alpha, case.Hs),
        hint=_CONTEXT,
    )


# ----------------------------------------------------------------------------- the forward pass


def _forward_values(result: Any, what: str) -> tuple[Any, Any]:
    """``(c, alpha)`` of a forward pass's ``(c, alpha, cache)``."""
    __tracebackhide__ = True
    c, alpha, _ = expect_tuple(result, ("c", "alpha", "cache"), what)
    return c, alpha


def _check_forward_values(c: Any, alpha: Any, case: AttentionCase, what: str) -> None:
    __tracebackhide__ = True
    expected = torch_attention(*case.arrays)
    wrong = forward_mistakes(*case.arrays)
    check_close(
        f"alpha from {what} ({case.describe()})",
        alpha,
        expected["alpha"],
        kind="numpy",
        mistakes=wrong["alpha"],
        hint="alpha = masked_softmax(attention_scores(s, Hs, W_a, U_a, v_a), mask): if the "
        "tests of those functions fail, fix them first.",
        nan_matches=True,
    )
    check_close(
        f"c from {what} ({case.describe()})",
        c,
        expected["c"],
        kind="numpy",
        mistakes=wrong["c"],
        hint="c = attention_context(alpha, Hs), with the weights alpha returned.",
        nan_matches=True,
    )


def check_attention_forward(
    attention_forward: Callable[..., Any], seed: int, S: int, B: int, Hd: int, He: int, A: int
) -> None:
    """``attention_forward(s, Hs, mask, W_a, U_a, v_a)`` returns ``(c, alpha, cache)`` with
    PyTorch's context and weights (the cache is the student's own, for the backward pass)."""
    __tracebackhide__ = True
    case = _case(seed, S, B, Hd, He, A)
    result = _call(attention_forward, *case.arrays)
    c, alpha = _forward_values(result, "attention_forward")
    _check_forward_values(c, alpha, case, "attention_forward")


# ---------------------------------------------------------------------------- the backward pass


def _probe_backward(
    attention_forward: Callable[..., Any],
    attention_backward: Callable[..., Any],
    seed: int,
    sizes: dict[str, int],
) -> dict[str, Any]:
    """The student's forward pass, then their backward pass on its cache: the context, the
    weights and the gradients, as data (the cache itself stays in the kernel)."""
    __tracebackhide__ = True
    case = _case(seed, *(sizes[k] for k in ("S", "B", "Hd", "He", "A")))
    facts: dict[str, Any] = {}
    forward = attempt(_call, attention_forward, *case.arrays)
    if "failure" in forward:
        return {"forward": forward}
    result = forward["value"]
    if not (isinstance(result, tuple | list) and len(result) == 3):
        return {"forward": {"value": result}}
    c, alpha, cache = result
    facts["forward"] = {"value": (c, alpha, None)}
    backward = attempt(_call, attention_backward, case.dc.copy(), cache)
    if "value" in backward and isinstance(backward["value"], Mapping):
        backward["value"] = {key: backward["value"][key] for key in backward["value"]}
    facts["backward"] = backward
    return facts


def _student_gradients(
    attention_forward: Callable[..., Any],
    attention_backward: Callable[..., Any],
    case: AttentionCase,
    seed: int,
    sizes: dict[str, int],
) -> Mapping[str, Any]:
    """The student's gradients on ``case``, after their forward pass was checked on it."""
    __tracebackhide__ = True
    facts = run_probe(_probe_backward, attention_forward, attention_backward, seed, sizes)
    c, alpha = _forward_values(outcome(facts["forward"]), "attention_forward")
    _check_forward_values(
        c,
        alpha,
        case,
        "attention_forward, whose cache the backward pass reads (its own test says more)",
    )
    grads = outcome(facts["backward"])
    return expect_keys(grads, GRADIENT_NAMES, "attention_backward")


def check_attention_backward(
    attention_forward: Callable[..., Any],
    attention_backward: Callable[..., Any],
    group: str,
    seed: int,
    S: int,
    B: int,
    Hd: int,
    He: int,
    A: int,
) -> None:
    """One group of ``attention_backward(dc, cache)``'s gradients (``"inputs"``: ``ds``, ``dHs``;
    ``"parameters"``: ``dW_a``, ``dU_a``, ``dv_a``) against autograd of ``L = Σ dc ⊙ c``, the
    cache from the student's ``attention_forward`` on the same case."""
    __tracebackhide__ = True
    sizes = {"S": S, "B": B, "Hd": Hd, "He": He, "A": A}
    case = _case(seed, S, B, Hd, He, A)
    grads = _student_gradients(attention_forward, attention_backward, case, seed, sizes)
    arrays = (*case.arrays, case.dc)
    expected = torch_attention_gradients(*arrays)
    wrong = backward_mistakes(*arrays)
    right = {k for k in GRADIENT_NAMES if _matches(grads.get(k), expected[k])}
    for key in BACKWARD_GROUPS[group]:
        good = [k for k in GRADIENT_NAMES if k != key and k in right]
        note = (
            f" Of the other gradients, {', '.join(good) or 'none'} match"
            f"{'es' if len(good) == 1 else ''} PyTorch's on this case."
        )
        check_close(
            f"{key} from attention_backward ({case.describe()})",
            grads[key],
            expected[key],
            kind="numpy",
            mistakes=wrong[key],
            hint=_BACKWARD + note,
        )


def _matches(value: Any, expected: np.ndarray) -> bool:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.shape == expected.shape and bool(np.allclose(array, expected, atol=1e-6))


def gradient_check(
    attention_forward: Callable[..., Any],
    attention_backward: Callable[..., Any],
    seed: int,
    S: int,
    B: int,
    Hd: int,
    He: int,
    A: int,
    threshold: float = 1e-7,
) -> dict[str, float]:
    """The student's gradients (their forward pass's cache, their backward pass) against the
    course's centered differences of ``L = Σ dc ⊙ c`` computed with PyTorch (never a function of
    the notebook's): one relative error per array, below ``threshold`` (NOTATION.md). Returns the
    errors by name."""
    __tracebackhide__ = True
    sizes = {"S": S, "B": B, "Hd": Hd, "He": He, "A": A}
    case = _case(seed, S, B, Hd, He, A)
    grads = _student_gradients(attention_forward, attention_backward, case, seed, sizes)
    inputs = {
        "s": case.s.copy(),
        "Hs": case.Hs.copy(),
        "W_a": case.W_a.copy(),
        "U_a": case.U_a.copy(),
        "v_a": case.v_a.copy(),
    }

    def loss(_: np.ndarray) -> float:  # one entry of inputs changes at a time
        return attention_loss(
            inputs["s"],
            inputs["Hs"],
            case.mask,
            inputs["W_a"],
            inputs["U_a"],
            inputs["v_a"],
            case.dc,
        )

    arrays = (*case.arrays, case.dc)
    right = torch_attention_gradients(*arrays)
    wrong = backward_mistakes(*arrays)
    errors = {}
    for name, array in inputs.items():
        key = "d" + name
        numeric = numerical_gradient(loss, array)
        # check_gradient can only tell a mistake from the numerical gradient where it differs.
        mistakes = {
            text: value
            for text, value in wrong[key].items()
            if np.shape(value) != right[key].shape or not rel_error(value, right[key]) < threshold
        }
        errors[key] = check_gradient(
            f"{key} ({case.describe()})",
            grads[key],
            numeric,
            threshold=threshold,
            analytic_mistakes=mistakes,
        )
    return errors
