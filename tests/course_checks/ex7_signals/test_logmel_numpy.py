"""Unit tests of the checks of Exercise 7's NumPy notebook (the log-mel spectrogram).

Fast (no kernels): each test hands a check right answers, which must pass however they are
written (loops or index arrays or ``sliding_window_view`` for the frames, ``np.hanning(n + 1)[:-1]``
or ``sin²`` for the window, an explicit DFT matrix for the FFT, ``1127 ln`` for the mel scale,
loops for the filterbank, ``einsum`` and ``np.clip`` and ``log(mel + floor)`` for the log-mel),
and known wrong ones, which must fail with words that name the mistake. The references are
compared with the book's ``experiments/signals/features.py`` and with SciPy, and the checks are
replayed from their records as the grader's re-check does.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal

from course_checks import CheckFailure, replay
from course_checks.ex7_signals.logmel_numpy import (
    check_frames,
    check_hann,
    check_hz_to_mel,
    check_log_mel,
    check_mel_filterbank,
    check_mel_to_hz,
    check_power_spectrum,
    frame_lengths,
)
from course_checks.ex7_signals.references import (
    FLOOR,
    torch_frames,
    torch_hann,
    torch_hz_to_mel,
    torch_log_mel,
    torch_log_mel_forms,
    torch_mel_energies,
    torch_mel_filterbank,
    torch_mel_to_hz,
    torch_power_spectrum,
    torch_windowed_frames,
)
from course_checks.ex7_signals.signals import log_mel_signals, mixture
from course_checks.ex7_signals.wrong_answers import (
    FILTERBANK_VARIANTS,
    FRAMES_VARIANTS,
    HANN_VARIANTS,
    INVERSE_VARIANTS,
    LOG_MEL_VARIANTS,
    MEL_VARIANTS,
    POWER_VARIANTS,
    filterbank_variant,
    frames_variant,
    hann_variant,
    inverse_variant,
    log_mel_variant,
    mel_variant,
    power_variant,
)
from experiments.signals import features
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails

# Settings the tests use: Chapter 7's, and others (an odd n_fft, f_max below the Nyquist).
SETTINGS = [
    (22050, 512, 220, 40, 8000.0),
    (16000, 256, 128, 20, 6000.0),
    (8000, 255, 64, 12, 3500.0),
]


# -------------------------------------------------------------- right answers, many forms


def frames(samples, n_fft=512, hop=220):
    """The index-array form (the solution's)."""
    samples = np.asarray(samples, dtype=np.float64)
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    count = 1 + (len(samples) - n_fft) // hop
    return samples[hop * np.arange(count)[:, None] + np.arange(n_fft)[None, :]]


def frames_loop(samples, n_fft=512, hop=220):
    samples = list(samples) + [0.0] * max(0, n_fft - len(samples))
    rows = [samples[start : start + n_fft] for start in range(0, len(samples) - n_fft + 1, hop)]
    return np.array(rows, dtype=np.float64)


def frames_sliding(samples, n_fft=512, hop=220):
    samples = np.concatenate([samples, np.zeros(max(0, n_fft - len(samples)))])
    return np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop].copy()


def hann(n=512):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def hann_from_symmetric(n=512):
    return np.hanning(n + 1)[:-1]


def hann_sine_squared(n=512):
    return np.sin(np.pi * np.arange(n) / n) ** 2


def hann_loop(n=512):
    import math

    return np.array([0.5 * (1 - math.cos(2 * math.pi * k / n)) for k in range(n)])


def power_spectrum(windowed_frames):
    return np.abs(np.fft.rfft(windowed_frames, axis=-1)) ** 2


def power_dft_matrix(windowed_frames):
    n = windowed_frames.shape[-1]
    k = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n // 2 + 1), k) / n)  # (n // 2 + 1, n)
    spectrum = windowed_frames @ dft.T
    return spectrum.real**2 + spectrum.imag**2


def power_full_fft_cut(windowed_frames):
    n = windowed_frames.shape[-1]
    spectrum = np.fft.fft(windowed_frames, axis=1)[:, : n // 2 + 1]
    return (spectrum * np.conj(spectrum)).real


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def hz_to_mel_natural(f):
    return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)


