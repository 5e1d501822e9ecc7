"""Checks of Exercise 7's NumPy notebook (``ex7_signals/logmel_numpy``): the log-mel spectrogram.

Each step is compared with PyTorch (``references.py``) on synthetic signals (``signals.py``):
the frames with ``Tensor.unfold`` on signals whose last frame is incomplete, ends exactly at the
last sample, or is the only one (a signal shorter than a frame, padded); the window with
``torch.hann_window``; the power spectrum of frames windowed by the reference with ``torch.stft``
(``center=False``) of the same signal; the mel scale and its inverse with the formula in torch,
to a relative ``1e-4`` (HTK's two published forms, ``2595 log10(1 + f/700)`` and
``1127 ln(1 + f/700)``, differ by 5e-6 relative, and both are right); the filterbank with its
formula in torch; the log-mel on a mixture of tones, a chirp and noise, a pure tone, noise and
digital silence. A test of a function that calls the notebook's other functions runs it with the
references bound in their place (``probes.replaced_names``), so that a mistake costs the points of
its own step only. Each check passes the values of the known mistakes (``wrong_answers.py``), so
that a failure names the likely one; public and hidden tests call the same checks on other seeds
and sizes.

The floor: ``np.log(np.maximum(mel, floor))`` (the course's, ``features.py``'s), the same with
``np.clip``, and ``np.log(mel + floor)`` are all accepted. The last equals the others to 1e-6
wherever a band's energy is 0 (digital silence) or above 1e-4, and differs only between, where
a pure tone leaves the bands far from it; the check compares with whichever of the two forms the
answer follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_checks.calls import call_with_shapes
from course_checks.compare import check_close, check_true
from course_checks.ex7_signals.references import (
    FLOOR,
    reference_functions,
    torch_frames,
    torch_hann,
    torch_hz_to_mel,
    torch_log_mel_forms,
    torch_mel_filterbank,
    torch_power_spectrum,
    torch_windowed_frames,
)
from course_checks.ex7_signals.signals import log_mel_signals, mixture
from course_checks.ex7_signals.wrong_answers import (
    FRAMES_VARIANTS,
    filterbank_mistakes,
    frames_mistakes,
    frames_variant,
    hann_mistakes,
    inverse_mistakes,
    log_mel_mistakes,
    mel_mistakes,
    power_mistakes,
)
from course_checks.probes import replaced_names, run_probe

__all__ = [
    "LOG_MEL_SHAPES",
    "RELATIVE",
    "check_frames",
    "check_hann",
    "check_hz_to_mel",
    "check_log_mel",
    "check_mel_filterbank",
    "check_mel_to_hz",
    "check_power_spectrum",
    "frame_lengths",
]

LOG_MEL_SHAPES = (
    "Shapes: a signal samples is (N,); frames are (n_frames, n_fft), one row per frame; the "
    "window is (n_fft,) and broadcasts over the rows; the power spectrum is "
    "(n_frames, n_fft // 2 + 1); the filterbank is (n_fft // 2 + 1, n_mels), so that "
    "power @ filterbank is (n_frames, n_mels). Transform along the last axis (axis=-1)."
)
# The mel scale's tolerance, relative: 2595 log10(1 + f/700) and 1127 ln(1 + f/700) differ by
# 5.2e-6 of the value (2595 / ln 10 = 1126.994), their inverses by up to 2e-5 at 24 kHz.
RELATIVE = 1e-4

_FRAMES = (
    "frame t is samples[t * hop : t * hop + n_fft]; n_frames = 1 + (N − n_fft) // hop (the last "
    "incomplete frame is dropped); a signal shorter than n_fft is padded with zeros at its end to "
    "one frame (np.pad)."
)
_HANN = "w[k] = 0.5 − 0.5 cos(2πk / n) for k = 0 … n − 1: np.arange(n), divided by n, not n − 1."
_POWER = (
    "X = np.fft.rfft(windowed_frames, axis=-1), then np.abs(X) ** 2: (n_frames, n_fft // 2 + 1), "
    "not scaled, and no window applied here (the frames come windowed)."
)
_MEL = "m = 2595 * np.log10(1 + f / 700) (or 1127 * np.log(1 + f / 700)), element by element."
_INVERSE = "f = 700 * (10 ** (m / 2595) - 1), the inverse of hz_to_mel, element by element."
_BANK = (
    "edges = mel_to_hz(np.linspace(0, hz_to_mel(f_max), n_mels + 2)); the bins' frequencies are "
    "np.arange(n_fft // 2 + 1) * sample_rate / n_fft; filter j is "
    "max(0, min((f − edges[j]) / (edges[j+1] − edges[j]), (edges[j+2] − f) / (edges[j+2] − "
    "edges[j+1]))), column j of a (n_fft // 2 + 1, n_mels) array."
)
_LOG_MEL = (
    "np.log(np.maximum(power_spectrum(frames(samples, n_fft, hop) * hann(n_fft)) @ "
    "mel_filterbank(n_mels, n_fft, sample_rate, f_max), floor)), with the arguments passed on "
    "(not the defaults)."
)


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``calls.call``, with the log-mel's shapes in the hint that follows a shape error."""
    __tracebackhide__ = True
    return call_with_shapes(LOG_MEL_SHAPES, function, *args)


