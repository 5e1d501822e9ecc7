"""Piano rolls made visible and audible, offline: a score image through LilyPond and a clip of
audio through FluidSynth, for Chapter 7's chorales (real and sampled).

A roll here is a list of frames, each the MIDI numbers on in that quarter note. A key on in
consecutive frames becomes one held note (the roll cannot tell a held note from a repeated one;
held is what a chorale's voices mostly do).

- **Score.** The lower half of the notes sounding where a note starts (tenor and bass, in a
  four-part chorale) go on a bass staff, the upper half on a treble staff, as in a keyboard
  reduction; music21 merges each staff's notes into chords (tied where a note outlasts the others)
  and writes MusicXML, LilyPond's ``musicxml2ly`` converts it and ``lilypond --png`` engraves it,
  cropped to the music. Bar lines fall every four frames from the first: they are not Bach's.
- **Audio.** The same notes as a MIDI file (a piano, at a fixed tempo), rendered by ``fluidsynth``
  with the TimGM6mb General MIDI sound font, reverb and chorus off, into Ogg Vorbis at 22.05 kHz.
  libsndfile gives each Ogg stream a random serial number, so :func:`ogg_with_serial` sets a fixed
  one (and each page's checksum): two renders of one roll are byte-identical.

Everything runs in a temporary folder with a time limit per tool; a missing tool raises
:class:`ToolMissing`, naming its Debian package.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOUND_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
TOOLS = {"musicxml2ly": "lilypond", "lilypond": "lilypond", "fluidsynth": "fluidsynth"}
MIDDLE_C = 60
TEMPO = 80  # quarter notes per minute: a chorale's walking pace
SAMPLE_RATE = 22_050
OGG_SERIAL = 0x43686F72  # "Chor": any fixed number will do
TIMEOUT = 60.0  # seconds per tool: each takes about one here

Frames = list[list[int]]


class ToolMissing(RuntimeError):
    """A program or file the rendering needs is not installed."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = TOOLS[name]
        raise ToolMissing(f"{name} is not installed: it comes with Debian's {package} package "
                          f"(as root: apt-get install {package}, or make signals)")  # fmt: skip
    return path


def _run(command: list[str], folder: Path, timeout: float) -> None:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")  # fmt: skip


def held_notes(frames: Frames) -> list[tuple[int, int, int]]:
    """(MIDI number, first frame, frame after the last) of each run of consecutive frames in which
    a key is on, sorted by start and pitch."""
    notes, started = [], {}
    for t, frame in enumerate([*frames, []]):
        on = set(frame)
        for pitch in [p for p in started if p not in on]:
            notes.append((pitch, started.pop(pitch), t))
        for pitch in on:
            started.setdefault(pitch, t)
    return sorted(notes, key=lambda n: (n[1], n[0]))


def on_lower_staff(frames: Frames, pitch: int, start: int) -> bool:
    """Whether a held note goes on the bass staff: it is in the lower half of the keys on where it
    starts (a keyboard reduction of four voices: tenor and bass below, alto and soprano above); a
    note sounding alone where it starts goes below if it is below middle C."""
    chord = sorted(frames[start])
    if len(chord) == 1:
        return pitch < MIDDLE_C
    return chord.index(pitch) < len(chord) // 2


def score_of(frames: Frames) -> Any:
    """A music21 score of two staves in 4/4 (:func:`on_lower_staff` chooses each note's), each
    staff's held notes merged into chords, ties where notes overlap, rests where it is silent."""
    from music21 import clef, layout, meter, note, stream

    notes = held_notes(frames)
    staves = []
    for lower in (False, True):
        part = stream.Part()
        part.insert(0, clef.BassClef() if lower else clef.TrebleClef())
        part.insert(0, meter.TimeSignature("4/4"))
        for pitch, start, end in notes:
            if on_lower_staff(frames, pitch, start) == lower:
                part.insert(start, note.Note(pitch, quarterLength=end - start))
        staff = part.chordify()
        silent_end = len(frames) - staff.highestTime  # a staff silent at the end still lasts
        if silent_end > 0:
            staff.insert(staff.highestTime, note.Rest(quarterLength=silent_end))
        staves.append(staff)
    score = stream.Score(staves)
    score.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    return score.makeNotation()


def performance_of(frames: Frames, tempo: int = TEMPO) -> Any:
    """A music21 part for MIDI: one piano note per held note, at ``tempo`` quarters a minute."""
    from music21 import instrument, note, stream
    from music21 import tempo as tempo_marks

    part = stream.Part()
    part.insert(0, instrument.Piano())
    part.insert(0, tempo_marks.MetronomeMark(number=tempo))
    for pitch, start, end in held_notes(frames):
        part.insert(start, note.Note(pitch, quarterLength=end - start))
    return part


