"""The tasks of Chapter 4, each a seeded data source with its own loss, score and success test.

Every task reads time-major inputs ``(T, B, D)`` (the course's notation) and gets the model's
per-step outputs ``(T, B, O)``. ``make_task(name, **args)`` builds one from a run specification.

Every task has three sets: training batches, a **validation** set (what learning rates, checkpoints
and early stopping are chosen on) and a **test** set (read once, by the chosen checkpoint, for the
reported score). Datasets (digits, sunspots) split their examples: the three sets are disjoint, and
the sunspot split is by time. Generated tasks (adding, delayed recall) draw validation and test sets
from the generator with two fixed seeds of their own, and training batches from the run's seed. For
aⁿbⁿ, the validation set is the training strings themselves: the test asks how far beyond them the
model generalises, which neither selection nor stopping may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from course_checks.adding import adding_from_draws


@dataclass(frozen=True)
class Batch:
    """Inputs ``x (T, B, D)``, targets ``y`` (task-specific) and an optional mask ``(T, B)``."""

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor | None = None


class Task:
    """A task: input and output sizes, batches, a loss to train on and a score to report."""

    input_size: int
    output_size: int
    higher_is_better: bool = True

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        raise NotImplementedError

    def validation_batch(self) -> Batch:
        """The set that learning rates, checkpoints and early stopping are chosen on."""
        raise NotImplementedError

    def test_batch(self) -> Batch:
        """The set the reported score is measured on, once, with the chosen checkpoint."""
        raise NotImplementedError

    def train_eval_batch(self) -> Batch | None:
        """The whole training set, for a train score beside the test score (datasets only)."""
        return None

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        raise NotImplementedError

    def solved(self, score: float) -> bool:
        """Whether a score counts as success (tasks without a threshold never stop early)."""
        return False

    def stop(self, score: float) -> bool:
        """Whether training may stop at this validation score: solved, with a margin where the
        test score of the stopped model could otherwise fall on the wrong side of the threshold."""
        return self.solved(score)

    def details(self, outputs: torch.Tensor, batch: Batch) -> dict:
        """Extra facts about the final model's test outputs, kept with the result (JSON)."""
        return {}


class Adding(Task):
    """The adding problem in the form of Arjovsky et al. (2016): sum the two marked numbers.

    Hochreiter & Schmidhuber (1997) introduced the task with numbers in [-1, 1], the first marker
    among the first ten steps and a rescaled target; this variant, with numbers drawn uniformly
    from [0, 1) (numpy's ``uniform(0, 1)``) as popularised by Le et al. (2015) and one marker in
    each half of the sequence as in Arjovsky et al. (2016), is the one used in Chapters 2 and 4.
    Channel 0 holds the numbers, channel 1 the two markers; the target, read at the last step, is
    the sum of the two marked numbers. Predicting the mean (1) scores MSE 1/6, the baseline; the
    score reported is the MSE divided by that baseline (1 = learned nothing), and success is
    R² ≥ 0.9 (a ratio of at most 0.1).
    """

    input_size, output_size, higher_is_better = 2, 1, False
    BASELINE_MSE = 1 / 6
    TEST_SEED, VALIDATION_SEED = 10_000, 30_000  # plus the length

    def __init__(self, length: int, test_size: int = 1000, validation_size: int = 500) -> None:
        self.length = length
        self._test = self._sample(np.random.default_rng(self.TEST_SEED + length), test_size)
        self._validation = self._sample(
            np.random.default_rng(self.VALIDATION_SEED + length), validation_size
        )

    def _sample(self, rng: np.random.Generator, size: int) -> Batch:
        T, half = self.length, self.length // 2
        values = rng.uniform(0.0, 1.0, size=(T, size))
        first = rng.integers(0, half, size=size)
        second = rng.integers(half, T, size=size)
        x, y = adding_from_draws(*(torch.from_numpy(a) for a in (values, first, second)))
        return Batch(x.float(), y.float())

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        return self._sample(rng, size)

    def validation_batch(self) -> Batch:
        return self._validation

    def test_batch(self) -> Batch:
        return self._test

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.mse_loss(outputs[-1, :, 0], batch.y)

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        return float(self.loss(outputs, batch)) / self.BASELINE_MSE

    def solved(self, score: float) -> bool:
        return score <= 0.1

    def stop(self, score: float) -> bool:
        return score <= 0.05  # half the threshold: R² ≥ 0.95 on validation


