"""Speech synthesised offline by eSpeak NG, from the library and voice data that the pinned
``espeakng-loader`` wheel bundles (eSpeak NG 1.52, GPL-3.0-or-later).

The library keeps state from one utterance to the next (the same text in the same voice comes out
a few samples different the second time) and draws breath noise from a generator of its own, so
each utterance is synthesised in a child forked from a process that has initialised the library
and synthesised nothing, with that generator seeded: the same request always gives the same
samples. The forking happens in a small process of its own (``python -m
experiments.signals.espeak``, NumPy and ctypes only), never in a process that has started
PyTorch's threads.
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
            [sys.executable, "-m", "experiments.signals.espeak", str(out)],
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


if __name__ == "__main__":
    _main(sys.argv[1])
