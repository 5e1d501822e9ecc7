"""Chapter 7's speech pieces: the log-mel steps against PyTorch and the mel scale's definition,
eSpeak NG's determinism, the voice split, the packed classifier, and greedy CTC decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments.signals import espeak, features, speech
from experiments.signals.speech_models import (
    CTCRecognizer,
    DigitClassifier,
    edit_distance,
    greedy_ctc,
    pad,
)


def test_frames_start_every_hop_and_drop_the_partial_last_frame() -> None:
    x = np.arange(1000.0)
    framed = features.frames(x, n_fft=400, hop=100)
    assert framed.shape == (7, 400)  # starts 0, 100, …, 600; 700 + 400 > 1000
    assert framed[3, 0] == 300 and framed[3, -1] == 699


def test_power_spectrum_equals_torch_stft_with_a_periodic_hann_window() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    ours = features.power_spectrum(features.frames(x))
    spectrum = torch.stft(
        torch.from_numpy(x),
        n_fft=features.N_FFT,
        hop_length=features.HOP,
        window=torch.hann_window(features.N_FFT, dtype=torch.float64),
        center=False,
        return_complex=True,
    )
    np.testing.assert_allclose(ours, (spectrum.abs() ** 2).T.numpy(), rtol=1e-10, atol=1e-9)


def test_the_mel_scale_is_htk_s_and_inverts() -> None:
    # 2595 log10(1 + f/700): 700 Hz ↦ 2595 log10 2, and 1000 Hz ↦ about 1000 mel by design
    assert features.hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    assert features.hz_to_mel(1000.0) == pytest.approx(999.99, abs=0.01)
    f = np.array([0.0, 123.0, 4000.0, 8000.0])
    np.testing.assert_allclose(features.mel_to_hz(features.hz_to_mel(f)), f, atol=1e-9)


def test_the_filterbank_equals_triangles_computed_bin_by_bin() -> None:
    rate, n_fft, n_mels = 16_000, 256, 10
    bank = features.mel_filterbank(rate, n_fft, n_mels, f_max=8000.0)
    top = 2595 * np.log10(1 + 8000 / 700)
    edges = [700 * (10 ** (top * i / (n_mels + 1) / 2595) - 1) for i in range(n_mels + 2)]
    for m in range(n_mels):
        for k in range(n_fft // 2 + 1):
            f = k * rate / n_fft
            lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
            expected = (f - lo) / (mid - lo) if lo <= f <= mid else (hi - f) / (hi - mid)
            assert bank[m, k] == pytest.approx(max(0.0, expected) if lo <= f <= hi else 0.0)


def test_log_mel_is_the_natural_log_of_the_filtered_power_with_a_floor() -> None:
    x = np.zeros(3000)
    x[1000:2000] = np.sin(2 * np.pi * 440 * np.arange(1000) / 16_000)
    out = features.log_mel(x, 16_000, floor=1e-10)
    assert out.shape == (1 + (3000 - features.N_FFT) // features.HOP, features.N_MELS)
    assert out[0].max() == pytest.approx(np.log(1e-10))  # silence: the floor, not −inf
    power = features.power_spectrum(features.frames(x))[8]
    expected = np.log(np.maximum(power @ features.mel_filterbank(16_000).T, 1e-10))
    np.testing.assert_allclose(out[8], expected)


def test_espeak_gives_the_same_samples_for_the_same_request_whatever_came_before() -> None:
    seven = espeak.Utterance("seven", "en+f3", speed=150, pitch=40, seed=3)
    alone = espeak.synthesise([seven])[0]
    after_others = espeak.synthesise([espeak.Utterance("two", "en-us+m1"), seven, seven])
    assert len(alone) > 0.2 * espeak.SAMPLE_RATE
    assert np.array_equal(alone, after_others[1]) and np.array_equal(alone, after_others[2])
    other = espeak.synthesise([espeak.Utterance("seven", "en-us+m1", speed=150, pitch=40)])[0]
    assert len(other) != len(alone) or not np.array_equal(other, alone)


def test_test_voices_share_neither_accent_nor_variant_with_training() -> None:
    accent = {s: {v.split("+")[0] for v in speech.voices(s)} for s in speech.SPLIT_SEEDS}
    variant = {s: {v.split("+")[1] for v in speech.voices(s)} for s in speech.SPLIT_SEEDS}
    assert not accent["test"] & accent["train"]
    assert not variant["test"] & (variant["train"] | variant["validation"])
    assert not variant["validation"] & variant["train"]
    said, labels, _ = speech.utterances("train", speech.STRING_PLAN)
    assert said == speech.utterances("train", speech.STRING_PLAN)[0]  # seeded
    assert all(2 <= len(digits) <= 5 for digits in labels)
    assert said[0].text == " ".join(speech.DIGITS[d] for d in labels[0])


def test_the_classifier_s_output_does_not_depend_on_padding() -> None:
    torch.manual_seed(0)
    model = DigitClassifier(5, 8, bidirectional=True)
    short, long = torch.randn(3, 5), torch.randn(9, 5)
    together = model(*pad([short, long]))
    np.testing.assert_allclose(together[0].detach(), model(*pad([short]))[0].detach(), atol=1e-6)
    np.testing.assert_allclose(together[1].detach(), model(*pad([long]))[0].detach(), atol=1e-6)


def test_ctc_recogniser_steps_and_log_probabilities() -> None:
    model = CTCRecognizer(4, 6, layers=1, stack=2)
    log_probs, lengths = model(*pad([torch.randn(7, 4), torch.randn(4, 4)]))
    assert lengths.tolist() == [3, 2] and log_probs.shape == (3, 2, 11)
    np.testing.assert_allclose(log_probs.exp().sum(-1).detach(), np.ones((3, 2)), atol=1e-6)


def _one_hot(classes: list[int]) -> torch.Tensor:
    out = torch.full((len(classes), 1, 11), -10.0)
    for t, c in enumerate(classes):
        out[t, 0, c] = 0.0
    return out


@pytest.mark.parametrize(
    ("path", "digits"),
    [
        ([0, 4, 4, 0, 4], [3, 3]),  # a blank separates two equal digits
        ([4, 4, 4, 4], [3]),  # repeats collapse
        ([2, 0, 0, 3, 3, 0], [1, 2]),
        ([0, 0, 0], []),
        ([1, 10, 1], [0, 9, 0]),
    ],
)
def test_greedy_ctc_collapses_repeats_then_drops_blanks(path: list[int], digits: list[int]) -> None:
    assert greedy_ctc(_one_hot(path), torch.tensor([len(path)])) == [digits]


def test_greedy_ctc_ignores_steps_past_the_length() -> None:
    assert greedy_ctc(_one_hot([2, 0, 5, 5]), torch.tensor([2])) == [[1]]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [([], [], 0), ([1, 2, 3], [1, 2, 3], 0), ([1, 2, 3], [1, 3], 1), ([1], [2, 1, 2], 2),
     ([3, 1, 4, 1, 5], [1, 4, 1, 5, 9], 2), ([], [7, 7], 2)],
)  # fmt: skip
def test_edit_distance(a: list[int], b: list[int], distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)