def _without_header(lily: str) -> str:
    """musicxml2ly's output without its title, composer and LilyPond's tagline."""
    return re.sub(r"\\header\s*\{.*?\n\s*\}", r"\\header { tagline = ##f }", lily, count=1,
                  flags=re.DOTALL)  # fmt: skip


def png(frames: Frames, resolution: int = 110, timeout: float = TIMEOUT) -> bytes:
    """The engraved score of ``frames`` as PNG bytes, cropped to the music, ``resolution`` dpi."""
    musicxml2ly, lilypond = _tool("musicxml2ly"), _tool("lilypond")
    with tempfile.TemporaryDirectory(prefix="score-") as name:
        folder = Path(name)
        score_of(frames).write("musicxml", fp=folder / "score.musicxml")
        _run([musicxml2ly, "--no-beaming", "-o", "score.ly", "score.musicxml"], folder, timeout)
        lily = folder / "score.ly"
        lily.write_text(_without_header(lily.read_text()))
        _run([lilypond, "-dcrop", f"-dresolution={resolution}", "-dno-point-and-click",
              "--png", "-o", "score", "score.ly"], folder, timeout)  # fmt: skip
        return (folder / "score.cropped.png").read_bytes()


def midi(frames: Frames, tempo: int = TEMPO) -> bytes:
    """The MIDI file of ``frames``' held notes."""
    with tempfile.TemporaryDirectory(prefix="midi-") as name:
        path = Path(name) / "notes.mid"
        performance_of(frames, tempo).write("midi", fp=path)
        return path.read_bytes()


def audio(
    frames: Frames,
    tempo: int = TEMPO,
    sample_rate: int = SAMPLE_RATE,
    timeout: float = TIMEOUT,
) -> bytes:
    """``frames`` played on FluidSynth's General MIDI piano (TimGM6mb), reverb and chorus off, as
    Ogg Vorbis bytes with a fixed stream serial number (two calls give the same bytes)."""
    fluidsynth = _tool("fluidsynth")
    if not SOUND_FONT.is_file():
        raise ToolMissing(f"{SOUND_FONT} is missing: it comes with Debian's timgm6mb-soundfont "
                          "package (as root: apt-get install timgm6mb-soundfont)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="audio-") as name:
        folder = Path(name)
        (folder / "notes.mid").write_bytes(midi(frames, tempo))
        _run([fluidsynth, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.6",
              "-r", str(sample_rate), "-T", "oga", "-F", "notes.oga", str(SOUND_FONT),
              "notes.mid"], folder, timeout)  # fmt: skip
        return ogg_with_serial((folder / "notes.oga").read_bytes(), OGG_SERIAL)


def _ogg_crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    """The Ogg page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0,
    over the page with its checksum field zeroed (RFC 3533)."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


def ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each page of an Ogg stream; raises ValueError if it is not one."""
    pages, at = [], 0
    while at < len(data):
        if data[at : at + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {at}")
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27 : at + 27 + segments])
        pages.append((at, at + size))
        at += size
    return pages


def ogg_with_serial(data: bytes, serial: int) -> bytes:
    """An Ogg stream with every page's serial number set to ``serial`` and its checksum redone."""
    out = bytearray(data)
    for start, end in ogg_pages(data):
        out[start + 14 : start + 18] = serial.to_bytes(4, "little")
        out[start + 22 : start + 26] = bytes(4)
        out[start + 22 : start + 26] = ogg_crc(bytes(out[start:end])).to_bytes(4, "little")
    return bytes(out)


def ogg_samples(data: bytes) -> int:
    """Samples per channel in an Ogg Vorbis stream: the granule position of its last page."""
    start, _ = ogg_pages(data)[-1]
    return int.from_bytes(data[start + 6 : start + 14], "little")


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def figure_html(score_png: bytes, clip: bytes, alt: str, caption: str) -> str:
    """An HTML figure: the score (with ``alt`` text), an audio player of the Ogg clip, and the
    caption; everything inline, so the page plays it offline."""
    label = html.escape(caption, quote=True)
    return (
        '<figure style="margin: 1em 0">'
        f'<img src="{data_uri(score_png, "image/png")}" alt="{html.escape(alt, quote=True)}" '
        'style="max-width: 100%; height: auto">'
        f'<audio controls preload="metadata" aria-label="{label}" '
        f'src="{data_uri(clip, "audio/ogg")}" style="display: block; margin-top: 0.5em">'
        "</audio>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )
