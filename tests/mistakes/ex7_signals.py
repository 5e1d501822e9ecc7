"""Realistic mistakes in Exercise 7's NumPy notebook: the log-mel spectrogram, step by step.

Each step's test gives it the reference's inputs, and the tests of ``mel_filterbank`` and
``log_mel`` run them with the references' ``hz_to_mel``, ``mel_to_hz``, ``frames``, ``hann``,
``power_spectrum`` and ``mel_filterbank`` bound in their place, so that every mistake is charged
to the test of its own step and keeps the points of all the others.
"""

from __future__ import annotations

from .catalogue import Mistake

NUMPY = "ex7_signals/logmel_numpy"

FRAMES, HANN, POWER = "test_frames", "test_hann", "test_power_spectrum"
MEL, INVERSE = "test_hz_to_mel", "test_mel_to_hz"
BANK, LOG_MEL = "test_mel_filterbank", "test_log_mel"
ALL = (FRAMES, HANN, POWER, MEL, INVERSE, BANK, LOG_MEL)


def _others(*lost: str) -> tuple[str, ...]:
    return tuple(cell for cell in ALL if cell not in lost)


_COUNT = "count = 1 + (len(samples) - n_fft) // hop  # the last incomplete frame is dropped"
_STARTS = "starts = hop * np.arange(count)  # (n_frames,)"
_PAD = (
    "    if len(samples) < n_fft:  # too short for one frame: pad with zeros at the end\n"
    "        samples = np.pad(samples, (0, n_fft - len(samples)))\n"
)
_COS = "return 0.5 - 0.5 * np.cos(2 * np.pi * k / n)"
_RFFT = "spectrum = np.fft.rfft(windowed_frames, axis=-1)"
_POWER = "return np.abs(spectrum) ** 2"
_EDGES = (
    "edges = mel_to_hz(np.linspace(0.0, hz_to_mel(f_max), n_mels + 2))  # equally spaced in mel"
)
_BANK = "return np.maximum(0.0, np.minimum(rising, falling))"
_WINDOWED = "windowed = frames(samples, n_fft, hop) * hann(n_fft)  # (n_frames, n_fft)"
_LOG = "return np.log(np.maximum(mel, floor))  # the floor keeps silence finite"

_FILTERBANK_BODY = (
    _EDGES + "\n"
    "    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft  # each rfft bin's frequency\n"
    "    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # (n_mels,) each\n"
    "    rising = (bins[:, None] - lower) / (centre - lower)  # (n_fft // 2 + 1, n_mels)\n"
    "    falling = (upper - bins[:, None]) / (upper - centre)\n"
    "    " + _BANK
)
# The filterbank of a much-copied tutorial: the edges rounded to bin indices, triangles on whole
# bins (course_checks/ex7_signals/wrong_answers.py's "rounded_bins").
_ROUNDED_BANK = """edges = mel_to_hz(np.linspace(0.0, hz_to_mel(f_max), n_mels + 2))
    points = np.floor((n_fft + 1) * edges / sample_rate)
    bank = np.zeros((n_fft // 2 + 1, n_mels))
    for j in range(1, n_mels + 1):
        left, centre, right = int(points[j - 1]), int(points[j]), int(points[j + 1])
        for k in range(left, centre):
            bank[k, j - 1] = (k - points[j - 1]) / (points[j] - points[j - 1])
        for k in range(centre, min(right, n_fft // 2 + 1)):
            bank[k, j - 1] = (points[j + 1] - k) / (points[j + 1] - points[j])
    return bank"""

