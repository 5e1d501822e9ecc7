"""Chapter 7's chorales: the piano rolls from music21's corpus, the models and their NLL, the
baselines, the sampling, and the score and audio rendering, each checked against music21's own
analysis, PyTorch, scikit-learn, libsndfile or a hand-worked example."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import io
import math

import numpy as np
import pytest
import torch
from music21 import chord, corpus, note, stream, tie
from PIL import Image
from sklearn.linear_model import LogisticRegression

from experiments.signals import chorales, music_models, music_render, music_training
from experiments.signals.music_models import (
    KINDS,
    NoteFrequencies,
    PreviousFrameLogistic,
    RollModel,
    frame_nll,
    hidden_for_budget,
    model_parameters,
    recurrent_parameters,
)

# --- data --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tonic", "shift"), [(0, 0), (7, 5), (6, -6), (5, -5), (11, 1), (2, -2)])
def test_transposition_is_the_shortest_shift_to_c(tonic, shift):
    assert chorales.transposition(tonic) == shift
    assert (tonic + shift) % 12 == 0 and -6 <= shift <= 5


@pytest.mark.parametrize(
    ("name", "sharps", "tonic", "mode"),
    [("bach/bwv269", 1, "G", "major"), ("bach/bwv38.6", 0, "A", "minor")],
)
def test_a_known_chorale_ends_up_on_c(name, sharps, tonic, mode):
    """bwv269 is in G major (one sharp), bwv38.6 in A minor (no sharps): shifted by
    :func:`chorales.transposition`, music21's own key analysis of the roll finds C."""
    score = corpus.parse(name, forceSource=True)
    key = score.analyze("key")
    assert score.recurse().getElementsByClass("KeySignature")[0].sharps == sharps
    assert (key.tonic.name, key.mode) == (tonic, mode)
    roll = chorales.roll_of(chorales.notes_of(score), chorales.transposition(key.tonic.pitchClass))
    frames = music_training.pitches(roll)
    again = music_render.performance_of(frames).analyze("key")
    assert (again.tonic.name, again.mode) == ("C", mode)
    assert len(roll) == math.ceil(score.highestTime)


def test_the_roll_of_a_hand_written_stream():
    """Two voices over seven quarters; worked by hand: a key is on at quarter t when a note sounds
    at t (o ≤ t < o + d)."""
    upper, lower = stream.Part(), stream.Part()
    upper.insert(0.0, note.Note("C5", quarterLength=2.0))  # frames 0, 1
    upper.insert(2.0, note.Note("D5", quarterLength=0.5))  # frame 2
    upper.insert(2.5, note.Note("E5", quarterLength=0.5))  # off the beat, gone by 3: no frame
    first, second = note.Note("G5", quarterLength=1.0), note.Note("G5", quarterLength=1.0)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    upper.insert(3.0, first)  # tied over: frames 3 and 4
    upper.insert(4.0, second)
    upper.insert(5.5, note.Note("F5", quarterLength=1.5))  # from the off-beat: frame 6 only
    lower.insert(0.0, chord.Chord(["C3", "G3"], quarterLength=4.0))  # frames 0–3
    lower.insert(4.0, note.Note("C5", quarterLength=1.0))  # the upper voice's pitch: one key
    lower.insert(5.0, note.Rest(quarterLength=2.0))
    score = stream.Score([upper, lower])
    expected = np.zeros((7, 88), dtype=bool)
    for midi, frames in {72: [0, 1, 4], 74: [2], 79: [3, 4], 77: [6], 48: [0, 1, 2, 3],
                         55: [0, 1, 2, 3]}.items():  # fmt: skip
        expected[frames, midi - 21] = True
    assert np.array_equal(chorales.roll_of(chorales.notes_of(score)), expected)
    shifted = chorales.roll_of(chorales.notes_of(score), shift=-2)
    assert np.array_equal(shifted[:, :-2], expected[:, 2:]) and not shifted[:, -2:].any()


def test_a_pitch_off_the_piano_is_an_error():
    with pytest.raises(ValueError, match="outside the piano"):
        chorales.roll_of([(0.0, 1.0, 108)], shift=1)


def test_the_split_hashes_the_name():
    names = [f"bach/bwv{i}.{j}" for i in range(400) for j in range(3)]
    splits = [chorales.split_of(n) for n in names]
    for name, split in zip(names[:50], splits[:50], strict=True):
        bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100
        assert split == ("train" if bucket < 60 else "validation" if bucket < 80 else "test")
    shares = {s: splits.count(s) / len(splits) for s in chorales.SPLITS}
    assert abs(shares["train"] - 0.6) < 0.05 and abs(shares["test"] - 0.2) < 0.05


# --- models ------------------------------------------------------------------------------------


def test_frame_nll_is_the_bernoulli_log_likelihood():
    torch.manual_seed(0)
    logits = torch.randn(5, 3, 88, dtype=torch.float64) * 4
    targets = (torch.rand(5, 3, 88) < 0.1).double()
    got = frame_nll(logits, targets)
    assert got.shape == (5, 3)
    p = torch.sigmoid(logits)
    by_hand = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).sum(-1)
    torch.testing.assert_close(got, by_hand, rtol=1e-10, atol=1e-10)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")(logits, targets).sum(-1)
    torch.testing.assert_close(got, bce, rtol=1e-12, atol=1e-12)
    # One frame worked out: key 0 on with logit 0 (log 2), key 1 off with logit ln 3 (ln 4/3… )
    one = torch.zeros(1, 88, dtype=torch.float64)
    one[0, 1] = math.log(3.0)
    frame = torch.zeros(1, 88, dtype=torch.float64)
    frame[0, 0] = 1.0
    expected = math.log(2) + math.log(4) + 86 * math.log(2)  # σ(ln 3) = 3/4: −log(1/4) = log 4
    assert float(frame_nll(one, frame)[0]) == pytest.approx(expected, rel=1e-12)
    assert float(music_models.probability_nll(np.full((1, 88), 0.5), np.zeros((1, 88), bool))[0]) \
        == pytest.approx(88 * math.log(2))  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_equal_parameter_counts(kind):
    hidden = hidden_for_budget(kind)
    model = RollModel(kind, hidden)
    assert sum(p.numel() for p in model.parameters()) == model_parameters(kind, hidden)
    recurrent = sum(p.numel() for p in model.recurrent.parameters())
    assert recurrent == recurrent_parameters(kind, hidden)
    assert abs(model_parameters(kind, hidden) - music_models.BUDGET) <= 0.015 * music_models.BUDGET
    for other in (hidden - 1, hidden + 1):  # the nearest hidden size to the budget
        gap = abs(model_parameters(kind, other) - music_models.BUDGET)
        assert gap >= abs(model_parameters(kind, hidden) - music_models.BUDGET)
    assert hidden_for_budget(kind, count="recurrent") > hidden  # the read-out counts too


def test_the_model_predicts_the_next_frame_from_the_past_only():
    torch.manual_seed(0)
    model = RollModel("gru", 8).double()
    roll = (torch.rand(6, 1, 88) < 0.1).double()
    changed = roll.clone()
    changed[4:] = 1 - changed[4:]  # change frames 4 and 5
    a, _ = model(music_models.shifted(roll))
    b, _ = model(music_models.shifted(changed))
    torch.testing.assert_close(a[:5], b[:5])  # the logits of frames 0–4 read frames 0–3 only
    assert not torch.allclose(a[5], b[5])
    assert torch.equal(music_models.shifted(roll)[0], torch.zeros(1, 88, dtype=torch.float64))


def test_note_frequencies_on_a_constructed_example():
    roll = np.zeros((4, 88), dtype=bool)
    roll[[0, 1, 2], 40] = True  # key 40 on in 3 of 4 frames, every other key never
    model = NoteFrequencies(alpha=1.0).fit([roll])
    assert model.p[40] == pytest.approx(4 / 6) and model.p[0] == pytest.approx(1 / 6)
    test = np.zeros((2, 88), dtype=bool)
    test[0, 40] = True
    per_frame = model.nll(test)
    expected = [-math.log(4 / 6) - 87 * math.log(5 / 6), -math.log(2 / 6) - 87 * math.log(5 / 6)]
    np.testing.assert_allclose(per_frame, expected, rtol=1e-12)


def _random_rolls(seed: int, count: int = 6, length: int = 30) -> list[np.ndarray]:
    """Rolls where keys 40–47 tend to repeat from frame to frame; the other keys stay off, but
    key 50 is always on."""
    rng = np.random.default_rng(seed)
    rolls = []
    for _ in range(count):
        roll = np.zeros((length, 88), dtype=bool)
        state = rng.random(8) < 0.3
        for t in range(length):
            flip = rng.random(8) < 0.2
            state = np.where(flip, ~state, state)
            roll[t, 40:48] = state
        roll[:, 50] = True
        rolls.append(roll)
    return rolls


