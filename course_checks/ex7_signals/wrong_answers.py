"""What known wrong answers of Exercise 7's log-mel notebook produce, so that feedback names them.

Each table maps the words a student reads to the value a realistic mistake produces on the given
inputs (see ``check_close``). The right answers never come from here: the checks take them from
PyTorch (``references.py``). The variants are written in NumPy with a switch each, whose default
is the right formula; ``tests/course_checks/ex7_signals`` proves every default equal to PyTorch
and every mistake different from it. Where a mistake takes the log of 0, the variant gives −∞ as
the student's code does (NumPy's warnings silenced here: a warning on stderr would cost the test
cell).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import numpy as np

from course_checks.variants import merge_identical

__all__ = [
    "FILTERBANK_VARIANTS",
    "FRAMES_VARIANTS",
    "HANN_VARIANTS",
    "INVERSE_VARIANTS",
    "LOG_MEL_VARIANTS",
    "MEL_VARIANTS",
    "POWER_VARIANTS",
    "filterbank_mistakes",
    "filterbank_variant",
    "frames_mistakes",
    "frames_variant",
    "hann_mistakes",
    "hann_variant",
    "inverse_mistakes",
    "inverse_variant",
    "log_mel_mistakes",
    "log_mel_variant",
    "mel_mistakes",
    "mel_variant",
    "power_mistakes",
    "power_variant",
]

Array = np.ndarray
Table = TypeVar("Table")


def _quiet(table: Callable[..., Table]) -> Callable[..., Table]:
    """``table`` run with NumPy's floating-point warnings off (log of 0, 0 / 0 on purpose)."""

    @functools.wraps(table)
    def quiet(*args: Any, **kwargs: Any) -> Table:
        with np.errstate(all="ignore"):
            return table(*args, **kwargs)

    return quiet


# ------------------------------------------------------------------------------- the frames

_FRAMES = (
    "frame t holds samples[t * hop : t * hop + n_fft], for t = 0 … n_frames − 1 with n_frames = "
    "1 + (N − n_fft) // hop"
)
FRAMES_VARIANTS: dict[str, str] = {
    "hop_is_n_fft": "the frames do not overlap: each starts n_fft samples after the previous one; "
    f"they start every hop samples: {_FRAMES}",
    "hop_as_overlap": "the frames start every n_fft − hop samples: hop is the step between the "
    f"starts of consecutive frames, not their overlap; {_FRAMES}",
    "keep_partial": "the last incomplete frame is kept (padded with zeros); the course drops it "
    f"(features.py, and torch.stft with center=False): {_FRAMES}",
    "one_too_few": "one frame too few: the count is (N − n_fft) // hop; the first frame starts at "
    f"0, so {_FRAMES}",
    "exclusive_range": "the last frame is missing when it ends exactly at the signal's last "
    "sample: range(0, N - n_fft, hop) stops before the start N − n_fft; use "
    f"range(0, N - n_fft + 1, hop), {_FRAMES}",
    "short_not_padded": "a signal shorter than n_fft gives no frame: pad it with zeros at its end "
    "to n_fft samples (np.pad), which gives one frame",
    "transposed": "the frames are the columns, (n_fft, n_frames); the course's layout has one row "
    "per frame, (n_frames, n_fft)",
}


