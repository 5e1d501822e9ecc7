"""Greedy decoding and beam search for :class:`experiments.seq2seq.models.Seq2Seq`, batched.

Beam search keeps, per source, the ``k`` partial outputs with the largest sum of log-probabilities;
a hypothesis that emits the end token is finished and ranked by its score divided by its length to
the power ``alpha`` (length normalisation, Wu et al. 2016's simple form; ``alpha = 0`` ranks by the
raw sum, which favours short outputs, since every token adds a negative log-probability).
"""

from __future__ import annotations

import torch

from experiments.seq2seq.models import Seq2Seq


@torch.no_grad()
def greedy(
    model: Seq2Seq, src: torch.Tensor, start: int, end: int, max_len: int
) -> tuple[list[list[int]], list[torch.Tensor]]:
    """The argmax output of each source (up to its end token, which is left out) and, with
    attention, the weights of each step ``(S, B)``."""
    memory = model.encode(src)
    B = src.shape[1]
    y = torch.full((B,), start, dtype=torch.long)
    s, outputs, weights = memory["s0"], [], []
    done = torch.zeros(B, dtype=torch.bool)
    for _ in range(max_len):
        logits, s, alpha = model.step(y, s, memory)
        y = logits.argmax(-1)
        outputs.append(y)
        if alpha is not None:
            weights.append(alpha)
        done |= y == end
        if bool(done.all()):
            break
    ids = torch.stack(outputs, dim=1).tolist()
    return [row[: row.index(end)] if end in row else row for row in ids], weights


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: torch.Tensor,
    start: int,
    end: int,
    max_len: int,
    k: int,
    alpha: float = 1.0,
) -> list[list[int]]:
    """The best finished hypothesis of each source under length normalisation ``alpha``
    (unfinished ones compete at ``max_len``)."""
    B = src.shape[1]
    memory = model.repeat(model.encode(src), k)
    s = memory["s0"]
    y = torch.full((B * k,), start, dtype=torch.long)
    # Only the first copy of each source is live at the start, so that the k beams do not begin
    # as k copies of one hypothesis.
    scores = torch.full((B, k), float("-inf"))
    scores[:, 0] = 0.0
    history = torch.zeros(B, k, 0, dtype=torch.long)
    best: list[tuple[float, list[int]]] = [(float("-inf"), []) for _ in range(B)]
    for length in range(1, max_len + 1):
        logits, s, _ = model.step(y, s, memory)
        log_p = torch.log_softmax(logits, -1).view(B, k, -1)
        V = log_p.shape[-1]
        total = (scores.unsqueeze(-1) + log_p).view(B, -1)
        top, index = total.topk(k, dim=-1)
        beam, token = index // V, index % V
        history = torch.cat([history.gather(1, beam.unsqueeze(-1).expand(-1, -1, length - 1)),
                             token.unsqueeze(-1)], dim=-1)  # fmt: skip
        s = s.view(B, k, -1).gather(1, beam.unsqueeze(-1).expand(-1, -1, s.shape[-1]))
        s = s.reshape(B * k, -1)
        finished = token == end
        for b, j in finished.nonzero().tolist():
            score = float(top[b, j]) / length**alpha
            if score > best[b][0]:
                best[b] = (score, history[b, j, :-1].tolist())
        scores = top.masked_fill(finished, float("-inf"))
        y = token.view(-1)
        # Stop early only when every beam has just finished; otherwise run to max_len, since with
        # length normalisation a longer hypothesis can still overtake a finished one.
        if bool(torch.isinf(scores).all()):
            break
    for b in range(B):  # nothing finished within max_len: the best live hypothesis
        if best[b][0] == float("-inf"):
            j = int(scores[b].argmax())
            best[b] = (float(scores[b, j]), history[b, j].tolist())
    return [ids for _, ids in best]
