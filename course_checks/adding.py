"""The adding problem, the one implementation that Chapter 2, Exercise 3's checks and the
experiments (``experiments.tasks.Adding``) share.

The variant of Le et al. (2015) and Arjovsky et al. (2016), a simplification of Hochreiter &
Schmidhuber's (1997) original: channel 0 holds numbers drawn uniformly from [0, 1), channel 1 two
markers, one in each half of the sequence; the target is the sum of the two marked numbers. Each
caller draws with its own generator (torch's here, NumPy's in the experiments);
:func:`adding_from_draws` builds the inputs and targets from the draws.
"""

from __future__ import annotations

import torch

__all__ = [
    "adding_batch",
    "adding_from_draws",
    "reference_adding_problem",
]


def adding_from_draws(
    numbers: torch.Tensor, first: torch.Tensor, second: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x (T, n, 2)`` and ``y (n,)`` from the numbers ``(T, n)`` and the marked steps ``(n,)``
    of each sequence, in the numbers' dtype."""
    n = numbers.shape[1]
    markers = torch.zeros_like(numbers)
    markers[first, torch.arange(n)] = 1.0
    markers[second, torch.arange(n)] = 1.0
    return torch.stack([numbers, markers], dim=-1), (numbers * markers).sum(dim=0)


def adding_batch(n: int, T: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of length ``T`` from ``generator`` (float32), as Chapter 2 trains on."""
    numbers = torch.rand(T, n, generator=generator)
    first = torch.randint(0, T // 2, (n,), generator=generator)  # one marker per half
    second = torch.randint(T // 2, T, (n,), generator=generator)
    return adding_from_draws(numbers, first, second)


def reference_adding_problem(n: int, T: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem as Chapter 2 draws it, from ``seed`` (what Exercise 3's
    ``adding_problem`` must return): ``x (T, n, 2)`` float32 and ``y (n,)``."""
    return adding_batch(n, T, torch.Generator().manual_seed(seed))
