"""Unit tests of the checks of Exercise 6's PyTorch notebook (the encoder, the attention, the
decoder, the padding, teacher forcing, greedy decoding, beam search, the trained model).

Fast (no kernels), except the two trainings marked slow: each test hands a check right answers,
which must pass however they are written (packing or a masked loop or one source at a time, an
einsum attention with a large negative mask, a loss summed by hand, decoding one source at a time,
a beam search over a list of hypotheses), and known wrong ones, which must fail with words that
name the mistake. The references are compared with independent code, and every check is replayed
from its record as the grader's re-check does (``REPLAY_CASES``, which
``tests/course_checks/test_replay_torch.py`` can take as they are).
"""

from __future__ import annotations

import json
import math

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import __main__
from course_checks import CheckFailure, dates, replay
from course_checks.ex6_seq2seq import torch_decoding
from course_checks.ex6_seq2seq.references import torch_attention
from course_checks.ex6_seq2seq.seq2seq_torch import (
    COUNTS,
    EVALUATION,
    THRESHOLD,
    TRAINING,
    check_attention,
    check_beam_search,
    check_decoder,
    check_encoder,
    check_greedy,
    check_padding,
    check_sequence_loss,
    check_trained,
)
from course_checks.ex6_seq2seq.torch_references import (
    END,
    PAD,
    START,
    V_SOURCE,
    V_TARGET,
    ReferenceAttention,
    ReferenceEncoder,
    all_sequences,
    decoder_inputs,
    random_batch,
    reference_beam_search,
    reference_greedy,
    reference_model,
    reference_sequence_loss,
    sequence_scores,
    source_mask,
    teacher_forced_logits,
)
from course_checks.ex6_seq2seq.torch_training import (
    accuracy_by_count,
    reference_training,
    training_batches,
)
from course_checks.ex6_seq2seq.torch_wrong_answers import (
    BEAM_VARIANTS,
    GREEDY_VARIANTS,
    LOSS_VARIANTS,
    attention_variants,
    decoder_variants,
    encoder_variants,
)
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails
from tests.support.factory import SOLUTIONS

# ------------------------------------------------------------------- right answers, many forms


def _gru_step(cell_weights, x, h):
    """One step of a direction of nn.GRU, written out (PyTorch's equations, gates r, z, n)."""
    w_ih, w_hh, b_ih, b_hh = cell_weights
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    H = h.shape[-1]
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1 - z) * n + z * h


class Encoder(nn.Module):
    """The notebook's encoder; ``form`` a right way of writing it, or a mistake."""

    def __init__(self, V, embed, hidden, *, form="packed"):
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.gru = nn.GRU(embed, hidden, bidirectional=True)
        self.form = form

    def forward(self, src, lengths):
        e, (S, B), H = self.embedding(src), src.shape, self.gru.hidden_size
        if self.form == "masked_loop":  # right: each direction by hand, the padding skipped
            mask = source_mask(lengths, S)[..., None].to(e)
            g = self.gru
            forward = (g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)
            backward = (
                g.weight_ih_l0_reverse,
                g.weight_hh_l0_reverse,
                g.bias_ih_l0_reverse,
                g.bias_hh_l0_reverse,
            )
            h, outs_f = e.new_zeros(B, H), []
            for t in range(S):
                h = mask[t] * _gru_step(forward, e[t], h) + (1 - mask[t]) * h
                outs_f.append(h)
            h, outs_b = e.new_zeros(B, H), [None] * S
            for t in reversed(range(S)):
                h = mask[t] * _gru_step(backward, e[t], h) + (1 - mask[t]) * h
                outs_b[t] = h
            return torch.cat([torch.stack(outs_f), torch.stack(outs_b)], -1), torch.cat(
                [outs_f[-1], outs_b[0]], -1
            )
        if self.form == "one_by_one":  # right: each source alone, no padding to fool the GRU
            annotations = e.new_zeros(S, B, 2 * H)
            summaries = []
            for b, n in enumerate(lengths.tolist()):
                out, h_n = self.gru(e[:n, b : b + 1])
                annotations[:n, b] = out[:, 0]
                summaries.append(torch.cat([h_n[0], h_n[1]], -1))
            return annotations, torch.cat(summaries)
        if self.form == "unpacked":
            out, h_n = self.gru(e)
            return out, torch.cat([h_n[0], h_n[1]], -1)
        order = torch.arange(B)
        if self.form == "sorted_kept":
            lengths, order = lengths.sort(descending=True)
            e = e[:, order]
        packed = nn.utils.rnn.pack_padded_sequence(e, lengths.cpu(), enforce_sorted=False)
        out, h_n = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=S)
        if self.form == "backward_first":
            return out, torch.cat([h_n[1], h_n[0]], -1)
        if self.form == "padded_end":
            return out, out[-1]
        if self.form == "backward_at_end":
            return out, out[lengths - 1, torch.arange(B)]
        return out, torch.cat([h_n[0], h_n[1]], -1)