def frames_variant(samples: Array, n_fft: int, hop: int, mistake: str = "right") -> Array:
    """``(n_frames, n_fft)`` frames with one mistake of :data:`FRAMES_VARIANTS`."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < n_fft and mistake != "short_not_padded":
        x = np.pad(x, (0, n_fft - len(x)))
    step = {"hop_is_n_fft": n_fft, "hop_as_overlap": n_fft - hop}.get(mistake, hop)
    span = len(x) - n_fft
    if span < 0:
        count = 0
    elif mistake == "keep_partial":
        count = 1 + math.ceil(span / step)
        x = np.pad(x, (0, (count - 1) * step + n_fft - len(x)))
    elif mistake == "one_too_few":
        count = span // step
    elif mistake == "exclusive_range":
        count = len(range(0, span, step))
    else:
        count = 1 + span // step
    index = step * np.arange(count)[:, None] + np.arange(n_fft)[None, :]
    framed = x[index] if count else np.zeros((0, n_fft))
    return framed.T.copy() if mistake == "transposed" else framed


def frames_mistakes(
    samples: Array, n_fft: int, hop: int, ruled_out: Collection[str] = ()
) -> dict[str, Array]:
    """The table of :data:`FRAMES_VARIANTS`, without the keys in ``ruled_out`` (mistakes that an
    earlier case, which the answer passed, would have shown)."""
    return merge_identical(
        {
            text: frames_variant(samples, n_fft, hop, key)
            for key, text in FRAMES_VARIANTS.items()
            if key not in ruled_out
        }
    )


# ------------------------------------------------------------------------------- the window

_HANN = "the periodic Hann window is w[k] = 0.5 − 0.5 cos(2πk / n), k = 0 … n − 1"
HANN_VARIANTS: dict[str, str] = {
    "symmetric": "the symmetric Hann window, cos(2πk / (n − 1)) (np.hanning(n)), which ends with "
    "a 0 as it starts; the course's is the periodic one, whose period is the frame, as "
    f"torch.hann_window's default and features.py: {_HANN}",
    "hamming": f"the Hamming window, 0.54 − 0.46 cos(2πk / n); {_HANN}",
    "inverted": f"the window is upside down, 0.5 + 0.5 cos(...): 1 at the frame's ends; {_HANN}",
    "no_half": f"the factor 0.5 is missing: 1 − cos(2πk / n) reaches 2; {_HANN}",
}


def hann_variant(n: int, mistake: str = "right") -> Array:
    """``(n,)`` window with one mistake of :data:`HANN_VARIANTS`."""
    k = np.arange(n)
    period = n - 1 if mistake == "symmetric" and n > 1 else n
    c = np.cos(2 * np.pi * k / period)
    if mistake == "hamming":
        return 0.54 - 0.46 * c
    if mistake == "inverted":
        return 0.5 + 0.5 * c
    if mistake == "no_half":
        return 1.0 - c
    return 0.5 - 0.5 * c


def hann_mistakes(n: int) -> dict[str, Array]:
    return merge_identical({text: hann_variant(n, key) for key, text in HANN_VARIANTS.items()})


# ------------------------------------------------------------------------ the power spectrum

_POWER = (
    "the power spectrum is |X|² with X = np.fft.rfft(windowed_frames, axis=-1): "
    "np.abs(X) ** 2, unscaled, shape (n_frames, n_fft // 2 + 1)"
)
POWER_VARIANTS: dict[str, str] = {
    "magnitude": f"the magnitude |X| is returned, not the power |X|²: square it; {_POWER}",
    "full_fft": "np.fft.fft gives all n_fft bins; for a real signal the upper half mirrors the "
    f"lower one, and the course keeps the n_fft // 2 + 1 bins of np.fft.rfft: {_POWER}",
    "scaled": f"the power is divided by n_fft; the course's is not scaled: {_POWER}",
    "windowed_again": "power_spectrum multiplies its input by a Hann window again: its input is "
    "already windowed (log_mel multiplies the frames by hann(n_fft) before calling it), so the "
    f"frames get the window twice; {_POWER}",
    "real_only": "only the real part is squared: |X|² = X.real² + X.imag² (np.abs(X) ** 2); "
    f"{_POWER}",
    "axis_0": "the FFT runs over axis 0, across frames; each frame is a row: transform along the "
    f"last axis (axis=-1); {_POWER}",
    "transposed": "the spectrum is (n_fft // 2 + 1, n_frames), one column per frame; the course's "
    f"has one row per frame: {_POWER}",
}


def power_variant(windowed_frames: Array, mistake: str = "right") -> Array:
    """``(n_frames, n_fft // 2 + 1)`` power spectrum with one mistake of :data:`POWER_VARIANTS`."""
    x = np.asarray(windowed_frames, dtype=np.float64)
    n_fft = x.shape[-1]
    if mistake == "windowed_again":
        x = x * hann_variant(n_fft)
    if mistake == "full_fft":
        return np.abs(np.fft.fft(x, axis=-1)) ** 2
    spectrum = np.fft.rfft(x, axis=0 if mistake == "axis_0" else -1)
    if mistake == "magnitude":
        return np.abs(spectrum)
    if mistake == "real_only":
        return spectrum.real**2
    power = np.abs(spectrum) ** 2
    if mistake == "scaled":
        return power / n_fft
    return power.T.copy() if mistake == "transposed" else power


def power_mistakes(windowed_frames: Array) -> dict[str, Array]:
    return merge_identical(
        {text: power_variant(windowed_frames, key) for key, text in POWER_VARIANTS.items()}
    )


# ------------------------------------------------------------------------------ the mel scale

_MEL = "HTK's mel scale is m = 2595 log10(1 + f / 700) (the same as 1127 ln(1 + f / 700))"
MEL_VARIANTS: dict[str, str] = {
    "natural_2595": "the natural log with the constant 2595: 2595 goes with log10 (np.log10); "
    f"with the natural log the constant is 1127; {_MEL}",
    "log10_1127": "log10 with the constant 1127: 1127 goes with the natural log (np.log); with "
    f"log10 the constant is 2595; {_MEL}",
    "no_one": f"the 1 + is missing: log10(f / 700) is −∞ at 0 Hz and negative below 700 Hz; {_MEL}",
    "slaney": "Slaney's mel scale (linear below 1 kHz, librosa's default); the course's is HTK's: "
    f"{_MEL}",
}


def mel_variant(f: Any, mistake: str = "right") -> Array:
    """HTK's mel scale of ``f`` (Hz) with one mistake of :data:`MEL_VARIANTS`."""
    f = np.asarray(f, dtype=np.float64)
    if mistake == "natural_2595":
        return 2595.0 * np.log(1.0 + f / 700.0)
    if mistake == "log10_1127":
        return 1127.0 * np.log10(1.0 + f / 700.0)
    if mistake == "no_one":
        return 2595.0 * np.log10(f / 700.0)
    if mistake == "slaney":
        linear = f / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(f, 1e-300) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, linear)
    return 2595.0 * np.log10(1.0 + f / 700.0)


