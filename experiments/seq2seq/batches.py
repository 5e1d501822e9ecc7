"""Padded, time-major batches of id sequences: sources ``(S, B)`` and targets ``(T, B)`` with 0 as
padding, and the teacher-forcing split of a target into decoder inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad(sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """``(max length, n)`` long, each column one sequence followed by zeros."""
    out = torch.zeros(max(len(s) for s in sequences), len(sequences), dtype=torch.long)
    for j, sequence in enumerate(sequences):
        out[: len(sequence), j] = torch.as_tensor(sequence, dtype=torch.long)
    return out


def teacher_forcing(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(decoder inputs, outputs)`` of a padded target that starts with the start token: the
    decoder reads ``y_0 … y_{T−2}`` and must predict ``y_1 … y_{T−1}``, one step ahead."""
    return target[:-1], target[1:]


def sequence_loss(logits: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real (non-padding) target tokens."""
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), outputs.reshape(-1), ignore_index=0
    )


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    src: torch.Tensor,
    tgt: torch.Tensor,
    clip: float,
) -> float:
    """One teacher-forced update on a padded batch, the gradient norm clipped at ``clip``; the
    loss before the update."""
    tgt_in, tgt_out = teacher_forcing(tgt)
    loss = sequence_loss(model(src, tgt_in), tgt_out)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return float(loss.detach())