def hz_to_mel_log1p(f):
    return 2595.0 / np.log(10.0) * np.log1p(np.asarray(f) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_to_hz_natural(m):
    return 700.0 * (np.exp(np.asarray(m) / 1127.0) - 1.0)


def mel_to_hz_expm1(m):
    return 700.0 * np.expm1(np.asarray(m) * np.log(10.0) / 2595.0)


def mel_filterbank(n_mels=40, n_fft=512, sample_rate=22050, f_max=8000.0):
    return features.mel_filterbank(sample_rate, n_fft, n_mels, f_max).T


def filterbank_loops(n_mels=40, n_fft=512, sample_rate=22050, f_max=8000.0):
    """Loops over the filters and the bins, with the notebook's hz_to_mel and mel_to_hz."""
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(f_max), n_mels + 2))
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for j in range(n_mels):
        lower, centre, upper = edges[j], edges[j + 1], edges[j + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate / n_fft
            if lower < f <= centre:
                bank[k, j] = (f - lower) / (centre - lower)
            elif centre < f < upper:
                bank[k, j] = (upper - f) / (upper - centre)
    return bank


def filterbank_natural_inline(n_mels=40, n_fft=512, sample_rate=22050, f_max=8000.0):
    """1127 ln and its inverse written inline, bins from np.linspace to the Nyquist frequency."""
    mels = np.linspace(0.0, 1127.0 * np.log1p(f_max / 700.0), n_mels + 2)
    edges = 700.0 * (np.exp(mels / 1127.0) - 1.0)
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)[:, None]
    rising = (bins - edges[None, :-2]) / np.diff(edges)[None, :-1]
    falling = (edges[None, 2:] - bins) / np.diff(edges)[None, 1:]
    return np.clip(np.minimum(rising, falling), 0.0, None)


def log_mel(samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10):
    power = power_spectrum(frames(samples, n_fft, hop) * hann(n_fft))
    return np.log(np.maximum(power @ mel_filterbank(n_mels, n_fft, sample_rate, f_max), floor))


def log_mel_einsum_clip(
    samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10
):
    power = power_spectrum(frames(samples, n_fft, hop) * hann(n_fft)[None, :])
    mel = np.einsum("tf,fm->tm", power, mel_filterbank(n_mels, n_fft, sample_rate, f_max))
    return np.log(np.clip(mel, floor, None))


def log_mel_added_floor(
    samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10
):
    power = power_spectrum(frames(samples, n_fft, hop) * hann(n_fft))
    return np.log(power @ mel_filterbank(n_mels, n_fft, sample_rate, f_max) + floor)


def log_mel_inline(samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10):
    """Every step written out, none of the notebook's functions called: the book's own code."""
    power = features.power_spectrum(features.frames(samples, n_fft, hop))
    bank = features.mel_filterbank(sample_rate, n_fft, n_mels, f_max)
    return np.log(np.maximum(np.dot(power, bank.T), floor))


def log_mel_per_frame(
    samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10
):
    bank = mel_filterbank(n_mels, n_fft, sample_rate, f_max)
    window = hann(n_fft)
    rows = []
    for frame in frames(samples, n_fft, hop):
        mel = power_spectrum((frame * window)[None, :])[0] @ bank
        rows.append(np.log(np.maximum(mel, floor)))
    return np.stack(rows)


