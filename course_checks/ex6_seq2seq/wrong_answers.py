"""What known wrong answers of Exercise 6's NumPy notebook produce, so that feedback can name them.

Each table maps the words a student reads to the value a realistic mistake produces on the given
inputs (see ``check_close``). The right answers never come from here: the checks take them from
PyTorch (``references.py``). The variants are written in NumPy with a switch each, whose default
is the right formula; ``tests/course_checks/ex6_seq2seq`` proves every default equal to PyTorch
and every mistake different from it. Numerically unstable formulas give ``inf`` and ``NaN`` where
the student's code does (NumPy's warnings silenced here), and the checks match them entry by
entry (``check_close(..., nan_matches=True)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from course_checks.variants import merge_identical

__all__ = [
    "BACKWARD_VARIANTS",
    "CONTEXT_VARIANTS",
    "SCORE_VARIANTS",
    "SOFTMAX_VARIANTS",
    "backward_mistakes",
    "backward_variant",
    "context_mistakes",
    "context_variant",
    "forward_mistakes",
    "score_mistakes",
    "score_variant",
    "softmax_mistakes",
    "softmax_variant",
]

Array = np.ndarray
Table = TypeVar("Table")


def _quiet(table: Callable[..., Table]) -> Callable[..., Table]:
    """``table`` run with NumPy's floating-point warnings off: its wrong formulas overflow and
    divide 0 by 0 on purpose, and a warning on stderr would cost the test cell."""

    @functools.wraps(table)
    def quiet(*args: Any, **kwargs: Any) -> Table:
        with np.errstate(all="ignore"):
            return table(*args, **kwargs)

    return quiet


# ----------------------------------------------------------------------------- the scores

_SCORES = "e[j, b] = tanh(s[b] W_a + Hs[j, b] U_a) · v_a"
SCORE_VARIANTS: dict[str, str] = {
    "no_tanh": f"the tanh is missing: {_SCORES}",
    "tanh_outside": "the tanh is applied after the product with v_a, tanh((s W_a + Hs U_a) · v_a); "
    f"it comes before it: {_SCORES}",
    "no_v": "v_a is missing: the A entries of tanh(s W_a + Hs U_a) are summed; weight them with "
    f"v_a, {_SCORES}",
    "batch_major": "the scores are batch-major, shape (B, S); the course's layout is time-major: "
    "e is (S, B), one row per source position",
    "state_ignored": f"the decoder state s is left out: {_SCORES}; s W_a is what makes the "
    "scores depend on what the decoder is about to write",
}


def score_variant(
    s: Array, Hs: Array, W_a: Array, U_a: Array, v_a: Array, mistake: str = "right"
) -> Array:
    """The scores ``(S, B)`` with one mistake of :data:`SCORE_VARIANTS` (``"right"``: none)."""
    a = (0.0 if mistake == "state_ignored" else s @ W_a) + Hs @ U_a  # (S, B, A)
    if mistake == "no_tanh":
        return a @ v_a
    if mistake == "tanh_outside":
        return np.tanh(a @ v_a)
    if mistake == "no_v":
        return np.tanh(a).sum(-1)
    e = np.tanh(a) @ v_a
    return e.T.copy() if mistake == "batch_major" else e


def score_mistakes(s: Array, Hs: Array, W_a: Array, U_a: Array, v_a: Array) -> dict[str, Array]:
    return merge_identical(
        {text: score_variant(s, Hs, W_a, U_a, v_a, key) for key, text in SCORE_VARIANTS.items()}
    )


# ------------------------------------------------------------------------- the masked softmax

_MASKED = (
    "set the scores of the padded positions to −∞ (np.where(mask, e, -np.inf)), subtract each "
    "column's largest remaining score, exponentiate and divide by the column's sum"
)
SOFTMAX_VARIANTS: dict[str, str] = {
    "no_mask": "the mask is not used: the padded positions get weight too (the decoder attends to "
    f"the padding); {_MASKED}",
    "after": "the mask is applied after the softmax: the padded positions are set to 0 but the "
    "real ones were normalised with the padding's exponentials in the sum, so they no longer add "
    f"up to 1; apply it before: {_MASKED}",
    "after_renormalised": "the mask is applied after the softmax and the weights renormalised: "
    "right on paper, but the largest score subtracted was a padded one, and when the padding's "
    "scores are far above the real ones every real exponential underflows to 0 and 0 / 0 = NaN; "
    f"{_MASKED}",
    "zero_fill": "the padded scores were set to 0 (e * mask), not to −∞: exp(0) is not 0, so the "
    f"padding still gets weight; {_MASKED}",
    "inverted": "the mask is inverted: it is True at the real positions and False at the padding, "
    "so the weights go to the padding",
    "batch_axis": "the softmax runs over axis 1, the batch; it must run over the source positions, "
    "axis 0: each column alpha[:, b] is one source's distribution",
    "whole": "the softmax runs over the whole array (np.max and np.sum without axis=); each column "
    "alpha[:, b] is one source's distribution: use axis=0, keepdims=True",
    "no_max": "the largest score is not subtracted before np.exp: exp(e) overflows to inf above "
    f"e ≈ 709 and inf / inf = NaN; {_MASKED}",
    "global_max": "the largest score of the whole array is subtracted (np.max(e)) rather than each "
    "column's: right on paper, but a column whose scores all lie more than about 745 below it "
    "underflows to 0 and 0 / 0 = NaN; subtract each column's own max, np.max(..., axis=0, "
    "keepdims=True)",
    "max_with_padding": "the largest score is taken over every position, the padding included: "
    "when a padded score is far above the real ones, every real exponential underflows to 0 and "
    f"0 / 0 = NaN; take the max after the padding is set to −∞: {_MASKED}",
    "not_normalised": "the exponentials are not divided by their column's sum: each column of "
    "alpha must add up to 1",
}


def softmax_variant(e: Array, mask: Array, mistake: str = "right") -> Array:
    """The weights ``(S, B)`` with one mistake of :data:`SOFTMAX_VARIANTS` (``"right"``: none)."""
    e = np.asarray(e, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if mistake == "inverted":
        mask = ~mask
    if mistake in ("no_mask", "after", "after_renormalised"):
        filled = e
    elif mistake == "zero_fill":
        filled = e * mask
    else:
        filled = np.where(mask, e, -np.inf)
    axis = {"batch_axis": 1, "whole": None}.get(mistake, 0)
    if mistake == "no_max":
        m = 0.0
    elif mistake == "global_max":
        m = np.max(filled)
    elif mistake == "max_with_padding":
        m = np.max(e, axis=0, keepdims=True)
    else:
        m = np.max(filled, axis=axis, keepdims=True)
    x = np.exp(filled - m)
    if mistake == "not_normalised":
        return x
    alpha = x / np.sum(x, axis=axis, keepdims=True)
    if mistake in ("after", "after_renormalised"):
        alpha = alpha * mask
    if mistake == "after_renormalised":
        alpha = alpha / np.sum(alpha, axis=0, keepdims=True)
    return alpha


@_quiet
def softmax_mistakes(e: Array, mask: Array) -> dict[str, Array]:
    return merge_identical(
        {text: softmax_variant(e, mask, key) for key, text in SOFTMAX_VARIANTS.items()}
    )


# ------------------------------------------------------------------------------- the context

_CONTEXT = "c[b] = Σ_j alpha[j, b] Hs[j, b], a sum over the source positions (axis 0)"
CONTEXT_VARIANTS: dict[str, str] = {
    "batch_axis": f"the weighted annotations are summed over the batch (axis 1): {_CONTEXT}",
    "mean": f"the weighted annotations are averaged over the positions (np.mean) instead of "
    f"summed: the weights already add up to 1; {_CONTEXT}",
    "unweighted": f"the weights are not used: the annotations are averaged; {_CONTEXT}",
}


def context_variant(alpha: Array, Hs: Array, mistake: str = "right") -> Array:
    """The context ``(B, He)`` with one mistake of :data:`CONTEXT_VARIANTS`."""
    weighted = np.asarray(alpha)[..., None] * np.asarray(Hs)
    if mistake == "batch_axis":
        return weighted.sum(1)
    if mistake == "mean":
        return weighted.mean(0)
    if mistake == "unweighted":
        return np.asarray(Hs).mean(0)
    return weighted.sum(0)


def context_mistakes(alpha: Array, Hs: Array) -> dict[str, Array]:
    return merge_identical(
        {text: context_variant(alpha, Hs, key) for key, text in CONTEXT_VARIANTS.items()}
    )


@_quiet
def forward_mistakes(
    s: Array, Hs: Array, mask: Array, W_a: Array, U_a: Array, v_a: Array
) -> dict[str, dict[str, Array]]:
    """``{"alpha": {text: weights}, "c": {text: context}}`` of wrong forward passes: each part's
    mistakes carried through the others, and the mask not passed on."""
    alphas, contexts = {}, {}
    right_e = score_variant(s, Hs, W_a, U_a, v_a)
    for key, text in SCORE_VARIANTS.items():
        e = score_variant(s, Hs, W_a, U_a, v_a, key)
        if e.shape != right_e.shape:
            continue
        alphas[f"in the scores: {text}"] = softmax_variant(e, mask)
    for key, text in SOFTMAX_VARIANTS.items():
        alphas[f"in the weights: {text}"] = softmax_variant(right_e, mask, key)
    right_alpha = softmax_variant(right_e, mask)
    for text, alpha in alphas.items():
        if alpha.shape == right_alpha.shape:
            contexts[text] = context_variant(alpha, Hs)
    for key, text in CONTEXT_VARIANTS.items():
        contexts[f"in the context: {text}"] = context_variant(right_alpha, Hs, key)
    return {"alpha": merge_identical(alphas), "c": merge_identical(contexts)}


# ------------------------------------------------------------------------- the backward pass

_JACOBIAN = "de = alpha ⊙ (dalpha − Σ_j alpha_j dalpha_j), the softmax's Jacobian"
BACKWARD_VARIANTS: dict[str, str] = {
    "no_jacobian_sum": "the softmax's gradient misses the term that every weight's change takes "
    f"from the others (the sum over j): {_JACOBIAN}",
    "no_softmax": f"the softmax is not differentiated at all (de = dalpha): {_JACOBIAN}",
    "jacobian_sign": f"the sum over j is added instead of subtracted: {_JACOBIAN}",
    "no_context_path": "dHs misses the direct path of the context, alpha[j, b] dc[b]: Hs enters "
    "both the context and the scores, and its gradient is the sum of the two",
    "no_score_path": "dHs misses the path through the scores, da @ U_a.T: Hs enters both the "
    "context and the scores, and its gradient is the sum of the two",
    "tanh_of_preactivation": "the tanh's derivative is written with the pre-activation a instead "
    "of its value t = tanh(a): it is 1 − t², not 1 − a²",
    "no_tanh_derivative": "the tanh is not differentiated: da = dt ⊙ (1 − t²), with t = tanh(a)",
    "ds_mean": "ds is averaged over the source positions instead of summed: s reaches every "
    "position's score, so ds = Σ_j da[j] @ W_a.T",
    "dv_with_preactivation": "dv_a is computed with the pre-activation a instead of t = tanh(a): "
    "dv_a = Σ_{j,b} de[j, b] t[j, b]",
    "padding_in_jacobian": "the softmax's gradient is computed as if the padding were real "
    "positions (an unmasked softmax recomputed in the backward pass): use the forward pass's "
    "weights, which are 0 at the padding",
}


def backward_variant(
    s: Array,
    Hs: Array,
    mask: Array,
    W_a: Array,
    U_a: Array,
    v_a: Array,
    dc: Array,
    mistake: str = "right",
) -> dict[str, Array]:
    """The gradients of ``L = Σ dc ⊙ c`` (``ds, dHs, dW_a, dU_a, dv_a``) with one mistake."""
    mask = np.asarray(mask, dtype=bool)
    a = s @ W_a + Hs @ U_a  # (S, B, A)
    t = np.tanh(a)
    e = t @ v_a
    filled = np.where(mask, e, -np.inf)
    x = np.exp(filled - filled.max(0, keepdims=True))
    alpha = x / x.sum(0, keepdims=True)
    dalpha = np.einsum("bh,sbh->sb", dc, Hs)
    if mistake == "padding_in_jacobian":
        free = np.exp(e - e.max(0, keepdims=True))
        free /= free.sum(0, keepdims=True)
        de = free * (dalpha - (free * dalpha).sum(0, keepdims=True))
    elif mistake == "no_jacobian_sum":
        de = alpha * dalpha
    elif mistake == "no_softmax":
        de = dalpha
    elif mistake == "jacobian_sign":
        de = alpha * (dalpha + (alpha * dalpha).sum(0, keepdims=True))
    else:
        de = alpha * (dalpha - (alpha * dalpha).sum(0, keepdims=True))
    dt = de[..., None] * v_a
    if mistake == "tanh_of_preactivation":
        da = dt * (1 - a**2)
    elif mistake == "no_tanh_derivative":
        da = dt
    else:
        da = dt * (1 - t**2)
    context_path = alpha[..., None] * dc[None]
    score_path = da @ U_a.T
    dHs = (0 if mistake == "no_context_path" else context_path) + (
        0 if mistake == "no_score_path" else score_path
    )
    ds_positions = da @ W_a.T  # (S, B, Hd)
    ds = ds_positions.mean(0) if mistake == "ds_mean" else ds_positions.sum(0)
    features = a if mistake == "dv_with_preactivation" else t
    return {
        "ds": ds,
        "dHs": np.asarray(dHs) + np.zeros_like(Hs),
        "dW_a": s.T @ da.sum(0),
        "dU_a": np.einsum("sbh,sba->ha", Hs, da),
        "dv_a": np.einsum("sb,sba->a", de, features),
    }


@_quiet
def backward_mistakes(
    s: Array, Hs: Array, mask: Array, W_a: Array, U_a: Array, v_a: Array, dc: Array
) -> dict[str, dict[str, Array]]:
    """``{gradient name: {text: value}}`` of every wrong backward pass (merged per gradient)."""
    table: dict[str, dict[str, Array]] = {}
    for key, text in BACKWARD_VARIANTS.items():
        for name, value in backward_variant(s, Hs, mask, W_a, U_a, v_a, dc, key).items():
            table.setdefault(name, {})[text] = value
    return {name: merge_identical(values) for name, values in table.items()}