def _not_complex(name: str, got: Any, hint: str) -> None:
    """A complex answer is named before ``check_close`` (which would cast it with a warning)."""
    __tracebackhide__ = True
    if not np.iscomplexobj(got):
        return
    values = np.asarray(got)
    # X * np.conj(X): the right values in a complex array, imaginary parts 0 up to rounding
    if np.all(np.abs(values.imag) <= 1e-9 * np.max(np.abs(values.real), initial=0.0) + 1e-12):
        check_true(
            False,
            f"{name} is a complex array whose imaginary parts are all 0 (X * np.conj(X) is "
            f"complex): return a real float64 array, its .real or np.abs(X) ** 2. {hint}",
        )
    check_true(
        False,
        f"{name} is complex: {hint} A power or an energy is a real number; "
        f"np.fft.rfft(...) ** 2 squares the complex number, np.abs(...) ** 2 its magnitude.",
    )


# ------------------------------------------------------------------------------- the frames


def frame_lengths(seed: int, n_fft: int, hop: int) -> list[tuple[str, int]]:
    """``(label, N)``: a last incomplete frame; a last frame that ends at the last sample; one
    frame exactly; a signal shorter than one frame."""
    rng = np.random.default_rng(seed)
    partial = n_fft + hop * int(rng.integers(3, 7)) + int(rng.integers(1, hop))
    exact = n_fft + hop * int(rng.integers(2, 6))
    short = int(rng.integers(n_fft // 4, n_fft))
    return [
        ("the last frame incomplete", partial),
        ("the last frame ends at the last sample", exact),
        ("exactly one frame", n_fft),
        ("shorter than one frame", short),
    ]


def check_frames(frames: Callable[..., Any], seed: int, n_fft: int, hop: int) -> None:
    """``frames(samples, n_fft, hop)`` against ``Tensor.unfold`` on the lengths of
    :func:`frame_lengths` (random samples, so that every misplaced sample shows)."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    ruled_out: set[str] = set()  # mistakes that a case the answer passed would have shown
    for label, n in frame_lengths(seed, n_fft, hop):
        samples = rng.uniform(-1.0, 1.0, size=n)
        got = _call(frames, samples.copy(), n_fft, hop)
        expected = torch_frames(samples, n_fft, hop)
        check_close(
            f"frames of a signal of N={n} samples ({label}), n_fft={n_fft}, hop={hop}",
            got,
            expected,
            kind="numpy",
            mistakes=frames_mistakes(samples, n_fft, hop, ruled_out),
            hint=_FRAMES,
        )
        for key in FRAMES_VARIANTS:
            wrong = frames_variant(samples, n_fft, hop, key)
            if wrong.shape != expected.shape or not np.allclose(wrong, expected, atol=1e-6):
                ruled_out.add(key)


# ------------------------------------------------------------------------------- the window


def check_hann(hann: Callable[..., Any], *sizes: int) -> None:
    """``hann(n)`` against ``torch.hann_window(n, periodic=True)`` for each of ``sizes``."""
    __tracebackhide__ = True
    for n in sizes:
        check_close(
            f"hann({n})",
            _call(hann, n),
            torch_hann(n),
            kind="numpy",
            mistakes=hann_mistakes(n),
            hint=_HANN,
        )


# ------------------------------------------------------------------------ the power spectrum


def check_power_spectrum(
    power_spectrum: Callable[..., Any], seed: int, n_fft: int, hop: int, sample_rate: float
) -> None:
    """``power_spectrum(windowed_frames)`` against ``|torch.stft|²`` (periodic Hann window,
    ``center=False``) of the same signal: a mixture of tones, a chirp and noise; the frames it
    gets are the reference's, windowed."""
    __tracebackhide__ = True
    signal = mixture(seed, n_fft + 7 * hop + hop // 3, sample_rate)
    windowed = torch_windowed_frames(signal.samples, n_fft, hop)
    got = _call(power_spectrum, windowed.copy())
    name = (
        f"the power spectrum from power_spectrum ({signal.describe()}; {windowed.shape[0]} "
        f"windowed frames of n_fft={n_fft}, hop={hop})"
    )
    _not_complex(name, got, _POWER)
    check_close(
        name,
        got,
        torch_power_spectrum(signal.samples, n_fft, hop),
        kind="numpy",
        mistakes=power_mistakes(windowed),
        hint=_POWER,
    )


# ------------------------------------------------------------------------------ the mel scale


def _check_relative(
    name: str, got: Any, expected: np.ndarray, mistakes: dict[str, Any], hint: str
) -> None:
    """``check_close`` to a relative :data:`RELATIVE` (and 1e-6 absolute): an answer within it
    is judged as the value it is (its type, shape and dtype still checked)."""
    __tracebackhide__ = True
    if not np.iscomplexobj(got):
        try:
            array = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if (
            array is not None
            and array.shape == expected.shape
            and np.all(np.isfinite(array))
            and np.all(np.abs(array - expected) <= RELATIVE * np.abs(expected) + 1e-6)
        ):
            expected = array
    check_close(name, got, expected, kind="numpy", mistakes=mistakes, hint=hint)


def _frequencies(seed: int, sample_rate: float) -> np.ndarray:
    """``(4, 5)`` Hz: 0, 700, 1000 and the Nyquist frequency, then random ones below it."""
    rng = np.random.default_rng(seed)
    nyquist = sample_rate / 2
    fixed = [0.0, 700.0, 1000.0, nyquist]
    return np.concatenate([fixed, rng.uniform(0.0, nyquist, size=16)]).reshape(4, 5)


def check_hz_to_mel(hz_to_mel: Callable[..., Any], seed: int, sample_rate: float) -> None:
    """``hz_to_mel(f)`` against HTK's ``2595 log10(1 + f/700)`` to a relative ``1e-4``, on a
    ``(4, 5)`` array from 0 Hz to the Nyquist frequency."""
    __tracebackhide__ = True
    f = _frequencies(seed, sample_rate)
    _check_relative(
        f"hz_to_mel of a (4, 5) array of frequencies from 0 to {sample_rate / 2:g} Hz",
        _call(hz_to_mel, f.copy()),
        torch_hz_to_mel(f),
        mel_mistakes(f),
        _MEL,
    )


def check_mel_to_hz(mel_to_hz: Callable[..., Any], seed: int, sample_rate: float) -> None:
    """``mel_to_hz(m)`` gives back the frequencies whose mels (the reference's) it is given, to
    a relative ``1e-4``."""
    __tracebackhide__ = True
    f = _frequencies(seed, sample_rate)
    m = torch_hz_to_mel(f)
    _check_relative(
        f"mel_to_hz of the mels of a (4, 5) array of frequencies from 0 to {sample_rate / 2:g} Hz",
        _call(mel_to_hz, m.copy()),
        f,
        inverse_mistakes(m),
        _INVERSE,
    )


# ---------------------------------------------------------------------------- the filterbank


def _probe_filterbank(
    mel_filterbank: Callable[..., Any], n_mels: int, n_fft: int, sample_rate: float, f_max: float
) -> Any:
    """The student's filterbank, with the references' ``hz_to_mel`` and ``mel_to_hz`` bound in
    its globals for the call."""
    __tracebackhide__ = True
    references = reference_functions()
    bound = {name: references[name] for name in ("hz_to_mel", "mel_to_hz")}
    with replaced_names(getattr(mel_filterbank, "__globals__", {}), bound):
        return _call(mel_filterbank, n_mels, n_fft, sample_rate, f_max)


def check_mel_filterbank(
    mel_filterbank: Callable[..., Any], n_mels: int, n_fft: int, sample_rate: float, f_max: float
) -> None:
    """``mel_filterbank(n_mels, n_fft, sample_rate, f_max)`` against the filterbank's formula in
    torch, ``(n_fft // 2 + 1, n_mels)``; ``hz_to_mel`` and ``mel_to_hz`` are the references'
    during the call, so that a mistake in them is charged to their own tests."""
    __tracebackhide__ = True
    got = run_probe(_probe_filterbank, mel_filterbank, n_mels, n_fft, sample_rate, f_max)
    check_close(
        f"mel_filterbank(n_mels={n_mels}, n_fft={n_fft}, sample_rate={sample_rate:g}, "
        f"f_max={f_max:g})",
        got,
        torch_mel_filterbank(n_mels, n_fft, sample_rate, f_max),
        kind="numpy",
        mistakes=filterbank_mistakes(n_mels, n_fft, sample_rate, f_max),
        hint=_BANK,
    )


# --------------------------------------------------------------------------- the log-mel


def _probe_log_mel(
    log_mel: Callable[..., Any],
    seed: int,
    n: int,
    settings: tuple[float, int, int, int, float, float],
) -> dict[str, Any]:
    """The student's log-mel of each of :func:`~signals.log_mel_signals`, one key per signal,
    with the references' steps bound in its globals for the calls."""
    __tracebackhide__ = True
    sample_rate = settings[0]
    with replaced_names(getattr(log_mel, "__globals__", {}), reference_functions()):
        return {
            f"signal {i}": _call(log_mel, signal.samples.copy(), *settings)
            for i, signal in enumerate(log_mel_signals(seed, n, sample_rate))
        }


def check_log_mel(
    log_mel: Callable[..., Any],
    seed: int,
    sample_rate: float,
    n_fft: int,
    hop: int,
    n_mels: int,
    f_max: float,
    duration: float = 0.1,
) -> None:
    """``log_mel(samples, sample_rate, n_fft, hop, n_mels, f_max, floor)`` against PyTorch's
    ``log(max(|stft|² @ filterbank, floor))`` on a mixture, a pure tone, noise and digital
    silence of ``duration`` seconds; ``np.log(mel + floor)`` is accepted too (see the module's
    docstring). The notebook's ``frames``, ``hann``, ``power_spectrum`` and ``mel_filterbank`` are
    the references' during the calls."""
    __tracebackhide__ = True
    n = max(n_fft, round(duration * sample_rate))
    settings = (sample_rate, n_fft, hop, n_mels, f_max, FLOOR)
    answers = run_probe(_probe_log_mel, log_mel, seed, n, settings)
    for i, signal in enumerate(log_mel_signals(seed, n, sample_rate)):
        name = (
            f"log_mel of {signal.describe()} (sample_rate={sample_rate:g}, n_fft={n_fft}, "
            f"hop={hop}, n_mels={n_mels}, f_max={f_max:g}, floor={FLOOR:g})"
        )
        got = answers[f"signal {i}"]
        _not_complex(name, got, _LOG_MEL)
        expected, added = torch_log_mel_forms(signal.samples, *settings)
        if _close(got, added) and not _close(got, expected):
            expected = added  # np.log(mel + floor): right too
        check_close(
            name,
            got,
            expected,
            kind="numpy",
            mistakes=log_mel_mistakes(signal.samples, *settings),
            hint=_LOG_MEL,
        )


def _close(got: Any, expected: np.ndarray) -> bool:
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return array.shape == expected.shape and bool(np.allclose(array, expected, atol=1e-6, rtol=0))
