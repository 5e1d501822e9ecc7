"""The experiment protocol of Chapter 6, in one stage of run specifications.

- **dates** (:data:`DATE_SEEDS`): the encoder–decoder with and without attention, identical
  otherwise, on sources of 1 to 3 dates, over several seeds (the chapter's error bars); each
  decodes the held-out formats greedily and with beam search;
- **translation**: the attention model on Ding's German–English sentences, and the word-by-word
  dictionary baseline.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]
Result = dict[str, Any]

DATE_SEEDS = (0, 1, 2)
DATE_RUNS: dict[str, Spec] = {
    "attention": {"attention": True},
    "no attention": {"attention": False},
}
TRANSLATION_SEED = 0
TRANSLATIONS: dict[str, Spec] = {
    "attention": {"model": "attention", "seed": TRANSLATION_SEED},
    "dictionary": {"model": "dictionary"},
}


def date_specs() -> list[Spec]:
    return [
        {"trainer": "dates", **extra, "seed": seed, "label": name}
        for name, extra in DATE_RUNS.items()
        for seed in DATE_SEEDS
    ]


def translation_specs() -> list[Spec]:
    return [
        {"trainer": "translation", **extra, "label": name} for name, extra in TRANSLATIONS.items()
    ]


GROUPS = {"dates": date_specs, "translation": translation_specs}


def seq2seq_stage(done: list[Result]) -> list[Spec]:
    """The chapter's one stage: every group's runs, each tagged with its group."""
    return [{**spec, "stage": group} for group, specs in GROUPS.items() for spec in specs()]


STAGES = (seq2seq_stage,)


def of_group(results: list[Result], group: str) -> list[Result]:
    """The results of one group of :data:`GROUPS`."""
    return [result for result in results if result["spec"].get("stage") == group]
