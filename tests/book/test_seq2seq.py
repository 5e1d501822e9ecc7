"""Chapter 6's pieces: BLEU against the published values, the date task, the encoder–decoder's
equations, its masking, and the decoders (greedy, beam search)."""

from __future__ import annotations

import datetime
import itertools
import math

import pytest
import torch

from course_checks import dates
from experiments.seq2seq import bleu, ding
from experiments.seq2seq.decoding import beam_search, greedy
from experiments.seq2seq.models import Seq2Seq


# Papineni et al.'s (2002) examples, with the values NLTK's documentation publishes for them.
def _words(text: str) -> list[str]:
    return text.split()


HYP1 = _words("It is a guide to action which ensures that the military always obeys the commands "
              "of the party")  # fmt: skip
HYP2 = _words("It is to insure the troops forever hearing the activity guidebook that party direct")
REF1A = _words("It is a guide to action that ensures that the military will forever heed Party "
               "commands")  # fmt: skip
REF1B = _words("It is the guiding principle which guarantees the military forces always being "
               "under the command of the Party")  # fmt: skip
REF1C = _words("It is the practical guide for the army always to heed the directions of the party")
HYP_B = _words("he read the book because he was interested in world history")
REF_B = _words("he was interested in world history because he read the book")


def _published(value: float, digits: str) -> bool:
    """Whether ``value`` begins with the published ``digits`` (NLTK's doctests print 0.5920…)."""
    return f"{value:.12f}".startswith(digits)


def test_bleu_gives_the_published_values_of_the_papers_examples() -> None:
    refs = [REF1A, REF1B, REF1C]
    the = _words("the the the the the the the")
    cat = [_words("the cat is on the mat"), _words("there is a cat on the mat")]
    assert bleu.modified_precision(cat, the, 1) == (2, 7)  # 0.2857…, the paper's first example
    assert bleu.modified_precision(refs, HYP1, 1) == (17, 18)  # 0.9444…
    assert bleu.modified_precision(refs, HYP2, 1) == (8, 14)  # 0.5714…
    assert bleu.modified_precision(refs, HYP1, 2) == (10, 17)  # 0.5882352941176471
    assert bleu.modified_precision(refs, HYP2, 2) == (1, 13)  # 0.07692…
    assert bleu.brevity_penalty(28, 12) == pytest.approx(0.2635971381157267, abs=1e-15)
    assert _published(bleu.brevity_penalty(bleu.closest_length([["a"] * 11, ["a"] * 8], 7), 7),
                      "0.8668")  # fmt: skip
    assert bleu.closest_length([["a"] * 13, ["a"] * 11], 12) == 11  # the shorter on a tie
    assert _published(bleu.corpus_bleu([[REF1A]], [HYP1]), "0.4118")
    assert _published(bleu.corpus_bleu([refs, [REF_B]], [HYP1, HYP_B]), "0.5920")


def test_bleu_is_one_for_a_perfect_corpus_and_zero_without_a_four_gram_match() -> None:
    assert bleu.corpus_bleu([[REF1A]], [REF1A]) == 1.0
    assert bleu.corpus_bleu([[REF_B]], [HYP_B[:3] + ["x"] * 8]) == 0.0
    with pytest.raises(ValueError):
        bleu.corpus_bleu([[REF1A]], [HYP1, HYP2])


def test_every_date_source_has_one_reading_and_its_target_is_iso() -> None:
    for form in dates.date_formats():
        assert dates._spells_month(form.pattern), form
    pairs = dates.date_pairs("train", 300, seed=3, dates=(1, 2, 3))
    for source, target, count in zip(pairs.sources, pairs.targets, pairs.counts, strict=True):
        isos = target.split(" ")
        assert len(isos) == count == len(source.split(dates.SEPARATOR))
        for text in isos:
            datetime.date.fromisoformat(text)
        assert set(source) <= set(dates.SOURCE_ALPHABET)
        assert dates.decode_target(dates.encode_target(target)) == target


def test_date_splits_are_disjoint_and_every_locale_trains() -> None:
    splits = {s: set(dates.formats_of(s)) for s in dates.SPLITS}
    assert not splits["train"] & splits["valid"] and not splits["train"] & splits["test"]
    assert not splits["valid"] & splits["test"]
    assert set().union(*splits.values()) == set(dates.date_formats())
    assert {f.locale for f in splits["train"]} == set(dates.LOCALES)
    assert dates.date_pairs("test", 20, 5, (2,)) == dates.date_pairs("test", 20, 5, (2,))


def _model(attention: bool, seed: int = 0, dtype=torch.float64) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(9, 7, 5, 6, attention=attention).to(dtype).eval().requires_grad_(False)


def _sources(lengths: list[int], pad_to: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    src = torch.zeros(pad_to, len(lengths), dtype=torch.long)
    for b, n in enumerate(lengths):
        src[:n, b] = torch.randint(1, 9, (n,), generator=g)
    return src


def test_the_attention_step_is_the_papers_equations() -> None:
    model = _model(True)
    src = _sources([5, 3, 4], 6)
    memory = model.encode(src)
    s, y = memory["s0"], torch.tensor([1, 2, 3])
    logits, s_new, alpha = model.step(y, s, memory)
    a, H = model.attend, memory["annotations"]
    for b in range(3):
        n = int((src[:, b] != 0).sum())
        e = torch.stack([a.v_a.weight[0] @ torch.tanh(a.W_a.weight @ s[b] + a.U_a.weight @ H[j, b])
                         for j in range(n)])  # fmt: skip
        weights = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
        assert torch.allclose(alpha[:n, b], weights, atol=1e-12)
        assert torch.all(alpha[n:, b] == 0)
        c = (weights[:, None] * H[:n, b]).sum(0)
        x = torch.cat([model.embedding.weight[y[b]], c])
        expected = torch.nn.GRUCell(x.numel(), 6).double()
        expected.load_state_dict(model.cell.state_dict())
        assert torch.allclose(s_new[b], expected(x[None], s[b][None])[0], atol=1e-12)
        out = model.output(torch.cat([s_new[b], c, model.embedding.weight[y[b]]]))
        assert torch.allclose(logits[b], out, atol=1e-12)


@pytest.mark.parametrize("attention", [True, False])
def test_padding_changes_nothing_the_decoder_computes(attention: bool) -> None:
    model = _model(attention)
    short, long = _sources([5, 2, 4], 5), None
    long = torch.cat([short, torch.zeros(7, 3, dtype=torch.long)])
    tgt = torch.tensor([[1, 1, 1], [4, 5, 6], [3, 3, 3]])
    assert torch.allclose(model(short, tgt), model(long, tgt), atol=1e-12)
    annotations, summary = model.encoder(long)
    assert torch.all(annotations[5:] == 0) and torch.all(annotations[2:, 1] == 0)
    alone = model.encoder(short[:2, 1:2])[1]  # the second source, unpadded
    assert torch.allclose(summary[1:2], alone, atol=1e-12)


def test_beam_width_one_is_greedy_and_a_wide_beam_finds_the_best_sequence() -> None:
    model = _model(True, seed=4)
    src = _sources([4, 6, 3, 5], 6, seed=2)
    start, end, max_len = 1, 2, 4
    assert (
        beam_search(model, src, start, end, max_len, k=1, alpha=0.0)
        == (greedy(model, src, start, end, max_len)[0])
    )
    # Enumerate every output of at most max_len tokens (the end token closes it, or max_len does)
    # and score it by its summed log-probability, normalised by length as beam search does.
    others = [t for t in range(7) if t != end]  # beam search may emit any token, even padding
    for b in range(src.shape[1]):
        one = src[:, b : b + 1]
        memory = model.encode(one)

        def score(seq: tuple[int, ...], memory: dict = memory) -> float:
            s, y, total = memory["s0"], torch.tensor([start]), 0.0
            for t in seq:
                logits, s, _ = model.step(y, s, memory)
                total += float(torch.log_softmax(logits, -1)[0, t])
                y = torch.tensor([t])
            return total

        candidates = [(*seq, end) for n in range(max_len) for seq in itertools.product(
            others, repeat=n)]  # fmt: skip
        best = max(candidates, key=lambda seq: score(seq) / len(seq))
        # A beam as wide as the number of prefixes keeps every one: the search is exhaustive.
        k = len(others) ** (max_len - 1)
        found = beam_search(model, one, start, end, max_len, k=k, alpha=1.0)[0]
        assert list(best[:-1]) == found, (b, best, found)
        assert math.isfinite(score(best))


def test_ding_pairs_are_sentences_of_the_stated_length_in_disjoint_splits() -> None:
    pairs = {s: ding.sentence_pairs(s) for s in ding.SPLITS}
    assert len(pairs["train"]) > 10_000 and len(pairs["test"]) > 500
    assert not set(pairs["train"].german) & set(pairs["test"].german)
    for german, english in zip(pairs["test"].german, pairs["test"].english, strict=True):
        assert german[-1] in ".?!" and "{" not in german and "[" not in english
        assert ding.WORDS[0] <= ding._words(german) <= ding.WORDS[1]
        assert ding.WORDS[0] <= ding._words(english) <= ding.WORDS[1]
    assert ding.tokens("Bellende Hunde beißen nicht.") == [
        "bellende",
        "hunde",
        "beißen",
        "nicht",
        ".",
    ]


def test_the_dictionary_baseline_picks_the_common_sense_and_copies_the_unknown() -> None:
    table = ding.word_dictionary(ding.sentence_pairs("train"))
    assert "ego" in ding.word_candidates()["ich"]  # Ding's first entry for "Ich" is the noun
    assert table["ich"] == "i" and table["hunde"] == "dogs"
    assert ding.translate_word_by_word("Hunde bellen, Xyzzy!", table)[-3:] == [",", "xyzzy", "!"]


def test_both_trainers_run_a_tiny_spec_and_report_what_the_chapter_reads() -> None:
    from experiments.seq2seq import date_training, translation

    result = date_training.train({"seed": 0, "steps": 2, "test": 3, "pool": 20, "hidden": 8})
    assert len(result["greedy"]) == len(result["beam"]) == 3 * len(date_training.DEFAULTS["dates"])
    assert result["heatmaps"] and len(result["losses"]) == 2
    weights = torch.tensor(result["heatmaps"][0]["weights"])
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[0]), atol=1e-5)
    tiny = {"seed": 0, "steps": 2, "hidden": 8, "embed": 8, "batch": 4, "max_len": 3}
    result = translation.train(tiny)
    assert 0.0 <= result["bleu"] <= 1.0 and len(result["beam_hypotheses"]) == len(
        ding.sentence_pairs("test")
    )
