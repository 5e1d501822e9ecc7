"""Chapter 7's speech models: a GRU that classifies an isolated digit from its packed log-mel
frames, and a bidirectional GRU whose frame-wise outputs are trained with CTC to transcribe a
string of digits."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

BLANK = 0  # CTC's blank is class 0; digit d is class d + 1


def pad(sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T_max, n) zero-padded batch and the (B,) lengths."""
    lengths = torch.tensor([len(s) for s in sequences])
    return nn.utils.rnn.pad_sequence(sequences, batch_first=True), lengths


class DigitClassifier(nn.Module):
    """Packed GRU over the frames; the last layer's final state (both directions' if
    bidirectional), taken at each sequence's own last frame, feeds a linear layer over the
    classes."""

    def __init__(
        self,
        n_in: int,
        hidden: int,
        classes: int = 10,
        layers: int = 1,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.gru = nn.GRU(
            n_in, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional
        )
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # (layers · directions, B, H), in the batch's own order
        directions = 2 if self.gru.bidirectional else 1
        final = torch.cat(list(h_n[-directions:]), dim=-1)
        return self.head(final)


class CTCRecognizer(nn.Module):
    """Adjacent frames stacked ``stack`` at a time (fewer, wider steps), a bidirectional GRU, and
    per-step log-probabilities over blank and the ten digits, shaped (T', B, 11) for
    :class:`torch.nn.CTCLoss`."""

    def __init__(self, n_in: int, hidden: int, layers: int = 2, stack: int = 2) -> None:
        super().__init__()
        self.stack = stack
        self.gru = nn.GRU(
            n_in * stack, hidden, num_layers=layers, batch_first=True, bidirectional=True
        )
        self.head = nn.Linear(2 * hidden, 11)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths, self.stack, rounding_mode="floor").clamp(min=1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, steps, n = x.shape
        usable = max(1, steps // self.stack) * self.stack
        x = nn.functional.pad(x, (0, 0, 0, max(0, usable - steps)))[:, :usable]
        x = x.reshape(batch, usable // self.stack, n * self.stack)
        out_lengths = self.output_lengths(lengths)
        packed = pack_padded_sequence(x, out_lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(out).log_softmax(-1).transpose(0, 1), out_lengths


def greedy_ctc(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best class at each step, repeats collapsed, then blanks dropped: the digits of each
    sequence. ``log_probs`` is (T, B, 11)."""
    best = log_probs.argmax(-1).T  # (B, T)
    decoded = []
    for row, length in zip(best.tolist(), lengths.tolist(), strict=True):
        row = row[:length]
        collapsed = [c for i, c in enumerate(row) if i == 0 or c != row[i - 1]]
        decoded.append([c - 1 for c in collapsed if c != BLANK])
    return decoded


def edit_distance(a: list[int], b: list[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each costing 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]