@_quiet
def mel_mistakes(f: Array) -> dict[str, Array]:
    return merge_identical({text: mel_variant(f, key) for key, text in MEL_VARIANTS.items()})


_INVERSE = "the inverse of m = 2595 log10(1 + f / 700) is f = 700 (10^(m / 2595) − 1)"
INVERSE_VARIANTS: dict[str, str] = {
    "natural_exp": "np.exp(m / 2595) in place of 10 ** (m / 2595): 2595 goes with base 10 (with "
    f"np.exp the constant is 1127); {_INVERSE}",
    "no_minus_one": f"the − 1 is missing: 700 · 10^(m / 2595) is 700 Hz at m = 0; {_INVERSE}",
    "minus_one_outside": "the − 1 is subtracted after multiplying by 700: 700 · 10^(m / 2595) − 1; "
    f"{_INVERSE}",
    "no_700": f"the factor 700 is missing: 10^(m / 2595) − 1; {_INVERSE}",
    "forward": "mel_to_hz computes the mel scale again, 2595 log10(1 + m / 700), instead of "
    f"inverting it: {_INVERSE}",
}


def inverse_variant(m: Any, mistake: str = "right") -> Array:
    """Hz of the mels ``m`` with one mistake of :data:`INVERSE_VARIANTS`."""
    m = np.asarray(m, dtype=np.float64)
    if mistake == "natural_exp":
        return 700.0 * (np.exp(m / 2595.0) - 1.0)
    if mistake == "no_minus_one":
        return 700.0 * 10.0 ** (m / 2595.0)
    if mistake == "minus_one_outside":
        return 700.0 * 10.0 ** (m / 2595.0) - 1.0
    if mistake == "no_700":
        return 10.0 ** (m / 2595.0) - 1.0
    if mistake == "forward":
        return 2595.0 * np.log10(1.0 + m / 700.0)
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@_quiet
def inverse_mistakes(m: Array) -> dict[str, Array]:
    return merge_identical(
        {text: inverse_variant(m, key) for key, text in INVERSE_VARIANTS.items()}
    )


# ---------------------------------------------------------------------------- the filterbank

