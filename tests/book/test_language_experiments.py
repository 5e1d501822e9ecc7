"""Chapter 5's other runs: the truncation task, the labelled docstrings, the classifier and its
baseline, weights kept in results, and the chapter's protocol as the runner trains and reads it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from experiments import runner
from experiments.language import classification, corpora, docstrings, protocol, truncation, weights
from experiments.language import training as lm
from experiments.language.models import CharLM, Classifier
from tests.conftest import REPO


def test_weights_round_trip_exactly_and_rebuild_the_trained_model() -> None:
    torch.manual_seed(0)
    model = CharLM(len(corpora.ALPHABET), 8, 12)
    state = weights.unpack(weights.pack(model.state_dict()))
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    spec = {
        "corpus": "python_docs",
        "hidden": 12,
        "embed": 8,
        "steps": 3,
        "batch": 4,
        "bptt": 16,
        "eval_every": 3,
        "eval_chars": 2000,
        "seed": 1,
        "keep_weights": True,
    }
    result = lm.train(spec)
    rebuilt = lm.trained({**result, "spec": spec})
    ids = lm.texts(spec)["valid"]
    score = lm.bits_per_character(rebuilt, ids, lm.DEFAULTS["eval_streams"])
    assert score == pytest.approx(result["valid_bpc"], rel=1e-6)
    with pytest.raises(ValueError, match="keep_weights"):
        lm.trained({**{k: v for k, v in result.items() if k != "weights"}, "spec": spec})


def test_records_put_the_key_again_after_the_cue() -> None:
    ids = truncation.records(np.random.default_rng(0), 50, distance=5)
    rows = ids.reshape(50, 8)
    keys, cue = set(range(len(truncation.KEYS))), truncation.ALPHABET.index(truncation.CUE)
    assert set(rows[:, 0]) <= keys and np.array_equal(rows[:, 0], rows[:, -1])
    assert (rows[:, -2] == cue).all()
    assert set(rows[:, 1:6].ravel()) <= set(range(len(truncation.KEYS), cue))
    assert len(set(rows[:, 0])) > 1  # the keys vary


def test_a_dependency_is_learned_only_when_the_truncation_spans_it() -> None:
    small = {"distance": 4, "chars": 6000, "hidden": 16, "records": 500, "seed": 0}
    short = truncation.train({**small, "bptt": 5})  # a record needs bptt >= distance + 2 = 6
    long = truncation.train({**small, "bptt": 12})
    assert long["accuracy"] > 0.9
    assert short["accuracy"] < 0.5  # near chance (0.25): the key was never credited


def test_docstrings_are_split_by_definition_and_every_label_is_in_every_split() -> None:
    data = docstrings.load()
    seen: dict[str, str] = {}
    for split in corpora.SPLITS:
        assert len(data.texts[split]) == len(data.labels[split]) == len(data.units[split])
        assert set(np.unique(data.labels[split])) == set(range(len(data.classes))), split
        for unit in data.units[split]:
            assert seen.setdefault(unit, split) == split, f"{unit} in two splits"
        for text in data.texts[split]:
            assert docstrings.MIN_CHARS <= len(text) <= docstrings.MAX_CHARS
            assert set(text) <= set(corpora.ALPHABET) and "\n" not in text
    assert len(data.texts["train"]) > 5 * len(data.texts["test"]) > 0


def test_the_docstrings_are_the_same_in_another_process() -> None:
    code = (
        "import hashlib, json; from experiments.language import docstrings as d; D = d.load(); "
        "print(hashlib.sha256(json.dumps([D.texts, {k: v.tolist() for k, v in D.labels.items()}])"
        ".encode()).hexdigest())"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 64


def test_first_paragraphs_keep_the_top_level_name_of_nested_docstrings() -> None:
    source = '''
class Box:
    """A box that holds one thing, and says so."""

    def open(self):
        """Open the box and return what it holds.

        Details that are not the first paragraph.
        """

def tiny():
    """Short."""
'''
    assert docstrings.module_docstrings(source) == [
        ("Box", "A box that holds one thing, and says so."),
        ("Box", "Open the box and return what it holds."),
    ]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_predictions_do_not_depend_on_the_padding(bidirectional) -> None:
    torch.manual_seed(0)
    model = Classifier(len(corpora.ALPHABET) + 1, 3, 8, 12, bidirectional).eval()
    texts = ["short", "a somewhat longer text", "mid length"]
    x, lengths = classification.pad(classification.encode(texts))
    assert x.shape == (22, 3) and lengths.tolist() == [5, 22, 10]
    assert (x[5:, 0] == classification.PAD).all()
    padded = torch.cat([x, torch.full((9, 3), classification.PAD)])
    with torch.no_grad():
        assert torch.allclose(model(x, lengths), model(padded, lengths), atol=1e-6)
        alone = torch.cat([model(*classification.pad(classification.encode([t]))) for t in texts])
        assert torch.allclose(model(x, lengths), alone, atol=1e-6)
        # the bug the chapter shows: read unpacked, the output moves with the padding
        assert not torch.allclose(
            model(x, lengths, packed=False), model(padded, lengths, packed=False)
        )


def test_batches_cover_every_example_once_with_similar_lengths() -> None:
    lengths = np.random.default_rng(0).integers(5, 200, size=1000)
    batches = classification.batches(lengths, 32, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert np.array_equal(np.sort(flat), np.arange(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.ptp(lengths)


def test_the_baseline_chooses_on_validation_and_scores_the_test_set_once() -> None:
    result = classification.train({"model": "tfidf", "seed": 0})
    data = docstrings.load()
    assert (
        result["features"] in classification.TFIDF_FEATURES
        and result["C"] in classification.TFIDF_C
    )
    predicted = np.array(result["test_predictions"])
    assert result["test_accuracy"] == pytest.approx(np.mean(predicted == data.labels["test"]))
    majority = np.mean(data.labels["test"] == np.bincount(data.labels["train"]).argmax())
    assert result["test_accuracy"] > majority + 0.2  # a working baseline, not a constant


def test_a_short_classifier_run_is_the_same_twice_and_keeps_its_best_epoch() -> None:
    spec = {"model": "gru", "hidden": 8, "embed": 8, "epochs": 2, "seed": 0, "keep_weights": True}
    first, second = classification.train(spec), classification.train(spec)
    assert first["test_predictions"] == second["test_predictions"]
    assert first["valid_accuracy"] == max(accuracy for _, accuracy in first["history"])
    model = classification.trained({**first, "spec": spec})
    data = docstrings.load()
    assert classification.predict(model, data.texts["test"]).tolist() == first["test_predictions"]


def test_every_run_of_the_protocol_has_a_trainer_and_a_key_of_its_own() -> None:
    specs = protocol.language_stage([])
    assert {runner._kind(spec) for spec in specs} == {
        "language",
        "ngram",
        "classification",
        "truncation",
    }
    keys = [runner.cache_key(spec) for spec in specs]
    assert len(set(keys)) == len(keys)  # no two runs of the chapter collapse into one
    groups = {spec["stage"] for spec in specs}
    assert groups == set(protocol.GROUPS)
    assert "language" in runner.PROTOCOLS


def test_each_optimiser_gets_its_best_rate_on_validation() -> None:
    results = [
        {
            "spec": {"stage": "optimizers", "label": name, "lr": lr},
            "valid_bpc": score,
            "test_bpc": 0,
        }
        for name, lr, score in [
            ("A", 0.1, 3.0),
            ("A", 0.3, 2.0),
            ("A", 1.0, 2.5),
            ("B", 0.1, 2.0),
            ("B", 0.3, 2.0),
        ]
    ]
    chosen = protocol.chosen_optimizers(results)
    assert chosen["A"]["spec"]["lr"] == 0.3
    assert chosen["B"]["spec"]["lr"] == 0.1  # a tie goes to the smaller rate


def test_the_chapter_reads_only_from_the_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRU_EXPERIMENT_CACHE", str(tmp_path))
    with pytest.raises(runner.MissingResults, match="python -m experiments"):
        runner.load_protocol("language")
