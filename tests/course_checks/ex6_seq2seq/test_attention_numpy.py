"""Unit tests of the checks of Exercise 6's NumPy notebook (additive attention).

Fast (no kernels): each test hands a check right answers, which must pass however they are
written (einsum or loops, another way to mask, a dict for a cache, a backward pass through the
full Jacobian), and known wrong ones, which must fail with words that name the mistake. The
references are compared with an independent loop and with finite differences, and the checks
are replayed from their records as the grader's re-check does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_checks import CheckFailure, replay
from course_checks.ex6_seq2seq.attention_numpy import (
    check_attention_backward,
    check_attention_context,
    check_attention_forward,
    check_attention_scores,
    check_masked_softmax,
    gradient_check,
    score_cases,
)
from course_checks.ex6_seq2seq.references import (
    attention_loss,
    random_attention_case,
    torch_attention,
    torch_attention_gradients,
    torch_masked_softmax,
)
from course_checks.ex6_seq2seq.wrong_answers import (
    BACKWARD_VARIANTS,
    CONTEXT_VARIANTS,
    SCORE_VARIANTS,
    SOFTMAX_VARIANTS,
    backward_variant,
    context_variant,
    score_variant,
    softmax_variant,
)
from course_checks.gradients import numerical_gradient
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails

# ----------------------------------------------------------------- right answers, many forms


def scores_einsum(s, Hs, W_a, U_a, v_a):
    return np.einsum(
        "sba,a->sb",
        np.tanh(np.einsum("bd,da->ba", s, W_a)[None] + np.einsum("sbh,ha->sba", Hs, U_a)),
        v_a,
    )


def scores_loops(s, Hs, W_a, U_a, v_a):
    S, B, _ = Hs.shape
    e = np.zeros((S, B))
    for j in range(S):
        for b in range(B):
            e[j, b] = np.tanh(s[b] @ W_a + Hs[j, b] @ U_a) @ v_a
    return e


def softmax_large_negative(e, mask):
    filled = e * mask - 1e30 * ~mask  # a large negative number instead of −∞
    x = np.exp(filled - filled.max(axis=0))
    return x / x.sum(axis=0)


def softmax_by_lengths(e, mask):
    alpha = np.zeros_like(e)
    for b, n in enumerate(mask.sum(axis=0)):  # the padding comes after each source's end
        column = e[:n, b]
        x = np.exp(column - column.max())
        alpha[:n, b] = x / x.sum()
    return alpha


def softmax_logsumexp(e, mask):
    filled = np.where(mask, e, -np.inf)
    m = filled.max(axis=0, keepdims=True)
    return np.exp(filled - m - np.log(np.exp(filled - m).sum(axis=0, keepdims=True)))


def softmax_masked_then_renormalised_stably(e, mask):
    """The mask after the exponential, but with the max over the real scores: right."""
    m = np.where(mask, e, -np.inf).max(axis=0)
    x = np.exp(np.minimum(e - m, 0.0)) * mask  # clipped: the padding's exp cannot overflow
    return x / x.sum(axis=0)


def context_einsum(alpha, Hs):
    return np.einsum("sb,sbh->bh", alpha, Hs)


def context_loops(alpha, Hs):
    S, B, He = Hs.shape
    c = np.zeros((B, He))
    for b in range(B):
        for j in range(S):
            c[b] += alpha[j, b] * Hs[j, b]
    return c


def make_forward(*, cache="tuple", **mistake):
    """A forward pass; ``cache`` the form of its cache, ``mistake`` a switch of the weights or
    of the context (``wrong_answers.py``)."""

    def attention_forward(s, Hs, mask, W_a, U_a, v_a):
        t = np.tanh(s @ W_a + Hs @ U_a)
        if "weights" in mistake:
            alpha = softmax_variant(t @ v_a, mask, mistake["weights"])
        else:
            alpha = softmax_logsumexp(t @ v_a, mask)
        c = context_variant(alpha, Hs, mistake.get("context", "right"))
        if cache == "dict":
            return c, alpha, {"s": s, "Hs": Hs, "mask": mask, "W_a": W_a, "U_a": U_a, "v_a": v_a}
        if cache == "nested":
            return c, alpha, ((s, Hs, mask), {"weights": [W_a, U_a, v_a]}, (t, alpha))
        return c, alpha, (s, Hs, mask, W_a, U_a, v_a, t, alpha)

    return attention_forward


def backward_from_dict(dc, cache):
    """The right gradients from a cache of the inputs only (everything recomputed)."""
    keys = ("s", "Hs", "mask", "W_a", "U_a", "v_a")
    return backward_variant(*(cache[k] for k in keys), dc)


def backward_full_jacobian(dc, cache):
    """The right gradients through the softmax's full Jacobian matrix, one source at a time."""
    s, Hs, _, W_a, U_a, v_a, t, alpha = cache
    S, B, _ = Hs.shape
    dalpha = np.einsum("bh,sbh->sb", dc, Hs)
    de = np.zeros((S, B))
    for b in range(B):
        jacobian = np.diag(alpha[:, b]) - np.outer(alpha[:, b], alpha[:, b])
        de[:, b] = jacobian @ dalpha[:, b]
    da = de[..., None] * v_a * (1 - t**2)
    return {
        "ds": np.einsum("sba,da->bd", da, W_a),
        "dHs": alpha[..., None] * dc + np.einsum("sba,ha->sbh", da, U_a),
        "dW_a": np.einsum("bd,sba->da", s, da),
        "dU_a": Hs.reshape(-1, Hs.shape[-1]).T @ da.reshape(-1, da.shape[-1]),
        "dv_a": (de[..., None] * t).sum(axis=(0, 1)),
    }