_BANK = (
    "the edges are n_mels + 2 points equally spaced in mel from 0 to hz_to_mel(f_max), converted "
    "back to Hz; filter j rises from 0 at edge j to 1 at edge j + 1 and falls to 0 at edge j + 2, "
    "evaluated at each bin's frequency k · sample_rate / n_fft; shape (n_fft // 2 + 1, n_mels)"
)
FILTERBANK_VARIANTS: dict[str, str] = {
    "linear_edges": "the edges are equally spaced in Hz (np.linspace(0, f_max, n_mels + 2)); "
    "space them equally in mel and convert back to Hz with mel_to_hz, so that the bands widen "
    f"with frequency: {_BANK}",
    "edges_in_mel": "the edges are left in mel: convert the equally spaced mels back to Hz with "
    f"mel_to_hz before comparing them with the bins' frequencies; {_BANK}",
    "transposed": "the filterbank is (n_mels, n_fft // 2 + 1), one row per filter; the course's is "
    "(n_fft // 2 + 1, n_mels), so that power @ filterbank is (n_frames, n_mels) (row vectors, as "
    "everywhere in the course)",
    "no_clip": "the triangles are not clipped at 0: min(rising, falling) is negative outside each "
    f"triangle; np.maximum(0, ...); {_BANK}",
    "to_nyquist": "the filters span 0 Hz to sample_rate / 2, ignoring f_max: the last edge is "
    f"f_max; {_BANK}",
    "rounded_bins": "the edges are rounded to bin indices (np.floor((n_fft + 1) * f / "
    "sample_rate)), so each triangle reaches 1 at a whole bin, often one off the centre; the "
    f"course evaluates the triangles at the bins' exact frequencies: {_BANK}",
    "area_normalised": "each triangle is scaled by 2 / (upper − lower), to unit area (Slaney's "
    "normalisation, librosa's default); the course's triangles peak at 1 at their centres: "
    f"{_BANK}",
    "bins_to_sample_rate": "the bins' frequencies run from 0 to sample_rate; bin k of the rfft "
    "is at k · sample_rate / n_fft, the last one at the Nyquist frequency sample_rate / 2: "
    f"{_BANK}",
    "n_mels_edges": "n_mels edges give only n_mels − 2 triangles: n_mels filters need n_mels + 2 "
    f"edges (each filter's lower edge, centre and upper edge); {_BANK}",
}


def _edges(n_mels: int, top_hz: float, in_mel: bool = True, count: int | None = None) -> Array:
    count = n_mels + 2 if count is None else count
    if not in_mel:
        return np.linspace(0.0, top_hz, count)
    return inverse_variant(np.linspace(0.0, mel_variant(top_hz), count))


