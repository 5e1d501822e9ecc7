"""Realistic wrong implementations of Exercise 6's NumPy notebook (additive attention), and what
the tests must say.

Each mistake edits one solution cell of ``solutions/ex6_seq2seq/attention_numpy.ipynb`` (each
``old`` text occurs exactly once in that cell). ``loses`` lists the graded cells the mistake makes
fail; the feedback of at least one of them contains every word of ``says`` (of ``named_in``'s,
where given). The forward pass computes its own ``tanh`` and calls the student's
``masked_softmax`` and ``attention_context``, and the backward tests read the forward pass's
cache: a wrong softmax or context also costs those tests (their message says to fix the forward
pass first), except where the mistake only shows on the softmax test's large or far-apart
scores. A wrong score function costs only its own test. The PyTorch notebook's mistakes are in
``ex6_seq2seq_torch.py``.
"""

from __future__ import annotations

from .catalogue import Mistake

NUMPY = "ex6_seq2seq/attention_numpy"

SCORES, SOFTMAX, CONTEXT = "test_attention_scores", "test_masked_softmax", "test_attention_context"
FORWARD, GRADIENT_CHECK = "test_attention_forward", "test_gradient_check"
INPUTS, PARAMETERS = "test_attention_backward_inputs", "test_attention_backward_parameters"
BACKWARD = (INPUTS, PARAMETERS, GRADIENT_CHECK)
AFTER_FORWARD = (FORWARD, *BACKWARD)  # what reads the forward pass

_SCORE = "return np.tanh(a) @ v_a  # (S, B)"
_FILL = "filled = np.where(mask, e, -np.inf)  # the padding: never the max, and exp(-inf) = 0"
_MAX = "m = np.max(filled, axis=0, keepdims=True)  # each column's largest real score"
_DIVIDE = "return x / np.sum(x, axis=0, keepdims=True)"
_JACOBIAN = (
    "de = alpha * (dalpha - np.sum(alpha * dalpha, axis=0, keepdims=True))  # softmax Jacobian"
)
_DA = "da = de[:, :, None] * v_a * (1 - t**2)  # (S, B, A)"