def make_encoder(form="packed"):
    def factory(V, embed, hidden):
        return Encoder(V, embed, hidden, form=form)

    factory.__name__ = factory.__qualname__ = "Encoder"
    return factory


class AdditiveAttention(nn.Module):
    """The notebook's attention; ``form`` a right way of writing it, or a mistake."""

    def __init__(self, query, key, size, *, form="masked_fill"):
        super().__init__()
        self.W_a = nn.Linear(query, size, bias=False)
        self.U_a = nn.Linear(key, size, bias=False)
        self.v_a = nn.Linear(size, 1, bias=False)
        self.form = form

    def forward(self, s, annotations, mask):
        if self.form == "einsum":  # right: the weights used directly, a large negative mask
            t = torch.tanh(
                torch.einsum("bq,aq->ba", s, self.W_a.weight)[None]
                + torch.einsum("sbk,ak->sba", annotations, self.U_a.weight)
            )
            e = torch.einsum("sba,a->sb", t, self.v_a.weight[0])
            e = torch.where(mask, e, torch.full_like(e, -1e30))
            x = torch.exp(e - e.max(0, keepdim=True).values)
            alpha = x / x.sum(0, keepdim=True)
            return torch.einsum("sb,sbk->bk", alpha, annotations), alpha
        raw = self.v_a(torch.tanh(self.W_a(s) + self.U_a(annotations)))
        if self.form == "last_axis":
            alpha = torch.softmax(raw.masked_fill(~mask[..., None], float("-inf")), -1)[..., 0]
            return (alpha[..., None] * annotations).sum(0), alpha
        e = raw.squeeze(-1)
        if self.form == "no_mask":
            alpha = torch.softmax(e, 0)
        elif self.form == "after":
            alpha = torch.softmax(e, 0) * mask
        elif self.form == "zero_fill":
            alpha = torch.softmax(e * mask, 0)
        elif self.form == "batch_axis":
            alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), -1)
        elif self.form == "manual_exp":  # wrong for large scores: no max subtracted
            x = torch.exp(e) * mask
            alpha = x / x.sum(0)
        else:
            alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), 0)
        if self.form == "keys":
            return (alpha[..., None] * self.U_a(annotations)).sum(0), alpha
        return (alpha[..., None] * annotations).sum(0), alpha


def make_attention(form="masked_fill"):
    def factory(query, key, size):
        return AdditiveAttention(query, key, size, form=form)

    factory.__name__ = factory.__qualname__ = "AdditiveAttention"
    return factory


class Decoder(nn.Module):
    """The notebook's decoder; ``form`` a right way of writing it, or a mistake; ``attention``
    the form of its attention."""

    def __init__(self, V, embed, hidden, key, size, *, form="right", attention="masked_fill"):
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.init = nn.Linear(key, hidden)
        self.attention = AdditiveAttention(hidden, key, size, form=attention)
        self.cell = nn.GRUCell(embed + key, hidden)
        self.out = nn.Linear(hidden + key + embed, V)
        self.form = form

    def init_state(self, summary):
        return self.init(summary) if self.form == "init_no_tanh" else torch.tanh(self.init(summary))

    def forward(self, y_prev, s, annotations, mask):
        e = self.embedding(y_prev)
        context, alpha = self.attention(s, annotations, mask)
        if self.form == "cell_order":
            s_new = self.cell(torch.cat([context, e], -1), s)
        else:
            s_new = self.cell(torch.cat([e, context], -1), s)
        if self.form == "out_previous":
            return self.out(torch.cat([s, context, e], -1)), s_new, alpha
        logits = self.out(torch.cat([s_new, context, e], -1))
        if self.form == "softmax":
            logits = torch.softmax(logits, -1)
        return logits, s_new, alpha


def make_decoder(form="right", attention="masked_fill"):
    def factory(V, embed, hidden, key, size):
        return Decoder(V, embed, hidden, key, size, form=form, attention=attention)

    factory.__name__ = factory.__qualname__ = "Decoder"
    return factory


