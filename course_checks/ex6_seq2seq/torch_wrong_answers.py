"""What known wrong answers of Exercise 6's PyTorch notebook produce, so that feedback names them.

The module tables compute, from a reference module's own weights, what a wrong module would
return; the tables of the functions map the words a student reads to the switches of a reference
in ``torch_references.py`` that reproduce the mistake. The right answers never come from here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_checks.variants import merge_identical

__all__ = [
    "BEAM_VARIANTS",
    "GREEDY_VARIANTS",
    "LOSS_VARIANTS",
    "attention_variants",
    "decoder_variants",
    "encoder_variants",
    "init_variants",
]

_PACK = (
    "pack the batch, nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), "
    "enforce_sorted=False), so that each direction reads only the real positions"
)


def encoder_variants(
    encoder: nn.Module, src: torch.Tensor, lengths: torch.Tensor
) -> dict[str, dict[str, torch.Tensor]]:
    """``{"annotations": {text: (S, B, 2H)}, "summary": {text: (B, 2H)}}`` of wrong encoders with
    ``encoder``'s weights."""
    B = src.shape[1]
    rows = torch.arange(B)
    with torch.no_grad():
        right, summary = encoder(src, lengths)
        embedded = encoder.embedding(src)
        unpacked, h_unpacked = encoder.gru(embedded)  # the padding read as input
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), enforce_sorted=False)
        _, h_n = encoder.gru(packed)
        at_end = right[lengths - 1, rows]  # both directions' annotations at the last real step
        order = torch.argsort(lengths, descending=True)
        annotations = {
            "the GRU read the padded batch: its backward direction starts in the padding, so the "
            f"annotations of every shorter source depend on its padding; {_PACK}": unpacked,
            "the annotations come in the order of the sorted lengths: sorting the batch for "
            "pack_padded_sequence must be undone (or use enforce_sorted=False, which does it)": (
                right[:, order]
            ),
        }
        summaries = {
            "the summary was taken at the padded end (h_n of the GRU that read the padded "
            f"batch): a shorter source's forward state must be read at its last real position; "
            f"{_PACK}": torch.cat([h_unpacked[0], h_unpacked[1]], -1),
            "the summary is the annotations' last row, annotations[-1], at the padded end: each "
            "direction's final state is at the source's own end, the forward one after the last "
            "real character, the backward one after the first (h_n of the packed GRU)": right[-1],
            "the two final states are concatenated backward first; the summary is "
            "torch.cat([h_n[0], h_n[1]], dim=-1), the forward direction's first": torch.cat(
                [h_n[1], h_n[0]], -1
            ),
            "the backward direction's state was read at position lengths[b] − 1, where it has "
            "read only the last character; its final state is the one at position 0, after the "
            "first character (h_n[1] of the packed GRU)": at_end,
            "the summaries come in the order of the sorted lengths: sorting the batch for "
            "pack_padded_sequence must be undone (or use enforce_sorted=False, which does it)": (
                summary[order]
            ),
            "the summary holds the forward direction twice: the backward direction's final "
            "state is h_n[1]": torch.cat([h_n[0], h_n[0]], -1),
        }
    return {"annotations": merge_identical(annotations), "summary": merge_identical(summaries)}


_MASK = (
    "set the padded scores to −inf before the softmax, scores.masked_fill(~mask, float('-inf')), "
    "then torch.softmax(..., dim=0)"
)


_LAST_AXIS = (
    "the softmax runs over the last axis of (S, B, 1) scores, of size 1, so every weight is 1: "
    "drop that axis first (.squeeze(-1)) and take the softmax over the source positions, dim=0"
)


def attention_variants(
    attention: nn.Module, s: torch.Tensor, annotations: torch.Tensor, mask: torch.Tensor
) -> dict[str, dict[str, torch.Tensor]]:
    """``{"alpha": {text: (S, B)}, "context": {text: (B, key)}}`` of wrong attentions with
    ``attention``'s weights."""
    with torch.no_grad():
        query = attention.W_a(s)[None]  # (1, B, A)
        keys = attention.U_a(annotations)  # (S, B, A)
        e = attention.v_a(torch.tanh(query + keys))[..., 0]  # (S, B)
        filled = e.masked_fill(~mask, float("-inf"))
        free = torch.softmax(e, dim=0)
        after = free * mask
        alphas = {
            f"the mask is not used: the padded positions get weight too; {_MASK}": free,
            "the mask is applied after the softmax: the padded weights are set to 0 but the real "
            "ones were normalised with the padding in the sum, so they no longer add up to 1; "
            f"{_MASK}": after,
            "the padded scores were set to 0 (scores * mask or masked_fill(~mask, 0)), not to "
            f"−inf: exp(0) is not 0, so the padding still gets weight; {_MASK}": torch.softmax(
                e.masked_fill(~mask, 0.0), dim=0
            ),
            "the mask is inverted: it is True at the real positions, so masked_fill(~mask, …) "
            "fills the padding, and masked_fill(mask, …) the real positions": torch.softmax(
                e.masked_fill(mask, float("-inf")), dim=0
            ),
            "the softmax runs over the batch, dim=1 (or dim=-1 of the (S, B) scores); it runs "
            "over the source positions, dim=0: each column alpha[:, b] is one source's "
            "distribution": torch.softmax(filled, dim=1),
            _LAST_AXIS: torch.ones_like(e),
            f"{_LAST_AXIS} (and the padding, alone in its softmax at −inf, gets NaN)": torch.where(
                mask, torch.ones_like(e), torch.full_like(e, float("nan"))
            ),
            f"the tanh is missing: e_j = v_a(tanh(W_a(s) + U_a(h_j))); {_MASK}": torch.softmax(
                attention.v_a(query + keys)[..., 0].masked_fill(~mask, float("-inf")), dim=0
            ),
        }
        right = torch.softmax(filled, dim=0)
        contexts = {
            text: (alpha[..., None] * annotations).sum(0) if alpha.shape == e.shape else alpha
            for text, alpha in alphas.items()
        }
        contexts[
            "the context is a weighted sum of the keys U_a(h_j); it weighs the annotations "
            "themselves: c = Σ_j alpha_j h_j"
        ] = (right[..., None] * keys).sum(0)
        contexts[
            "the weighted annotations are summed over the batch, dim=1; the context of each "
            "source sums over its positions, dim=0"
        ] = (right[..., None] * annotations).sum(1)
    return {"alpha": merge_identical(alphas), "context": merge_identical(contexts)}


