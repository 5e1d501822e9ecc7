"""Realistic wrong implementations of Exercise 5 (GRUs at work on text), and what tests must say.

Each mistake edits one solution cell of ``solutions/ex5_language/language_numpy.ipynb`` (each
``old`` text occurs exactly once in that cell). ``loses`` lists the graded cells the mistake makes
fail; the feedback of at least one of them contains every word of ``says`` (of ``named_in``'s,
where given). The NumPy notebook's backward pass computes its softmax with the student's
``log_softmax``, so a wrong log-softmax also costs the gradient's tests, except where the
mistake only produces ``log 0`` (its exponential is the right probability again); the n-gram
scores call ``add_k_probability``. Mistakes of the PyTorch notebook join a section of their own.
"""

from __future__ import annotations

from .catalogue import Mistake

NUMPY = "ex5_language/language_numpy"

# language_numpy's graded cells.
LOG_SOFTMAX, CROSS_ENTROPY = "test_log_softmax", "test_cross_entropy"
BACKWARD, GRADIENT_CHECK = "test_cross_entropy_backward", "test_gradient_check"
PERPLEXITY, BITS = "test_perplexity", "test_bits_per_character"
ADD_K, LOG_PROBS = "test_add_k_probability", "test_add_k_log_probs"
SCORES = (PERPLEXITY, BITS)  # computed from given numbers: no other part's mistake reaches them
NGRAMS = (ADD_K, LOG_PROBS)
GRADIENTS = (BACKWARD, GRADIENT_CHECK)

_MAX = "m = np.max(u, axis=-1, keepdims=True)"
_SUM = "np.sum(np.exp(shifted), axis=-1, keepdims=True)"
_RETURN_LSE = "return shifted - np.log(" + _SUM + ")"
_PICK = "picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)"
_ONE_HOT = "grad[np.arange(T)[:, None], np.arange(B), targets] -= 1"
_PERPLEXITY = "return float(np.exp(np.sum(batch_losses) / np.sum(batch_counts)))"
_DENOMINATOR = "(counts.sum() + k * V)"
_CONTEXT = "context = test_ids[i - n + 1 : i]"