def make_backward(mistake="right"):
    def attention_backward(dc, cache):
        s, Hs, mask, W_a, U_a, v_a = cache[:6]
        return backward_variant(s, Hs, mask, W_a, U_a, v_a, dc, mistake)

    return attention_backward


# ---------------------------------------------------------------------------- the references


def test_the_references_match_a_loop_and_finite_differences():
    case = random_attention_case(3, S=5, B=3, Hd=4, He=2, A=3)
    ref = torch_attention(*case.arrays)
    assert (
        np.abs(ref["e"] - scores_loops(case.s, case.Hs, case.W_a, case.U_a, case.v_a)).max() < 1e-12
    )
    assert np.abs(ref["alpha"] - softmax_by_lengths(ref["e"], case.mask)).max() < 1e-12
    assert np.all(ref["alpha"][~case.mask] == 0) and np.allclose(ref["alpha"].sum(0), 1)
    assert np.abs(ref["c"] - context_loops(ref["alpha"], case.Hs)).max() < 1e-12
    grads = torch_attention_gradients(*case.arrays, case.dc)
    for name in ("s", "Hs", "W_a", "U_a", "v_a"):
        inputs = {"s": case.s, "Hs": case.Hs, "W_a": case.W_a, "U_a": case.U_a, "v_a": case.v_a}
        inputs = {k: v.copy() for k, v in inputs.items()}

        def loss(_, inputs=inputs):
            return attention_loss(
                inputs["s"],
                inputs["Hs"],
                case.mask,
                inputs["W_a"],
                inputs["U_a"],
                inputs["v_a"],
                case.dc,
            )

        numeric = numerical_gradient(loss, inputs[name])
        assert np.abs(numeric - grads["d" + name]).max() < 1e-8, name
    assert np.all(grads["dHs"][~case.mask] == 0), "the padding gets no gradient"