def make_loss(form="right", **switches):
    """A sequence_loss: ``form`` a right way of writing it; ``switches`` the reference's."""

    def sequence_loss(model, src, lengths, tgt):
        if form == "by_hand":  # right: the log-probabilities gathered and averaged by hand
            annotations, mask, s = model.encode(src, lengths)
            inputs = torch.cat([torch.full_like(tgt[:1], START), tgt[:-1]])
            total, count = 0.0, 0
            for t in range(len(tgt)):
                logits, s, _ = model.step(inputs[t], s, annotations, mask)
                log_p = torch.log_softmax(logits, -1).gather(1, tgt[t][:, None])[:, 0]
                real = tgt[t] != PAD
                total = total - (log_p * real).sum()
                count += int(real.sum())
            return total / count
        if form == "detached":
            return reference_sequence_loss(model, src, lengths, tgt).detach()
        if form == "item":
            return reference_sequence_loss(model, src, lengths, tgt).detach().item()
        return reference_sequence_loss(model, src, lengths, tgt, **switches)

    sequence_loss.__name__ = sequence_loss.__qualname__ = "sequence_loss"
    return sequence_loss


def make_greedy(form="batched", **switches):
    def greedy_decode(model, src, lengths, max_len):
        if form == "one_by_one":  # right: each source alone
            return [
                reference_greedy(model, src[: int(n), b : b + 1], lengths[b : b + 1], max_len)[0]
                for b, n in enumerate(lengths)
            ]
        if form == "tensors":  # right: rows as tensors
            rows = reference_greedy(model, src, lengths, max_len)
            return [torch.tensor(row, dtype=torch.long) for row in rows]
        return reference_greedy(model, src, lengths, max_len, **switches)

    greedy_decode.__name__ = greedy_decode.__qualname__ = "greedy_decode"
    return greedy_decode


def beam_one_by_one(model, src, lengths, beam_width, max_len, alpha=1.0):
    """Right: the notebook's algorithm with one decoder call per hypothesis, the top beam_width
    tokens of each hypothesis first."""
    with torch.no_grad():
        annotations, mask, s = model.encode(src, lengths)
        beam, finished = [([], 0.0, s)], []
        for _ in range(max_len):
            extensions = []
            for tokens, score, state in beam:
                y = torch.tensor([tokens[-1] if tokens else START])
                logits, new_state, _ = model.step(y, state, annotations, mask)
                top = torch.topk(
                    torch.log_softmax(logits[0], -1), min(V_TARGET, beam_width, logits.shape[-1])
                )
                for lp, v in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    extensions.append((score + lp, [*tokens, v], new_state))
            extensions.sort(key=lambda e: -e[0])
            beam = []
            for score, tokens, state in extensions[:beam_width]:
                if tokens[-1] == END:
                    finished.append((tokens[:-1], score / len(tokens) ** alpha))
                else:
                    beam.append((tokens, score, state))
            if not beam:
                break
        finished += [(t, sc / len(t) ** alpha) for t, sc, _ in beam]
    best = max(finished, key=lambda f: f[1])
    return best[0], best[1]


def make_beam(form="reference", **switches):
    def beam_search(model, src, lengths, beam_width, max_len, alpha=1.0):
        if form == "one_by_one":
            return beam_one_by_one(model, src, lengths, beam_width, max_len, alpha)
        if form == "tensor":
            ids, score = reference_beam_search(model, src, lengths, beam_width, max_len, alpha)
            return torch.tensor(ids, dtype=torch.long), torch.tensor(score)
        return reference_beam_search(model, src, lengths, beam_width, max_len, alpha, **switches)

    beam_search.__name__ = beam_search.__qualname__ = "beam_search"
    return beam_search


# ---------------------------------------------------------------------------- the references


def _differ(a, b):
    """Whether a mistake's value differs from the right one (NaN differs from everything)."""
    return a.shape != b.shape or not torch.allclose(a.double(), b.double(), atol=1e-6)


def test_the_reference_encoder_reads_each_source_alone():
    torch.manual_seed(0)
    encoder = ReferenceEncoder(11, 4, 3).double()
    src, lengths, _ = random_batch(0, 11, 5, 7, 2, 5)
    annotations, summary = encoder(src, lengths)
    mask = source_mask(lengths, 7)
    assert torch.all(annotations[~mask] == 0)
    for b, n in enumerate(lengths.tolist()):
        out, h_n = encoder.gru(encoder.embedding(src[:n, b : b + 1]))
        assert torch.allclose(annotations[:n, b], out[:, 0], atol=1e-12)
        assert torch.allclose(summary[b], torch.cat([h_n[0, 0], h_n[1, 0]]), atol=1e-12)
        assert torch.allclose(summary[b, 3:], out[0, 0, 3:], atol=1e-12), "backward: position 0"
    for text, value in encoder_variants(encoder, src, lengths)["summary"].items():
        assert _differ(value, summary), text
    for text, value in encoder_variants(encoder, src, lengths)["annotations"].items():
        assert _differ(value * mask[..., None], annotations * mask[..., None]), text