# ---------------------------------------------------------------------------- the references


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s[0]}Hz-{s[1]}")
def test_the_references_are_the_books_features(settings):
    sample_rate, n_fft, hop, n_mels, f_max = settings
    signal = mixture(3, int(0.05 * sample_rate) + 7, sample_rate).samples
    assert np.array_equal(torch_frames(signal, n_fft, hop), features.frames(signal, n_fft, hop))
    assert np.abs(torch_hann(n_fft) - features.hann(n_fft)).max() < 1e-15
    power = features.power_spectrum(features.frames(signal, n_fft, hop))
    assert np.abs(torch_power_spectrum(signal, n_fft, hop) - power).max() < 1e-9
    bank = features.mel_filterbank(sample_rate, n_fft, n_mels, f_max)
    assert np.abs(torch_mel_filterbank(n_mels, n_fft, sample_rate, f_max) - bank.T).max() < 1e-12
    f = np.linspace(0.0, sample_rate / 2, 50)
    assert np.abs(torch_hz_to_mel(f) - features.hz_to_mel(f)).max() < 1e-9
    assert np.abs(torch_mel_to_hz(features.hz_to_mel(f)) - f).max() < 1e-8
    for case in log_mel_signals(4, int(0.05 * sample_rate), sample_rate):
        book = features.log_mel(case.samples, sample_rate, n_fft, hop, n_mels)
        if f_max == features.F_MAX:  # features.log_mel's filterbank stops at 8 kHz
            reference = torch_log_mel(case.samples, sample_rate, n_fft, hop, n_mels, f_max)
            assert np.abs(reference - book).max() < 1e-6, case.label
        assert book.shape == (1 + (len(case.samples) - n_fft) // hop, n_mels)


def test_the_references_match_scipy():
    for n in (512, 255, 8):
        assert (
            np.abs(torch_hann(n) - scipy.signal.get_window("hann", n, fftbins=True)).max() < 1e-15
        )
    signal = mixture(5, 3000, 22050).samples
    _, _, spectrum = scipy.signal.stft(
        signal,
        window="hann",
        nperseg=512,
        noverlap=512 - 220,
        boundary=None,
        padded=False,
        scaling="spectrum",
    )
    window_sum = torch_hann(512).sum()  # scaling="spectrum" divides by the window's sum
    power = np.abs(spectrum * window_sum).T ** 2
    assert np.abs(power - torch_power_spectrum(signal, 512, 220)).max() < 1e-9


def test_the_filterbank_is_a_partition_of_unity_between_its_first_and_last_centres():
    bank = torch_mel_filterbank(40, 512, 22050, 8000.0)
    assert bank.shape == (257, 40) and np.all(bank >= 0) and bank.max() <= 1.0
    assert np.all(bank.max(axis=0) > 0.5), "every filter has a bin near its centre"
    bins = np.arange(257) * 22050 / 512
    assert np.all(bank[bins >= 8000.0] == 0), "nothing from f_max up"
    centres = torch_mel_to_hz(np.arange(1, 41) * torch_hz_to_mel(8000.0) / 41)
    inside = (bins >= centres[0]) & (bins <= centres[-1])
    assert np.abs(bank[inside].sum(axis=1) - 1).max() < 1e-12, "neighbours' triangles add to 1"


def test_the_two_floors_differ_only_near_the_floor():
    """log(mel + floor) and log(max(mel, floor)) agree on silence and loud signals and differ
    on a pure tone: the case where accepting both forms matters is among the test signals."""
    for settings in SETTINGS:
        sample_rate = settings[0]
        signals = log_mel_signals(6, int(0.1 * sample_rate), sample_rate)
        gaps = {}
        for case in signals:
            floored, added = torch_log_mel_forms(case.samples, *settings, FLOOR)
            gaps[case.label.split(",")[0]] = float(np.abs(floored - added).max())
        assert gaps["digital silence (every sample 0)"] == 0.0
        assert gaps["white noise"] < 1e-6
    # at Chapter 7's settings a pure tone leaves bands within a few orders of the floor
    sample_rate = SETTINGS[0][0]
    tone = log_mel_signals(6, int(0.1 * sample_rate), sample_rate)[1]
    assert tone.label.startswith("a pure tone")
    floored, added = torch_log_mel_forms(tone.samples, *SETTINGS[0], FLOOR)
    assert np.abs(floored - added).max() > 1e-3
    mel = torch_mel_energies(tone.samples, *SETTINGS[0])
    assert mel.min() < 1e-8


def test_every_variant_defaults_to_pytorch_and_every_mistake_differs():
    signal = mixture(7, 2500, 22050).samples
    for n_fft, hop in ((512, 220), (255, 64)):
        for _, n in frame_lengths(1, n_fft, hop):
            samples = signal[:n]
            right = torch_frames(samples, n_fft, hop)
            assert np.array_equal(frames_variant(samples, n_fft, hop), right)
        windowed = torch_windowed_frames(signal, n_fft, hop)
        right = torch_power_spectrum(signal, n_fft, hop)
        assert np.abs(power_variant(windowed) - right).max() < 1e-9
        for key in POWER_VARIANTS:
            wrong = power_variant(windowed, key)
            assert wrong.shape != right.shape or np.abs(wrong - right).max() > 1e-3, key
    for n in (512, 7):
        assert np.abs(hann_variant(n) - torch_hann(n)).max() < 1e-15
        for key in HANN_VARIANTS:
            assert np.abs(hann_variant(n, key) - torch_hann(n)).max() > 1e-3, (n, key)
    f = np.linspace(0.0, 11025.0, 30)
    with np.errstate(all="ignore"):
        for key in MEL_VARIANTS:
            assert not np.allclose(mel_variant(f, key), torch_hz_to_mel(f), rtol=1e-3), key
        for key in INVERSE_VARIANTS:
            m = torch_hz_to_mel(f)
            assert not np.allclose(inverse_variant(m, key), f, rtol=1e-3), key
    assert np.abs(mel_variant(f) - torch_hz_to_mel(f)).max() < 1e-9
    assert np.abs(inverse_variant(torch_hz_to_mel(f)) - f).max() < 1e-8
    for sample_rate, n_fft, _, n_mels, f_max in SETTINGS:
        right = torch_mel_filterbank(n_mels, n_fft, sample_rate, f_max)
        assert np.abs(filterbank_variant(n_mels, n_fft, sample_rate, f_max) - right).max() < 1e-12
        for key in FILTERBANK_VARIANTS:
            wrong = filterbank_variant(n_mels, n_fft, sample_rate, f_max, key)
            assert wrong.shape != right.shape or np.abs(wrong - right).max() > 1e-3, key
    for settings in SETTINGS:
        for case in log_mel_signals(2, int(0.05 * settings[0]), settings[0]):
            right = torch_log_mel(case.samples, *settings)
            assert np.abs(log_mel_variant(case.samples, *settings, FLOOR) - right).max() < 1e-6


def test_every_mistake_shows_on_some_case_of_every_test_under_any_seed():
    """What the hidden tests draw from their seeds cannot hide a mistake."""
    for seed in range(8):
        for n_fft, hop in ((512, 220), (256, 100), (400, 160)):
            lengths = frame_lengths(seed, n_fft, hop)
            samples = np.random.default_rng(seed).uniform(-1, 1, size=max(n for _, n in lengths))
            for key in FRAMES_VARIANTS:
                shown = []
                for _, n in lengths:
                    wrong = frames_variant(samples[:n], n_fft, hop, key)
                    right = torch_frames(samples[:n], n_fft, hop)
                    shown.append(wrong.shape != right.shape or not np.allclose(wrong, right))
                assert any(shown), (seed, n_fft, key)
        for sample_rate, n_fft, hop, n_mels, f_max in SETTINGS:
            cases = log_mel_signals(seed, int(0.1 * sample_rate), sample_rate)
            settings = (sample_rate, n_fft, hop, n_mels, f_max)
            with np.errstate(all="ignore"):
                for key in LOG_MEL_VARIANTS:
                    shown = [
                        not np.allclose(
                            log_mel_variant(c.samples, *settings, FLOOR, key),
                            torch_log_mel(c.samples, *settings),
                            atol=1e-6,
                        )
                        for c in cases
                    ]
                    assert any(shown), (seed, settings, key)


# ----------------------------------------------------------------------------- the checks


@pytest.mark.parametrize("answer", [frames, frames_loop, frames_sliding])
def test_the_frames_accept_loops_index_arrays_and_sliding_windows(answer):
    check_frames(answer, 1, 512, 220)
    check_frames(answer, 7101, 256, 100)
    check_frames(answer, 7102, 400, 160)
    check_frames(answer, 3, 255, 64)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("hop_is_n_fft", ["the frames do not overlap"]),
        ("hop_as_overlap", ["not their overlap"]),
        ("keep_partial", ["last incomplete frame is kept"]),
        ("one_too_few", ["one frame too few"]),
        ("exclusive_range", ["ends exactly at the signal's last sample"]),
        ("short_not_padded", ["gives no frame"]),
        ("transposed", ["(n_fft, n_frames)"]),
    ],
)
def test_frames_mistakes_are_named(key, words):
    fails(words, check_frames, lambda s, n, h, key=key: frames_variant(s, n, h, key), 1, 512, 220)


