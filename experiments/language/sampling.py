"""Text from a trained character model: temperature and top-k sampling, seeded.

At each step the model's logits ``u`` for the next character become the distribution
``softmax(u / τ)`` (temperature ``τ``: below 1 sharper, above 1 flatter; as ``τ → 0`` it puts all
its mass on the argmax, which :func:`next_distribution` returns exactly for ``τ = 0``). With
``top_k``, only the ``k`` most likely characters keep their mass, renormalised. The temperature
divides the logits *before* the softmax: raising the probabilities to ``1 / τ`` and renormalising
is the same distribution, while dividing the probabilities by ``τ`` (after the softmax) changes
nothing once they are renormalised.
"""

from __future__ import annotations

import torch

from experiments.language.models import CharLM


def next_distribution(
    logits: torch.Tensor, temperature: float, top_k: int | None = None
) -> torch.Tensor:
    """The sampling distribution over the last axis of ``logits`` (any leading shape)."""
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0, not {temperature}")
    if top_k is not None:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if temperature == 0:  # the limit τ → 0: greedy (ties go to the first)
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def sample(
    model: CharLM,
    prompt: list[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
) -> list[int]:
    """``length`` character ids drawn after ``prompt`` (which conditions the state), one at a
    time, each fed back as the next input; the same seed gives the same text."""
    if not prompt:
        raise ValueError("the prompt needs at least one character")
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()  # no dropout while writing
    logits, h = model(torch.tensor(prompt)[:, None])
    out: list[int] = []
    for _ in range(length):
        p = next_distribution(logits[-1, 0], temperature, top_k)
        char = int(torch.multinomial(p, 1, generator=generator))
        out.append(char)
        logits, h = model(torch.tensor([[char]]), h)
    model.train(was_training)
    return out