def test_the_reference_attention_is_the_numpy_notebooks():
    torch.manual_seed(1)
    attention = ReferenceAttention(4, 6, 5).double()
    s = torch.randn(3, 4, dtype=torch.float64)
    annotations = torch.randn(7, 3, 6, dtype=torch.float64)
    mask = source_mask(torch.tensor([7, 3, 5]), 7)
    context, alpha = attention(s, annotations, mask)
    numpy = torch_attention(
        s.numpy(),
        annotations.numpy(),
        mask.numpy(),
        attention.W_a.weight.detach().T.numpy(),
        attention.U_a.weight.detach().T.numpy(),
        attention.v_a.weight.detach()[0].numpy(),
    )
    assert np.abs(numpy["c"] - context.detach().numpy()).max() < 1e-12
    assert np.abs(numpy["alpha"] - alpha.detach().numpy()).max() < 1e-12
    wrong = attention_variants(attention, s, annotations, mask)
    for text, value in wrong["alpha"].items():
        assert _differ(value, alpha), text
    for text, value in wrong["context"].items():
        assert _differ(value, context), text


def test_the_reference_decoder_step_is_the_equations():
    model = reference_model(2, {"V_src": 11, "V_tgt": 9, "embed": 3, "hidden": 2, "size": 5})
    d = model.decoder
    src, lengths, _ = random_batch(2, 11, 9, 6, 2, 3)
    annotations, mask, s = model.encode(src, lengths)
    y = torch.tensor([3, 4, 5])
    logits, s_new, alpha = model.step(y, s, annotations, mask)
    with torch.no_grad():
        e = d.embedding.weight[y]
        context = (alpha[..., None] * annotations).sum(0)
        x = torch.cat([e, context], -1)
        cell = (d.cell.weight_ih, d.cell.weight_hh, d.cell.bias_ih, d.cell.bias_hh)
        by_hand = _gru_step(cell, x, s)
        assert torch.allclose(s_new, by_hand, atol=1e-12)
        out = torch.cat([by_hand, context, e], -1) @ d.out.weight.T + d.out.bias
        assert torch.allclose(logits, out, atol=1e-12)
        assert torch.allclose(
            s, torch.tanh(d.init(torch.cat([model.encoder(src, lengths)[1]], -1))), atol=1e-12
        )
        for text, value in decoder_variants(d, y, s, annotations, mask)["logits"].items():
            assert _differ(value, logits), text


def test_without_attention_the_context_is_the_summary_at_every_step():
    sizes = {"V_src": 11, "V_tgt": 9, "embed": 3, "hidden": 2, "size": 5}
    model = reference_model(3, sizes, attention=False)
    src, lengths, _ = random_batch(3, 11, 9, 6, 2, 4)
    annotations, mask, s = model.encode(src, lengths)
    _, summary = model.encoder(src, lengths)
    assert annotations.shape == (1, 4, 4) and torch.equal(annotations[0], summary)
    _, _, alpha = model.step(torch.tensor([3, 4, 5, 6]), s, annotations, mask)
    assert torch.equal(alpha, torch.ones_like(alpha))


def test_the_reference_loss_is_the_mean_over_the_real_tokens_and_every_mistake_differs():
    model = reference_model(4, {"V_src": 11, "V_tgt": 9, "embed": 4, "hidden": 3, "size": 4})
    src, lengths, tgt = random_batch(4, 11, 9, 6, 5, 4)
    assert (tgt == PAD).any(), "the targets have padding"
    loss = reference_sequence_loss(model, src, lengths, tgt)
    logits = teacher_forced_logits(model, src, lengths, tgt)
    log_p = torch.log_softmax(logits, -1).gather(-1, tgt[..., None])[..., 0]
    real = tgt != PAD
    assert abs(float(loss.detach()) + float(log_p[real].mean())) < 1e-12
    assert torch.equal(decoder_inputs(tgt)[1:], tgt[:-1]) and bool(
        (decoder_inputs(tgt)[0] == START).all()
    )
    for text, switches in LOSS_VARIANTS.items():
        wrong = reference_sequence_loss(model, src, lengths, tgt, **switches)
        assert abs(float(wrong.detach()) - float(loss.detach())) > 1e-6, text