def test_previous_frame_logistic_equals_scikit_learn():
    rolls = _random_rolls(0)
    C = 0.5
    model = PreviousFrameLogistic(C).fit(rolls)
    x = np.concatenate([np.vstack([np.zeros((1, 88)), r[:-1]]) for r in rolls])
    y = np.concatenate(rolls)
    for key in (40, 43, 47):
        reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(x, y[:, key])
        np.testing.assert_allclose(model.weights[key], reference.coef_[0], atol=1e-5)
        assert model.bias[key] == pytest.approx(reference.intercept_[0], abs=1e-5)
    n = len(y)
    assert model.bias[50] == pytest.approx(math.log((n + 0.5) / 0.5))  # always on: add-½
    assert model.bias[0] == pytest.approx(math.log(0.5 / (n + 0.5)))  # never on
    assert not model.weights[[0, 50]].any()


def test_the_logistic_baseline_beats_frequencies_where_frames_repeat():
    train, held_out = _random_rolls(1), _random_rolls(2)
    logistic = PreviousFrameLogistic(1.0).fit(train)
    frequencies = NoteFrequencies(0.5).fit(train)
    assert music_training.nll(logistic, held_out) < music_training.nll(frequencies, held_out) - 1.0


def test_sampling_is_seeded():
    torch.manual_seed(0)
    model = RollModel("lstm", 6)
    primer = np.zeros((3, 88), dtype=bool)
    primer[:, [48, 52, 55]] = True

    def draw(seed: int) -> np.ndarray:
        return music_models.sample(model, primer, 10, torch.Generator().manual_seed(seed))

    first = draw(1)
    assert first.shape == (10, 88) and first.dtype == bool
    assert np.array_equal(first, draw(1)) and not np.array_equal(first, draw(2))
    free = music_models.sample(model, primer[:0], 4, torch.Generator().manual_seed(1))
    assert free.shape == (4, 88)


def _tiny_chorales() -> chorales.Chorales:
    rolls = _random_rolls(3, count=9, length=20)
    splits = ["train"] * 5 + ["validation"] * 2 + ["test"] * 2
    names = [f"tiny/{i}" for i in range(9)]
    return chorales.Chorales(names, rolls, splits, [0] * 9, [False] * 9, [0] * 9, {})


def test_a_run_is_deterministic_given_its_seed():
    spec = {**music_training.DEFAULTS, "model": "gru", "seed": 4, "budget": 3000, "epochs": 3,
            "primer": 4, "frames": 8}  # fmt: skip
    torch.set_num_threads(1)
    first = music_training._network(spec, _tiny_chorales())
    second = music_training._network(spec, _tiny_chorales())
    assert first == second
    assert len(first["sample"]["continuation"]) == 8 and len(first["sample"]["primer"]) == 4
    assert first["sample"]["real"] == music_training.pitches(_tiny_chorales().of("test")[0][4:12])
    assert first["parameters"] == model_parameters("gru", first["hidden"])
    best = min(c["validation_nll"] for c in first["curve"])
    assert first["validation_nll"] == pytest.approx(best, rel=1e-6)  # the best epoch is kept
    other = music_training._network({**spec, "seed": 5}, _tiny_chorales())
    assert other["sample"] != first["sample"]


def test_a_baseline_run_picks_its_setting_on_validation():
    result = music_training._baseline({"model": "frequencies"}, _tiny_chorales())
    scores = result["validation_by_setting"]
    assert result["validation_nll"] == min(scores.values())
    assert str(result["setting"]) == min(scores, key=scores.get)


# --- rendering ---------------------------------------------------------------------------------

FRAMES = [[48, 55, 64, 72], [48, 55, 64, 72], [50, 57, 65, 74], [43, 55, 62, 71],
          [48, 52, 60, 72], [], [45, 57, 64], [47, 55, 62, 67]]  # fmt: skip


def test_held_notes_merge_repeated_frames():
    notes = music_render.held_notes([[60, 64], [60, 64], [60], [], [60]])
    assert notes == [(60, 0, 3), (64, 0, 2), (60, 4, 5)]


def test_the_score_is_a_png_of_the_music():
    data = music_render.png(FRAMES)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and 200 < image.width < 1200 and 60 < image.height < 400
    assert music_render.png(FRAMES) == data  # engraving is deterministic
    score = music_render.score_of(FRAMES)
    assert len(score.parts) == 2 and score.parts[0].highestTime == len(FRAMES)
    for staff, lower in zip(score.parts, (False, True), strict=True):
        struck = sorted(p.midi for n in staff.flatten().notes for p in n.pitches
                        if not (n.tie and n.tie.type in ("stop", "continue")))  # fmt: skip
        held = [(p, s) for p, s, _ in music_render.held_notes(FRAMES)]
        assert struck == sorted(p for p, s in held
                                if music_render.on_lower_staff(FRAMES, p, s) == lower)  # fmt: skip


