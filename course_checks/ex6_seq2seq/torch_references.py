"""What Exercise 6's PyTorch notebook (``ex6_seq2seq/seq2seq_torch``) must compute.

Chapter 6's encoder–decoder with attention (Cho et al. 2014; Bahdanau, Cho & Bengio 2015), time-
major as NOTATION.md fixes it: sources ``src (S, B)`` of ids padded with 0 after each source's
end, with their ``lengths (B,)``; targets ``tgt (T, B)``, each the target's ids followed by the
end token and padded with 0.

- **Encoder**: an embedding and a bidirectional ``nn.GRU`` over the packed sources; the
  annotations ``(S, B, 2H)`` (forward direction first) and the summary ``[→h; ←h] (B, 2H)``, each
  direction's final state at the source's real end (the backward one after reading the first
  character).
- **Additive attention**: ``e_j = v_aᵀ tanh(s W_a + h_j U_a)`` (``nn.Linear`` layers without
  bias, row vectors: ``self.W_a(s)`` is ``s W_a`` with ``W_a = self.W_a.weight.T``), a softmax over
  the real source positions (``-inf`` at the padding, then ``softmax`` over axis 0), the context
  ``c = Σ_j α_j h_j``.
- **Decoder step**: ``e = embedding(y_prev)``, ``c, α = attention(s, annotations, mask)`` with the
  previous state, ``s' = GRUCell([e; c], s)``, ``logits = out([s'; c; e])``; the first state
  ``s_0 = tanh(init(summary))``.
- **Teacher forcing**: decoder inputs ``START`` then ``tgt[:-1]``, targets ``tgt``, the mean
  cross-entropy over the real (non-padding) target tokens.
- **Greedy decoding** and **beam search**, the latter with the summed log-probabilities of a
  hypothesis divided by its length (end token included) to the power ``alpha``.

The functions take keyword switches whose defaults give the right answer; each other value is a
realistic mistake (``torch_wrong_answers.py`` names them), and
``tests/course_checks/ex6_seq2seq/test_seq2seq_torch.py`` proves the defaults right against
independent code and every switch different.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_checks import dates

__all__ = [
    "END",
    "PAD",
    "START",
    "V_SOURCE",
    "V_TARGET",
    "ReferenceAttention",
    "ReferenceDecoder",
    "ReferenceEncoder",
    "ReferenceSeq2Seq",
    "all_sequences",
    "date_batch",
    "decoder_inputs",
    "padded",
    "random_batch",
    "reference_beam_search",
    "reference_greedy",
    "reference_model",
    "reference_sequence_loss",
    "sequence_scores",
    "source_mask",
    "teacher_forced_logits",
]

PAD = dates.TARGET_ALPHABET.index(dates.PAD)  # 0, in both alphabets
START = dates.TARGET_ALPHABET.index(dates.START)
END = dates.TARGET_ALPHABET.index(dates.END)
V_SOURCE, V_TARGET = len(dates.SOURCE_ALPHABET), len(dates.TARGET_ALPHABET)


def source_mask(lengths: torch.Tensor, S: int) -> torch.Tensor:
    """``(S, B)`` bool: True at the real positions ``j < lengths[b]``."""
    return torch.arange(S, device=lengths.device)[:, None] < lengths[None, :]


# --------------------------------------------------------------------------- the modules


class ReferenceEncoder(nn.Module):
    """Embedding → bidirectional ``nn.GRU`` over the packed sources, with the notebook's names."""

    def __init__(self, V: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.gru = nn.GRU(embed, hidden, bidirectional=True)

    def forward(
        self, src: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The annotations ``(S, B, 2H)`` (zeros at the padding) and the summary ``(B, 2H)``."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(src), lengths.cpu(), enforce_sorted=False
        )
        output, h_n = self.gru(packed)  # h_n (2, B, H): each direction's state at its real end
        annotations, _ = nn.utils.rnn.pad_packed_sequence(output, total_length=src.shape[0])
        return annotations, torch.cat([h_n[0], h_n[1]], dim=-1)


class ReferenceAttention(nn.Module):
    """Bahdanau et al.'s additive attention, with the notebook's names ``W_a``, ``U_a``, ``v_a``."""

    def __init__(self, query: int, key: int, size: int) -> None:
        super().__init__()
        self.W_a = nn.Linear(query, size, bias=False)
        self.U_a = nn.Linear(key, size, bias=False)
        self.v_a = nn.Linear(size, 1, bias=False)

    def scores(self, s: torch.Tensor, annotations: torch.Tensor) -> torch.Tensor:
        """``e (S, B)``: ``v_aᵀ tanh(s W_a + h_j U_a)`` at every source position."""
        return self.v_a(torch.tanh(self.W_a(s)[None] + self.U_a(annotations)))[..., 0]

    def forward(
        self, s: torch.Tensor, annotations: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The context ``(B, key)`` and the weights ``α (S, B)``, zero at the padding."""
        e = self.scores(s, annotations)
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=0)
        return (alpha[..., None] * annotations).sum(0), alpha


class ReferenceDecoder(nn.Module):
    """One step of the attention decoder, with the notebook's names."""

    def __init__(self, V: int, embed: int, hidden: int, key: int, size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.init = nn.Linear(key, hidden)
        self.attention = ReferenceAttention(hidden, key, size)
        self.cell = nn.GRUCell(embed + key, hidden)
        self.out = nn.Linear(hidden + key + embed, V)

    def init_state(self, summary: torch.Tensor) -> torch.Tensor:
        """``s_0 = tanh(summary W_s + b_s)`` ``(B, hidden)``."""
        return torch.tanh(self.init(summary))

    def forward(
        self, y_prev: torch.Tensor, s: torch.Tensor, annotations: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits (B, V), the new state (B, hidden), α (S, B))`` for the previous tokens."""
        e = self.embedding(y_prev)
        context, alpha = self.attention(s, annotations, mask)  # from the previous state
        s = self.cell(torch.cat([e, context], dim=-1), s)
        return self.out(torch.cat([s, context, e], dim=-1)), s, alpha


class ReferenceSeq2Seq(nn.Module):
    """The notebook's ``Seq2Seq``: ``encode`` and ``step``, the interface the decoding functions,
    the loss and the tests use.

    With ``attention=False`` the decoder is given the encoder's summary as its only annotation, so
    that its context is the summary at every step (Cho et al.'s fixed vector), the model otherwise
    the same. ``log`` records every step's previous tokens, whether autograd recorded and the mode,
    so that a test can tell what a function fed the decoder.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, attention: bool = True) -> None:
        super().__init__()
        self.encoder, self.decoder, self.attention = encoder, decoder, attention
        self.log: list[dict[str, Any]] = []

    def encode(
        self, src: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(annotations (S, B, 2H), mask (S, B), s_0 (B, hidden))``."""
        annotations, summary = self.encoder(src, lengths)
        mask = source_mask(lengths.to(src.device), src.shape[0])
        if not self.attention:
            annotations, mask = summary[None], torch.ones_like(mask[:1])
        return annotations, mask, self.decoder.init_state(summary)

    def step(
        self, y_prev: torch.Tensor, s: torch.Tensor, annotations: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step: ``(logits (B, V), s (B, hidden), α (S, B))``."""
        self.log.append(
            {
                "y_prev": y_prev.detach().cpu().clone(),
                "graph": torch.is_grad_enabled(),
                "training": self.training,
            }
        )
        return self.decoder(y_prev, s, annotations, mask)


def reference_model(
    seed: int,
    sizes: dict[str, int],
    *,
    attention: bool = True,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
) -> ReferenceSeq2Seq:
    """A :class:`ReferenceSeq2Seq` of ``sizes`` (``V_src``, ``V_tgt``, ``embed``, ``hidden``,
    ``size``: the decoder's hidden size is ``2 hidden``) initialised from ``seed``; the output
    layer's weights times ``scale`` (sharper next-token distributions)."""
    torch.manual_seed(seed)
    H = sizes["hidden"]
    encoder = ReferenceEncoder(sizes["V_src"], sizes["embed"], H)
    decoder = ReferenceDecoder(sizes["V_tgt"], sizes["embed"], 2 * H, 2 * H, sizes["size"])
    model = ReferenceSeq2Seq(encoder, decoder, attention).to(dtype)
    with torch.no_grad():
        model.decoder.out.weight.mul_(scale)
    return model


# ------------------------------------------------------------------------------ batches


def padded(rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
    """``(L, B)`` long tensor: row ``b`` of ``rows`` in column ``b``, padded with 0 to ``length``
    (default: the longest)."""
    L = max(map(len, rows)) if length is None else length
    out = torch.zeros(L, len(rows), dtype=torch.long)
    for b, row in enumerate(rows):
        out[: len(row), b] = torch.tensor(list(row), dtype=torch.long)
    return out


def date_batch(
    sources: Sequence[str], targets: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(src (S, B), lengths (B,), tgt (T, B))`` of date pairs: the sources' ids padded with 0,
    the targets' ids then the end token, padded with 0 (no start token)."""
    ids = [dates.encode_source(text) for text in sources]
    tgt = [dates.encode_target(text)[1:] for text in targets]  # the start token dropped
    return padded(ids), torch.tensor([len(i) for i in ids]), padded(tgt)


def random_batch(
    seed: int, V_src: int, V_tgt: int, S: int, T: int, B: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random padded batch: sources of lengths in ``1 … S`` (unsorted, one of length ``S`` and,
    with ``B > 1``, one of at most ``S // 2``), targets of lengths in ``1 … T`` ending with the end
    token (one of length ``T``)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, S + 1, size=B)
    order = rng.permutation(B)
    lengths[order[0]] = S
    if B > 1:
        lengths[order[1]] = rng.integers(1, max(2, S // 2) + 1)
    if B > 1 and np.all(np.diff(lengths) <= 0):  # sorted: the sorting mistakes would not show
        lengths = lengths[::-1].copy()
    sources = [rng.integers(1, V_src, size=n).tolist() for n in lengths]
    target_lengths = rng.integers(1, T + 1, size=B)
    target_lengths[int(rng.integers(B))] = T
    targets = [[*rng.integers(END + 1, V_tgt, size=n - 1).tolist(), END] for n in target_lengths]
    return padded(sources), torch.from_numpy(lengths.astype(np.int64)), padded(targets)


# ---------------------------------------------------------------------------- the loss


@torch.no_grad()
def teacher_forced_logits(
    model: nn.Module, src: torch.Tensor, lengths: torch.Tensor, tgt: torch.Tensor
) -> torch.Tensor:
    """The logits ``(T, B, V)`` of every step, the decoder fed ``START`` then ``tgt[:-1]``."""
    annotations, mask, s = model.encode(src, lengths)
    inputs, steps = decoder_inputs(tgt), []
    for t in range(tgt.shape[0]):
        logits, s, _ = model.step(inputs[t], s, annotations, mask)
        steps.append(logits)
    return torch.stack(steps)


def decoder_inputs(tgt: torch.Tensor, *, feed: str = "shifted") -> torch.Tensor:
    """``START`` then ``tgt[:-1]`` ``(T, B)``: at step ``t`` the decoder reads the target's token
    ``t − 1``. ``feed="target"``: the targets themselves (no start token)."""
    if feed == "target":
        return tgt
    start = torch.full_like(tgt[:1], START)
    return torch.cat([start, tgt[:-1]])


def reference_sequence_loss(
    model: nn.Module,
    src: torch.Tensor,
    lengths: torch.Tensor,
    tgt: torch.Tensor,
    *,
    feed: str = "teacher",
    targets: str = "tgt",
    padding: str = "ignored",
    reduction: str = "mean",
) -> torch.Tensor:
    """The teacher-forced loss: the mean cross-entropy over the real tokens of ``tgt``.

    Mistakes: ``feed="own"`` (the decoder reads its own argmax, free-running), ``"target"`` (it
    reads ``tgt[t]``, the token it must predict), ``"start"`` (always the start token);
    ``targets="inputs"`` (the targets are the decoder's inputs, START + tgt[:-1]);
    ``padding="counted"`` (no ``ignore_index``); ``reduction="sum"`` or ``"sequence_means"``.
    """
    annotations, mask, s = model.encode(src, lengths)
    inputs = decoder_inputs(tgt, feed="target" if feed == "target" else "shifted")
    y_prev = inputs[0]
    steps = []
    for t in range(tgt.shape[0]):
        if feed == "start":
            y_prev = torch.full_like(inputs[t], START)
        elif feed != "own" or t == 0:
            y_prev = inputs[t]
        logits, s, _ = model.step(y_prev, s, annotations, mask)
        steps.append(logits)
        if feed == "own":
            y_prev = logits.argmax(-1)
    logits = torch.stack(steps)  # (T, B, V)
    wanted = decoder_inputs(tgt) if targets == "inputs" else tgt
    V = logits.shape[-1]
    ignore = -100 if padding == "counted" else PAD
    if reduction == "sequence_means":
        per_token = F.cross_entropy(
            logits.reshape(-1, V), wanted.reshape(-1), ignore_index=ignore, reduction="none"
        ).view_as(wanted)
        real = (wanted != PAD).to(per_token)
        return ((per_token * real).sum(0) / real.sum(0)).mean()
    return F.cross_entropy(
        logits.reshape(-1, V), wanted.reshape(-1), ignore_index=ignore, reduction=reduction
    )


# ---------------------------------------------------------------------------- decoding


def _cut(row: list[int], end: bool = True) -> list[int]:
    return row[: row.index(END)] if end and END in row else row


@torch.no_grad()
def reference_greedy(
    model: nn.Module,
    src: torch.Tensor,
    lengths: torch.Tensor,
    max_len: int,
    *,
    feed: str = "own",
    stop: str = "all",
    cut: bool = True,
) -> list[list[int]]:
    """The argmax output of each source, up to (without) its first end token, at most
    ``max_len`` tokens; the loop stops once every source has emitted the end token.

    Mistakes: ``feed="start"`` (the start token at every step, never the output);
    ``stop="first"`` (the loop ends when any source ends); ``cut=False`` (the tokens after the
    end token kept, the end token too).
    """
    annotations, mask, s = model.encode(src, lengths)
    B = src.shape[1]
    y = torch.full((B,), START, dtype=torch.long, device=src.device)
    outputs, done = [], torch.zeros(B, dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        logits, s, _ = model.step(y, s, annotations, mask)
        token = logits.argmax(-1)
        outputs.append(token)
        if feed == "own":
            y = token
        elif feed == "start":
            y = torch.full_like(token, START)
        done |= token == END
        if bool(done.all()) or (stop == "first" and bool(done.any())):
            break
    rows = torch.stack(outputs, dim=1).tolist()
    return [_cut(row, cut) for row in rows]


@torch.no_grad()
def reference_beam_search(
    model: nn.Module,
    src: torch.Tensor,
    lengths: torch.Tensor,
    beam_width: int,
    max_len: int,
    alpha: float,
    *,
    score: str = "log",
    normalise: bool = True,
    length: str = "with_end",
) -> tuple[list[int], float]:
    """The best hypothesis of one source (``B = 1``) and its score, by the notebook's algorithm.

    At every step each live hypothesis is extended by every token; the ``beam_width`` extensions
    with the largest summed log-probabilities are kept; those that end with the end token are
    finished, scored ``Σ log p / L**alpha`` (``L`` tokens, the end token included) and leave the
    beam; the search stops when none is live, or after ``max_len`` steps, when the live ones are
    scored the same way. Returns the best finished ids (without the end token) and its score.

    Mistakes: ``score="probability"`` (the probabilities summed), ``"product"`` (multiplied,
    then normalised); ``normalise=False`` (the raw sum); ``length="without_end"`` (the end token
    not counted in ``L``).
    """
    annotations, mask, s = model.encode(src, lengths)
    empty = 1.0 if score == "product" else 0.0
    beams: list[tuple[list[int], float, torch.Tensor]] = [([], empty, s)]
    finished: list[tuple[list[int], float]] = []

    def final(tokens: list[int], total: float) -> float:
        if not normalise:
            return total
        L = len(tokens) - (1 if length == "without_end" and tokens[-1] == END else 0)
        return total / max(L, 1) ** alpha

    for _ in range(max_len):
        n = len(beams)
        previous = torch.tensor([t[-1] if t else START for t, _, _ in beams], device=src.device)
        states = torch.cat([state for _, _, state in beams])
        logits, new_states, _ = model.step(
            previous, states, annotations.expand(-1, n, -1), mask.expand(-1, n)
        )
        log_p = torch.log_softmax(logits.double(), dim=-1).cpu().tolist()
        candidates = []
        for i, (_, total, _) in enumerate(beams):
            for v, lp in enumerate(log_p[i]):
                if score == "probability":
                    value = total + math.exp(lp)
                elif score == "product":
                    value = total * math.exp(lp)
                else:
                    value = total + lp
                candidates.append((value, i, v))
        candidates.sort(key=lambda c: -c[0])  # stable: ties keep the order of the beams, tokens
        live = []
        for value, i, v in candidates[:beam_width]:
            tokens = [*beams[i][0], v]
            if v == END:
                finished.append((tokens[:-1], final(tokens, value)))
            else:
                live.append((tokens, value, new_states[i : i + 1]))
        beams = live
        if not beams:
            break
    finished += [(tokens, final(tokens, total)) for tokens, total, _ in beams]
    return max(finished, key=lambda f: f[1])


def all_sequences(V: int, max_len: int) -> list[list[int]]:
    """Every output a decoder of ``V`` tokens can give in ``max_len`` steps: the sequences that
    end with the end token (and hold it nowhere else) within ``max_len`` tokens, and those of
    ``max_len`` tokens without it, each with the end token where it has one."""
    others = [v for v in range(V) if v != END]
    out: list[list[int]] = []
    for n in range(max_len):
        out += [[*prefix, END] for prefix in itertools.product(others, repeat=n)]
    out += [list(prefix) for prefix in itertools.product(others, repeat=max_len)]
    return out


@torch.no_grad()
def sequence_scores(
    model: nn.Module, src: torch.Tensor, lengths: torch.Tensor, sequences: list[list[int]]
) -> list[float]:
    """The summed log-probability of each of ``sequences`` (ids, the end token included where
    there is one) for the one source ``src (S, 1)``, teacher-forced: one batch of them all."""
    n = len(sequences)
    tgt = padded(sequences)  # (L, n): padded positions read, never scored
    annotations, mask, s = model.encode(src, lengths)
    annotations, mask, s = annotations.expand(-1, n, -1), mask.expand(-1, n), s.expand(n, -1)
    inputs = decoder_inputs(tgt)
    total = torch.zeros(n, dtype=torch.float64)
    for t in range(tgt.shape[0]):
        logits, s, _ = model.step(inputs[t], s, annotations, mask)
        log_p = torch.log_softmax(logits.double(), -1).gather(1, tgt[t][:, None])[:, 0].cpu()
        real = torch.tensor([t < len(seq) for seq in sequences])
        total += torch.where(real, log_p, torch.zeros_like(log_p))
    return total.tolist()