def test_beam_search_of_width_one_is_greedy_and_a_wide_beam_is_exhaustive():
    for seed in range(4):
        model = torch_decoding.decoding_model(seed, 9)
        src, lengths, _ = random_batch(seed, 11, 9, 6, 2, 4)
        greedy = reference_greedy(model, src, lengths, 7)
        for b, n in enumerate(lengths.tolist()):
            one = (src[:n, b : b + 1], lengths[b : b + 1])
            assert reference_beam_search(model, *one, 1, 7, 0.7)[0] == greedy[b]
        for alpha in (1.0, 0.0):
            model_seed, src1, len1 = torch_decoding.beam_case(seed, alpha)
            tiny = torch_decoding.decoding_model(model_seed, 6, scale=2.0)
            best, score = torch_decoding._exhaustive_best(alpha, seed)
            ids, found = reference_beam_search(tiny, src1, len1, 200, 3, alpha)
            assert ids == best and found == pytest.approx(score)
            assert beam_one_by_one(tiny, src1, len1, 200, 3, alpha)[0] == best
            for text, switches in BEAM_VARIANTS.items():
                if alpha == 0 and "length" in text:
                    continue  # without normalisation the length does not matter
                wrong = reference_beam_search(tiny, src1, len1, 200, 3, alpha, **switches)
                assert wrong[0] != best or abs(wrong[1] - score) > 1e-6, (seed, alpha, text)


def test_every_output_is_enumerated_once():
    sequences = all_sequences(6, 3)
    assert len(sequences) == 1 + 5 + 25 + 125 == len({tuple(s) for s in sequences})
    assert all(END not in s[:-1] for s in sequences)
    model = torch_decoding.decoding_model(0, 6, scale=2.0)
    src, lengths, _ = random_batch(0, 11, 6, 4, 2, 1)
    scores = sequence_scores(model, src, lengths, sequences)
    finished = [math.exp(v) for v, s in zip(scores, sequences, strict=True) if s[-1] == END]
    unfinished = [math.exp(v) for v, s in zip(scores, sequences, strict=True) if s[-1] != END]
    assert sum(finished) + sum(unfinished) == pytest.approx(1.0), "a distribution over outputs"


def test_greedy_variants_differ_on_the_test_cases():
    for seed in range(3):
        model_seed, (src, lengths) = torch_decoding.greedy_case(seed, 5, 7)
        model = torch_decoding.decoding_model(model_seed, 9)
        right = reference_greedy(model, src, lengths, 7)
        for text, switches in GREEDY_VARIANTS.items():
            assert reference_greedy(model, src, lengths, 7, **switches) != right, (seed, text)


def test_the_training_batches_are_the_notebooks_and_the_notebook_states_the_settings():
    nb = nbformat.read(SOLUTIONS / "ex6_seq2seq" / "seq2seq_torch.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    train = cells["train"]
    settings = (TRAINING[k] for k in ("embed", "hidden", "size", "batch", "steps", "lr"))
    assert (
        "EMBED, HIDDEN, SIZE, BATCH, STEPS, LR = {}, {}, {}, {}, {}, {}".format(*settings) in train
    )
    assert f"dates={COUNTS}" in train and "seed=0" in train
    assert f"clip_grad_norm_(model.parameters(), {TRAINING['max_norm']})" in train
    text = cells["training_instructions"]
    assert f"{TRAINING['steps']} batches of {TRAINING['batch']}" in text
    assert f"**{THRESHOLD:.0%}**".replace("%", " %") in text
    assert f"on {EVALUATION['n']} sources of one date" in text
    namespace: dict = {}
    exec(cells["setup"].split("examples = ")[0], namespace)  # the given make_batch
    pairs = dates.date_pairs("train", 64, 0, dates=COUNTS)
    ours = training_batches()[0]
    theirs = namespace["make_batch"](pairs.sources[:32], pairs.targets[:32])
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


# ---------------------------------------------------------------------------- the encoder


@pytest.mark.parametrize("form", ["packed", "masked_loop", "one_by_one"])
def test_the_encoder_accepts_packing_a_masked_loop_or_one_source_at_a_time(form):
    check_encoder(make_encoder(form), 0, V=11, embed=4, hidden=3, S=7, B=5, extra=4)
    check_encoder(make_encoder(form), 7, V=13, embed=3, hidden=5, S=9, B=6, extra=13)


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ("unpacked", ["read the padded batch", "pack the batch"]),
        ("padded_end", ["annotations' last row"]),
        ("backward_first", ["concatenated backward first"]),
        ("backward_at_end", ["position lengths[b] − 1", "position 0"]),
        ("sorted_kept", ["order of the sorted lengths"]),
    ],
)
def test_encoder_mistakes_are_named(form, words):
    fails(words, check_encoder, make_encoder(form), 0, 11, 4, 3, 7, 5, 4)