def test_every_variant_defaults_to_pytorch_and_every_mistake_differs():
    case = random_attention_case(4, S=6, B=3, Hd=4, He=5, A=7)
    s, Hs, _, W_a, U_a, v_a = case.arrays
    ref = torch_attention(*case.arrays)
    assert np.abs(score_variant(s, Hs, W_a, U_a, v_a) - ref["e"]).max() < 1e-12
    for key in SCORE_VARIANTS:
        wrong = score_variant(s, Hs, W_a, U_a, v_a, key)
        assert wrong.shape != ref["e"].shape or np.abs(wrong - ref["e"]).max() > 1e-3, key
    assert np.abs(context_variant(ref["alpha"], Hs) - ref["c"]).max() < 1e-12
    for key in CONTEXT_VARIANTS:
        wrong = context_variant(ref["alpha"], Hs, key)
        assert wrong.shape != ref["c"].shape or np.abs(wrong - ref["c"]).max() > 1e-3, key
    grads = torch_attention_gradients(*case.arrays, case.dc)
    right = backward_variant(*case.arrays, case.dc)
    for name, value in grads.items():
        assert np.abs(right[name] - value).max() < 1e-12, name
    for key in BACKWARD_VARIANTS:
        wrong = backward_variant(*case.arrays, case.dc, key)
        assert any(np.abs(wrong[n] - grads[n]).max() > 1e-3 for n in grads), key


def test_every_softmax_mistake_shows_on_some_case_of_the_test():
    for seed in range(5):
        cases = score_cases(seed, S=6, B=4)
        with np.errstate(all="ignore"):
            for _, e, mask in cases:
                assert (
                    np.abs(softmax_variant(e, mask) - torch_masked_softmax(e, mask)).max() < 1e-12
                )
            for key in SOFTMAX_VARIANTS:
                shown = [
                    not np.allclose(
                        softmax_variant(e, mask, key), torch_masked_softmax(e, mask), atol=1e-6
                    )
                    for _, e, mask in cases
                ]
                assert any(shown), (seed, key)


# ----------------------------------------------------------------------------- the checks


@pytest.mark.parametrize("scores", [scores_einsum, scores_loops], ids=["einsum", "loops"])
def test_the_scores_accept_einsum_and_loops(scores):
    check_attention_scores(scores, 1, S=6, B=3, Hd=4, He=5, A=7)
    check_attention_scores(scores, 8, S=1, B=1, Hd=2, He=3, A=4)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("no_tanh", ["the tanh is missing"]),
        ("tanh_outside", ["after the product with v_a"]),
        ("no_v", ["v_a is missing"]),
        ("batch_major", ["batch-major", "time-major"]),
        ("state_ignored", ["decoder state s is left out"]),
    ],
)
def test_score_mistakes_are_named(key, words):
    fails(
        words,
        check_attention_scores,
        lambda *a, key=key: score_variant(*a, mistake=key),
        1,
        6,
        3,
        4,
        5,
        7,
    )


@pytest.mark.parametrize(
    "softmax",
    [
        softmax_large_negative,
        softmax_by_lengths,
        softmax_logsumexp,
        softmax_masked_then_renormalised_stably,
    ],
    ids=["large_negative", "by_lengths", "logsumexp", "masked_exp"],
)
def test_the_masked_softmax_accepts_other_stable_forms(softmax):
    check_masked_softmax(softmax, 2, S=6, B=4)
    check_masked_softmax(softmax, 9, S=2, B=3)
    check_masked_softmax(softmax, 10, S=1, B=2)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("no_mask", ["mask is not used"]),
        ("after", ["mask is applied after the softmax"]),
        ("after_renormalised", ["renormalised", "0 / 0 = NaN"]),
        ("zero_fill", ["set to 0", "not to −∞"]),
        ("inverted", ["mask is inverted"]),
        ("batch_axis", ["axis 1, the batch"]),
        ("whole", ["over the whole array"]),
        ("no_max", ["largest score is not subtracted"]),
        ("global_max", ["largest score of the whole array"]),
        ("max_with_padding", ["the padding included"]),
        ("not_normalised", ["not divided by their column's sum"]),
    ],
)
def test_softmax_mistakes_are_named(key, words):
    def softmax(e, mask):
        with np.errstate(all="ignore"):
            return softmax_variant(e, mask, key)

    fails(words, check_masked_softmax, softmax, 2, 6, 4)


