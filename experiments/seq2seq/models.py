"""Chapter 6's encoder–decoders, time-major as NOTATION.md fixes: sources ``(S, B)`` of ids with
0 as padding, encoder annotations ``(S, B, 2H)``, decoder states ``(B, H)``.

- :class:`Encoder`: an embedding and a bidirectional ``nn.GRU`` over the packed sources, so that
  each direction's final state is taken at the sequence's real end and the annotations at padded
  positions are zero; its *summary* is ``[→h_S; ←h_1]`` (forward, then backward).
- :class:`AdditiveAttention`: Bahdanau et al.'s scores ``e_tj = v_aᵀ tanh(s_{t−1} W_a + h_j U_a)``,
  softmax over the real source positions only, the context ``c_t = Σ_j α_tj h_j``.
- :class:`Decoder`: a ``GRUCell`` on ``[embedding(y_{t−1}); c_t]`` and an output layer on
  ``[s_t; c_t; embedding(y_{t−1})]``. With ``attention=False`` the context is the encoder's summary
  at every step, as in Cho et al.'s (2014) RNN Encoder–Decoder; the two models differ in nothing
  else, so that a comparison measures attention alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def source_mask(src: torch.Tensor) -> torch.Tensor:
    """``(S, B)`` bool: True at the real (unpadded) positions."""
    return src != 0


class Encoder(nn.Module):
    """Embedding → bidirectional GRU; returns the annotations ``(S, B, 2H)`` and the summary
    ``(B, 2H)``."""

    def __init__(self, vocab: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.rnn = nn.GRU(embed, hidden, bidirectional=True)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = source_mask(src).sum(0).cpu()
        packed = pack_padded_sequence(self.embedding(src), lengths, enforce_sorted=False)
        outputs, h_n = self.rnn(packed)
        annotations, _ = pad_packed_sequence(outputs, total_length=src.shape[0])
        return annotations, torch.cat([h_n[0], h_n[1]], dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau et al.'s (2015) additive attention over annotations of size ``key``."""

    def __init__(self, query: int, key: int, attention: int) -> None:
        super().__init__()
        self.W_a = nn.Linear(query, attention, bias=False)
        self.U_a = nn.Linear(key, attention, bias=False)
        self.v_a = nn.Linear(attention, 1, bias=False)

    def keys(self, annotations: torch.Tensor) -> torch.Tensor:
        """``h_j U_a`` for every source position, once per source: ``(S, B, A)``."""
        return self.U_a(annotations)

    def forward(
        self, s: torch.Tensor, annotations: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The context ``(B, 2H)`` and the weights ``α (S, B)`` for decoder states ``s (B, H)``."""
        scores = self.v_a(torch.tanh(self.W_a(s).unsqueeze(0) + keys)).squeeze(-1)
        # The mask goes in before the softmax: padded positions get exactly zero weight and the
        # real ones sum to one.
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0)
        return (alpha.unsqueeze(-1) * annotations).sum(0), alpha


class Seq2Seq(nn.Module):
    """The encoder–decoder, with or without attention."""

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embed: int,
        hidden: int,
        attention: bool = True,
        attention_size: int | None = None,
    ) -> None:
        super().__init__()
        self.attention = attention
        self.encoder = Encoder(source_vocab, embed, hidden)
        self.embedding = nn.Embedding(target_vocab, embed, padding_idx=0)
        self.init = nn.Linear(2 * hidden, hidden)
        self.cell = nn.GRUCell(embed + 2 * hidden, hidden)
        self.output = nn.Linear(hidden + 2 * hidden + embed, target_vocab)
        if attention:
            self.attend = AdditiveAttention(hidden, 2 * hidden, attention_size or hidden)

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        """What every decoder step reads: annotations, their keys, the mask, the summary, and the
        decoder's first state ``s_0 = tanh(summary W_s + b_s)``."""
        annotations, summary = self.encoder(src)
        memory = {"annotations": annotations, "summary": summary, "mask": source_mask(src)}
        if self.attention:
            memory["keys"] = self.attend.keys(annotations)
        memory["s0"] = torch.tanh(self.init(summary))
        return memory

    def repeat(self, memory: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        """The memory of each source repeated ``k`` times along the batch (for beam search)."""
        out = {}
        for name, value in memory.items():
            axis = 0 if name in ("summary", "s0") else 1
            out[name] = value.repeat_interleave(k, dim=axis)
        return out

    def step(
        self, y_prev: torch.Tensor, s: torch.Tensor, memory: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One decoder step: logits ``(B, V)``, the new state ``(B, H)``, the weights ``(S, B)``
        (None without attention)."""
        e = self.embedding(y_prev)
        if self.attention:
            context, alpha = self.attend(s, memory["annotations"], memory["keys"], memory["mask"])
        else:
            context, alpha = memory["summary"], None
        s = self.cell(torch.cat([e, context], dim=-1), s)
        return self.output(torch.cat([s, context, e], dim=-1)), s, alpha

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the logits ``(T, B, V)`` for decoder inputs ``tgt_in (T, B)`` (the start
        token, then the target shifted by one)."""
        memory = self.encode(src)
        s, logits = memory["s0"], []
        for t in range(tgt_in.shape[0]):
            out, s, _ = self.step(tgt_in[t], s, memory)
            logits.append(out)
        return torch.stack(logits)