MISTAKES: list[Mistake] = [
    # ------------------------------------------------------------------------- the scores
    Mistake(
        id="ex6_scores_without_tanh",
        notebook=NUMPY,
        cell="attention_scores",
        replacements=((_SCORE, "return a @ v_a"),),
        loses=(SCORES,),
        says=("the tanh is missing",),
        keeps=(SOFTMAX, CONTEXT, *AFTER_FORWARD),
        description="A linear score: s W_a + h_j U_a projected on v_a, no hidden nonlinearity.",
    ),
    Mistake(
        id="ex6_scores_tanh_outside",
        notebook=NUMPY,
        cell="attention_scores",
        replacements=((_SCORE, "return np.tanh(a @ v_a)"),),
        loses=(SCORES,),
        says=("after the product with v_a",),
        keeps=(SOFTMAX, CONTEXT, *AFTER_FORWARD),
        description="tanh(v_aᵀ a): the scores squashed into (−1, 1) instead of the hidden layer.",
    ),
    Mistake(
        id="ex6_scores_without_v",
        notebook=NUMPY,
        cell="attention_scores",
        replacements=((_SCORE, "return np.tanh(a).sum(axis=-1)"),),
        loses=(SCORES,),
        says=("v_a is missing",),
        keeps=(SOFTMAX, CONTEXT, *AFTER_FORWARD),
        description="The A hidden units summed with equal weights instead of weighted by v_a.",
    ),
    Mistake(
        id="ex6_scores_batch_major",
        notebook=NUMPY,
        cell="attention_scores",
        replacements=((_SCORE, "return (np.tanh(a) @ v_a).T"),),
        loses=(SCORES,),
        says=("batch-major", "time-major"),
        keeps=(SOFTMAX, CONTEXT, *AFTER_FORWARD),
        description="The scores returned as (B, S), the batch first.",
    ),
    Mistake(
        id="ex6_scores_without_state",
        notebook=NUMPY,
        cell="attention_scores",
        replacements=(("a = s @ W_a + Hs @ U_a", "a = Hs @ U_a"),),
        loses=(SCORES,),
        says=("decoder state s is left out",),
        keeps=(SOFTMAX, CONTEXT, *AFTER_FORWARD),
        description="The scores read only the annotations: the same attention at every step.",
    ),
    # ------------------------------------------------------------------- the masked softmax
    Mistake(
        id="ex6_softmax_mask_after",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=(
            (_FILL, "filled = e"),
            (_DIVIDE, "return mask * x / np.sum(x, axis=0, keepdims=True)"),
        ),
        loses=(SOFTMAX, *AFTER_FORWARD),
        says=("mask is applied after the softmax",),
        named_in=SOFTMAX,
        keeps=(SCORES, CONTEXT),
        description="The padded weights zeroed after normalising: the real ones sum to < 1.",
    ),
    Mistake(
        id="ex6_softmax_mask_after_renormalised",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=(
            (_FILL, "filled = e"),
            (
                _DIVIDE,
                "alpha = mask * x / np.sum(x, axis=0, keepdims=True)\n"
                "    return alpha / np.sum(alpha, axis=0, keepdims=True)",
            ),
        ),
        loses=(SOFTMAX,),
        says=("renormalised", "0 / 0 = NaN"),
        keeps=(SCORES, CONTEXT, *AFTER_FORWARD),
        description="Masked and renormalised after the softmax: right on paper, NaN when the "
        "padding's scores are far above the real ones.",
    ),
    Mistake(
        id="ex6_softmax_without_mask",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=((_FILL, "filled = e"),),
        loses=(SOFTMAX, *AFTER_FORWARD),
        says=("mask is not used",),
        named_in=SOFTMAX,
        keeps=(SCORES, CONTEXT),
        description="A plain softmax over all S positions: the decoder attends to the padding.",
    ),
    Mistake(
        id="ex6_softmax_zero_fill",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=((_FILL, "filled = e * mask"),),
        loses=(SOFTMAX, *AFTER_FORWARD),
        says=("set to 0", "not to −∞"),
        named_in=SOFTMAX,
        keeps=(SCORES, CONTEXT),
        description="The padded scores zeroed before the softmax: exp(0) = 1 still weighs.",
    ),
    Mistake(
        id="ex6_softmax_over_batch",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=(
            (_MAX, "m = np.max(filled, axis=1, keepdims=True)"),
            (_DIVIDE, "return x / np.sum(x, axis=1, keepdims=True)"),
        ),
        loses=(SOFTMAX, *AFTER_FORWARD),
        says=("axis 1, the batch",),
        named_in=SOFTMAX,
        keeps=(SCORES, CONTEXT),
        description="The softmax normalises each source position across the batch.",
    ),
    Mistake(
        id="ex6_softmax_without_max",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=(("x = np.exp(filled - m)", "x = np.exp(filled)"),),
        loses=(SOFTMAX,),
        says=("largest score is not subtracted",),
        keeps=(SCORES, CONTEXT, *AFTER_FORWARD),
        description="exp(e) overflows for scores of 1000; right for moderate ones.",
    ),
    Mistake(
        id="ex6_softmax_max_with_padding",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=((_MAX, "m = np.max(e, axis=0, keepdims=True)"),),
        loses=(SOFTMAX,),
        says=("over every position, the padding included",),
        keeps=(SCORES, CONTEXT, *AFTER_FORWARD),
        description="The max includes the padding's scores: 0 / 0 when they are far above.",
    ),
    Mistake(
        id="ex6_softmax_global_max",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=((_MAX, "m = np.max(filled)"),),
        loses=(SOFTMAX,),
        says=("largest score of the whole array",),
        keeps=(SCORES, CONTEXT, *AFTER_FORWARD),
        description="One max for the batch: exact on paper, 0 / 0 for columns far below it.",
    ),
    Mistake(
        id="ex6_softmax_in_place",
        notebook=NUMPY,
        cell="masked_softmax",
        replacements=((_FILL, "e[~mask] = -np.inf\n    filled = e"),),
        loses=(SOFTMAX,),
        says=("changed its input e",),
        keeps=(SCORES, CONTEXT, *AFTER_FORWARD),
        description="The caller's scores overwritten with −∞ at the padding.",
    ),
    # ---------------------------------------------------------------------------- the context
    Mistake(
        id="ex6_context_mean",
        notebook=NUMPY,
        cell="attention_context",
        replacements=(
            (
                "return np.sum(alpha[:, :, None] * Hs, axis=0)",
                "return np.mean(alpha[:, :, None] * Hs, axis=0)",
            ),
        ),
        loses=(CONTEXT, *AFTER_FORWARD),
        says=("averaged over the positions",),
        named_in=CONTEXT,
        keeps=(SCORES, SOFTMAX),
        description="np.mean of the weighted annotations: the context shrunk by a factor S.",
    ),
    Mistake(
        id="ex6_context_over_batch",
        notebook=NUMPY,
        cell="attention_context",
        replacements=(
            (
                "return np.sum(alpha[:, :, None] * Hs, axis=0)",
                "return np.sum(alpha[:, :, None] * Hs, axis=1)",
            ),
        ),
        loses=(CONTEXT, *AFTER_FORWARD),
        says=("summed over the batch",),
        named_in=CONTEXT,
        keeps=(SCORES, SOFTMAX),
        description="The sum over axis 1: one vector per source position, mixing the sources.",
    ),
    # ---------------------------------------------------------------------- the forward pass
    Mistake(
        id="ex6_forward_mask_not_passed",
        notebook=NUMPY,
        cell="attention_forward",
        replacements=(
            (
                "alpha = masked_softmax(t @ v_a, mask)",
                "alpha = masked_softmax(t @ v_a, np.ones_like(mask))",
            ),
        ),
        loses=AFTER_FORWARD,
        says=("mask is not used",),
        named_in=FORWARD,
        keeps=(SCORES, SOFTMAX, CONTEXT),
        description="The forward pass gives the softmax a mask of ones: the padding is attended.",
    ),
    # ---------------------------------------------------------------------- the backward pass
    Mistake(
        id="ex6_backward_without_jacobian_sum",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=((_JACOBIAN, "de = alpha * dalpha"),),
        loses=BACKWARD,
        says=("softmax's gradient misses the term",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD),
        description="δe = α ⊙ δα: the diagonal of the softmax's Jacobian only.",
    ),
    Mistake(
        id="ex6_backward_jacobian_sign",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=(
            (_JACOBIAN, "de = alpha * (dalpha + np.sum(alpha * dalpha, axis=0, keepdims=True))"),
        ),
        loses=BACKWARD,
        says=("added instead of subtracted",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD),
        description="The Jacobian's off-diagonal term with the wrong sign.",
    ),
    Mistake(
        id="ex6_backward_without_tanh_derivative",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=((_DA, "da = de[:, :, None] * v_a"),),
        loses=BACKWARD,
        says=("tanh is not differentiated",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD),
        description="δa = δt: the tanh's derivative 1 − t² left out.",
    ),
    Mistake(
        id="ex6_backward_without_context_path",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=(
            (
                "dHs = alpha[:, :, None] * dc[None]  # the context's direct path",
                "dHs = np.zeros_like(Hs)",
            ),
        ),
        loses=(INPUTS, GRADIENT_CHECK),
        says=("misses the direct path of the context",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD, PARAMETERS),
        description="dHs only through the scores: the annotations' role as values forgotten.",
    ),
    Mistake(
        id="ex6_backward_without_score_path",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=(("    dHs += da @ U_a.T  # the path through the scores\n", ""),),
        loses=(INPUTS, GRADIENT_CHECK),
        says=("misses the path through the scores",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD, PARAMETERS),
        description="dHs only through the context: the annotations' role as keys forgotten.",
    ),
    Mistake(
        id="ex6_backward_ds_averaged",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=(
            (
                "ds = np.sum(da, axis=0) @ W_a.T  # s reaches every position",
                "ds = np.mean(da, axis=0) @ W_a.T",
            ),
        ),
        loses=(INPUTS, GRADIENT_CHECK),
        says=("ds is averaged over the source positions",),
        named_in=INPUTS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD, PARAMETERS),
        description="The state's gradient averaged instead of summed over the positions.",
    ),
    Mistake(
        id="ex6_backward_dW_a_transposed",
        notebook=NUMPY,
        cell="attention_backward",
        replacements=(("dW_a = s.T @ np.sum(da, axis=0)", "dW_a = np.sum(da, axis=0).T @ s"),),
        loses=(PARAMETERS, GRADIENT_CHECK),
        says=("axes are swapped",),
        named_in=PARAMETERS,
        keeps=(SCORES, SOFTMAX, CONTEXT, FORWARD, INPUTS),
        description="dW_a as (A, Hd): the product taken the other way round.",
    ),
]
