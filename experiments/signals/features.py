"""The log-mel spectrogram in NumPy, one step per function, as Chapter 7 derives it: the one
implementation is :mod:`course_checks.speech` (which Exercise 7b's checks will share). This module
keeps the chapter's names.

samples → overlapping frames → a Hann window on each → the power spectrum of each frame
(``|rfft|²``) → a bank of triangular filters equally spaced on the mel scale → the logarithm with
a floor. The chapter checks each step against ``torch.stft``.
"""

from __future__ import annotations

from course_checks.speech import (
    F_MAX,
    FLOOR,
    HOP,
    N_FFT,
    N_MELS,
    frames,
    hann,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    power_spectrum,
)

__all__ = [
    "FLOOR",
    "F_MAX",
    "HOP",
    "N_FFT",
    "N_MELS",
    "frames",
    "hann",
    "hz_to_mel",
    "log_mel",
    "mel_filterbank",
    "mel_to_hz",
    "power_spectrum",
]
