"""The test signals of Exercise 7's log-mel notebook: tones, chirps, noise and digital silence.

Synthetic and seeded, made here rather than read from files, so that a hidden test draws new ones
from its seed: a mixture (tones at chosen frequencies, a linear chirp and a little noise), pure
tones (far from them the bands' energies come within a few orders of magnitude of the floor),
white noise and digital silence (every band's energy exactly 0: only the floor keeps its log
finite). Amplitudes stay within ``[-1, 1]``, as audio samples do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Signal",
    "chirp",
    "log_mel_signals",
    "mixture",
    "noise",
    "silence",
    "tones",
]

Array = np.ndarray


@dataclass(frozen=True)
class Signal:
    """Samples and the words a failure message uses for them."""

    label: str
    samples: Array  # (N,) float64

    def describe(self) -> str:
        return f"{self.label}, {len(self.samples)} samples"


def tones(n: int, sample_rate: float, frequencies, amplitudes, phases=None) -> Array:
    """``Σ_i a_i sin(2π f_i t + φ_i)`` at ``t = k / sample_rate``, ``k = 0 … n−1``."""
    t = np.arange(n) / sample_rate
    phases = np.zeros(len(frequencies)) if phases is None else phases
    parts = [
        a * np.sin(2 * np.pi * f * t + p)
        for f, a, p in zip(frequencies, amplitudes, phases, strict=True)
    ]
    return np.sum(parts, axis=0) if parts else np.zeros(n)


def chirp(n: int, sample_rate: float, f0: float, f1: float, amplitude: float = 0.3) -> Array:
    """A linear chirp from ``f0`` to ``f1`` Hz over the ``n`` samples."""
    t = np.arange(n) / sample_rate
    duration = n / sample_rate
    return amplitude * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * duration)))


def noise(rng: np.random.Generator, n: int, std: float) -> Array:
    """White Gaussian noise."""
    return std * rng.normal(size=n)


def silence(n: int) -> Array:
    """Digital silence: ``n`` zeros."""
    return np.zeros(n)


def mixture(seed: int, n: int, sample_rate: float) -> Signal:
    """Two tones at random frequencies, a chirp rising through the band and a little noise."""
    rng = np.random.default_rng(seed)
    nyquist = sample_rate / 2
    frequencies = rng.uniform(0.02, 0.6, size=2) * nyquist
    f0, f1 = sorted(rng.uniform(0.01, 0.7, size=2) * nyquist)
    samples = (
        tones(n, sample_rate, frequencies, rng.uniform(0.2, 0.4, size=2), rng.uniform(0, 6, 2))
        + chirp(n, sample_rate, f0, f1, 0.2)
        + noise(rng, n, 0.02)
    )
    label = (
        f"tones at {frequencies[0]:.0f} and {frequencies[1]:.0f} Hz, a chirp from {f0:.0f} to "
        f"{f1:.0f} Hz and noise, at {sample_rate:g} Hz"
    )
    return Signal(label, samples)


def log_mel_signals(seed: int, n: int, sample_rate: float) -> list[Signal]:
    """The log-mel test's signals: the mixture, a pure tone, white noise and digital silence."""
    rng = np.random.default_rng(seed + 1)
    frequency = float(rng.uniform(0.05, 0.4) * sample_rate / 2)
    return [
        mixture(seed, n, sample_rate),
        Signal(
            f"a pure tone at {frequency:.0f} Hz, sampled at {sample_rate:g} Hz",
            tones(n, sample_rate, [frequency], [0.5]),
        ),
        Signal("white noise, standard deviation 0.1", noise(rng, n, 0.1)),
        Signal("digital silence (every sample 0)", silence(n)),
    ]