def test_an_encoder_of_one_direction_or_other_names_is_told_what_to_hold():
    class OneWay(nn.Module):
        def __init__(self, V, embed, hidden):
            super().__init__()
            self.embedding = nn.Embedding(V, embed)
            self.gru = nn.GRU(embed, hidden)

    fails(
        ["Missing: gru.weight_ih_l0_reverse", "bidirectional=True"],
        check_encoder,
        OneWay,
        0,
        11,
        4,
        3,
        7,
        5,
        4,
    )


# --------------------------------------------------------------------------- the attention


@pytest.mark.parametrize("form", ["masked_fill", "einsum"])
def test_the_attention_accepts_other_right_forms(form):
    check_attention(make_attention(form), 1, query=4, key=6, size=5, S=7, B=4, extra=3)
    check_attention(make_attention(form), 9, query=3, key=8, size=2, S=5, B=6, extra=11)


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ("no_mask", ["mask is not used"]),
        ("after", ["mask is applied after the softmax"]),
        ("zero_fill", ["not to −inf"]),
        ("batch_axis", ["runs over the batch"]),
        ("last_axis", ["last axis of (S, B, 1) scores", "every weight is 1"]),
        ("keys", ["weighted sum of the keys"]),
        ("manual_exp", ["NaN or infinite"]),
    ],
)
def test_attention_mistakes_are_named(form, words):
    fails(words, check_attention, make_attention(form), 1, 4, 6, 5, 7, 4, 3)


# ----------------------------------------------------------------------------- the decoder


def test_the_decoder_is_judged_with_a_reference_attention():
    check_decoder(make_decoder(), 2, V=9, embed=3, hidden=4, key=6, size=5, S=6, B=3)
    check_decoder(make_decoder(attention="no_mask"), 2, 9, 3, 4, 6, 5, 6, 3)  # not its test's


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ("cell_order", ["concatenated context first"]),
        ("out_previous", ["reads the previous state s"]),
        ("softmax", ["went through a softmax"]),
        ("init_no_tanh", ["missing its tanh"]),
    ],
)
def test_decoder_mistakes_are_named(form, words):
    fails(words, check_decoder, make_decoder(form), 2, 9, 3, 4, 6, 5, 6, 3)


def test_a_decoder_with_another_output_layer_is_told_its_size():
    class Small(Decoder):
        def __init__(self, V, embed, hidden, key, size):
            super().__init__(V, embed, hidden, key, size)
            self.out = nn.Linear(hidden, V)

    fails(
        ["out.weight has shape", "nn.Linear(hidden + key + embed, V)"],
        check_decoder,
        Small,
        2,
        9,
        3,
        4,
        6,
        5,
        6,
        3,
    )


# ---------------------------------------------------------------------------- the padding


def test_the_joined_model_passes_with_right_parts_in_any_form():
    for encoder in ("packed", "masked_loop"):
        for attention in ("masked_fill", "einsum"):
            check_padding(
                make_encoder(encoder),
                make_decoder(attention=attention),
                3,
                V_src=11,
                V_tgt=9,
                embed=4,
                hidden=3,
                size=4,
                S=7,
                T=5,
                B=4,
                extra=3,
            )


@pytest.mark.parametrize(
    ("encoder", "attention", "words"),
    [
        ("unpacked", "masked_fill", ["Seq2Seq(Encoder(…), Decoder(…))"]),
        ("packed", "no_mask", ["change when the batch gets 3 more padding positions"]),
        ("masked_loop", "no_mask", ["change when the batch gets 3 more padding positions"]),
    ],
)
def test_a_model_that_depends_on_its_padding_fails(encoder, attention, words):
    fails(
        words,
        check_padding,
        make_encoder(encoder),
        make_decoder(attention=attention),
        3,
        11,
        9,
        4,
        3,
        4,
        7,
        5,
        4,
        3,
    )


# ------------------------------------------------------------------------- sequence_loss


