"""The experiment protocol of Chapter 7, in two stages.

1. **data**: the chorales parsed in two halves (in parallel), and the two speech data sets
   synthesised; each run stores arrays in the data cache (:mod:`.arrays`) and returns a summary.
2. **models**, by group:
   - **digits** (:data:`SPEECH_SEEDS`): the GRU classifier of isolated digits on unseen voices,
     and the logistic-regression and nearest-neighbour baselines on averaged features;
   - **strings**: the bidirectional GRU trained with CTC on digit strings;
   - **vowels**: the Japanese Vowels speakers (real recordings), GRU against the same baselines;
   - **music**: tanh RNN, GRU and LSTM at equal parameter counts on the chorales, over
     :data:`MUSIC_SEEDS`, and two baselines;
   - **forecast baselines** and **forecasting**: naive, seasonal naive, AutoReg and ETS against
     GRU forecasters (recursive, direct, quantile) on three statsmodels series;
   - **anomaly**: the GRU's forecast error against rolling z-scores on UCR series 135, and the
     Nile's change point.

Runs of every kind estimate their cost in one-thread seconds here, so that they can share stages.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]
Result = dict[str, Any]

SPEECH_SEEDS = (0, 1, 2)
MUSIC_SEEDS = (0, 1, 2)
CTC_SEED = 0
VOWEL_SETTINGS: Spec = {"data": "vowels", "hidden": 32, "epochs": 30, "utterance_mean": False}


def data_stage(done: list[Result]) -> list[Spec]:
    chorale_halves = [
        {"trainer": "chorales", "half": h, "label": f"half {h}", "stage": "chorale data"}
        for h in range(2)
    ]
    speech_data = [
        {"trainer": "speech data", "plan": plan, "label": plan, "stage": "speech data"}
        for plan in ("digits", "strings")
    ]
    return chorale_halves + speech_data


def digit_specs() -> list[Spec]:
    networks = [{"trainer": "speech", "model": "gru", "seed": s, "label": "gru"}
                for s in SPEECH_SEEDS]  # fmt: skip
    return networks + [{"trainer": "speech", "model": m, "label": m} for m in ("logistic", "knn")]


def string_specs() -> list[Spec]:
    return [{"trainer": "speech", "model": "ctc", "seed": CTC_SEED, "label": "ctc"}]


def vowel_specs() -> list[Spec]:
    networks = [{"trainer": "speech", "model": "gru", "seed": s, "label": "gru", **VOWEL_SETTINGS}
                for s in SPEECH_SEEDS]  # fmt: skip
    baselines = [{"trainer": "speech", "model": m, "label": m, "data": "vowels"}
                 for m in ("logistic", "knn")]  # fmt: skip
    return networks + baselines


def music_specs() -> list[Spec]:
    networks = [{"trainer": "music", "model": k, "seed": s, "label": k}
                for k in ("rnn", "gru", "lstm") for s in MUSIC_SEEDS]  # fmt: skip
    return networks + [{"trainer": "music", "model": b, "label": b}
                       for b in ("frequencies", "logistic")]  # fmt: skip


FORECAST_SERIES = ("sunspots", "co2", "elnino")
FORECAST_SEEDS = (0, 1, 2)
QUANTILE_SEEDS = (0, 1)
ANOMALY_SEEDS = (0, 1, 2)


def forecast_baseline_specs() -> list[Spec]:
    return [{"trainer": "forecast baselines", "series": name} for name in FORECAST_SERIES]


def forecasting_specs() -> list[Spec]:
    seeds = {"onestep": FORECAST_SEEDS, "direct": FORECAST_SEEDS, "quantile": QUANTILE_SEEDS}
    runs = [{"trainer": "forecast", "series": name, "model": kind, "seed": seed}
            for name in FORECAST_SERIES for kind, kind_seeds in seeds.items()
            for seed in kind_seeds]  # fmt: skip
    levels = {"trainer": "forecast", "series": "co2", "model": "onestep", "seed": 0, "levels": True}
    return [*runs, levels]


def anomaly_specs() -> list[Spec]:
    baselines = [{"trainer": "anomaly", "task": t, "model": "baselines"} for t in ("ucr", "nile")]
    networks = [{"trainer": "anomaly", "task": t, "model": "gru", "seed": s}
                for t in ("ucr", "nile") for s in ANOMALY_SEEDS]  # fmt: skip
    return baselines + networks


GROUPS = {"digits": digit_specs, "strings": string_specs, "vowels": vowel_specs,
          "music": music_specs, "forecast baselines": forecast_baseline_specs,
          "forecasting": forecasting_specs, "anomaly": anomaly_specs}  # fmt: skip


def model_stage(done: list[Result]) -> list[Spec]:
    return [{**spec, "stage": group} for group, specs in GROUPS.items() for spec in specs()]


STAGES = (data_stage, model_stage)


def of_group(results: list[Result], group: str) -> list[Result]:
    """The results of one group (a stage's ``"stage"`` tag)."""
    return [result for result in results if result["spec"].get("stage") == group]
