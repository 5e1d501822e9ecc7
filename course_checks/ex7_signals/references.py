"""What Exercise 7's NumPy notebook (``ex7_signals/logmel_numpy``) must compute: the log-mel
spectrogram of Chapter 7 (``course_checks/speech.py``), computed with PyTorch.

Row vectors, as NOTATION.md fixes them: a signal ``samples (N,)`` is cut into ``frames
(n_frames, n_fft)``, ``n_frames = 1 + (N − n_fft) // hop`` (the last incomplete frame dropped; a
signal shorter than ``n_fft`` padded with zeros to one frame), each multiplied by the periodic Hann
window ``0.5 − 0.5 cos(2πk / n_fft)``; the power spectrum is ``|rfft|²`` of each windowed frame,
unscaled, ``(n_frames, n_fft // 2 + 1)``; the filterbank ``(n_fft // 2 + 1, n_mels)`` holds
``n_mels`` triangles on HTK's mel scale ``m = 2595 log10(1 + f / 700)``, their edges equally
spaced in mel from 0 Hz to ``f_max``, evaluated at each bin's frequency ``k · sample_rate /
n_fft``; the log-mel spectrogram is ``log(max(power @ filterbank, floor))``, the natural log,
``(n_frames, n_mels)``.

Everything here is computed with PyTorch in float64: ``Tensor.unfold`` for the frames,
``torch.hann_window`` (periodic) for the window, ``torch.stft`` with ``center=False`` for the
power spectrum, and the filterbank from its formula in torch (written as torchaudio's
``melscale_fbanks`` writes it, from the slopes between consecutive edges), never with a second
copy of the notebook's NumPy. ``tests/course_checks/ex7_signals`` compares it with the book's
``features.py`` and with SciPy's window and short-time Fourier transform.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

# Chapter 7's settings, from its one implementation: 23 ms frames every 10 ms at 22,050 Hz,
# 40 bands up to 8 kHz, and the floor under the log (the references below are built apart).
from course_checks.speech import F_MAX, FLOOR, HOP, N_FFT, N_MELS, SAMPLE_RATE

__all__ = [
    "FLOOR",
    "F_MAX",
    "HOP",
    "N_FFT",
    "N_MELS",
    "SAMPLE_RATE",
    "reference_functions",
    "torch_frames",
    "torch_hann",
    "torch_hz_to_mel",
    "torch_log_mel",
    "torch_log_mel_forms",
    "torch_mel_energies",
    "torch_mel_filterbank",
    "torch_mel_to_hz",
    "torch_power_of_frames",
    "torch_power_spectrum",
    "torch_windowed_frames",
]

Array = np.ndarray


def _t(array: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


def _padded(samples: Any, n_fft: int) -> torch.Tensor:
    """The signal as a tensor, padded with zeros at its end to one frame if it is shorter."""
    x = _t(samples)
    if x.shape[0] < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - x.shape[0]))
    return x


def _window(n: int) -> torch.Tensor:
    return torch.hann_window(n, periodic=True, dtype=torch.float64)


def torch_frames(samples: Array, n_fft: int, hop: int) -> Array:
    """``(n_frames, n_fft)``: ``Tensor.unfold``, which drops the last incomplete frame."""
    return _padded(samples, n_fft).unfold(0, n_fft, hop).numpy()


def torch_hann(n: int) -> Array:
    """``(n,)``: ``torch.hann_window(n, periodic=True)``."""
    return _window(n).numpy()


def torch_windowed_frames(samples: Array, n_fft: int, hop: int) -> Array:
    """``(n_frames, n_fft)``: the frames times the periodic Hann window."""
    return (_padded(samples, n_fft).unfold(0, n_fft, hop) * _window(n_fft)).numpy()


def torch_power_spectrum(samples: Array, n_fft: int, hop: int) -> Array:
    """``(n_frames, n_fft // 2 + 1)``: ``|torch.stft|²`` with the periodic Hann window and
    ``center=False`` (no padding around the signal), one row per frame."""
    spectrum = torch.stft(
        _padded(samples, n_fft),
        n_fft,
        hop_length=hop,
        win_length=n_fft,
        window=_window(n_fft),
        center=False,
        return_complex=True,
    )  # (n_fft // 2 + 1, n_frames)
    return (spectrum.abs() ** 2).T.contiguous().numpy()


def torch_power_of_frames(windowed_frames: Array) -> Array:
    """``(n_frames, n_fft // 2 + 1)``: ``|torch.fft.rfft|²`` of frames already windowed."""
    return (torch.fft.rfft(_t(windowed_frames), dim=-1).abs() ** 2).numpy()


def torch_hz_to_mel(f: Any) -> Array:
    """HTK's mel scale, ``2595 log10(1 + f / 700)``, of an array (or a number) of Hz."""
    return (2595.0 * torch.log10(1.0 + _t(f) / 700.0)).numpy()


def torch_mel_to_hz(m: Any) -> Array:
    """Its inverse, ``700 (10^(m / 2595) − 1)``."""
    return (700.0 * (torch.pow(10.0, _t(m) / 2595.0) - 1.0)).numpy()


def _filterbank(n_mels: int, n_fft: int, sample_rate: float, f_max: float) -> torch.Tensor:
    """``(n_fft // 2 + 1, n_mels)``, as torchaudio's ``melscale_fbanks`` (HTK, no norm)."""
    top = 2595.0 * torch.log10(torch.tensor(1.0 + float(f_max) / 700.0, dtype=torch.float64))
    mels = torch.linspace(0.0, float(top), n_mels + 2, dtype=torch.float64)
    edges = 700.0 * (torch.pow(10.0, mels / 2595.0) - 1.0)  # (n_mels + 2,) Hz
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (float(sample_rate) / n_fft)
    widths = edges[1:] - edges[:-1]  # (n_mels + 1,)
    slopes = edges[None, :] - freqs[:, None]  # (n_freqs, n_mels + 2)
    rising = -slopes[:, :-2] / widths[:-1]  # (f − lower) / (centre − lower)
    falling = slopes[:, 2:] / widths[1:]  # (upper − f) / (upper − centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0) + 0.0  # + 0.0: no −0 shown


def torch_mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, f_max: float) -> Array:
    """``(n_fft // 2 + 1, n_mels)``: ``n_mels`` triangles, edges equally spaced in mel from 0 Hz
    to ``f_max``; triangle ``j`` is 0 at edge ``j``, rises to 1 at edge ``j + 1`` and falls to 0
    at edge ``j + 2``, evaluated at each bin's frequency ``k · sample_rate / n_fft``."""
    return _filterbank(n_mels, n_fft, sample_rate, f_max).numpy()


def torch_mel_energies(
    samples: Array, sample_rate: float, n_fft: int, hop: int, n_mels: int, f_max: float
) -> Array:
    """``(n_frames, n_mels)``: the power spectrum through the filterbank, before the log."""
    power = torch.as_tensor(torch_power_spectrum(samples, n_fft, hop))
    return (power @ _filterbank(n_mels, n_fft, sample_rate, f_max)).numpy()


def torch_log_mel(
    samples: Array,
    sample_rate: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_max: float,
    floor: float = FLOOR,
) -> Array:
    """``(n_frames, n_mels)``: ``log(max(mel energies, floor))``, the natural log."""
    mel = torch.as_tensor(torch_mel_energies(samples, sample_rate, n_fft, hop, n_mels, f_max))
    return torch.log(torch.clamp(mel, min=floor)).numpy()


def torch_log_mel_forms(
    samples: Array,
    sample_rate: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_max: float,
    floor: float = FLOOR,
) -> tuple[Array, Array]:
    """``(log(max(mel, floor)), log(mel + floor))``: the course's floor, and the other form the
    checks accept (the two differ only where a band's energy lies within a few orders of
    magnitude of the floor)."""
    mel = torch.as_tensor(torch_mel_energies(samples, sample_rate, n_fft, hop, n_mels, f_max))
    return torch.log(torch.clamp(mel, min=floor)).numpy(), torch.log(mel + floor).numpy()


def reference_functions() -> dict[str, Callable[..., Array]]:
    """The notebook's functions, by name and signature, computed by the references above.

    A test of a function that calls the notebook's other functions (``log_mel`` calls
    ``frames``, ``hann``, ``power_spectrum`` and ``mel_filterbank``; ``mel_filterbank`` calls
    ``hz_to_mel`` and ``mel_to_hz``) binds these in its globals for the call
    (``probes.replaced_names``), so that a mistake in one function costs the points of its own
    test only.
    """

    def frames(samples, n_fft=N_FFT, hop=HOP):
        return torch_frames(samples, n_fft, hop)

    def hann(n=N_FFT):
        return torch_hann(n)

    def power_spectrum(windowed_frames):
        return torch_power_of_frames(windowed_frames)

    def mel_filterbank(n_mels=N_MELS, n_fft=N_FFT, sample_rate=SAMPLE_RATE, f_max=F_MAX):
        return torch_mel_filterbank(n_mels, n_fft, sample_rate, f_max)

    return {
        "frames": frames,
        "hann": hann,
        "power_spectrum": power_spectrum,
        "hz_to_mel": torch_hz_to_mel,
        "mel_to_hz": torch_mel_to_hz,
        "mel_filterbank": mel_filterbank,
    }