MISTAKES: list[Mistake] = [
    # ========================================================================= NUMPY notebook
    # ------------------------------------------------------------------------- log-softmax
    Mistake(
        id="ex5_log_softmax_over_time",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=(
            (_MAX, "m = np.max(u, axis=0, keepdims=True)"),
            (_SUM, "np.sum(np.exp(shifted), axis=0, keepdims=True)"),
        ),
        loses=(LOG_SOFTMAX, CROSS_ENTROPY, *GRADIENTS),
        says=("normalised over axis 0 (time)",),
        named_in=LOG_SOFTMAX,
        keeps=(*SCORES, *NGRAMS),
        description="The max and the sum run over the time axis instead of the characters.",
    ),
    Mistake(
        id="ex5_log_softmax_without_max",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=(("shifted = u - m", "shifted = u"),),
        loses=(LOG_SOFTMAX, CROSS_ENTROPY, BACKWARD),
        says=("largest logit is not subtracted",),
        named_in=LOG_SOFTMAX,
        keeps=(GRADIENT_CHECK,),
        description="u − log Σ exp(u): right for moderate logits, inf and −inf at 1000.",
    ),
    Mistake(
        id="ex5_log_softmax_global_max",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=((_MAX, "m = np.max(u)"),),
        loses=(LOG_SOFTMAX, CROSS_ENTROPY, BACKWARD),
        says=("np.max(u)", "rather than over each row"),
        named_in=LOG_SOFTMAX,
        keeps=(GRADIENT_CHECK,),
        description="One max for the whole batch: exact on paper, log(0) for rows far below it.",
    ),
    Mistake(
        id="ex5_log_of_softmax",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=(
            (
                _RETURN_LSE,
                "e = np.exp(shifted)\n    return np.log(e / np.sum(e, axis=-1, keepdims=True))",
            ),
        ),
        loses=(LOG_SOFTMAX, CROSS_ENTROPY),
        says=("log is taken of the softmax",),
        named_in=LOG_SOFTMAX,
        keeps=GRADIENTS,  # exp(log p) is p again, also where log p = −inf
        description="log(softmax): max subtracted, but an underflowed probability gives −inf.",
    ),
    Mistake(
        id="ex5_log_softmax_in_place",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=(("shifted = u - m", "u -= m\n    shifted = u"),),
        loses=(LOG_SOFTMAX,),
        says=("changed its input u in place",),
        keeps=(CROSS_ENTROPY, *GRADIENTS),
        description="u -= m: the right values, but the caller's logits are overwritten.",
    ),
    Mistake(
        id="ex5_log_softmax_max_not_added_back",
        notebook=NUMPY,
        cell="log_softmax",
        replacements=((_RETURN_LSE, "return u - np.log(" + _SUM + ")"),),
        loses=(LOG_SOFTMAX, CROSS_ENTROPY, *GRADIENTS),
        says=("subtracted inside exp but not outside",),
        named_in=LOG_SOFTMAX,
        description="u − log Σ exp(u − m): every log-probability too large by m.",
    ),
    # ----------------------------------------------------------------------- cross-entropy
    Mistake(
        id="ex5_cross_entropy_mean",
        notebook=NUMPY,
        cell="cross_entropy",
        replacements=(("return -float(np.sum(picked))", "return -float(np.mean(picked))"),),
        loses=(CROSS_ENTROPY,),
        says=("averaged over the T·B positions",),
        keeps=(LOG_SOFTMAX, *GRADIENTS),
        description="The mean loss per character where the notebook asks for the sum.",
    ),
    Mistake(
        id="ex5_cross_entropy_without_minus",
        notebook=NUMPY,
        cell="cross_entropy",
        replacements=(("return -float(np.sum(picked))", "return float(np.sum(picked))"),),
        loses=(CROSS_ENTROPY,),
        says=("minus sign is missing",),
        description="Σ log p(target): the log-likelihood, negative, instead of the loss.",
    ),
    Mistake(
        id="ex5_cross_entropy_every_target",
        notebook=NUMPY,
        cell="cross_entropy",
        replacements=((_PICK, "picked = log_probs[..., targets]"),),
        loses=(CROSS_ENTROPY,),
        says=("log_probs[..., targets] picks",),
        description="Fancy indexing on the last axis: every target at every position.",
    ),
    Mistake(
        id="ex5_cross_entropy_of_logits",
        notebook=NUMPY,
        cell="cross_entropy",
        replacements=(("log_probs = log_softmax(u)", "log_probs = u"),),
        loses=(CROSS_ENTROPY,),
        says=("logits u of the targets",),
        description="−Σ u[target]: the scores, not normalised into log-probabilities.",
    ),
    # ------------------------------------------------------------------- the loss's gradient
    Mistake(
        id="ex5_backward_without_one_hot",
        notebook=NUMPY,
        cell="cross_entropy_backward",
        replacements=((_ONE_HOT, "grad = grad"),),
        loses=GRADIENTS,
        says=("one-hot vector of the targets is not subtracted",),
        named_in=BACKWARD,
        keeps=(LOG_SOFTMAX, CROSS_ENTROPY),
        description="dL/du = softmax(u): the target's −1 is forgotten.",
    ),
    Mistake(
        id="ex5_backward_sign_flipped",
        notebook=NUMPY,
        cell="cross_entropy_backward",
        replacements=(("return grad", "return -grad"),),
        loses=GRADIENTS,
        says=("sign is flipped",),
        named_in=BACKWARD,
        description="one_hot − softmax: the gradient of the log-likelihood.",
    ),
    Mistake(
        id="ex5_backward_divided_by_n",
        notebook=NUMPY,
        cell="cross_entropy_backward",
        replacements=(("return grad", "return grad / targets.size"),),
        loses=GRADIENTS,
        says=("divided by N = T·B",),
        named_in=BACKWARD,
        description="The gradient of the mean loss, though the loss is the sum.",
    ),
    Mistake(
        id="ex5_backward_every_target_column",
        notebook=NUMPY,
        cell="cross_entropy_backward",
        replacements=((_ONE_HOT, "grad[..., targets] -= 1"),),
        loses=GRADIENTS,
        says=("grad[..., targets] -= 1",),
        named_in=BACKWARD,
        description="1 subtracted in every target's column at every position.",
    ),
    Mistake(
        id="ex5_backward_softmax_not_normalised",
        notebook=NUMPY,
        cell="cross_entropy_backward",
        replacements=(
            (
                "grad = np.exp(log_softmax(u))",
                "grad = np.exp(u - np.max(u, axis=-1, keepdims=True))",
            ),
        ),
        loses=GRADIENTS,
        says=("softmax is not normalised",),
        named_in=BACKWARD,
        description="exp(u − m) without the division by its sum.",
    ),
    # ------------------------------------------------------------------------ perplexity
    Mistake(
        id="ex5_perplexity_mean_of_batch_perplexities",
        notebook=NUMPY,
        cell="perplexity",
        replacements=((_PERPLEXITY, "return float(np.mean(np.exp(batch_losses / batch_counts)))"),),
        loses=(PERPLEXITY,),
        says=("per-batch perplexities", "Jensen"),
        keeps=(BITS,),
        description="The mean of exp(L_i / N_i): larger than exp of the mean, even for equal N_i.",
    ),
    Mistake(
        id="ex5_perplexity_batches_weighted_equally",
        notebook=NUMPY,
        cell="perplexity",
        replacements=((_PERPLEXITY, "return float(np.exp(np.mean(batch_losses / batch_counts)))"),),
        loses=(PERPLEXITY,),
        says=("averaged with equal weights",),
        description="exp of the mean of per-batch means: the short last batch counts too much.",
    ),
    Mistake(
        id="ex5_perplexity_base_2",
        notebook=NUMPY,
        cell="perplexity",
        replacements=(
            (_PERPLEXITY, "return float(2 ** (np.sum(batch_losses) / np.sum(batch_counts)))"),
        ),
        loses=(PERPLEXITY,),
        says=("natural logarithms (nats)",),
        description="2 ** (nats per character): bits' base on a loss in nats.",
    ),
    Mistake(
        id="ex5_perplexity_batch_losses_as_means",
        notebook=NUMPY,
        cell="perplexity",
        replacements=((_PERPLEXITY, "return float(np.exp(np.mean(batch_losses)))"),),
        loses=(PERPLEXITY,),
        says=("taken as a mean per character",),
        description="Each batch's summed loss read as a mean: divided by the number of batches.",
    ),
    # ------------------------------------------------------------------ bits per character
    Mistake(
        id="ex5_bits_in_nats",
        notebook=NUMPY,
        cell="bits_per_character",
        replacements=(("return float(nats / np.log(2))", "return float(nats)"),),
        loses=(BITS,),
        says=("in nats per character",),
        keeps=(PERPLEXITY,),
        description="The loss per character, not converted to bits (÷ ln 2 forgotten).",
    ),
    Mistake(
        id="ex5_bits_batches_weighted_equally",
        notebook=NUMPY,
        cell="bits_per_character",
        replacements=(
            (
                "nats = np.sum(batch_losses) / np.sum(batch_counts)",
                "nats = np.mean(batch_losses / batch_counts)",
            ),
        ),
        loses=(BITS,),
        says=("averaged with equal weights",),
        description="The mean of per-batch means: the short last batch counts too much.",
    ),
    # ------------------------------------------------------------------------- add-k n-grams
    Mistake(
        id="ex5_add_k_denominator_adds_k",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=((_DENOMINATOR, "(counts.sum() + k)"),),
        loses=NGRAMS,
        says=("denominator adds k once",),
        named_in=ADD_K,
        description="(c(h w) + k) / (c(h) + k): k added once, not once per character.",
    ),
    Mistake(
        id="ex5_add_k_denominator_adds_v",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=((_DENOMINATOR, "(counts.sum() + V)"),),
        loses=NGRAMS,
        says=("right only for k = 1",),
        named_in=ADD_K,
        description="Laplace's + V kept for k ≠ 1.",
    ),
    Mistake(
        id="ex5_add_k_v_from_training_text",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=((_DENOMINATOR, "(counts.sum() + k * len(np.unique(train_ids)))"),),
        loses=NGRAMS,
        says=("number of different characters in the training text",),
        named_in=ADD_K,
        description="V read off the training text: the alphabet's unseen characters forgotten.",
    ),
    Mistake(
        id="ex5_add_k_no_k_in_numerator",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=(("(counts + k) /", "counts /"),),
        loses=NGRAMS,
        says=("k is missing from the numerator",),
        named_in=ADD_K,
        description="Smoothing in the denominator only: unseen characters get probability 0.",
    ),
    Mistake(
        id="ex5_add_k_joint_probability",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=((_DENOMINATOR, "(starts + k * V)"),),
        loses=NGRAMS,
        says=("joint probability",),
        named_in=ADD_K,
        description="Divided by the number of n-grams, not by the context's count.",
    ),
    Mistake(
        id="ex5_add_k_context_counted_at_the_end",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=(
            (
                _DENOMINATOR,
                "(sum(np.array_equal(train_ids[j : j + n - 1], context) for j in range(starts + 1))"
                " + k * V)",
            ),
        ),
        loses=(ADD_K,),
        says=("very end of the training text",),
        description="c(h) counted over every window of n − 1 characters, the text's last too.",
    ),
    Mistake(
        id="ex5_add_k_ignores_context",
        notebook=NUMPY,
        cell="add_k_probability",
        replacements=(("train_ids[n - 1 :][match]", "train_ids[n - 1 :]"),),
        loses=NGRAMS,
        says=("context is ignored",),
        named_in=ADD_K,
        description="The next characters counted everywhere: a unigram model whatever n is.",
    ),
    Mistake(
        id="ex5_ngram_context_too_long",
        notebook=NUMPY,
        cell="add_k_log_probs",
        replacements=((_CONTEXT, "context = test_ids[i - n : i]"),),
        loses=(LOG_PROBS,),
        says=("context is n characters long",),
        keeps=(ADD_K,),
        description="n characters of context: a model of order n + 1 (and a unigram first).",
    ),
    Mistake(
        id="ex5_ngram_context_includes_target",
        notebook=NUMPY,
        cell="add_k_log_probs",
        replacements=((_CONTEXT, "context = test_ids[i - n + 2 : i + 1]"),),
        loses=(LOG_PROBS,),
        says=("includes the character being predicted",),
        description="The window shifted by one: the predicted character is in its own context.",
    ),
    Mistake(
        id="ex5_ngram_counted_on_test_text",
        notebook=NUMPY,
        cell="add_k_log_probs",
        replacements=(
            (
                "add_k_probability(train_ids, context, k, V)",
                "add_k_probability(test_ids, context, k, V)",
            ),
        ),
        loses=(LOG_PROBS,),
        says=("counts come from the test text",),
        description="Data leakage: the model counted on the text it is scored on.",
    ),
    Mistake(
        id="ex5_ngram_probabilities_not_logs",
        notebook=NUMPY,
        cell="add_k_log_probs",
        replacements=(
            (
                "np.log(add_k_probability(train_ids, context, k, V)[test_ids[i]])",
                "add_k_probability(train_ids, context, k, V)[test_ids[i]]",
            ),
        ),
        loses=(LOG_PROBS,),
        says=("not their logarithms",),
        description="Probabilities returned where log-probabilities belong.",
    ),
    Mistake(
        id="ex5_ngram_every_position",
        notebook=NUMPY,
        cell="add_k_log_probs",
        replacements=(
            ("np.zeros(len(test_ids) - n + 1)", "np.zeros(len(test_ids))"),
            ("range(n - 1, len(test_ids))", "range(len(test_ids))"),
            (_CONTEXT, "context = test_ids[max(0, i - n + 1) : i]"),
            ("log_probs[i - n + 1] =", "log_probs[i] ="),
        ),
        loses=(LOG_PROBS,),
        says=("every position is scored",),
        description="The first n − 1 characters scored with shorter contexts.",
    ),
]
