"""One run of Chapter 5's docstring classifier, or of its linear baseline, from a specification.

``"model": "gru"`` or ``"bigru"``: :class:`~experiments.language.models.Classifier` on the
characters of each docstring (:mod:`experiments.language.docstrings`), trained with Adam on
batches of similar lengths (less padding to read), the epoch with the best validation accuracy
kept and scored once on the test set. ``"model": "tfidf"``: TF-IDF features and a logistic
regression (scikit-learn), its features (words, or character n-grams within words) and its
regularisation chosen on the same validation set: the honest non-neural baseline.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from experiments.language import corpora, docstrings, weights
from experiments.language.models import Classifier

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "model": "bigru",
    "embed": 32,
    "hidden": 64,
    "lr": 1e-2,
    "batch": 32,
    "epochs": 8,
    "keep_weights": False,
}
# The baseline's grid, searched on validation accuracy.
TFIDF_FEATURES = {
    "words": {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True},
    "characters": {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True},
}
TFIDF_C = (1.0, 10.0, 100.0)
# Character ids: 0 is padding, 1 + the corpus alphabet's index otherwise.
PAD = 0


def encode(texts: list[str]) -> list[np.ndarray]:
    """Each text as ids ``1 + index in corpora.ALPHABET`` (0 is padding)."""
    index = {c: i + 1 for i, c in enumerate(corpora.ALPHABET)}
    return [np.array([index[c] for c in text], dtype=np.int64) for text in texts]


def pad(sequences: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids ``(T, B)`` padded at the end with PAD, and the lengths ``(B,)``."""
    lengths = torch.tensor([len(s) for s in sequences])
    x = torch.full((int(lengths.max()), len(sequences)), PAD, dtype=torch.int64)
    for b, sequence in enumerate(sequences):
        x[: len(sequence), b] = torch.from_numpy(sequence)
    return x, lengths


def batches(lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches of similar lengths: a shuffle, then sorted by length within windows of 50
    batches (less padding to read), the batches themselves in shuffled order."""
    order = rng.permutation(len(lengths))
    window = 50 * size
    chunks = []
    for start in range(0, len(order), window):
        part = order[start : start + window]
        part = part[np.argsort(lengths[part], kind="stable")]
        chunks += [part[i : i + size] for i in range(0, len(part), size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def build(spec: Spec) -> Classifier:
    """The (untrained, seeded) classifier of a specification."""
    spec = {**DEFAULTS, **spec}
    torch.manual_seed(spec["seed"])
    return Classifier(
        len(corpora.ALPHABET) + 1,
        len(docstrings.CLASSES),
        spec["embed"],
        spec["hidden"],
        bidirectional=spec["model"] == "bigru",
    )


def trained(result: dict[str, Any]) -> Classifier:
    """The classifier of a result kept with ``keep_weights``, in evaluation mode."""
    model = build(result["spec"])
    model.load_state_dict(weights.unpack(result["weights"]))
    return model.eval()


@torch.no_grad()
def predict(model: Classifier, texts: list[str], size: int = 256) -> np.ndarray:
    """The predicted class of each text."""
    model.eval()
    ids = encode(texts)
    predictions = []
    for start in range(0, len(ids), size):
        x, lengths = pad(ids[start : start + size])
        predictions.append(model(x, lengths).argmax(-1).numpy())
    return np.concatenate(predictions)


def describe(spec: Spec) -> str:
    """'classifier bigru, H = 64, seed 1'."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "tfidf":
        return "classifier tfidf + logistic regression"
    return f"classifier {spec['model']}, H = {spec['hidden']}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "tfidf":
        return 5.0
    return spec["epochs"] * (2.0 if spec["model"] == "bigru" else 1.0)


def _train_tfidf(data: docstrings.Docstrings) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    best = None
    for name, options in TFIDF_FEATURES.items():
        vectorizer = TfidfVectorizer(**options)
        features = vectorizer.fit_transform(data.texts["train"])
        for C in TFIDF_C:
            model = LogisticRegression(C=C, max_iter=2000)
            model.fit(features, data.labels["train"])
            valid = model.score(vectorizer.transform(data.texts["valid"]), data.labels["valid"])
            if best is None or valid > best[0]:
                best = (valid, name, C, vectorizer, model)
    assert best is not None
    valid, name, C, vectorizer, model = best
    test = model.predict(vectorizer.transform(data.texts["test"]))
    return {
        "valid_accuracy": float(valid),
        "test_accuracy": float(np.mean(test == data.labels["test"])),
        "test_predictions": test.tolist(),
        "features": name,
        "C": C,
    }


def train(spec: Spec) -> dict[str, Any]:
    """Train; validation and test accuracy of the chosen epoch (or the baseline's choice), the
    test predictions, and the validation history."""
    spec = {**DEFAULTS, **spec}
    started = time.perf_counter()
    data = docstrings.load()
    if spec["model"] == "tfidf":
        return _train_tfidf(data) | {"seconds": time.perf_counter() - started}
    model = build(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    ids = encode(data.texts["train"])
    lengths = np.array([len(s) for s in ids])
    targets = torch.from_numpy(data.labels["train"])
    rng = np.random.default_rng(spec["seed"])
    history, best = [], None
    for epoch in range(1, spec["epochs"] + 1):
        model.train()
        for batch in batches(lengths, spec["batch"], rng):
            x, batch_lengths = pad([ids[i] for i in batch])
            loss = F.cross_entropy(model(x, batch_lengths), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        valid = float(np.mean(predict(model, data.texts["valid"]) == data.labels["valid"]))
        history.append([epoch, valid])
        if best is None or valid > best[0]:
            best = (valid, epoch, copy.deepcopy(model.state_dict()))
    assert best is not None
    model.load_state_dict(best[2])
    test = predict(model, data.texts["test"])
    kept = {"weights": weights.pack(model.state_dict())} if spec["keep_weights"] else {}
    return kept | {
        "valid_accuracy": best[0],
        "test_accuracy": float(np.mean(test == data.labels["test"])),
        "test_predictions": test.tolist(),
        "best_epoch": best[1],
        "history": history,
        "seconds": time.perf_counter() - started,
    }
