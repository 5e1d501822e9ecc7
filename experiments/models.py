"""The three recurrent models compared in Chapter 4, and how they are sized.

Each model is one layer of ``torch.nn.RNN`` (tanh), ``torch.nn.GRU`` or ``torch.nn.LSTM`` and a
linear read-out applied at every step. "Equal hidden size" gives every kind the same ``H``;
"equal parameter count" gives each kind the ``H`` whose model is closest in size to a reference.
"""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("rnn", "gru", "lstm")
BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks stacked in weight_ih_l0 / weight_hh_l0


class SequenceModel(nn.Module):
    """A recurrent layer of ``kind`` and a linear read-out: ``(T, B, D)`` → ``(T, B, O)``."""

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.kind = kind
        self.recurrent = layer(input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, output_size)
        if forget_bias is not None:
            if kind != "lstm":
                raise ValueError("only the LSTM has a forget gate")
            H = hidden_size
            with torch.no_grad():  # PyTorch adds two bias vectors; chunk order i, f, g, o
                self.recurrent.bias_ih_l0[H : 2 * H] = forget_bias
                self.recurrent.bias_hh_l0[H : 2 * H] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.recurrent(x)
        return self.readout(outputs)


def recurrent_parameters(kind: str, input_size: int, hidden_size: int) -> int:
    """Parameters of one PyTorch recurrent layer: per block, ``W_ih``, ``W_hh`` and two biases."""
    D, H = input_size, hidden_size
    return BLOCKS[kind] * (H * D + H * H + 2 * H)


def model_parameters(kind: str, input_size: int, hidden_size: int, output_size: int) -> int:
    """Parameters of a :class:`SequenceModel` (recurrent layer and read-out)."""
    readout = hidden_size * output_size + output_size
    return recurrent_parameters(kind, input_size, hidden_size) + readout


def hidden_for_parameters(kind: str, input_size: int, output_size: int, budget: int) -> int:
    """The hidden size whose model's parameter count is closest to ``budget``."""
    best, H = 1, 1
    while model_parameters(kind, input_size, H, output_size) <= budget:
        best, H = H, H + 1
    above = best + 1
    under_gap = budget - model_parameters(kind, input_size, best, output_size)
    above_gap = model_parameters(kind, input_size, above, output_size) - budget
    return above if above_gap < under_gap else best


def hidden_sizes(
    sizing: str, input_size: int, output_size: int, hidden: int, reference: str = "lstm"
) -> dict[str, int]:
    """``H`` per kind: all ``hidden`` ("equal_hidden"), or matched to ``reference`` at ``hidden``
    ("equal_params")."""
    if sizing == "equal_hidden":
        return dict.fromkeys(KINDS, hidden)
    if sizing == "equal_params":
        budget = model_parameters(reference, input_size, hidden, output_size)
        return {k: hidden_for_parameters(k, input_size, output_size, budget) for k in KINDS}
    raise ValueError(f"sizing must be 'equal_hidden' or 'equal_params', not {sizing!r}")