def test_a_frames_mistake_is_not_blamed_on_one_an_earlier_case_ruled_out():
    """Without padding, a short signal gives no frame, as one frame too few would; but that
    mistake would have failed the first case, which this answer passed."""
    message = fails(
        ["gives no frame"],
        check_frames,
        lambda s, n, h: frames_variant(s, n, h, "short_not_padded"),
        1,
        512,
        220,
    )
    assert "one frame too few" not in message and "Your result is exactly" in message


@pytest.mark.parametrize("answer", [hann, hann_from_symmetric, hann_sine_squared, hann_loop])
def test_the_window_accepts_other_forms(answer):
    check_hann(answer, 512, 8, 400, 1024, 7, 3)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("symmetric", ["symmetric hann window", "np.hanning"]),
        ("hamming", ["hamming window"]),
        ("inverted", ["upside down"]),
        ("no_half", ["factor 0.5 is missing"]),
    ],
)
def test_window_mistakes_are_named(key, words):
    fails(words, check_hann, lambda n, key=key: hann_variant(n, key), 512, 8)
    fails(words, check_hann, lambda n, key=key: hann_variant(n, key), 7)


def test_np_hanning_is_named_for_every_size():
    for n in (512, 8, 7, 3):
        fails(["symmetric hann window"], check_hann, np.hanning, n)


@pytest.mark.parametrize("answer", [power_spectrum, power_dft_matrix, power_full_fft_cut])
def test_the_power_spectrum_accepts_a_dft_matrix_and_a_cut_fft(answer):
    check_power_spectrum(answer, 3, 512, 220, 22050)
    check_power_spectrum(answer, 7301, 400, 160, 16000)
    check_power_spectrum(answer, 7302, 255, 64, 8000)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("magnitude", ["the magnitude |x| is returned"]),
        ("full_fft", ["np.fft.fft gives all n_fft bins"]),
        ("scaled", ["divided by n_fft"]),
        ("windowed_again", ["already windowed"]),
        ("real_only", ["only the real part"]),
        ("axis_0", ["over axis 0"]),
        ("transposed", ["one column per frame"]),
    ],
)
def test_power_mistakes_are_named(key, words):
    fails(words, check_power_spectrum, lambda w, key=key: power_variant(w, key), 3, 512, 220, 22050)


def test_a_complex_power_is_told_it_is_complex():
    def squared(windowed_frames):
        return np.fft.rfft(windowed_frames, axis=-1) ** 2

    fails(
        ["is complex", "squares the complex number"],
        check_power_spectrum,
        squared,
        3,
        512,
        220,
        22050,
    )


def test_a_complex_array_of_the_right_powers_is_told_to_take_its_real_part():
    def conjugate(windowed_frames):
        spectrum = np.fft.rfft(windowed_frames, axis=-1)
        return spectrum * np.conj(spectrum)

    message = fails(
        ["imaginary parts are all 0", ".real"], check_power_spectrum, conjugate, 3, 512, 220, 22050
    )
    assert "squares the complex number" not in message


@pytest.mark.parametrize("answer", [hz_to_mel, hz_to_mel_natural, hz_to_mel_log1p])
def test_the_mel_scale_accepts_both_htk_forms(answer):
    for seed, sample_rate in ((4, 22050), (7401, 48000), (9, 8000)):
        check_hz_to_mel(answer, seed, sample_rate)


@pytest.mark.parametrize("answer", [mel_to_hz, mel_to_hz_natural, mel_to_hz_expm1])
def test_the_inverse_accepts_both_htk_forms(answer):
    for seed, sample_rate in ((5, 22050), (7501, 44100), (9, 48000)):
        check_mel_to_hz(answer, seed, sample_rate)


def test_the_natural_form_is_not_within_the_absolute_tolerance():
    """The relative tolerance is what accepts 1127 ln: the two forms differ by more than 1e-6."""
    f = np.linspace(0, 11025, 20)
    assert np.abs(hz_to_mel_natural(f) - hz_to_mel(f)).max() > 1e-3
    assert np.abs(mel_to_hz_natural(hz_to_mel(f)) - f).max() > 1e-2


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("natural_2595", ["natural log with the constant 2595"]),
        ("log10_1127", ["log10 with the constant 1127"]),
        ("no_one", ["the 1 + is missing"]),
        ("slaney", ["slaney's mel scale"]),
    ],
)
def test_mel_mistakes_are_named(key, words):
    def wrong(f, key=key):
        with np.errstate(all="ignore"):
            return mel_variant(f, key)

    fails(words, check_hz_to_mel, wrong, 4, 22050)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("natural_exp", ["np.exp(m / 2595)"]),
        ("no_minus_one", ["the − 1 is missing"]),
        ("minus_one_outside", ["after multiplying by 700"]),
        ("no_700", ["the factor 700 is missing"]),
        ("forward", ["instead of inverting it"]),
    ],
)
def test_inverse_mistakes_are_named(key, words):
    fails(words, check_mel_to_hz, lambda m, key=key: inverse_variant(m, key), 5, 22050)


FILTERBANK_SIZES = [
    (40, 512, 22050, 8000.0),
    (10, 256, 16000, 5000.0),
    (26, 400, 16000, 7600.0),
    (64, 1024, 44100, 11025.0),
]


@pytest.mark.parametrize("answer", [mel_filterbank, filterbank_loops, filterbank_natural_inline])
def test_the_filterbank_accepts_loops_and_the_natural_forms(answer):
    for sizes in FILTERBANK_SIZES:
        check_mel_filterbank(answer, *sizes)


def test_the_filterbank_is_tested_with_the_reference_mel_scale(monkeypatch):
    """A wrong hz_to_mel in the notebook does not cost the filterbank's points; restored after."""
    wrong = lambda f: 2595.0 * np.log(1.0 + np.asarray(f) / 700.0)  # noqa: E731
    monkeypatch.setitem(globals(), "hz_to_mel", wrong)
    check_mel_filterbank(filterbank_loops, 40, 512, 22050, 8000.0)
    assert globals()["hz_to_mel"] is wrong


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("linear_edges", ["equally spaced in hz"]),
        ("edges_in_mel", ["edges are left in mel"]),
        ("transposed", ["(n_mels, n_fft // 2 + 1), one row per filter"]),
        ("no_clip", ["not clipped at 0"]),
        ("to_nyquist", ["ignoring f_max"]),
        ("rounded_bins", ["rounded to bin indices"]),
        ("area_normalised", ["to unit area"]),
        ("bins_to_sample_rate", ["run from 0 to sample_rate"]),
        ("n_mels_edges", ["n_mels + 2 edges"]),
    ],
)
def test_filterbank_mistakes_are_named(key, words):
    def wrong(n_mels, n_fft, sample_rate, f_max, key=key):
        with np.errstate(all="ignore"):
            return filterbank_variant(n_mels, n_fft, sample_rate, f_max, key)

    for sizes in FILTERBANK_SIZES:
        fails(words, check_mel_filterbank, wrong, *sizes)


LOG_MEL_CASES = [
    (6, 22050, 512, 220, 40, 8000.0),
    (7, 16000, 256, 128, 20, 6000.0),
    (7601, 16000, 400, 160, 26, 7600.0),
    (7602, 44100, 1024, 441, 64, 16000.0),
]


@pytest.mark.parametrize(
    "answer",
    [log_mel, log_mel_einsum_clip, log_mel_added_floor, log_mel_inline, log_mel_per_frame],
    ids=["solution", "einsum_clip", "added_floor", "inline", "per_frame"],
)
def test_the_log_mel_accepts_einsum_clip_an_added_floor_and_inline_code(answer):
    for case in LOG_MEL_CASES:
        check_log_mel(answer, *case)


def test_the_log_mel_is_tested_with_the_reference_steps(monkeypatch):
    """Wrong steps in the notebook do not cost the log-mel's points; they are restored after."""
    wrong = {
        "frames": lambda s, n_fft=512, hop=220: frames_variant(s, n_fft, hop, "one_too_few"),
        "hann": np.hanning,
        "power_spectrum": lambda w: power_variant(w, "magnitude"),
        "mel_filterbank": lambda *a: filterbank_variant(*a, "linear_edges"),
    }
    for name, value in wrong.items():
        monkeypatch.setitem(globals(), name, value)
    check_log_mel(log_mel, 6, 22050, 512, 220, 40, 8000.0)
    assert all(globals()[name] is value for name, value in wrong.items())


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("no_window", ["not multiplied by the window"]),
        ("window_twice", ["multiplied by the window twice"]),
        ("log10", ["the base-10 log"]),
        ("decibels", ["decibels"]),
        ("no_floor", ["no floor under the log", "digital silence"]),
        ("floor_after_log", ["the floor is applied after the log"]),
        ("log_before_filterbank", ["the log is taken before the filterbank"]),
    ],
)
def test_log_mel_mistakes_are_named(key, words):
    def wrong(samples, sample_rate, n_fft, hop, n_mels, f_max, floor, key=key):
        with np.errstate(all="ignore"):
            return log_mel_variant(samples, sample_rate, n_fft, hop, n_mels, f_max, floor, key)

    fails(words, check_log_mel, wrong, *LOG_MEL_CASES[0])


@pytest.mark.parametrize(
    ("part", "key", "words"),
    [
        ("hann", "symmetric", ["in the window: the symmetric hann window"]),
        ("power", "magnitude", ["in the power spectrum: the magnitude"]),
        ("filterbank", "linear_edges", ["in the filterbank: the edges are equally spaced in hz"]),
    ],
)
def test_a_log_mel_written_inline_is_told_which_step_is_wrong(part, key, words):
    def inline(samples, sample_rate, n_fft, hop, n_mels, f_max, floor, part=part, key=key):
        return log_mel_variant(
            samples, sample_rate, n_fft, hop, n_mels, f_max, floor, parts={part: key}
        )

    fails(words, check_log_mel, inline, *LOG_MEL_CASES[0])


def test_a_log_mel_that_ignores_its_arguments_fails_on_other_settings():
    def defaults(samples, sample_rate, n_fft=512, hop=220, n_mels=40, f_max=8000.0, floor=1e-10):
        return log_mel(samples, 22050)

    check_log_mel(defaults, *LOG_MEL_CASES[0])
    fails(["log_mel of"], check_log_mel, defaults, *LOG_MEL_CASES[1])


# ------------------------------------------------------------------- the grader's re-check


def _recorded(monkeypatch, check, *args):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    try:
        return check(*args), records
    finally:
        monkeypatch.setattr(replay, "_mode", "normal")


@pytest.mark.parametrize(
    ("check", "answer", "args"),
    [
        (check_frames, frames_loop, (1, 512, 220)),
        (check_hann, hann_sine_squared, (512, 7)),
        (check_power_spectrum, power_dft_matrix, (3, 512, 220, 22050)),
        (check_hz_to_mel, hz_to_mel_natural, (4, 22050)),
        (check_mel_to_hz, mel_to_hz_natural, (5, 22050)),
        (check_mel_filterbank, filterbank_loops, (40, 512, 22050, 8000.0)),
        (check_log_mel, log_mel_added_floor, (6, 22050, 512, 220, 40, 8000.0)),
    ],
    ids=["frames", "hann", "power", "hz_to_mel", "mel_to_hz", "filterbank", "log_mel"],
)
def test_every_check_replays_from_its_record(monkeypatch, check, answer, args):
    result, records = _recorded(monkeypatch, check, answer, *args)
    assert records and all("result" in r for r in records)
    with replay.replaying(records):
        assert check(replay.Stub("student"), *args) == result


@pytest.mark.parametrize(
    ("check", "answer", "args"),
    [
        (check_frames, lambda s, n, h: frames_variant(s, n, h, "keep_partial"), (1, 512, 220)),
        (check_power_spectrum, lambda w: power_variant(w, "magnitude"), (3, 512, 220, 22050)),
        (check_mel_filterbank, lambda *a: filterbank_variant(*a, "no_clip"), (40, 512, 22050, 8e3)),
        (
            check_log_mel,
            lambda *a: log_mel_variant(*a, "log10"),
            (6, 22050, 512, 220, 40, 8000.0),
        ),
    ],
    ids=["frames", "power", "filterbank", "log_mel"],
)
def test_a_wrong_answer_fails_the_same_way_in_the_replay(monkeypatch, check, answer, args):
    records = []
    monkeypatch.setattr(replay, "_emit", lambda r: records.append(json.loads(json.dumps(r))))
    monkeypatch.setattr(replay, "_mode", "record")
    with pytest.raises(CheckFailure) as kernel:
        check(answer, *args)
    monkeypatch.setattr(replay, "_mode", "normal")
    with replay.replaying(records), pytest.raises(CheckFailure) as replayed:
        check(replay.Stub("student"), *args)
    assert str(replayed.value) == str(kernel.value)
