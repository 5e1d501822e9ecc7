"""Chapter 7's signals to watch: real series that statsmodels and aeon ship, split by time.

Forecasting (:func:`load`): the yearly sunspot numbers (Chapter 4's series, with Chapter 4's
years for training, validation and test), the Mauna Loa CO2 record (weekly, resampled here to
monthly means) and the Niño 1+2 sea-surface temperature (monthly). Every series is split
chronologically: training, then validation, then test, and standardised with the training part's
mean and standard deviation only (:func:`standardise`).

Anomaly detection: series 135 of the UCR time-series anomaly archive (:func:`ucr_135`), read from
the aeon wheel with :mod:`zipfile`, and the Nile's annual flow (:func:`nile`), whose level drops
around 1898.
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

# The aeon wheel the course keeps (aeon itself is not installed: only its data are read).
AEON_WHEEL = Path(sys.prefix) / "share" / "gru-course" / "wheels" / "aeon-1.6.0-py3-none-any.whl"
UCR_FOLDER = "aeon/datasets/data/KDD-TSAD_135"
UCR_STEM = "135_UCR_Anomaly_InternalBleeding16"
# The archive's own name of this file: <id>_UCR_Anomaly_<name>_<train end>_<begin>_<end>.txt
# (Wu and Keogh 2021); aeon's copy drops the three numbers, so they are kept here to check against.
UCR_ARCHIVE_NAME = "135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt"


def data_files(aeon: bool = False) -> tuple[Path, ...]:
    """The files the series are read from and statsmodels' version file (and the aeon wheel, for
    the anomaly runs): what the runner's fingerprint of these runs must include. Found without
    importing statsmodels."""
    spec = importlib.util.find_spec("statsmodels")
    root = Path(spec.origin).parent if spec and spec.origin else Path("statsmodels-missing")
    names = ("sunspots", "co2", "elnino", "nile")
    files = (root / "_version.py", *(root / "datasets" / n / f"{n}.csv" for n in names))
    return (*files, AEON_WHEEL) if aeon else files


@dataclass(frozen=True)
class Series:
    """One forecasting series: its values, a label per time step, the seasonal period, the split
    (``train_end`` is the first validation index, ``val_end`` the first test index) and whether the
    networks model its first differences (a series with a trend)."""

    name: str
    title: str
    values: np.ndarray
    labels: tuple[str, ...]
    period: int
    train_end: int
    val_end: int
    window: int
    horizon: int
    differenced: bool
    trend: bool
    source: str
    copyright: str
    note: str = ""

    def __len__(self) -> int:
        return len(self.values)

    def split(self, part: str) -> np.ndarray:
        """The values of ``part``: "train", "validation" or "test"."""
        bounds = {"train": (0, self.train_end), "validation": (self.train_end, self.val_end),
                  "test": (self.val_end, len(self))}  # fmt: skip
        start, stop = bounds[part]
        return self.values[start:stop]


def _text(module: object, name: str) -> str:
    return " ".join(str(getattr(module, name)).split())


def sunspots() -> Series:
    """Yearly sunspot numbers 1700–2008 with Chapter 4's split: targets before 1930 train,
    1930–1958 validate, 1959–2008 test; the 11-year cycle as the seasonal period, a 22-year window
    (:class:`experiments.tasks.Sunspots`)."""
    from statsmodels.datasets import sunspots as dataset

    data = dataset.load_pandas().data
    years = data["YEAR"].to_numpy(dtype=int)
    return Series(
        name="sunspots",
        title="yearly sunspot number",
        values=data["SUNACTIVITY"].to_numpy(dtype=float),
        labels=tuple(str(y) for y in years),
        period=11,
        train_end=int(np.searchsorted(years, 1930)),
        val_end=int(np.searchsorted(years, 1959)),
        window=22,
        horizon=11,
        differenced=False,
        trend=False,
        source=_text(dataset, "SOURCE"),
        copyright=_text(dataset, "COPYRIGHT"),
    )


def co2() -> Series:
    """Mauna Loa CO2 (ppmv), weekly March 1958 – December 2001, as monthly means of the weekly
    values; the few months with no weekly value at all are filled by linear interpolation between
    their neighbours (the note says how many). Training to 1989, validation 1990–1995, test
    1996–2001."""
    from statsmodels.datasets import co2 as dataset

    weekly = dataset.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()
    empty = monthly.isna()
    monthly = monthly.interpolate("linear")
    labels = tuple(f"{t.year}-{t.month:02d}" for t in monthly.index)
    return Series(
        name="co2",
        title="Mauna Loa CO2 (ppmv), monthly mean",
        values=monthly.to_numpy(dtype=float),
        labels=labels,
        period=12,
        train_end=labels.index("1990-01"),
        val_end=labels.index("1996-01"),
        window=36,
        horizon=12,
        differenced=True,
        trend=True,
        source=_text(dataset, "SOURCE"),
        copyright=_text(dataset, "COPYRIGHT"),
        note=(
            f"{len(weekly)} weekly dates ({int(weekly.isna().sum())} without a value) averaged "
            f"into {len(monthly)} months; {int(empty.sum())} months without any weekly value "
            f"({', '.join(labels[i] for i in np.nonzero(empty.to_numpy())[0])}) interpolated"
        ),
    )


def elnino() -> Series:
    """Niño 1+2 sea-surface temperature (°C), monthly 1950–2010: training to 1990, validation
    1991–2000, test 2001–2010."""
    from statsmodels.datasets import elnino as dataset

    data = dataset.load_pandas().data
    years = data["YEAR"].to_numpy(dtype=int)
    values = data.iloc[:, 1:13].to_numpy(dtype=float).ravel()  # row-major: year, then month
    labels = tuple(f"{y}-{m:02d}" for y in years for m in range(1, 13))
    return Series(
        name="elnino",
        title="Niño 1+2 sea-surface temperature (°C)",
        values=values,
        labels=labels,
        period=12,
        train_end=labels.index("1991-01"),
        val_end=labels.index("2001-01"),
        window=36,
        horizon=12,
        differenced=False,
        trend=False,
        source=_text(dataset, "SOURCE"),
        copyright=_text(dataset, "COPYRIGHT"),
    )


LOADERS = {"sunspots": sunspots, "co2": co2, "elnino": elnino}
NAMES = tuple(LOADERS)


@cache
def load(name: str) -> Series:
    """The forecasting series ``name`` (one of :data:`NAMES`)."""
    return LOADERS[name]()


@dataclass(frozen=True)
class Standardised:
    """The series the networks read: ``u``, standardised levels or standardised first differences
    (``u[t]`` is then the change from ``t - 1`` to ``t``; ``u[0]`` is 0), with the training part's
    mean and standard deviation of whichever they model."""

    u: np.ndarray
    mean: float
    std: float
    differenced: bool


def standardise(values: np.ndarray, train_end: int, differenced: bool = False) -> Standardised:
    """Standardise ``values`` (or their first differences) with the statistics of the training
    part, ``values[:train_end]``, alone: nothing after it moves the mean or the scale."""
    if differenced:
        steps = np.diff(values)
        mean, std = steps[: train_end - 1].mean(), steps[: train_end - 1].std()
        u = np.concatenate([[0.0], (steps - mean) / std])
    else:
        mean, std = values[:train_end].mean(), values[:train_end].std()
        u = (values - mean) / std
    return Standardised(u, float(mean), float(std), differenced)


def targets(z: Standardised, origin: int, horizon: int) -> np.ndarray:
    """What a network forecasts from ``origin`` for the horizons 1..``horizon``, in its units:
    standardised levels, or (differenced) the standardised cumulative change
    ``sum_{k<=h} u[origin + k]``. Either way :func:`to_levels` turns it back, monotonically, into
    values, so that quantiles map to quantiles."""
    ahead = z.u[origin + 1 : origin + 1 + horizon]
    return np.cumsum(ahead) if z.differenced else ahead.copy()


def to_levels(z: Standardised, g: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Forecasts ``g`` (…, horizon[, …]) in network units back to values, given each origin's
    last known value ``last`` (used by differenced series only). Horizons are axis 1."""
    g = np.asarray(g, dtype=float)
    if not z.differenced:
        return z.mean + z.std * g
    h = np.arange(1, g.shape[1] + 1).reshape((1, -1) + (1,) * (g.ndim - 2))
    last = np.asarray(last, dtype=float).reshape((-1,) + (1,) * (g.ndim - 1))
    return last + h * z.mean + z.std * g


