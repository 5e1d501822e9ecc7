"""Chapter 5's character language model: an embedding, a GRU, a linear head.

``CharLM(V, embed, hidden, layers, dropout)`` reads character ids ``(T, B)`` and returns logits
``(T, B, V)`` for the next character and the final state ``(layers, B, hidden)``. ``dropout`` is
``nn.GRU``'s: applied to the outputs of every layer but the last, never on the recurrent
connection and never inside a step. :class:`VariationalGRU` is the kind ``nn.GRU`` lacks (Gal &
Ghahramani 2016): one dropout mask per sequence on the state that enters the recurrent matmul,
the same at every step; ``CharLM(..., recurrent_dropout=p)`` uses it in place of ``nn.GRU``.
"""

from __future__ import annotations

import torch
from torch import nn


class VariationalGRU(nn.Module):
    """One GRU layer in PyTorch's form (gates ``r, z, n``, reset after the recurrent matmul),
    with variational dropout on the recurrent connection.

    In training, one mask ``m`` of shape ``(B, H)`` (entries 0 or ``1 / (1 - p)``) is drawn per
    call and multiplies the state wherever it enters ``weight_hh``: ``(h ⊙ m) W_hhᵀ``; the update
    ``h_t = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ n_t`` keeps the unmasked state. In evaluation (or with
    ``p = 0``) it computes exactly what ``nn.GRU`` with the same weights computes. Parameters
    carry ``nn.GRU``'s names (``weight_ih_l0``, …) so that weights load either way.
    """

    def __init__(self, input_size: int, hidden_size: int, p: float) -> None:
        super().__init__()
        reference = nn.GRU(input_size, hidden_size)  # its initialisation, and its names
        for name, parameter in reference.named_parameters():
            self.register_parameter(name, parameter)
        self.hidden_size, self.p = hidden_size, p

    def mask(self, B: int, like: torch.Tensor) -> torch.Tensor | None:
        """The sequence's recurrent dropout mask ``(B, H)``, or None when none applies."""
        if not self.training or self.p == 0:
            return None
        keep = torch.full((B, self.hidden_size), 1 - self.p, dtype=like.dtype, device=like.device)
        return torch.bernoulli(keep) / (1 - self.p)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs ``(T, B, H)`` and the final state ``(1, B, H)``, as ``nn.GRU`` returns them."""
        T, B, _ = x.shape
        state = x.new_zeros(B, self.hidden_size) if h is None else h[0]
        mask = self.mask(B, x)
        inputs = x @ self.weight_ih_l0.T + self.bias_ih_l0  # all steps' input terms at once
        outputs = []
        for t in range(T):
            recurrent = state if mask is None else state * mask
            hidden = recurrent @ self.weight_hh_l0.T + self.bias_hh_l0
            x_r, x_z, x_n = inputs[t].chunk(3, dim=-1)
            h_r, h_z, h_n = hidden.chunk(3, dim=-1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            state = z * state + (1 - z) * n
            outputs.append(state)
        return torch.stack(outputs), state[None]


class CharLM(nn.Module):
    """Embedding → GRU (``layers`` deep) → linear head over the ``V`` characters.

    With ``recurrent_dropout`` the GRU is a one-layer :class:`VariationalGRU`.
    """

    def __init__(
        self,
        V: int,
        embed: int,
        hidden: int,
        layers: int = 1,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed)
        if recurrent_dropout:
            if layers != 1:
                raise ValueError("recurrent dropout is implemented for one layer")
            self.gru: nn.Module = VariationalGRU(embed, hidden, recurrent_dropout)
        else:
            self.gru = nn.GRU(
                embed, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0
            )
        self.head = nn.Linear(hidden, V)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(T, B, V)`` and the final state, from ids ``x (T, B)`` and state ``h``."""
        output, h_n = self.gru(self.embedding(x), h)
        return self.head(output), h_n


class Classifier(nn.Module):
    """Embedding → GRU (``bidirectional`` or not) over a padded batch → linear head on the final
    state(s): many-to-one, for sequences of different lengths.

    ``forward(x, lengths)`` takes ids ``(T, B)`` padded at the end and the true ``lengths``
    ``(B,)``; the batch is packed (:func:`~torch.nn.utils.rnn.pack_padded_sequence`), so the GRU
    stops at each sequence's last real character and its final state is the state there, and the
    backward direction starts there. ``packed=False`` reads the padded batch as it is and takes
    the last time step's output: the common bug, kept to show what it does.
    """

    def __init__(
        self, V: int, classes: int, embed: int, hidden: int, bidirectional: bool = False
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, embed, padding_idx=0)
        self.gru = nn.GRU(embed, hidden, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, packed: bool = True) -> torch.Tensor:
        """Logits ``(B, classes)``."""
        embedded = self.embedding(x)
        if not packed:  # the bug: padding is read as input, the "final" state is at the padded end
            output, _ = self.gru(embedded)
            H = self.gru.hidden_size
            last = (
                output[-1]
                if not self.gru.bidirectional
                else torch.cat([output[-1, :, :H], output[0, :, H:]], dim=-1)
            )
            return self.head(last)
        sequence = nn.utils.rnn.pack_padded_sequence(embedded, lengths.cpu(), enforce_sorted=False)
        _, h_n = self.gru(sequence)  # (directions, B, H), at each sequence's true end
        return self.head(torch.cat(list(h_n), dim=-1))