def test_tenor_and_bass_go_on_the_lower_staff():
    frames = [[48, 55, 64, 72], [62], [50, 53, 59, 67, 74]]
    lower = [(p, s) for p, s, _ in music_render.held_notes(frames)
             if music_render.on_lower_staff(frames, p, s)]  # fmt: skip
    assert lower == [(48, 0), (55, 0), (50, 2), (53, 2)]


class _SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]  # fmt: skip


def _decode_with_libsndfile(data: bytes, tmp_path) -> tuple[int, int, int]:
    """(frames decoded, sample rate, channels), decoding every sample with libsndfile (which checks
    each Ogg page's checksum through libogg)."""
    name = ctypes.util.find_library("sndfile")
    if name is None:
        pytest.skip("libsndfile is not installed")
    lib = ctypes.CDLL(name)
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_SfInfo)]
    lib.sf_readf_short.restype = ctypes.c_int64
    lib.sf_readf_short.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    path = tmp_path / "clip.oga"
    path.write_bytes(data)
    info = _SfInfo()
    handle = lib.sf_open(str(path).encode(), 0x10, ctypes.byref(info))  # SFM_READ
    assert handle, "libsndfile could not open the clip"
    buffer = (ctypes.c_short * (4096 * info.channels))()
    decoded = 0
    while (read := lib.sf_readf_short(handle, buffer, 4096)) > 0:
        decoded += read
    lib.sf_close(handle)
    return decoded, info.samplerate, info.channels


def test_the_audio_is_ogg_vorbis_of_the_right_length(tmp_path):
    data = music_render.audio(FRAMES)
    assert data[:4] == b"OggS" and b"\x01vorbis" in data[:64]
    assert music_render.audio(FRAMES) == data  # byte-identical renders
    decoded, rate, channels = _decode_with_libsndfile(data, tmp_path)
    assert (rate, channels) == (music_render.SAMPLE_RATE, 2)
    seconds = len(FRAMES) * 60 / music_render.TEMPO
    assert seconds <= decoded / rate <= seconds + 4.0  # the notes, then the piano's release
    assert music_render.ogg_samples(data) == decoded
    assert len(data) < 300_000


def test_ogg_checksum_and_serial():
    assert music_render.ogg_crc(b"123456789") == 0x89A1897F  # CRC-32, poly 04C11DB7, init 0
    data = music_render.audio(FRAMES[:2])
    other = music_render.ogg_with_serial(data, 7)
    for start, end in music_render.ogg_pages(other):
        assert int.from_bytes(other[start + 14 : start + 18], "little") == 7
        page = bytearray(other[start:end])
        stored = int.from_bytes(page[22:26], "little")
        page[22:26] = bytes(4)
        assert music_render.ogg_crc(bytes(page)) == stored
    with pytest.raises(ValueError, match="no Ogg page"):
        music_render.ogg_pages(b"RIFF....")


def test_a_missing_tool_names_its_debian_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(music_render.ToolMissing, match="Debian's lilypond package"):
        music_render.png(FRAMES)
    with pytest.raises(music_render.ToolMissing, match="Debian's fluidsynth package"):
        music_render.audio(FRAMES)


def test_the_figure_html_carries_everything_inline():
    text = music_render.figure_html(b"\x89PNG", b"OggS", alt='A score "x"', caption="A <clip>")
    assert 'alt="A score &quot;x&quot;"' in text and "data:audio/ogg;base64,T2dnUw==" in text
    assert "<figcaption>A &lt;clip&gt;</figcaption>" in text and "http" not in text


# --- the whole corpus --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_corpus_as_the_chapter_uses_it():
    """The parsed corpus the chapter reads (from the experiments' data cache, as the book's build
    does; parsed now, about a minute, if the build has not parsed it yet, and then the build reads
    it): the counts the chapter states, every roll on the piano and in C, and the split."""
    data = chorales.load()
    assert chorales.riemenschneider_count() == 371 and len(chorales.chorale_names()) == 350
    reasons = list(data.left_out.values())
    assert sum(r.endswith("parts") for r in reasons) == 19
    assert sum(r.startswith("same roll") for r in reasons) == 3
    assert len(data.names) == 350 - 22
    assert {chorales.split_of(n) for n in data.names} == set(chorales.SPLITS)
    for roll, tonic, shift in zip(data.rolls, data.tonics, data.shifts, strict=True):
        assert roll.shape[1] == 88 and roll.sum(1).max() <= 4 and (tonic + shift) % 12 == 0
    assert chorales.load().names == data.names  # read back from the cache, the same
