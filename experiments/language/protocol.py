"""The experiment protocol of Chapter 5, in one stage of run specifications.

Every constant of the chapter's training is here, so that the page can print them and a reader
can change them in one place:

- **language models** (:data:`MAIN`): the GRU language model on each corpus, its weights kept
  (the chapter samples from it and reads its units);
- **n-gram baselines** (:data:`NGRAM`): every smoothing and order, chosen on validation text;
- **optimisers** (:data:`OPTIMIZER_GRID`): SGD, SGD with momentum, RMSprop and Adam on one small
  model and budget, each at every rate of its grid; the chapter picks each one's rate on
  validation text and shows that run's learning curve and test score;
- **dropout** (:data:`DROPOUT`): one small training text, read many times, with and without each
  kind of dropout, the training text scored like the validation text at the end;
- **truncation** (:data:`TRUNCATION`): a dependency of fixed length learned with several
  truncation lengths;
- **classification** (:data:`CLASSIFIERS`): the docstring classifier over several seeds, and
  its TF-IDF + logistic-regression baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Spec = dict[str, Any]
Result = dict[str, Any]

CORPORA = ("python_source", "python_docs")
MAIN: Spec = {"hidden": 256, "embed": 32, "steps": 800, "eval_every": 200, "keep_weights": True}
MAIN_SEED = 0

NGRAM_ORDERS = tuple(range(1, 10))

OPTIMIZER_BASE: Spec = {
    "corpus": "python_docs",
    "hidden": 64,
    "embed": 16,
    "steps": 250,
    "eval_every": 25,
    "eval_chars": 40_000,
    "seed": 0,
}
OPTIMIZER_GRID: dict[str, tuple[Spec, tuple[float, ...]]] = {
    "SGD": ({"optimizer": "sgd"}, (1.0, 3.0, 10.0)),
    "SGD + momentum 0.9": ({"optimizer": "sgd", "momentum": 0.9}, (0.1, 0.3, 1.0)),
    "RMSprop": ({"optimizer": "rmsprop"}, (3e-3, 1e-2, 3e-2)),
    "Adam": ({"optimizer": "adam"}, (3e-3, 1e-2, 3e-2)),
}

DROPOUT_BASE: Spec = {
    "corpus": "python_docs",
    "train_chars": 20_000,
    "train_eval_chars": 20_000,
    "hidden": 128,
    "steps": 300,
    "eval_every": 50,
    "seed": 0,
}
DROPOUT_P = 0.3
DROPOUT: dict[str, Spec] = {
    "1 layer": {},
    f"1 layer, variational recurrent dropout {DROPOUT_P}": {"recurrent_dropout": DROPOUT_P},
    "2 layers": {"layers": 2},
    f"2 layers, nn.GRU dropout {DROPOUT_P}": {"layers": 2, "dropout": DROPOUT_P},
}

TRUNCATION_LENGTHS = (12, 16, 64)
TRUNCATION_SEED = 0

CLASSIFIER_SEEDS = (0, 1, 2, 3, 4)
# Both directions, and one (whose weights the chapter reads, to show the padding bug).
CLASSIFIERS: dict[str, Spec] = {
    "bigru": {"model": "bigru", "hidden": 48, "epochs": 6},
    "gru": {"model": "gru", "hidden": 48, "epochs": 6, "keep_weights": True},
}


def main_specs() -> list[Spec]:
    return [
        {"trainer": "language", "corpus": corpus, **MAIN, "seed": MAIN_SEED} for corpus in CORPORA
    ]


def ngram_specs() -> list[Spec]:
    orders = list(NGRAM_ORDERS)
    return [{"trainer": "ngram", "corpus": corpus, "orders": orders} for corpus in CORPORA]


def optimizer_specs() -> list[Spec]:
    return [
        {"trainer": "language", **OPTIMIZER_BASE, **extra, "lr": lr, "label": name}
        for name, (extra, rates) in OPTIMIZER_GRID.items()
        for lr in rates
    ]


def dropout_specs() -> list[Spec]:
    return [
        {"trainer": "language", **DROPOUT_BASE, **extra, "label": name}
        for name, extra in DROPOUT.items()
    ]


def truncation_specs() -> list[Spec]:
    return [
        {"trainer": "truncation", "bptt": bptt, "seed": TRUNCATION_SEED}
        for bptt in TRUNCATION_LENGTHS
    ]


def classifier_specs() -> list[Spec]:
    specs = [
        {"trainer": "classification", **extra, "seed": seed}
        for extra in CLASSIFIERS.values()
        for seed in CLASSIFIER_SEEDS
    ]
    specs.append({"trainer": "classification", "model": "tfidf", "seed": 0})
    return specs


GROUPS: dict[str, Callable[[], list[Spec]]] = {
    "main": main_specs,
    "ngram": ngram_specs,
    "optimizers": optimizer_specs,
    "dropout": dropout_specs,
    "truncation": truncation_specs,
    "classification": classifier_specs,
}


def language_stage(done: list[Result]) -> list[Spec]:
    """The chapter's one stage: every group's runs, each tagged with its group."""
    return [{**spec, "stage": group} for group, specs in GROUPS.items() for spec in specs()]


STAGES = (language_stage,)


def of_group(results: list[Result], group: str) -> list[Result]:
    """The results of one group of :data:`GROUPS`."""
    return [result for result in results if result["spec"].get("stage") == group]


def chosen_optimizers(results: list[Result]) -> dict[str, Result]:
    """Per optimiser, its run of lowest validation bits per character (ties: the smaller rate)."""
    chosen: dict[str, Result] = {}
    for result in sorted(of_group(results, "optimizers"), key=lambda r: r["spec"]["lr"]):
        name = result["spec"]["label"]
        if name not in chosen or result["valid_bpc"] < chosen[name]["valid_bpc"]:
            chosen[name] = result
    return chosen
