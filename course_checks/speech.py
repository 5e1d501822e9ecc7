"""Chapter 7's spoken digits, for the book's experiments (``experiments.signals``) and, in time,
Exercise 7b's checks: speech synthesised offline by eSpeak NG, the plan of voices and splits, and
the NumPy log-mel spectrogram. The one implementation of each: ``experiments.signals.espeak``,
``.features`` and ``.speech`` import it from here.

**Synthesis.** eSpeak NG comes from the library and voice data that the pinned ``espeakng-loader``
wheel bundles (eSpeak NG 1.52, GPL-3.0-or-later), through ctypes. The library keeps state from one
utterance to the next (the same text in the same voice comes out a few samples different the
second time) and draws breath noise from a generator of its own, so each utterance is synthesised
in a child forked from a process that has initialised the library and synthesised nothing, with
that generator seeded: the same request always gives the same samples. The forking happens in a
small process of its own (``python -m course_checks.speech``, NumPy and ctypes only), never in a
process that has started PyTorch's threads. The wheel is imported only there, so that importing
this module needs NumPy alone.

**Voices.** A *voice* is an English accent of eSpeak NG (a language file) with a voice variant (a
speaker's settings: pitch, formants, breathiness). Training, validation and test use disjoint
variants, and the test voices also use accents that training never hears, so test accuracy
measures transfer to unseen voices. Each utterance gets its own speed, pitch and noise (white, at a
signal-to-noise ratio drawn per utterance), drawn from a seeded generator.

**Features.** samples → overlapping frames → a Hann window on each → the power spectrum of each
frame (``|rfft|²``) → a bank of triangular filters equally spaced on the mel scale → the logarithm
with a floor, one step per function, as Chapter 7 derives it (and checks against ``torch.stft``).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# ------------------------------------------------------------------------------ synthesis
SAMPLE_RATE = 22_050  # what eSpeak NG produces
# espeak_AUDIO_OUTPUT, espeak_PARAMETER and espeak_POSITION_TYPE values from speak_lib.h
_SYNCHRONOUS, _RATE, _PITCH, _CHARACTER_POSITIONS, _UTF8 = 2, 1, 3, 1, 1


@dataclass(frozen=True)
class Utterance:
    """What to say and how: an eSpeak voice (``language+variant``), words per minute (80–450),
    pitch (0–99), and the seed of the synthesiser's noise."""

    text: str
    voice: str
    speed: int = 175
    pitch: int = 50
    seed: int = 0


def version() -> str:
    """The version of the espeakng-loader wheel (which fixes eSpeak NG's library and data)."""
    from importlib.metadata import version as package_version

    return package_version("espeakng-loader")


def synthesise(utterances: list[Utterance], timeout: float = 600.0) -> list[np.ndarray]:
    """Each utterance as int16 samples at :data:`SAMPLE_RATE`, in order."""
    if not utterances:
        return []
    request = json.dumps([asdict(u) for u in utterances])
    with tempfile.TemporaryDirectory(prefix="espeak-") as folder:
        out = Path(folder) / "speech.npz"
        subprocess.run(
            [sys.executable, "-m", "course_checks.speech", str(out)],
            input=request.encode(),
            check=True,
            timeout=timeout,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        with np.load(out, allow_pickle=False) as stored:
            samples, ends = stored["samples"], stored["ends"]
    starts = np.concatenate([[0], ends[:-1]])
    return [samples[a:b] for a, b in zip(starts, ends, strict=True)]


class _Library:
    """The initialised library of the wheel, with a callback that collects the samples."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate != SAMPLE_RATE:
            raise RuntimeError(f"eSpeak NG did not initialise (returned {rate})")
        self.chunks: list[bytes] = []
        callback_type = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
        )

        def collect(wav: ctypes.Array, count: int, events: int) -> int:
            if count > 0:
                self.chunks.append(ctypes.string_at(wav, 2 * count))
            return 0  # 0: go on

        self.callback = callback_type(collect)  # kept alive as long as the library
        lib.espeak_SetSynthCallback(self.callback)
        self.lib = lib

    def say(self, u: Utterance) -> bytes:
        lib = self.lib
        lib.espeak_ng_SetRandSeed(u.seed)
        if lib.espeak_SetVoiceByName(u.voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {u.voice!r}")
        lib.espeak_SetParameter(_RATE, u.speed, 0)
        lib.espeak_SetParameter(_PITCH, u.pitch, 0)
        text = u.text.encode()
        if lib.espeak_Synth(text, len(text) + 1, 0, _CHARACTER_POSITIONS, 0, _UTF8, None, None):
            raise RuntimeError(f"eSpeak NG failed on {u}")
        lib.espeak_Synchronize()
        return b"".join(self.chunks)


def _in_fresh_child(library: _Library, u: Utterance) -> bytes:
    """Synthesise ``u`` in a forked child, so that no earlier utterance's state reaches it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: synthesise, send the samples, exit without Python's clean-up
        os.close(read)
        code = 1
        try:
            data = library.say(u)
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            code = 0
        except BaseException as error:  # reported by the parent through the exit status
            print(f"espeak: {error}", file=sys.stderr)
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"eSpeak NG failed on {u}")
    return data