def test_a_softmax_that_leaves_a_tiny_weight_at_the_padding_is_told_exactly_zero():
    def almost(e, mask):
        filled = np.where(mask, e, -30.0)  # exp(-30 - m) is about 1e-13, not 0
        x = np.exp(filled - filled.max(axis=0))
        return x / x.sum(axis=0)

    fails(["not exactly 0", "-inf"], check_masked_softmax, almost, 2, 6, 4)


def test_a_softmax_that_writes_into_its_scores_is_told():
    def in_place(e, mask):
        e[~mask] = -np.inf
        return softmax_logsumexp(e, mask)

    fails(["changed its input e"], check_masked_softmax, in_place, 2, 6, 4)


@pytest.mark.parametrize("context", [context_einsum, context_loops], ids=["einsum", "loops"])
def test_the_context_accepts_einsum_and_loops(context):
    check_attention_context(context, 3, S=6, B=3, He=5)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("batch_axis", ["summed over the batch"]),
        ("mean", ["averaged over the positions"]),
        ("unweighted", ["weights are not used"]),
    ],
)
def test_context_mistakes_are_named(key, words):
    fails(
        words, check_attention_context, lambda a, h, key=key: context_variant(a, h, key), 3, 6, 3, 5
    )


@pytest.mark.parametrize("cache", ["tuple", "dict", "nested"])
def test_the_forward_pass_accepts_any_cache(cache):
    check_attention_forward(make_forward(cache=cache), 4, S=6, B=3, Hd=4, He=5, A=7)


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ({"weights": "no_mask"}, ["mask is not used"]),
        ({"weights": "after"}, ["mask is applied after the softmax"]),
        ({"context": "mean"}, ["averaged over the positions"]),
    ],
)
def test_forward_mistakes_are_named(mistake, words):
    fails(words, check_attention_forward, make_forward(**mistake), 4, 6, 3, 4, 5, 7)


def test_a_forward_pass_that_returns_two_values_is_told_the_triple():
    def forward(s, Hs, mask, W_a, U_a, v_a):
        return make_forward()(s, Hs, mask, W_a, U_a, v_a)[:2]

    fails(["(c, alpha, cache)"], check_attention_forward, forward, 4, 6, 3, 4, 5, 7)


@pytest.mark.parametrize(
    ("forward", "backward"),
    [
        (make_forward(), make_backward()),
        (make_forward(cache="dict"), backward_from_dict),
        (make_forward(), backward_full_jacobian),
    ],
    ids=["tuple", "dict", "full_jacobian"],
)
def test_the_backward_pass_accepts_right_forms(forward, backward):
    for group in ("inputs", "parameters"):
        check_attention_backward(forward, backward, group, 5, S=6, B=3, Hd=4, He=5, A=7)
        check_attention_backward(forward, backward, group, 11, S=1, B=2, Hd=3, He=2, A=4)
    errors = gradient_check(forward, backward, 7, S=5, B=3, Hd=2, He=4, A=3)
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize(
    ("key", "group", "words"),
    [
        ("no_jacobian_sum", "inputs", ["misses the term"]),
        ("no_softmax", "parameters", ["not differentiated at all"]),
        ("jacobian_sign", "inputs", ["added instead of subtracted"]),
        ("no_context_path", "inputs", ["direct path of the context"]),
        ("no_score_path", "inputs", ["path through the scores"]),
        ("tanh_of_preactivation", "parameters", ["1 − t², not 1 − a²"]),
        ("no_tanh_derivative", "inputs", ["tanh is not differentiated"]),
        ("ds_mean", "inputs", ["ds is averaged"]),
        ("dv_with_preactivation", "parameters", ["dv_a is computed with the pre-activation"]),
        ("padding_in_jacobian", "inputs", ["as if the padding were real"]),
    ],
)
def test_backward_mistakes_are_named(key, group, words):
    fails(
        words, check_attention_backward, make_forward(), make_backward(key), group, 5, 6, 3, 4, 5, 7
    )
    fails(
        ["Gradient check for", "Likely mistake in the backward pass"],
        gradient_check,
        make_forward(),
        make_backward(key),
        7,
        5,
        3,
        2,
        4,
        3,
    )