@dataclass(frozen=True)
class AnomalySeries:
    """A series for anomaly detection: values, point labels (1 inside the anomaly), the end of the
    anomaly-free training part, and the labelled region as a half-open range [begin, end)."""

    name: str
    values: np.ndarray
    labels: np.ndarray
    train_end: int
    begin: int
    end: int


def parse_ucr_name(name: str) -> tuple[int, int, int]:
    """(training end, anomaly begin, anomaly end) from an archive file name such as
    ``135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt``."""
    found = re.fullmatch(r"\d+_UCR_Anomaly_\w+?_(\d+)_(\d+)_(\d+)(?:\.txt)?", name)
    if found is None:
        raise ValueError(f"not a UCR anomaly archive file name: {name!r}")
    train_end, begin, end = (int(g) for g in found.groups())
    return train_end, begin, end


def _read_ucr_csv(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps, values, labels) of one of aeon's TimeEval-format CSV files: a header
    ``timestamp,value,is_anomaly`` and one row per sample."""
    text = io.StringIO(data.decode())
    header = text.readline().strip().split(",")
    if header != ["timestamp", "value", "is_anomaly"]:
        raise ValueError(f"unexpected columns {header}")
    rows = np.loadtxt(text, delimiter=",", dtype=float, ndmin=2)
    return rows[:, 0].astype(int), rows[:, 1], rows[:, 2].astype(int)


@cache
def ucr_135(wheel: Path = AEON_WHEEL) -> AnomalySeries:
    """UCR anomaly archive series 135 (InternalBleeding16) from the aeon wheel.

    aeon's TEST file is the whole series (its first rows repeat the TRAIN file, the anomaly-free
    training part); its labels mark the anomaly. The two files are checked against each other,
    and the training end and the labelled region against the archive's file name, whose
    "begin_end" numbers read as 0-based indices of a half-open range: aeon labels the 12 points
    4187–4198, [4187, 4199)."""
    with zipfile.ZipFile(wheel) as archive:
        train_csv, test_csv = (archive.read(f"{UCR_FOLDER}/{UCR_STEM}_{part}.csv")
                               for part in ("TRAIN", "TEST"))  # fmt: skip
    train_t, train_x, train_y = _read_ucr_csv(train_csv)
    t, x, y = _read_ucr_csv(test_csv)
    if not (np.array_equal(t, np.arange(len(t))) and np.array_equal(train_t, t[: len(train_t)])):
        raise ValueError("timestamps are not 0, 1, 2, …")
    if not np.array_equal(train_x, x[: len(train_x)]) or train_y.any():
        raise ValueError("the TRAIN file is not the anomaly-free start of the TEST file")
    flagged = np.nonzero(y)[0]
    begin, end = int(flagged[0]), int(flagged[-1]) + 1
    if len(flagged) != end - begin:
        raise ValueError("the labels are not one contiguous region")
    if (len(train_x), begin, end) != parse_ucr_name(UCR_ARCHIVE_NAME):
        raise ValueError(f"aeon's labels disagree with the archive's name {UCR_ARCHIVE_NAME}")
    return AnomalySeries(UCR_STEM, x, y, len(train_x), begin, end)


@dataclass(frozen=True)
class Nile:
    """The Nile's annual flow at Aswan, 1871–1970 (10⁸ m³), with statsmodels' source notes."""

    years: np.ndarray
    values: np.ndarray
    source: str
    copyright: str


@cache
def nile() -> Nile:
    """The Nile series statsmodels ships (Cobb 1978's data)."""
    from statsmodels.datasets import nile as dataset

    data = dataset.load_pandas().data
    return Nile(
        data["year"].to_numpy(dtype=int),
        data["volume"].to_numpy(dtype=float),
        _text(dataset, "SOURCE"),
        _text(dataset, "COPYRIGHT"),
    )
