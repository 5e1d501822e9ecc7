"""The log-mel spectrogram in NumPy, one step per function, as Chapter 7 derives it.

samples → overlapping frames → a Hann window on each → the power spectrum of each frame
(``|rfft|²``) → a bank of triangular filters equally spaced on the mel scale → the logarithm with
a floor. The chapter checks each step against ``torch.stft``.
"""

from __future__ import annotations

import numpy as np

# 23 ms frames every 10 ms, as speech recognisers use; 40 bands up to 8 kHz.
N_FFT = 512
HOP = 220
N_MELS = 40
F_MAX = 8000.0
FLOOR = 1e-10


def frames(samples: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """(T, n_fft) frames starting every ``hop`` samples; the last partial frame is dropped, and a
    signal shorter than one frame gives one frame padded with zeros."""
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    count = 1 + (len(samples) - n_fft) // hop
    index = hop * np.arange(count)[:, None] + np.arange(n_fft)[None, :]
    return samples[index]


def hann(n: int = N_FFT) -> np.ndarray:
    """The periodic Hann window, ``0.5 − 0.5 cos(2πk/n)`` (torch.hann_window's default)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def power_spectrum(framed: np.ndarray) -> np.ndarray:
    """(T, n_fft/2 + 1): ``|FFT|²`` of each windowed frame."""
    return np.abs(np.fft.rfft(framed * hann(framed.shape[-1]), axis=-1)) ** 2


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """The mel scale in the HTK form: ``2595 log10(1 + f/700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, f_max: float = F_MAX
) -> np.ndarray:
    """(n_mels, n_fft/2 + 1) triangular filters, their centres equally spaced in mel from 0 Hz
    to ``f_max``; filter m rises from centre m−1 to 1 at centre m and falls to 0 at centre m+1."""
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(f_max), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(
    samples: np.ndarray,
    sample_rate: int,
    n_fft: int = N_FFT,
    hop: int = HOP,
    n_mels: int = N_MELS,
    floor: float = FLOOR,
) -> np.ndarray:
    """(T, n_mels): the natural log of the mel-filtered power spectrum, floored at ``floor``."""
    power = power_spectrum(frames(samples, n_fft, hop))
    mel = power @ mel_filterbank(sample_rate, n_fft, n_mels).T
    return np.log(np.maximum(mel, floor))