def test_a_wrong_forward_pass_is_reported_before_its_gradients():
    fails(
        ["attention_forward, whose cache the backward pass reads", "mask is not used"],
        check_attention_backward,
        make_forward(weights="no_mask"),
        make_backward(),
        "inputs",
        5,
        6,
        3,
        4,
        5,
        7,
    )


def test_zero_gradients_fail_the_gradient_check():
    def zeros(dc, cache):
        s, Hs, _, W_a, U_a, v_a = cache[:6]
        return {
            "ds": np.zeros_like(s),
            "dHs": np.zeros_like(Hs),
            "dW_a": np.zeros_like(W_a),
            "dU_a": np.zeros_like(U_a),
            "dv_a": np.zeros_like(v_a),
        }

    fails(
        ["Gradient check for ds", "relative error 1.00e+00"],
        gradient_check,
        make_forward(),
        zeros,
        7,
        5,
        3,
        2,
        4,
        3,
    )


def test_an_unexplained_wrong_gradient_says_which_others_are_right():
    def scaled(dc, cache):
        grads = make_backward()(dc, cache)
        return {**grads, "dHs": 1.5 * grads["dHs"]}

    fails(
        ["dHs from attention_backward", "Of the other gradients, ds, dW_a, dU_a, dv_a match"],
        check_attention_backward,
        make_forward(),
        scaled,
        "inputs",
        5,
        6,
        3,
        4,
        5,
        7,
    )


def test_a_backward_pass_without_a_key_is_told_the_names():
    def partial(dc, cache):
        grads = make_backward()(dc, cache)
        del grads["dv_a"]
        return grads

    fails(
        ["without the key(s) dv_a"],
        check_attention_backward,
        make_forward(),
        partial,
        "parameters",
        5,
        6,
        3,
        4,
        5,
        7,
    )


# ------------------------------------------------------------------- the grader's re-check


def _recorded(monkeypatch, check, *args):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    try:
        return check(*args), records
    finally:
        monkeypatch.setattr(replay, "_mode", "normal")


@pytest.mark.parametrize(
    ("check", "answers", "args"),
    [
        (check_attention_scores, (scores_einsum,), (1, 6, 3, 4, 5, 7)),
        (check_masked_softmax, (softmax_logsumexp,), (2, 6, 4)),
        (check_attention_context, (context_einsum,), (3, 6, 3, 5)),
        (check_attention_forward, (make_forward(cache="nested"),), (4, 6, 3, 4, 5, 7)),
        (check_attention_backward, (make_forward(), make_backward(), "inputs"), (5, 6, 3, 4, 5, 7)),
        (gradient_check, (make_forward(cache="dict"), backward_from_dict), (7, 5, 3, 2, 4, 3)),
    ],
    ids=["scores", "softmax", "context", "forward", "backward", "gradient_check"],
)
def test_every_check_replays_from_its_record(monkeypatch, check, answers, args):
    result, records = _recorded(monkeypatch, check, *answers, *args)
    assert records and all("result" in r for r in records)
    stubs = [replay.Stub("student") if callable(a) else a for a in answers]
    with replay.replaying(records):
        assert check(*stubs, *args) == result


def test_a_wrong_backward_pass_fails_the_same_way_in_the_replay(monkeypatch):
    args = (make_forward(), make_backward("no_jacobian_sum"), "inputs", 5, 6, 3, 4, 5, 7)
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    with pytest.raises(CheckFailure) as kernel:
        check_attention_backward(*args)
    monkeypatch.setattr(replay, "_mode", "normal")
    stub = replay.Stub("student")
    with replay.replaying(records), pytest.raises(CheckFailure) as replayed:
        check_attention_backward(stub, stub, *args[2:])
    assert str(replayed.value) == str(kernel.value)