class DelayedRecall(Task):
    """Copy a short sequence after a delay (the copy task of Hochreiter & Schmidhuber 1997, small).

    The first ``symbols`` steps show symbols from an alphabet of ``alphabet``; then blanks; the
    last ``symbols`` steps carry a "recall" marker, and at each of them the model must output the
    symbols in order. ``length`` is the whole sequence. The score is the fraction of sequences
    recalled entirely (chance: ``alphabet ** -symbols``); success is at least 0.9. At a given length
    there are only ``alphabet ** symbols`` distinct sequences (64 by default), so training,
    validation and test sets all contain every one of them: they are independent draws, and the
    score measures the learned function on the whole input space.
    """

    output_size: int
    TEST_SEED, VALIDATION_SEED = 20_000, 40_000  # plus the length

    def __init__(
        self,
        length: int,
        symbols: int = 3,
        alphabet: int = 4,
        test_size: int = 1000,
        validation_size: int = 500,
    ) -> None:
        assert length >= 2 * symbols + 1, "the delay must be at least one step"
        self.length, self.symbols, self.alphabet = length, symbols, alphabet
        self.input_size = alphabet + 1  # one-hot symbols, plus the recall marker
        self.output_size = alphabet
        self._test = self._sample(np.random.default_rng(self.TEST_SEED + length), test_size)
        self._validation = self._sample(
            np.random.default_rng(self.VALIDATION_SEED + length), validation_size
        )

    def _sample(self, rng: np.random.Generator, size: int) -> Batch:
        T, K, A = self.length, self.symbols, self.alphabet
        pattern = rng.integers(0, A, size=(K, size))
        x = np.zeros((T, size, A + 1))
        for k in range(K):
            x[k, np.arange(size), pattern[k]] = 1.0
        x[T - K :, :, A] = 1.0
        return Batch(torch.from_numpy(x).float(), torch.from_numpy(pattern).long())

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        return self._sample(rng, size)

    def validation_batch(self) -> Batch:
        return self._validation

    def test_batch(self) -> Batch:
        return self._test

    def _recall(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[self.length - self.symbols :]  # (K, B, A)

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        logits = self._recall(outputs)
        return F.cross_entropy(logits.reshape(-1, self.alphabet), batch.y.reshape(-1))

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        correct = (self._recall(outputs).argmax(-1) == batch.y).all(dim=0)
        return float(correct.float().mean())

    def solved(self, score: float) -> bool:
        return score >= 0.9

    def stop(self, score: float) -> bool:
        return score >= 0.95


class CountingAnBn(Task):
    """The counting language aⁿbⁿ (after Weiss, Goldberg & Yahav 2018), as next-symbol prediction.

    The model reads aⁿbⁿ one symbol at a time. Once the first b has been read, the next symbol is
    determined: another b while fewer b's than a's have been read, then the end of the string. The
    model predicts "end" or "b" at each of those n steps (the a-part is not scored: its next symbol
    is not determined). Training uses every n up to ``train_max``; the score is the largest N such
    that every string with n ≤ N is predicted correctly at every scored step, probed up to
    ``test_max``. So N ≥ ``train_max`` means the training lengths are learned (success), and N
    beyond it measures generalisation by counting. The validation set is the training strings:
    selection and stopping read only lengths up to ``train_max``, never the longer test strings.
    """

    input_size, output_size = 2, 1

    def __init__(self, train_max: int = 20, test_max: int = 120) -> None:
        self.train_max, self.test_max = train_max, test_max
        self._train = self._strings(range(1, train_max + 1))
        self._test = self._strings(range(1, test_max + 1))

    @staticmethod
    def _strings(ns: range) -> Batch:
        ns = list(ns)
        T = 2 * max(ns)
        x = np.zeros((T, len(ns), 2))
        y = np.zeros((T, len(ns)))
        mask = np.zeros((T, len(ns)))
        for column, n in enumerate(ns):
            x[:n, column, 0] = 1.0  # a
            x[n : 2 * n, column, 1] = 1.0  # b; after the string: zeros (never scored)
            mask[n : 2 * n, column] = 1.0  # after reading the k-th b (k = 1..n)
            y[2 * n - 1, column] = 1.0  # ... the string ends after the n-th b
        return Batch(
            torch.from_numpy(x).float(), torch.from_numpy(y).float(), torch.from_numpy(mask).bool()
        )

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        return self._train  # every training length, every step (the set is tiny)

    def validation_batch(self) -> Batch:
        return self._train  # scores at most train_max: the lengths beyond are the test's

    def test_batch(self) -> Batch:
        return self._test

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        logits = outputs[: batch.x.shape[0], :, 0]
        return F.binary_cross_entropy_with_logits(logits[batch.mask], batch.y[batch.mask])

    def correct_up_to(self, outputs: torch.Tensor, batch: Batch) -> int:
        """The largest N such that every string with n ≤ N is predicted right at every step."""
        wrong = ((outputs[:, :, 0] > 0).float() != batch.y) & batch.mask
        string_ok = ~wrong.any(dim=0)
        failed = (~string_ok).nonzero()
        return int(failed[0, 0]) if len(failed) else string_ok.numel()

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        return float(self.correct_up_to(outputs, batch))

    def solved(self, score: float) -> bool:
        """Every training length right (on the validation set, the training strings; on the test
        set, the same strings and possibly more)."""
        return score >= self.train_max


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, digits.target


class Digits(Task):
    """scikit-learn's 8×8 handwritten digits (1,797 images), read as a sequence.

    ``mode="rows"``: 8 steps of 8 pixels; ``mode="pixels"``: 64 steps of one pixel (a small
    cousin of sequential MNIST). The class is read at the last step. A fixed random split (seed
    0), the same for every run: 500 images to test, 300 to validate, the other 997 to train. The
    score is accuracy.
    """

    output_size = 10
    TEST_SIZE, VALIDATION_SIZE = 500, 300

    def __init__(self, mode: str = "rows") -> None:
        images, labels = _digits()
        order = np.random.default_rng(0).permutation(len(labels))
        test, validation = self.TEST_SIZE, self.TEST_SIZE + self.VALIDATION_SIZE
        # The indices into scikit-learn's array of each set, disjoint by construction.
        self.split = {"test": order[:test], "validation": order[test:validation],
                      "train": order[validation:]}  # fmt: skip
        images, labels = images[order], labels[order]
        if mode == "rows":
            sequences = images  # (N, 8, 8): step = row
        elif mode == "pixels":
            sequences = images.reshape(len(images), 64, 1)
        else:
            raise ValueError(f"mode must be 'rows' or 'pixels', not {mode!r}")
        self.input_size = sequences.shape[2]
        x = torch.from_numpy(sequences).float().transpose(0, 1)  # (T, N, D)
        y = torch.from_numpy(labels).long()
        self._train_x, self._train_y = x[:, validation:], y[validation:]
        self._validation = Batch(x[:, test:validation], y[test:validation])
        self._test = Batch(x[:, :test], y[:test])

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        index = torch.from_numpy(rng.integers(0, self._train_y.numel(), size=size))
        return Batch(self._train_x[:, index], self._train_y[index])

    def validation_batch(self) -> Batch:
        return self._validation

    def test_batch(self) -> Batch:
        return self._test

    def train_eval_batch(self) -> Batch:
        return Batch(self._train_x, self._train_y)

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(outputs[-1], batch.y)

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        return float((outputs[-1].argmax(-1) == batch.y).float().mean())


@cache
def sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly sunspot numbers 1700–2008, shipped with statsmodels: (years, values)."""
    from statsmodels.datasets import sunspots as dataset

    data = dataset.load_pandas().data
    return data["YEAR"].to_numpy(dtype=int), data["SUNACTIVITY"].to_numpy(dtype=float)


class Sunspots(Task):
    """One-year-ahead forecasts of the yearly sunspot number from the previous ``window`` years.

    Split by the year of the forecast target: train on the years before ``validation_year``,
    validate on ``validation_year`` to ``split_year - 1``, test on the years from ``split_year``
    on. (Input windows reach back before their target's set, as any forecast's would; no target
    is in two sets.) Values are scaled by the training targets' standard deviation; the score is
    the RMSE in sunspot numbers (lower is better), to compare with the naive forecasts of
    :func:`naive_rmse`.
    """

    input_size, output_size, higher_is_better = 1, 1, False

    def __init__(
        self, window: int = 22, split_year: int = 1959, validation_year: int = 1930
    ) -> None:
        assert validation_year < split_year
        years, values = sunspots()
        self.window = window
        targets = np.arange(window, len(values))
        target_years = years[targets]
        sets = {
            "train": target_years < validation_year,
            "validation": (target_years >= validation_year) & (target_years < split_year),
            "test": target_years >= split_year,
        }
        self.scale = float(values[targets[sets["train"]]].std())
        scaled = values / self.scale
        x = np.stack([scaled[t - window : t] for t in targets], axis=1)[..., None]  # (W, N, 1)
        x, y = torch.from_numpy(x).float(), torch.from_numpy(scaled[targets]).float()
        batches = {name: Batch(x[:, mask], y[mask]) for name, mask in sets.items()}
        self._train, self._validation, self._test = (
            batches["train"],
            batches["validation"],
            batches["test"],
        )
        self.train_years = target_years[sets["train"]]
        self.validation_years = target_years[sets["validation"]]
        self.test_years = target_years[sets["test"]]

    def train_batch(self, rng: np.random.Generator, size: int) -> Batch:
        index = torch.from_numpy(rng.integers(0, self._train.y.numel(), size=size))
        return Batch(self._train.x[:, index], self._train.y[index])

    def validation_batch(self) -> Batch:
        return self._validation

    def test_batch(self) -> Batch:
        return self._test

    def train_eval_batch(self) -> Batch:
        return self._train

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return F.mse_loss(outputs[-1, :, 0], batch.y)

    def score(self, outputs: torch.Tensor, batch: Batch) -> float:
        return float(self.loss(outputs, batch).sqrt()) * self.scale

    def details(self, outputs: torch.Tensor, batch: Batch) -> dict:
        return {"forecast": (outputs[-1, :, 0] * self.scale).tolist()}


def naive_rmse(lag: int, split_year: int = 1959, window: int = 22) -> float:
    """Test RMSE of the naive forecast ``y_t = y_{t-lag}`` on the years Sunspots tests on."""
    years, values = sunspots()
    targets = np.arange(window, len(values))
    targets = targets[years[targets] >= split_year]
    return float(np.sqrt(np.mean((values[targets] - values[targets - lag]) ** 2)))


TASKS: dict[str, type[Task]] = {
    "adding": Adding,
    "recall": DelayedRecall,
    "anbn": CountingAnBn,
    "digits": Digits,
    "sunspots": Sunspots,
}


def make_task(name: str, **args: object) -> Task:
    """The task ``name`` (a key of :data:`TASKS`) built with ``args``."""
    return TASKS[name](**args)
