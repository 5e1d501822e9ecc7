"""What known wrong answers of Exercise 5's PyTorch notebook produce, so that feedback names them.

Each table maps the words a student reads to the switches of a reference in
``torch_references.py`` that reproduce the mistake; the functions compute, from a reference
model's own modules, what a wrong model would return. The right answers never come from here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_checks.variants import merge_identical

__all__ = [
    "BATCHIFY_VARIANTS",
    "CHUNK_VARIANTS",
    "EVALUATE_VARIANTS",
    "SAMPLE_VARIANTS",
    "STEP_VARIANTS",
    "charlm_variants",
    "classifier_variants",
]

BATCHIFY_VARIANTS: dict[str, dict[str, Any]] = {
    "the streams are interleaved: column b holds every B-th character (ids[b::B]), because "
    "ids was reshaped to (n, B) directly. Reshape to (B, n), one contiguous piece per row, then "
    "transpose: ids[: n * B].reshape(B, n).T": {"order": "interleaved"},
    "the first len(ids) % B characters were dropped instead of the last: keep ids[: n * B]": {
        "order": "drop_first"
    },
}

CHUNK_VARIANTS: dict[str, dict[str, Any]] = {
    "the targets are the inputs themselves: y must be the streams one row later, "
    "y = streams[i + 1 : i + 1 + L], so that the model at each step predicts the next "
    "character": {"shift": 0},
}

STEP_VARIANTS: dict[str, dict[str, Any]] = {
    "the logits and the targets are flattened in different orders (the logits batch-major, "
    "e.g. logits.transpose(0, 1).reshape(-1, V), the targets time-major, y.reshape(-1)), so each "
    "score is compared with another position's character: flatten both the same way, "
    "logits.reshape(-1, V) and y.reshape(-1)": {"loss": "transposed_logits"},
    "a softmax is applied before F.cross_entropy, which applies log-softmax itself: give it "
    "the logits": {"loss": "softmax_first"},
    "the log-softmax runs over the time axis (dim=0); it must run over the V characters, the "
    "last axis (dim=-1)": {"loss": "log_softmax_dim0"},
    "the log-softmax runs over the batch axis (dim=1); it must run over the V characters, the "
    "last axis (dim=-1)": {"loss": "log_softmax_dim1"},
    "the loss is the sum over the chunk's characters; use their mean (F.cross_entropy's "
    "default reduction)": {"loss": "sum"},
    "optimizer.zero_grad() is missing: each backward() then adds to the previous chunks' "
    "gradients; call optimizer.zero_grad() before loss.backward()": {"zero_grad": False},
    "the gradients were not clipped: clip_grad_norm_ must come after loss.backward(), when the "
    "gradients exist (before it, it clips nothing or the old gradients), and before "
    "optimizer.step()": {"clip": False},
    "the state h given to train_step was not used: pass it to the model, model(x, h), so that "
    "each chunk starts where the previous one ended": {"use_state": False},
}

EVALUATE_VARIANTS: dict[str, dict[str, Any]] = {
    "this is the mean of the chunks' mean losses; the last chunk is shorter, so its characters "
    "weigh more. Add up the summed losses (reduction='sum') and the numbers of characters over "
    "all chunks, and divide once": {"reduce": "chunk_means"},
    "this comes from the mean of the chunks' exponentials (perplexities); bits per character "
    "are the total loss over all characters, divided by their number and by ln 2": {
        "reduce": "exp_mean"
    },
    "this is in nats: divide by ln 2 (math.log(2)) to get bits": {"bits": False},
    "the mean of the chunks' mean losses, in nats: add up the summed losses and the numbers of "
    "characters over all chunks, divide once, and divide by ln 2": {
        "reduce": "chunk_means",
        "bits": False,
    },
    "the state is reset at every chunk: carry the state h_n of each chunk into the next one, "
    "model(x, h), as in training": {"carry": False},
}

SAMPLE_VARIANTS: dict[str, dict[str, Any]] = {
    "the temperature was applied after the softmax (softmax(u) / τ): the draw renormalises p, "
    "so that changes nothing. Divide the logits: p = softmax(u / τ)": {"scaling": "after_softmax"},
    "the temperature multiplies the logits; it divides them: p = softmax(u / τ)": {
        "scaling": "multiply"
    },
    "each new character is read from the zero state, without the context: carry the state, "
    "logits, h = model(next character, h)": {"state": "restart"},
    "the generator is seeded again at every step, so every step makes the same draw: create "
    "one generator, torch.Generator().manual_seed(seed), before the loop": {
        "generator": "per_step"
    },
    "only the prompt's last character was read: feed the whole prompt first, so that the state "
    "holds its context": {"prompt_read": "last"},
}


def charlm_variants(model: nn.Module, x: torch.Tensor, h: torch.Tensor | None) -> dict:
    """``{description: logits}`` of wrong language models with ``model``'s weights on ``x``."""
    with torch.no_grad():
        embedded = model.embedding(x)
        output, _ = model.gru(embedded, h)
        logits = model.head(output)
        wrong = {
            "the logits went through a softmax: forward returns the head's scores themselves (the "
            "loss and the sampling apply the softmax)": torch.softmax(logits, dim=-1),
            "the GRU treats the first axis as the batch (batch_first=True): the course's "
            "sequences are time-major, x is (T, B)": model.head(
                model.gru(embedded.transpose(0, 1))[0].transpose(0, 1)
            ),
        }
        if h is not None:
            wrong[
                "the initial state h was not passed to the GRU: self.gru(embedded, h) starts from "
                "h (it is None only when no state is given)"
            ] = model.head(model.gru(embedded)[0])
    return wrong