def _main(out: str) -> None:
    utterances = [Utterance(**fields) for fields in json.loads(sys.stdin.buffer.read())]
    library = _Library()
    audio = [np.frombuffer(_in_fresh_child(library, u), dtype=np.int16) for u in utterances]
    ends = np.cumsum([len(a) for a in audio])
    np.savez(out, samples=np.concatenate(audio), ends=ends)


# ------------------------------------------------------------------------------ features


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


# ---------------------------------------------------------------- the voices and the splits

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The accents of the wheel's English: training and validation hear five, the test three others.
TRAIN_ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
TEST_ACCENTS = ("en-gb-scotland", "en-029", "en-us-nyc")
# Variants that sound like people (eSpeak NG also has robots, whispers and croaks), split 3 ways.
VARIANTS = {
    "train": ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "adam", "alex", "andy", "annie", "aunty",
              "benjamin", "david", "edward", "linda"),
    "validation": ("m5", "f4", "john", "max"),
    "test": ("m6", "m7", "f5", "michael", "steph", "travis"),
}  # fmt: skip
SPEED = (120, 220)  # words per minute, drawn uniformly
PITCH = (25, 75)
SNR_DB = (10.0, 30.0)
LEAD_SECONDS = (0.0, 0.15)  # noise before the speech starts
SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


@dataclass(frozen=True)
class Plan:
    """How many utterances a data set has: renditions of each item per voice of each split, and for
    digit strings, how many strings per voice and their lengths."""

    renditions: dict[str, int]
    strings: bool = False
    min_digits: int = 2
    max_digits: int = 5


DIGIT_PLAN = Plan(renditions={"train": 2, "validation": 1, "test": 2})
STRING_PLAN = Plan(renditions={"train": 12, "validation": 8, "test": 12}, strings=True)


def voices(split: str) -> list[str]:
    """The split's voices, ``accent+variant``."""
    accents = TEST_ACCENTS if split == "test" else TRAIN_ACCENTS
    return [f"{accent}+{variant}" for variant in VARIANTS[split] for accent in accents]


def utterances(split: str, plan: Plan) -> tuple[list[Utterance], list[list[int]], list[str]]:
    """The split's utterances in a fixed order, the digits each says, and its voice."""
    rng = np.random.default_rng([SPLIT_SEEDS[split], 7 if plan.strings else 5])
    said, labels, who = [], [], []
    for voice in voices(split):
        for _ in range(plan.renditions[split]):
            items = (
                [list(rng.integers(0, 10, rng.integers(plan.min_digits, plan.max_digits + 1)))]
                if plan.strings
                else [[d] for d in range(10)]
            )
            for digits in items:
                said.append(
                    Utterance(
                        " ".join(DIGITS[d] for d in digits),
                        voice,
                        speed=int(rng.integers(SPEED[0], SPEED[1] + 1)),
                        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
                        seed=int(rng.integers(2**31)),
                    )
                )
                labels.append([int(d) for d in digits])
                who.append(voice)
    return said, labels, who


def add_noise(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The waveform in [−1, 1] after a random lead of noise, with white noise at a random SNR."""
    clean = samples.astype(np.float64) / 32768.0
    lead = int(rng.uniform(*LEAD_SECONDS) * SAMPLE_RATE)
    clean = np.concatenate([np.zeros(lead), clean])
    power = np.mean(clean**2) if clean.any() else 1e-8
    snr = rng.uniform(*SNR_DB)
    return clean + rng.normal(0.0, np.sqrt(power / 10 ** (snr / 10)), len(clean))


if __name__ == "__main__":
    _main(sys.argv[1])