def decoder_variants(
    decoder: nn.Module,
    y_prev: torch.Tensor,
    s: torch.Tensor,
    annotations: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, dict[str, torch.Tensor]]:
    """``{"logits": {text: (B, V)}, "state": {text: (B, hidden)}}`` of wrong decoder steps with
    ``decoder``'s weights (and its reference attention)."""
    with torch.no_grad():
        e = decoder.embedding(y_prev)
        context, _ = decoder.attention(s, annotations, mask)
        right = decoder.cell(torch.cat([e, context], -1), s)
        swapped = decoder.cell(torch.cat([context, e], -1), s)
        states = {
            "the GRU cell's input is concatenated context first: it is torch.cat([embedded, "
            "context], dim=-1), the embedding of y_prev first": swapped,
            "the GRU cell was not given the previous state s: self.cell(input, s)": decoder.cell(
                torch.cat([e, context], -1)
            ),
        }
        logits = {
            text: decoder.out(torch.cat([state, context, e], -1)) for text, state in states.items()
        }
        logits[
            "the output layer reads the previous state s; it reads the new one, "
            "torch.cat([s_new, context, embedded], dim=-1)"
        ] = decoder.out(torch.cat([s, context, e], -1))
        logits[
            "the output layer's input is in another order: it is torch.cat([s_new, context, "
            "embedded], dim=-1)"
        ] = decoder.out(torch.cat([context, right, e], -1))
        logits[
            "the logits went through a softmax: return the output layer's scores themselves "
            "(the loss and the decoding apply the softmax)"
        ] = torch.softmax(decoder.out(torch.cat([right, context, e], -1)), -1)
    return {"logits": merge_identical(logits), "state": merge_identical(states)}


def init_variants(decoder: nn.Module, summary: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{text: (B, hidden)}`` of wrong first states."""
    with torch.no_grad():
        return {
            "the first state is missing its tanh: s_0 = tanh(self.init(summary))": decoder.init(
                summary
            ),
        }


LOSS_VARIANTS: dict[str, dict[str, Any]] = {
    "the decoder was fed its own predictions (the argmax of each step) instead of the target's "
    "tokens: teacher forcing feeds START, then tgt[0], tgt[1], …, whatever the decoder "
    "predicted": {"feed": "own"},
    "the decoder's inputs are the targets themselves, tgt[t] at step t, so it is shown the token "
    "it must predict: the inputs are the targets shifted by one, START then tgt[:-1]": {
        "feed": "target"
    },
    "the decoder was fed the start token at every step: teacher forcing feeds START, then "
    "tgt[0], tgt[1], …": {"feed": "start"},
    "the targets are the decoder's inputs (START, tgt[0], …), one step behind: the target at "
    "step t is tgt[t], the token after the input": {"targets": "inputs"},
    "the padding is counted in the loss: pass ignore_index=0 (the padding id) to "
    "F.cross_entropy, so that only the real target tokens count": {"padding": "counted"},
    "the loss is the sum over the tokens; use their mean (F.cross_entropy's default)": {
        "reduction": "sum"
    },
    "the loss is the mean of each sequence's mean loss, so a short target's tokens weigh more; "
    "use the mean over all real tokens of the batch, F.cross_entropy(..., ignore_index=0) on "
    "every step's logits at once": {"reduction": "sequence_means"},
}

GREEDY_VARIANTS: dict[str, dict[str, Any]] = {
    "the decoder was fed the start token at every step: greedy decoding feeds back its own "
    "output, the argmax of the step before": {"feed": "start"},
    "the loop stops as soon as one source has emitted the end token: keep going until every "
    "source has (or max_len steps), and cut each output at its own end token": {"stop": "first"},
    "the outputs were not cut at the end token: return each source's tokens before its first "
    "end token (the end token and what follows it are not part of the output)": {"cut": False},
}

BEAM_VARIANTS: dict[str, dict[str, Any]] = {
    "the hypotheses' probabilities were summed; a hypothesis's score is the sum of its tokens' "
    "log-probabilities (the log of the product of their probabilities)": {"score": "probability"},
    "the probabilities were multiplied and that product divided by the length: normalise the "
    "sum of the log-probabilities, Σ log p / L ** alpha": {"score": "product"},
    "the finished hypotheses were ranked by their raw sum of log-probabilities, without length "
    "normalisation (alpha ignored): divide by L ** alpha": {"normalise": False},
    "the length L does not count the end token: L is the number of tokens the hypothesis "
    "generated, the end token included": {"length": "without_end"},
}
