"""Chapter 7's speech runs: the GRU digit classifier and its baselines on isolated digits, and the
CTC recogniser on digit strings, all measured on voices that training never heard.

Features are standardised per mel band with the training frames' statistics. A network run
trains for a fixed number of epochs and keeps the epoch with the best validation score (the
validation voices are unseen too, but their accents are the training accents); the baselines
classify a digit from its frames' mean and standard deviation per band, their one setting chosen on
validation.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from experiments.signals import speech, vowels
from experiments.signals.speech_models import (
    CTCRecognizer,
    DigitClassifier,
    edit_distance,
    greedy_ctc,
    pad,
)

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "model": "gru",  # "gru", "logistic", "knn" (isolated digits) or "ctc" (digit strings)
    "data": "digits",  # or "vowels": the Japanese Vowels speakers (real recordings)
    "hidden": 64,
    "layers": 1,
    "bidirectional": True,
    # Each utterance's mean log-mel removed (cepstral mean normalisation): a voice's or a
    # channel's fixed colouring is a constant offset in the log domain.
    "utterance_mean": True,
    "epochs": 6,  # validation accuracy peaks within 3 to 5 epochs
    "batch": 32,
    "lr": 3e-3,
    "clip": 1.0,
}
CTC_DEFAULTS: Spec = {**DEFAULTS, "model": "ctc", "hidden": 64, "layers": 2, "epochs": 10}
BASELINE_GRID = {"logistic": [0.01, 0.1, 1.0, 10.0], "knn": [1, 3, 5, 9, 15]}


def describe(spec: Spec) -> str:
    """'digits: gru, H 64, seed 0' or 'digits: logistic baseline'."""
    spec = {**DEFAULTS, **spec}
    data = "strings" if spec["model"] == "ctc" else spec["data"]
    if spec["model"] in BASELINE_GRID:
        return f"{data}: {spec['model']} baseline"
    return f"{data}: {spec['model']}, H {spec['hidden']}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here (the data sets are prepared by the data stage)."""
    spec = {**(CTC_DEFAULTS if spec.get("model") == "ctc" else DEFAULTS), **spec}
    if spec["model"] in BASELINE_GRID:
        return 5.0
    if spec["data"] == "vowels" and spec["model"] != "ctc":
        return 0.08 * spec["epochs"]
    per_epoch = 4.5 if spec["model"] == "ctc" else 2.0
    return spec["epochs"] * per_epoch * (spec["hidden"] / 64) ** 2


def standardiser(train: speech.Split) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation of every training frame."""
    frames = np.concatenate(train.features)
    return frames.mean(0), frames.std(0) + 1e-6


def summary_features(split: speech.Split) -> np.ndarray:
    """(N, 2·n_mels): each utterance's per-band mean and standard deviation over its frames."""
    return np.stack([np.concatenate([f.mean(0), f.std(0)]) for f in split.features])


def _accuracy_by(split: speech.Split, correct: np.ndarray) -> dict[str, float]:
    """Accuracy per voice of the split."""
    voices = np.array(split.voices)
    return {v: float(correct[voices == v].mean()) for v in dict.fromkeys(split.voices)}


def _baseline(spec: Spec, data: dict[str, speech.Split]) -> dict[str, Any]:
    x = {name: summary_features(split) for name, split in data.items()}
    y = {name: np.array([label[0] for label in split.labels]) for name, split in data.items()}
    scores = {}
    for setting in BASELINE_GRID[spec["model"]]:
        model = _baseline_model(spec["model"], setting).fit(x["train"], y["train"])
        scores[setting] = float(model.score(x["validation"], y["validation"]))
    best = max(scores, key=lambda s: (scores[s], -BASELINE_GRID[spec["model"]].index(s)))
    model = _baseline_model(spec["model"], best).fit(x["train"], y["train"])
    predicted = model.predict(x["test"])
    return {
        "setting": best,
        "validation_by_setting": {str(k): v for k, v in scores.items()},
        "validation_accuracy": scores[best],
        "train_accuracy": float(model.score(x["train"], y["train"])),
        **_test_scores(data["test"], y["test"], predicted),
    }


def _baseline_model(kind: str, setting: float) -> Any:
    # scikit-learn is imported here, not at the top: the runner imports this module, and the
    # chapters import the runner.
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        classifier = LogisticRegression(C=setting, max_iter=2000)
    else:
        classifier = KNeighborsClassifier(n_neighbors=int(setting))
    return make_pipeline(StandardScaler(), classifier)


def _test_scores(test: speech.Split, truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    correct = predicted == truth
    classes = 1 + max(label[0] for label in test.labels)
    confusion = np.zeros((classes, classes), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    return {
        "test_accuracy": float(correct.mean()),
        "test_by_voice": _accuracy_by(test, correct),
        "confusion": confusion.tolist(),
    }


def _tensors(
    split: speech.Split, mean: np.ndarray, std: np.ndarray, utterance_mean: bool
) -> list[torch.Tensor]:
    """Standardised frames: minus each utterance's own mean (or the training mean), over the
    training standard deviation."""
    return [
        torch.from_numpy((f - (f.mean(0) if utterance_mean else mean)) / std).float()
        for f in split.features
    ]


def _batches(n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i : i + size] for i in range(0, n, size)]


def _predict_digits(model: DigitClassifier, xs: list[torch.Tensor]) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        out = [model(*pad(xs[i : i + 256])).argmax(-1) for i in range(0, len(xs), 256)]
    model.train()
    return torch.cat(out).numpy()


def _decode(model: CTCRecognizer, xs: list[torch.Tensor]) -> list[list[int]]:
    model.eval()
    decoded: list[list[int]] = []
    with torch.no_grad():
        for i in range(0, len(xs), 128):
            log_probs, lengths = model(*pad(xs[i : i + 128]))
            decoded += greedy_ctc(log_probs, lengths)
    model.train()
    return decoded


def digit_error_rate(decoded: list[list[int]], truth: list[list[int]]) -> float:
    """Edits (substitutions, insertions, deletions) per reference digit, over all strings."""
    edits = sum(edit_distance(d, t) for d, t in zip(decoded, truth, strict=True))
    return edits / sum(len(t) for t in truth)


def _network(spec: Spec, data: dict[str, speech.Split]) -> dict[str, Any]:
    torch.manual_seed(spec["seed"])
    rng = np.random.default_rng(spec["seed"])
    mean, std = standardiser(data["train"])
    xs = {name: _tensors(split, mean, std, spec["utterance_mean"]) for name, split in data.items()}
    ctc = spec["model"] == "ctc"
    n_in = xs["train"][0].shape[1]
    if ctc:
        model: torch.nn.Module = CTCRecognizer(n_in, spec["hidden"], spec["layers"])
        loss_fn = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    else:
        classes = 1 + max(label[0] for label in data["train"].labels)
        model = DigitClassifier(
            n_in, spec["hidden"], classes, spec["layers"], spec["bidirectional"]
        )
        loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    labels = data["train"].labels
    curve, best, best_state = [], None, None
    for epoch in range(spec["epochs"]):
        losses = []
        for index in _batches(len(xs["train"]), spec["batch"], rng):
            x, lengths = pad([xs["train"][i] for i in index])
            if ctc:
                log_probs, out_lengths = model(x, lengths)
                targets = torch.tensor([d + 1 for i in index for d in labels[i]])
                target_lengths = torch.tensor([len(labels[i]) for i in index])
                loss = loss_fn(log_probs, targets, out_lengths, target_lengths)
            else:
                loss = loss_fn(model(x, lengths), torch.tensor([labels[i][0] for i in index]))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
            optimizer.step()
            losses.append(loss.item())
        if ctc:
            score = -digit_error_rate(_decode(model, xs["validation"]), data["validation"].labels)
        else:
            truth = np.array([label[0] for label in data["validation"].labels])
            score = float((_predict_digits(model, xs["validation"]) == truth).mean())
        curve.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "validation": score})
        if best is None or score > best:
            best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    result: dict[str, Any] = {
        "curve": curve,
        "best_epoch": max(curve, key=lambda c: c["validation"])["epoch"],
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    test = data["test"]
    if ctc:
        decoded = _decode(model, xs["test"])
        result.update(
            test_der=digit_error_rate(decoded, test.labels),
            test_string_accuracy=float(
                np.mean([d == t for d, t in zip(decoded, test.labels, strict=True)])
            ),
            validation_der=-best,
            examples=[
                {"truth": t, "decoded": d, "voice": v}
                for d, t, v in list(zip(decoded, test.labels, test.voices, strict=True))[
                    :: len(test) // 12
                ]
            ],
        )
    else:
        truth = np.array([label[0] for label in test.labels])
        result.update(validation_accuracy=best,
                      **_test_scores(test, truth, _predict_digits(model, xs["test"])))  # fmt: skip
    return result


def train(spec: Spec) -> dict[str, Any]:
    """One run of the speech experiments: its test scores on unseen voices, and how it got there."""
    spec = {**(CTC_DEFAULTS if spec.get("model") == "ctc" else DEFAULTS), **spec}
    started, cpu = time.perf_counter(), time.process_time()
    if spec["model"] == "ctc":
        data = speech.load(speech.STRING_PLAN)
    else:
        data = vowels.load() if spec["data"] == "vowels" else speech.load(speech.DIGIT_PLAN)
    prepared = time.perf_counter() - started
    result = _baseline(spec, data) if spec["model"] in BASELINE_GRID else _network(spec, data)
    return {
        **result,
        "data_seconds": prepared,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }
