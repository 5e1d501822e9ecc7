"""Chapter 5's character language model: an embedding, a GRU, a linear head.

``CharLM(V, embed, hidden, layers, dropout)`` reads character ids ``(T, B)`` and returns logits
``(T, B, V)`` for the next character and the final state ``(layers, B, hidden)``. ``dropout`` is
``nn.GRU``'s: applied to the outputs of every layer but the last, never on the recurrent
connection and never inside a step; the chapter adds the variational kind by hand.
"""

from __future__ import annotations

import torch
from torch import nn


class CharLM(nn.Module):
    """Embedding → GRU (``layers`` deep) → linear head over the ``V`` characters."""

    def __init__(
        self, V: int, embed: int, hidden: int, layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed)
        self.gru = nn.GRU(embed, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, V)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(T, B, V)`` and the final state, from ids ``x (T, B)`` and state ``h``."""
        output, h_n = self.gru(self.embedding(x), h)
        return self.head(output), h_n