def _rounded_bank(n_mels: int, n_fft: int, sample_rate: float, f_max: float) -> Array:
    """The filterbank of a much-copied tutorial: triangles on whole bins, peaking at 1."""
    points = np.floor((n_fft + 1) * _edges(n_mels, f_max) / sample_rate)
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for j in range(1, n_mels + 1):
        left, centre, right = int(points[j - 1]), int(points[j]), int(points[j + 1])
        for k in range(left, centre):
            bank[k, j - 1] = (k - points[j - 1]) / (points[j] - points[j - 1])
        for k in range(centre, min(right, n_fft // 2 + 1)):
            bank[k, j - 1] = (points[j + 1] - k) / (points[j + 1] - points[j])
    return bank


def filterbank_variant(
    n_mels: int, n_fft: int, sample_rate: float, f_max: float, mistake: str = "right"
) -> Array:
    """``(n_fft // 2 + 1, n_mels)`` filterbank with one mistake of :data:`FILTERBANK_VARIANTS`."""
    if mistake == "rounded_bins":
        return _rounded_bank(n_mels, n_fft, sample_rate, f_max)
    top = sample_rate / 2 if mistake == "to_nyquist" else f_max
    if mistake == "edges_in_mel":
        edges = np.linspace(0.0, mel_variant(top), n_mels + 2)
    else:
        edges = _edges(
            n_mels,
            top,
            in_mel=mistake != "linear_edges",
            count=n_mels if mistake == "n_mels_edges" else None,
        )
    if mistake == "bins_to_sample_rate":
        bins = np.linspace(0.0, sample_rate, n_fft // 2 + 1)
    else:
        bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    bank = np.minimum(rising, falling)
    if mistake != "no_clip":
        bank = np.maximum(0.0, bank)
    if mistake == "area_normalised":
        bank = bank * (2.0 / (upper - lower))
    return bank.T.copy() if mistake == "transposed" else bank


@_quiet
def filterbank_mistakes(
    n_mels: int, n_fft: int, sample_rate: float, f_max: float
) -> dict[str, Array]:
    return merge_identical(
        {
            text: filterbank_variant(n_mels, n_fft, sample_rate, f_max, key)
            for key, text in FILTERBANK_VARIANTS.items()
        }
    )


# --------------------------------------------------------------------------- the log-mel

_LOG_MEL = (
    "log_mel = np.log(np.maximum(power_spectrum(frames(samples, n_fft, hop) * hann(n_fft)) @ "
    "mel_filterbank(n_mels, n_fft, sample_rate, f_max), floor)), the natural log"
)
LOG_MEL_VARIANTS: dict[str, str] = {
    "no_window": "the frames are not multiplied by the window: multiply them by hann(n_fft) "
    f"before the power spectrum; {_LOG_MEL}",
    "window_twice": f"the frames are multiplied by the window twice; {_LOG_MEL}",
    "log10": f"the base-10 log (np.log10); the course's is the natural log, np.log: {_LOG_MEL}",
    "decibels": "decibels, 10 · log10(...); the course's log-mel is the natural log of the "
    f"energies, np.log: {_LOG_MEL}",
    "no_floor": "no floor under the log: a band with no energy (digital silence) gives "
    f"log(0) = −∞; take np.maximum(mel, floor) first: {_LOG_MEL}",
    "floor_after_log": "the floor is applied after the log, np.maximum(np.log(mel), floor): "
    "the floor bounds the energy, before the log, so that silence gives log(floor) ≈ "
    f"−23; {_LOG_MEL}",
    "log_before_filterbank": "the log is taken before the filterbank: the bands sum the power of "
    f"their bins, and the log comes last; {_LOG_MEL}",
}


def log_mel_variant(
    samples: Array,
    sample_rate: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_max: float,
    floor: float,
    mistake: str = "right",
    *,
    parts: dict[str, str] | None = None,
) -> Array:
    """``(n_frames, n_mels)`` log-mel spectrogram with one mistake of :data:`LOG_MEL_VARIANTS`,
    or, with ``parts``, with its steps' mistakes (``{"frames": key, "hann": key, "power": key,
    "filterbank": key}``)."""
    parts = parts or {}
    framed = frames_variant(samples, n_fft, hop, parts.get("frames", "right"))
    window = hann_variant(n_fft, parts.get("hann", "right"))
    if mistake == "no_window":
        windowed = framed
    elif mistake == "window_twice":
        windowed = framed * window**2
    else:
        windowed = framed * window
    power = power_variant(windowed, parts.get("power", "right"))
    bank = filterbank_variant(n_mels, n_fft, sample_rate, f_max, parts.get("filterbank", "right"))
    if mistake == "log_before_filterbank":
        return np.log(np.maximum(power, floor)) @ bank
    mel = power @ bank
    if mistake == "log10":
        return np.log10(np.maximum(mel, floor))
    if mistake == "decibels":
        return 10.0 * np.log10(np.maximum(mel, floor))
    if mistake == "no_floor":
        return np.log(mel)
    if mistake == "floor_after_log":
        return np.maximum(np.log(mel), floor)
    return np.log(np.maximum(mel, floor))


_PARTS = {
    "hann": ("in the window", HANN_VARIANTS),
    "power": ("in the power spectrum", POWER_VARIANTS),
    "filterbank": ("in the filterbank", FILTERBANK_VARIANTS),
}


@_quiet
def log_mel_mistakes(
    samples: Array,
    sample_rate: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_max: float,
    floor: float,
) -> dict[str, Array]:
    """The log-mel's own mistakes, and those of the steps it composes (for a ``log_mel`` that
    computes every step itself instead of calling the notebook's functions)."""
    args = (samples, sample_rate, n_fft, hop, n_mels, f_max, floor)
    table = {text: log_mel_variant(*args, key) for key, text in LOG_MEL_VARIANTS.items()}
    right = log_mel_variant(*args)
    for part, (where, variants) in _PARTS.items():
        for key, text in variants.items():
            try:
                value = log_mel_variant(*args, parts={part: key})
            except ValueError:  # a step of the wrong shape: the matrix product fails
                continue
            if value.shape == right.shape:
                table[f"{where}: {text}"] = value
    return merge_identical(table)