def classifier_variants(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> dict:
    """``{description: logits}`` of wrong classifiers with ``model``'s weights on a padded batch."""
    H = model.gru.hidden_size
    two = model.gru.bidirectional
    B = x.shape[1]
    steps = torch.arange(x.shape[0])[:, None]
    real = (steps < lengths[None, :]).to(x.device)  # (T, B): True at the real characters
    with torch.no_grad():
        output, h_n = model.gru(model.embedding(x))  # the padding read as input
        last = output[lengths - 1, torch.arange(B)]  # (B, directions·H)
        right = model(x, lengths)
        order = torch.argsort(lengths, descending=True)
        padded_end = (
            "the final state was taken at the padded end ({}): a shorter sequence's last real "
            "character is at step lengths[b] − 1, and its state there is what the head must "
            "read. Pack the batch, pack_padded_sequence(embedded, lengths.cpu(), "
            "enforce_sorted=False), or gather each sequence's output at its own length"
        )
        wrong = {
            padded_end.format("output[-1]"): model.head(output[-1]),
            padded_end.format("h_n of the GRU that read the padded batch"): model.head(
                torch.cat(list(h_n), dim=-1)
            ),
            "the head reads the mean of the outputs over all T steps, padding included; it reads "
            "the final state(s)": model.head(output.mean(0)),
            "the head reads the mean of the outputs over each sequence's real steps; it reads "
            "the final state(s)": model.head(
                (output * real[..., None]).sum(0) / lengths[:, None].to(output)
            ),
            "the outputs come in the order of the sorted lengths: sorting the batch for "
            "pack_padded_sequence must be undone (or use enforce_sorted=False, which does it)": (
                right[order]
            ),
        }
        if two:
            wrong[
                "the backward direction's state was read at step lengths[b] − 1 of the padded "
                "batch, where it has read only the padding and the last character; its final "
                "state is the one after the first character. Pack the batch, so that the "
                "backward direction starts at each sequence's last real character"
            ] = model.head(last)
            wrong[
                "the backward direction starts in the padding (its output at step 0 of the padded "
                "batch has read the padding before the sequence): pack the batch, so that it "
                "starts at each sequence's last real character"
            ] = model.head(torch.cat([last[:, :H], output[0, :, H:]], -1))
            packed = nn.utils.rnn.pack_padded_sequence(
                model.embedding(x), lengths.cpu(), enforce_sorted=False
            )
            _, h_packed = model.gru(packed)
            wrong[
                "the two final states are concatenated backward first; the head reads "
                "torch.cat([h_n[0], h_n[1]], dim=-1), the forward direction's first"
            ] = model.head(torch.cat([h_packed[1], h_packed[0]], -1))
    return merge_identical(wrong)