@pytest.mark.parametrize("form", ["right", "by_hand"])
def test_the_loss_accepts_a_sum_by_hand(form):
    check_sequence_loss(make_loss(form), 4)
    check_sequence_loss(make_loss(form), 8, S=8, T=6, B=5)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"feed": "own"}, ["fed its own predictions"]),
        ({"feed": "target"}, ["the targets themselves"]),
        ({"feed": "start"}, ["start token at every step"]),
        ({"targets": "inputs"}, ["one step behind"]),
        ({"padding": "counted"}, ["padding is counted", "ignore_index=0"]),
        ({"reduction": "sum"}, ["sum over the tokens"]),
        ({"reduction": "sequence_means"}, ["each sequence's mean loss"]),
        ({"form": "detached"}, ["without a graph"]),
        ({"form": "item"}, ["return the loss as a tensor"]),
    ],
)
def test_loss_mistakes_are_named(switches, words):
    fails(words, check_sequence_loss, make_loss(**switches), 4)


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("form", ["batched", "one_by_one", "tensors"])
def test_greedy_accepts_a_batch_or_one_source_at_a_time(form):
    check_greedy(make_greedy(form), 5)
    check_greedy(make_greedy(form), 12, B=6, max_len=8)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"feed": "start"}, ["start token at every step"]),
        ({"stop": "first"}, ["as soon as one source has emitted the end token"]),
        ({"cut": False}, ["not cut at the end token"]),
    ],
)
def test_greedy_mistakes_are_named(switches, words):
    fails(words, check_greedy, make_greedy(**switches), 5)


@pytest.mark.parametrize("form", ["reference", "one_by_one", "tensor"])
def test_beam_search_accepts_a_loop_over_hypotheses(form):
    check_beam_search(make_beam(form), 6)
    check_beam_search(make_beam(form), 13, alphas=(0.6,))


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"score": "probability"}, ["probabilities were summed"]),
        ({"score": "product"}, ["multiplied"]),
        ({"normalise": False}, ["without length normalisation"]),
        ({"length": "without_end"}, ["does not count the end token"]),
    ],
)
def test_beam_mistakes_are_named(switches, words):
    fails(words, check_beam_search, make_beam(**switches), 6)


def test_every_beam_mistake_is_caught_on_some_seed():
    for switches in BEAM_VARIANTS.values():
        for seed in range(4):
            with pytest.raises(CheckFailure):
                check_beam_search(make_beam(**switches), seed)


# ----------------------------------------------------------------------- the trained model


class Oracle(nn.Module):
    """A 'trained' model that knows the answers of the test's held-out sources: the parameters
    of the notebook's model, and encode/step that write each source's known target."""

    def __init__(self):
        super().__init__()
        sizes = {
            "V_src": V_SOURCE,
            "V_tgt": V_TARGET,
            "embed": TRAINING["embed"],
            "hidden": TRAINING["hidden"],
            "size": TRAINING["size"],
        }
        reference = reference_model(0, sizes, dtype=torch.float32)
        self.encoder, self.decoder = reference.encoder, reference.decoder
        self.answers = {}
        for count in EVALUATION["counts"]:
            pairs = dates.date_pairs("test", EVALUATION["n"], 1 + 1000 * count, dates=(count,))
            self.answers.update(zip(pairs.sources, pairs.targets, strict=True))

    def encode(self, src, lengths):
        rows = []
        for b, n in enumerate(lengths.tolist()):
            text = "".join(dates.SOURCE_ALPHABET[int(i)] for i in src[:n, b])
            rows.append(dates.encode_target(self.answers[text])[1:])
        target = torch.zeros(24, len(rows), dtype=torch.long)
        for b, row in enumerate(rows):
            target[: len(row), b] = torch.tensor(row)
        return target, source_mask(lengths, src.shape[0]), torch.zeros(len(rows), 1)

    def step(self, y_prev, s, target, mask):
        t = int(s[0, 0])
        logits = F.one_hot(target[t], V_TARGET).float() * 10
        return logits, s + 1, mask.float() / mask.sum(0)


def _recorded(monkeypatch, check, *args, **kwargs):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    try:
        return check(*args, **kwargs), records
    finally:
        monkeypatch.setattr(replay, "_mode", "normal")


def test_the_trained_model_is_found_by_name_and_judged_again_in_the_replay(monkeypatch):
    monkeypatch.setattr(__main__, "model", Oracle(), raising=False)
    monkeypatch.setattr(__main__, "losses", [0.1] * 5, raising=False)
    shares, records = _recorded(monkeypatch, check_trained, "model", "losses", 5)
    assert shares == {1: 1.0, 2: 1.0}
    monkeypatch.delattr(__main__, "model")  # the re-check has no model, only the record
    with replay.replaying(records):
        assert check_trained("model", "losses", 5) == shares