MISTAKES: list[Mistake] = [
    # ------------------------------------------------------------------------------ frames
    Mistake(
        id="ex7_frames_hop_is_n_fft",
        notebook=NUMPY,
        cell="frames",
        replacements=(
            (_COUNT, "count = 1 + (len(samples) - n_fft) // n_fft"),
            (_STARTS, "starts = n_fft * np.arange(count)"),
        ),
        loses=(FRAMES,),
        says=("the frames do not overlap",),
        keeps=_others(FRAMES),
        description="Frames side by side, each starting n_fft samples after the previous one.",
    ),
    Mistake(
        id="ex7_frames_hop_as_overlap",
        notebook=NUMPY,
        cell="frames",
        replacements=(
            (_COUNT, "count = 1 + (len(samples) - n_fft) // (n_fft - hop)"),
            (_STARTS, "starts = (n_fft - hop) * np.arange(count)"),
        ),
        loses=(FRAMES,),
        says=("not their overlap",),
        keeps=_others(FRAMES),
        description="hop read as the overlap of two frames (SciPy's noverlap), not the step.",
    ),
    Mistake(
        id="ex7_frames_keep_partial",
        notebook=NUMPY,
        cell="frames",
        replacements=(
            (
                _COUNT,
                "count = 1 - (-(len(samples) - n_fft) // hop)  # rounded up\n"
                "    samples = np.pad(samples, (0, (count - 1) * hop + n_fft - len(samples)))",
            ),
        ),
        loses=(FRAMES,),
        says=("the last incomplete frame is kept",),
        keeps=_others(FRAMES),
        description="The samples after the last whole frame padded into one more frame.",
    ),
    Mistake(
        id="ex7_frames_one_too_few",
        notebook=NUMPY,
        cell="frames",
        replacements=((_COUNT, "count = (len(samples) - n_fft) // hop"),),
        loses=(FRAMES,),
        says=("one frame too few",),
        keeps=_others(FRAMES),
        description="The count without the first frame's 1 +.",
    ),
    Mistake(
        id="ex7_frames_exclusive_range",
        notebook=NUMPY,
        cell="frames",
        replacements=(
            (f"{_COUNT}\n    {_STARTS}", "starts = np.arange(0, len(samples) - n_fft, hop)"),
        ),
        loses=(FRAMES,),
        says=("ends exactly at the signal's last sample",),
        not_says=("one frame too few",),  # ruled out by the first case, which passes
        keeps=_others(FRAMES),
        description="range's exclusive end drops the last frame when it ends at the last sample.",
    ),
    Mistake(
        id="ex7_frames_short_not_padded",
        notebook=NUMPY,
        cell="frames",
        replacements=((_PAD, ""),),
        loses=(FRAMES,),
        says=("gives no frame",),
        not_says=("one frame too few",),  # ruled out by the first case, which passes
        keeps=_others(FRAMES),
        description="A signal shorter than a frame gives an empty (0, n_fft) array.",
    ),
    # ------------------------------------------------------------------------------ window
    Mistake(
        id="ex7_hann_symmetric",
        notebook=NUMPY,
        cell="hann",
        replacements=((_COS, "return 0.5 - 0.5 * np.cos(2 * np.pi * k / (n - 1))"),),
        loses=(HANN,),
        says=("the symmetric hann window",),
        keeps=_others(HANN),
        description="np.hanning's symmetric window, period n − 1, instead of the periodic one.",
    ),
    Mistake(
        id="ex7_hann_hamming",
        notebook=NUMPY,
        cell="hann",
        replacements=((_COS, "return 0.54 - 0.46 * np.cos(2 * np.pi * k / n)"),),
        loses=(HANN,),
        says=("the hamming window",),
        keeps=_others(HANN),
        description="Hamming's coefficients 0.54 and 0.46.",
    ),
    # ---------------------------------------------------------------------- power spectrum
    Mistake(
        id="ex7_power_magnitude",
        notebook=NUMPY,
        cell="power_spectrum",
        replacements=((_POWER, "return np.abs(spectrum)"),),
        loses=(POWER,),
        says=("the magnitude |x| is returned",),
        keeps=_others(POWER),
        description="The magnitude spectrum, not its square.",
    ),
    Mistake(
        id="ex7_power_complex_square",
        notebook=NUMPY,
        cell="power_spectrum",
        replacements=((_POWER, "return spectrum**2"),),
        loses=(POWER,),
        says=("is complex", "squares the complex number"),
        keeps=_others(POWER),
        description="X ** 2 squares the complex number instead of its magnitude.",
    ),
    Mistake(
        id="ex7_power_full_fft",
        notebook=NUMPY,
        cell="power_spectrum",
        replacements=((_RFFT, "spectrum = np.fft.fft(windowed_frames, axis=-1)"),),
        loses=(POWER,),
        says=("np.fft.fft gives all n_fft bins",),
        keeps=_others(POWER),
        description="The full FFT: n_fft bins, the upper half a mirror of the lower one.",
    ),
    Mistake(
        id="ex7_power_scaled",
        notebook=NUMPY,
        cell="power_spectrum",
        replacements=((_POWER, "return np.abs(spectrum) ** 2 / windowed_frames.shape[-1]"),),
        loses=(POWER,),
        says=("divided by n_fft",),
        keeps=_others(POWER),
        description="The power divided by n_fft, a periodogram's scaling the course does not use.",
    ),
    Mistake(
        id="ex7_power_windowed_again",
        notebook=NUMPY,
        cell="power_spectrum",
        replacements=(
            (
                _RFFT,
                "spectrum = np.fft.rfft(windowed_frames * hann(windowed_frames.shape[-1]), "
                "axis=-1)",
            ),
        ),
        loses=(POWER,),
        says=("already windowed",),
        keeps=_others(POWER),
        description="The window applied inside power_spectrum too, as features.py does.",
    ),
    # ----------------------------------------------------------------------------- mel scale
    Mistake(
        id="ex7_mel_natural_log",
        notebook=NUMPY,
        cell="hz_to_mel",
        replacements=(("np.log10(", "np.log("),),
        loses=(MEL,),
        says=("the natural log with the constant 2595",),
        keeps=_others(MEL),
        description="2595 ln(1 + f/700): HTK's constant with the wrong logarithm.",
    ),
    Mistake(
        id="ex7_mel_to_hz_without_minus_one",
        notebook=NUMPY,
        cell="mel_to_hz",
        replacements=(
            (
                "return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)",
                "return 700.0 * 10.0 ** (np.asarray(m) / 2595.0)",
            ),
        ),
        loses=(INVERSE,),
        says=("the − 1 is missing",),
        keeps=_others(INVERSE),
        description="700 · 10^(m/2595): not the inverse of hz_to_mel (700 Hz at 0 mel).",
    ),
    Mistake(
        id="ex7_mel_to_hz_natural_exp",
        notebook=NUMPY,
        cell="mel_to_hz",
        replacements=(("10.0 ** (np.asarray(m) / 2595.0)", "np.exp(np.asarray(m) / 2595.0)"),),
        loses=(INVERSE,),
        says=("np.exp(m / 2595)",),
        keeps=_others(INVERSE),
        description="exp(m / 2595): the natural exponential with the base-10 constant.",
    ),
    # --------------------------------------------------------------------------- filterbank
    Mistake(
        id="ex7_filterbank_linear_edges",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=((_EDGES, "edges = np.linspace(0.0, f_max, n_mels + 2)"),),
        loses=(BANK,),
        says=("equally spaced in hz",),
        keeps=_others(BANK),
        description="The edges equally spaced in Hz: a linear filterbank, not a mel one.",
    ),
    Mistake(
        id="ex7_filterbank_transposed",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=((_BANK, f"{_BANK}.T"),),
        loses=(BANK,),
        says=("(n_mels, n_fft // 2 + 1), one row per filter",),
        keeps=_others(BANK),
        description="One row per filter, as features.py stores it, not one column.",
    ),
    Mistake(
        id="ex7_filterbank_not_clipped",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=((_BANK, "return np.minimum(rising, falling)"),),
        loses=(BANK,),
        says=("not clipped at 0",),
        keeps=_others(BANK),
        description="min(rising, falling) without the 0 floor: negative weights everywhere else.",
    ),
    Mistake(
        id="ex7_filterbank_to_nyquist",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=(("hz_to_mel(f_max)", "hz_to_mel(sample_rate / 2)"),),
        loses=(BANK,),
        says=("ignoring f_max",),
        keeps=_others(BANK),
        description="The filters spread up to the Nyquist frequency instead of f_max.",
    ),
    Mistake(
        id="ex7_filterbank_rounded_bins",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=(
            (
                _FILTERBANK_BODY,
                _ROUNDED_BANK,
            ),
        ),
        loses=(BANK,),
        says=("rounded to bin indices",),
        keeps=_others(BANK),
        description="A tutorial's triangles on whole bins, np.floor((n_fft + 1) f / sr).",
    ),
    Mistake(
        id="ex7_filterbank_area_normalised",
        notebook=NUMPY,
        cell="mel_filterbank",
        replacements=((_BANK, f"{_BANK} * 2.0 / (upper - lower)"),),
        loses=(BANK,),
        says=("to unit area",),
        keeps=_others(BANK),
        description="Slaney's normalisation (librosa's default): each triangle's area 1.",
    ),
    # ------------------------------------------------------------------------------ log-mel
    Mistake(
        id="ex7_log_mel_without_window",
        notebook=NUMPY,
        cell="log_mel",
        replacements=((_WINDOWED, "windowed = frames(samples, n_fft, hop)"),),
        loses=(LOG_MEL,),
        says=("not multiplied by the window",),
        keeps=_others(LOG_MEL),
        description="The rectangular window: a tone's power leaks into every band.",
    ),
    Mistake(
        id="ex7_log_mel_log10",
        notebook=NUMPY,
        cell="log_mel",
        replacements=((_LOG, "return np.log10(np.maximum(mel, floor))"),),
        loses=(LOG_MEL,),
        says=("the base-10 log",),
        keeps=_others(LOG_MEL),
        description="log10 instead of the natural log.",
    ),
    Mistake(
        id="ex7_log_mel_without_floor",
        notebook=NUMPY,
        cell="log_mel",
        replacements=((_LOG, "return np.log(mel)"),),
        loses=(LOG_MEL,),
        says=("no floor under the log",),
        keeps=_others(LOG_MEL),
        description="log(0) = −inf in silence.",
    ),
    Mistake(
        id="ex7_log_mel_floor_after_log",
        notebook=NUMPY,
        cell="log_mel",
        replacements=((_LOG, "return np.maximum(np.log(mel), floor)"),),
        loses=(LOG_MEL,),
        says=("the floor is applied after the log",),
        keeps=_others(LOG_MEL),
        description="The floor bounds the log instead of the energy: silence gives 1e-10.",
    ),
    Mistake(
        id="ex7_log_mel_log_before_filterbank",
        notebook=NUMPY,
        cell="log_mel",
        replacements=(
            (
                "mel = power @ mel_filterbank(n_mels, n_fft, sample_rate, f_max)"
                "  # (n_frames, n_mels)\n    " + _LOG,
                "return np.log(np.maximum(power, floor)) @ mel_filterbank(n_mels, n_fft, "
                "sample_rate, f_max)",
            ),
        ),
        loses=(LOG_MEL,),
        says=("the log is taken before the filterbank",),
        keeps=_others(LOG_MEL),
        description="The filters sum log powers instead of powers.",
    ),
]