def test_an_untrained_or_unfinished_model_fails_with_the_reason(monkeypatch):
    sizes = {
        "V_src": V_SOURCE,
        "V_tgt": V_TARGET,
        "embed": TRAINING["embed"],
        "hidden": TRAINING["hidden"],
        "size": TRAINING["size"],
    }
    monkeypatch.setattr(
        __main__, "model", reference_model(0, sizes, dtype=torch.float32), raising=False
    )
    monkeypatch.setattr(__main__, "losses", [2.0] * 5, raising=False)
    fails(
        ["it must reach 40%", "in date formats it never saw"], check_trained, "model", "losses", 5
    )
    fails(["did not run to its end"], check_trained, "model", "losses", 6)
    small = reference_model(0, {**sizes, "hidden": 8}, dtype=torch.float32)
    monkeypatch.setattr(__main__, "model", small, raising=False)
    fails(["does not have the parameters"], check_trained, "model", "losses", 5)
    monkeypatch.delattr(__main__, "model")
    fails(["run the training cell"], check_trained, "model", "losses", 5)


@pytest.mark.slow
def test_the_notebooks_training_reaches_the_threshold_with_a_margin():
    """The reference run of the training cell (seed 0, as the notebook): both numbers of dates
    well above the threshold, on the public and on another held-out sample."""
    torch.set_num_threads(1)
    model, losses = reference_training(0)
    model.eval()
    for seed in (EVALUATION["seed"], 777):
        shares = accuracy_by_count(model, seed=seed)
        assert min(shares.values()) > THRESHOLD + 0.1, shares
    assert losses[-1] < losses[0] / 10


@pytest.mark.slow
def test_without_attention_the_same_training_stays_below_the_threshold_at_two_dates():
    """The notebook's claim: the same model and training, its decoder given the encoder's summary
    instead of a context at every step, does not reach the threshold on the longest sources, those
    of two dates (nor on those of one)."""
    torch.set_num_threads(1)
    model, _ = reference_training(0, attention=False)
    model.eval()
    shares = accuracy_by_count(model)
    assert shares[2] < THRESHOLD / 4, shares
    assert shares[1] < THRESHOLD, shares


# ------------------------------------------------------------------- the grader's re-check

# (check, the student's answers, the test's other arguments) for every check a cell calls; in
# the form of tests/course_checks/test_replay_torch.py's CHECKS.
REPLAY_CASES = {
    "seq2seq_encoder": (check_encoder, make_encoder("masked_loop"), (6101, 13, 3, 5, 9, 6, 8), {}),
    "seq2seq_attention": (check_attention, make_attention("einsum"), (6201, 3, 8, 2, 5, 6, 7), {}),
    "seq2seq_decoder": (check_decoder, make_decoder(), (6301, 12, 5, 3, 4, 6, 4, 5), {}),
    # The padding check takes the encoder and the decoder: the second travels among the arguments
    # (the re-check never calls it: the probe's data come from the record).
    "seq2seq_padding": (
        check_padding,
        make_encoder(),
        (make_decoder(), 6401, 13, 8, 3, 2, 3, 6, 4, 5, 9),
        {},
    ),
    "seq2seq_sequence_loss": (check_sequence_loss, make_loss("by_hand"), (6501,), {"T": 6}),
    "seq2seq_greedy": (check_greedy, make_greedy("one_by_one"), (6601,), {"B": 6}),
    "seq2seq_beam_search": (
        check_beam_search,
        make_beam("one_by_one"),
        (6701,),
        {"alphas": (0.6,)},
    ),
}
# Tested on their own above: the trained model, found by name.
TESTED_ON_THEIR_OWN = {"seq2seq_torch.check_trained"}


@pytest.mark.parametrize("name", sorted(REPLAY_CASES))
def test_every_check_replays_from_its_record(name, monkeypatch):
    check, answer, args, kwargs = REPLAY_CASES[name]
    result, records = _recorded(monkeypatch, check, answer, *args, **kwargs)
    assert records and all("result" in record for record in records), records
    with replay.replaying(records):
        assert check(replay.Stub("student"), *args, **kwargs) == result


def test_the_replay_cases_are_every_check_the_notebook_imports():
    from grader.course import load_course

    notebook = next(a for a in load_course() if a.name == "ex6_seq2seq").notebook("seq2seq_torch")
    imported = {
        f"seq2seq_torch.{name}" for _, name in notebook.check_imports if name.startswith("check_")
    }
    cased = {f"seq2seq_torch.{case[0].__name__}" for case in REPLAY_CASES.values()}
    assert imported == cased | TESTED_ON_THEIR_OWN


def test_a_wrong_loss_fails_the_same_way_in_the_replay(monkeypatch):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    with pytest.raises(CheckFailure) as kernel:
        check_sequence_loss(make_loss(feed="own"), 4)
    monkeypatch.setattr(replay, "_mode", "normal")
    with replay.replaying(records), pytest.raises(CheckFailure) as replayed:
        check_sequence_loss(replay.Stub("student"), 4)
    assert str(replayed.value) == str(kernel.value)
