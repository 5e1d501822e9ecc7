"""Chapter 7's forecasting and anomaly detection: the series and their splits, the baselines, the
GRU forecasters' losses and multi-step forecasts, the anomaly scores and how they are judged,
each checked against a hand-worked example, pandas, statsmodels, scikit-learn or PyTorch."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm
from sklearn.metrics import average_precision_score, precision_recall_curve

from experiments.signals import anomaly, forecast_baselines, forecasting, series
from experiments.signals.forecast_baselines import by_horizon, naive, seasonal_naive
from experiments.signals.forecasting import Forecaster, direct, pinball_loss, recursive

# --- the series ----------------------------------------------------------------------------------


def test_sunspots_keep_chapter_4s_split_and_baselines():
    """The same years train, validate and test as Chapter 4's Sunspots task, and the seasonal
    naive and AutoReg one-step forecasts score what Chapter 4 reports for them."""
    from experiments.tasks import Sunspots, naive_rmse

    spots, task = series.load("sunspots"), Sunspots()
    years = np.array([int(y) for y in spots.labels])
    assert years[spots.train_end] == task.validation_years[0] == 1930
    assert np.array_equal(years[spots.val_end :], task.test_years)
    assert spots.window == task.window
    origins = forecast_baselines.test_origins(spots)
    guess = seasonal_naive(spots.values, origins, spots.horizon, spots.period)
    rmse = forecast_baselines.scores(guess, origins, spots)["rmse"]
    assert rmse[0] == pytest.approx(naive_rmse(11), rel=1e-12)
    lags, _ = forecast_baselines.choose_autoreg(spots)
    assert lags == 9  # Chapter 4's order, chosen by the same rule on the same years


def test_co2_is_the_monthly_mean_of_the_weekly_values():
    """Each month is the mean of its weekly values (checked for two months by hand-picked
    dates); the months without a value are the ones the note names, interpolated."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    data = series.load("co2")
    march_1990 = weekly["1990-03-01":"1990-03-31"].dropna()
    assert data.values[data.labels.index("1990-03")] == pytest.approx(march_1990.mean())
    assert "5 months without any weekly value" in data.note and "1964-03" in data.note
    gap = data.labels.index("1964-03")
    assert data.values[gap] == pytest.approx(np.mean(data.values[[gap - 1, gap + 1]]))
    assert not np.isnan(data.values).any()
    assert data.labels[data.val_end] == "1996-01" and data.labels[-1] == "2001-12"


def test_elnino_reads_month_by_month():
    from statsmodels.datasets import elnino

    table = elnino.load_pandas().data
    data = series.load("elnino")
    assert data.values[data.labels.index("1997-12")] == table.loc[table.YEAR == 1997, "DEC"].item()
    assert len(data) == 12 * len(table)


def test_standardisation_uses_the_training_part_only():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, 100).cumsum()
    for differenced in (False, True):
        z = series.standardise(values, 60, differenced)
        changed = values.copy()
        changed[60:] += rng.normal(0, 50, 40)  # a different future
        again = series.standardise(changed, 60, differenced)
        assert (z.mean, z.std) == (again.mean, again.std)
        assert np.array_equal(z.u[:60], again.u[:60])
        fitted = z.u[1:60] if differenced else z.u[:60]
        assert fitted.mean() == pytest.approx(0, abs=1e-12)
        assert fitted.std() == pytest.approx(1, rel=1e-12)


@pytest.mark.parametrize("differenced", [False, True])
def test_network_targets_turn_back_into_the_values(differenced):
    values = np.array([3.0, 5.0, 4.0, 8.0, 9.0, 7.0, 12.0])
    z = series.standardise(values, 5, differenced)
    origins = np.array([1, 2, 3])
    g = np.stack([series.targets(z, o, 3) for o in origins])
    back = series.to_levels(z, g, values[origins])
    assert np.allclose(back, np.stack([values[o + 1 : o + 4] for o in origins]))


def test_ucr_files_give_the_region_the_archive_name_states():
    """aeon's CSV files read independently with pandas: the series, the training end (the TRAIN
    file's length) and the labelled points are those of the archive's name, 1200_4187_4199."""
    data = series.ucr_135()
    assert series.parse_ucr_name(series.UCR_ARCHIVE_NAME) == (1200, 4187, 4199)
    assert (data.train_end, data.begin, data.end) == (1200, 4187, 4199)
    with zipfile.ZipFile(series.AEON_WHEEL) as wheel:
        test = pd.read_csv(
            io.BytesIO(wheel.read(f"{series.UCR_FOLDER}/{series.UCR_STEM}_TEST.csv"))
        )
        train = pd.read_csv(
            io.BytesIO(wheel.read(f"{series.UCR_FOLDER}/{series.UCR_STEM}_TRAIN.csv"))
        )
    assert np.array_equal(data.values, test["value"].to_numpy())
    assert len(train) == data.train_end and len(test) == 7501
    assert np.array_equal(np.nonzero(test["is_anomaly"].to_numpy())[0], np.arange(4187, 4199))


def test_ucr_names_parse_and_junk_does_not():
    name = "001_UCR_Anomaly_DISTORTED1sddb40_35000_52000_52620.txt"
    assert series.parse_ucr_name(name) == (35000, 52000, 52620)
    with pytest.raises(ValueError, match="not a UCR"):
        series.parse_ucr_name("135_UCR_Anomaly_InternalBleeding16_TEST.csv")


# --- baselines and scores ------------------------------------------------------------------------


def test_naive_and_seasonal_naive_by_hand():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    origins = np.array([3, 4, 5])
    assert np.array_equal(naive(y, origins, 3), [[4, 4, 4], [5, 5, 5], [6, 6, np.nan]],
                          equal_nan=True)  # fmt: skip
    # period 2: h = 1, 2 look one period back, h = 3 two periods back (the latest known); the
    # target of origin 5 at h = 3 (index 8) is past the end
    expected = [[3, 4, 3], [4, 5, 4], [5, 6, np.nan]]
    assert np.array_equal(seasonal_naive(y, origins, 3, 2), expected, equal_nan=True)


def test_by_horizon_takes_every_test_target_once():
    y = np.arange(10.0)
    origins = np.arange(4, 9)
    forecast = origins[:, None] + np.array([[1.0, 2.0]])  # a perfect forecast
    guess, truth = by_horizon(forecast, origins, y, start=6, h=2)
    assert np.array_equal(truth, [6, 7, 8, 9]) and np.array_equal(guess, truth)


def test_mase_scale_and_interval_scores_by_hand():
    data = series.Series("toy", "toy", np.array([1.0, 3, 2, 6, 3, 5, 4, 4]), tuple("abcdefgh"),
                         period=2, train_end=4, val_end=6, window=2, horizon=1,
                         differenced=False, trend=False, source="", copyright="")  # fmt: skip
    # training part 1, 3, 2, 6: |2 - 1| and |6 - 3|
    assert forecast_baselines.mase_scale(data) == pytest.approx(2.0)
    origins = np.array([5, 6])
    lower, upper = np.array([[3.0], [4.5]]), np.array([[5.0], [6.0]])
    out = forecast_baselines.interval_scores(lower, upper, origins, data)
    assert out == {"coverage": [0.5], "width": [1.75]}  # 4 inside [3, 5], 4 below [4.5, 6]


def test_autoreg_intervals_are_gaussian_forecast_intervals():
    """statsmodels' AutoReg forecasts from an origin, worked by hand: the recursion on the
    training fit's coefficients, and the interval ±z·σ·sqrt(Σψ²), ψ the model's moving-average
    weights and σ² the mean squared one-step residual of the known history up to the origin."""
    from statsmodels.tsa.ar_model import AutoReg

    spots = series.load("sunspots")
    y, lags, origin, horizon = spots.values, 3, spots.val_end - 1, 5
    mean, lower, upper = forecast_baselines.autoreg_forecasts(
        spots, lags, np.array([origin])
    )  # the horizon of the series (11), first 5 checked
    fit = AutoReg(y[: spots.train_end], lags=lags, trend="c").fit()
    c, phi = fit.params[0], fit.params[1:]
    path = list(y[: origin + 1])
    for _ in range(horizon):
        path.append(c + phi @ np.array(path[-1 : -lags - 1 : -1]))
    assert np.allclose(mean[0, :horizon], path[origin + 1 :], rtol=1e-10)
    psi = [1.0]
    for j in range(1, horizon):
        psi.append(sum(phi[i] * psi[j - 1 - i] for i in range(min(lags, j))))
    residuals = [y[t] - c - phi @ y[t - lags : t][::-1] for t in range(lags, origin + 1)]
    sigma2 = np.mean(np.square(residuals))
    half = norm.ppf(0.95) * np.sqrt(sigma2 * np.cumsum(np.square(psi)))
    assert np.allclose(upper[0, :horizon] - mean[0, :horizon], half, rtol=1e-8)
    assert np.allclose(mean[0, :horizon] - lower[0, :horizon], half, rtol=1e-8)


def test_ets_filters_a_prefix_as_it_filters_the_whole_series():
    """Fixed parameters: the one-step forecasts of a prefix equal those of the whole series up to
    its end (filtering uses the past only), and ETS(A,N,N)'s are simple exponential smoothing
    worked by hand."""
    spots = series.load("sunspots")
    form = forecast_baselines.ets_forms(spots)[0]
    assert forecast_baselines.ets_name(form) == "ETS(A,N,N)"
    fit = forecast_baselines.fit_ets(spots, form)
    y = spots.values
    whole = np.asarray(forecast_baselines._ets(y, form).smooth(fit.params).fittedvalues)
    prefix = np.asarray(forecast_baselines._ets(y[:200], form).smooth(fit.params).fittedvalues)
    assert np.allclose(prefix, whole[:200], rtol=1e-12)
    alpha, level = fit.params.iloc[0], fit.params.iloc[1]
    hand = []
    for value in y[:200]:
        hand.append(level)
        level += alpha * (value - level)
    assert np.allclose(prefix, hand, rtol=1e-10)


# --- the GRU forecasters -------------------------------------------------------------------------


def test_pinball_loss_by_hand():
    prediction = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    # errors 1.5, 0.5, -0.5: 0.05·1.5, 0.5·0.5, (0.95 − 1)·(−0.5)
    expected = (0.075 + 0.25 + 0.025) / 3
    assert float(pinball_loss(prediction, target)) == pytest.approx(expected)


@pytest.mark.parametrize("tau", [0.05, 0.5, 0.95])
def test_pinball_loss_is_minimised_by_the_empirical_quantile(tau):
    """Over every constant forecast (the minimum is at a sample point), the pinball loss is
    lowest at the τ-quantile of the sample (numpy's inverse-CDF quantile)."""
    y = torch.from_numpy(np.random.default_rng(3).gamma(2.0, size=101))
    losses = [float(pinball_loss(q.expand(101, 1), y, (tau,))) for q in y]
    best = float(y[int(np.argmin(losses))])
    assert best == pytest.approx(np.quantile(y.numpy(), tau, method="inverted_cdf"))


@pytest.mark.parametrize("differenced", [False, True])
def test_recursive_and_direct_agree_on_horizon_one(differenced):
    torch.manual_seed(0)
    model = Forecaster(8, 1).eval()
    x = torch.randn(10, 4, 1)
    steps = recursive(model, x, 3, differenced)
    assert torch.allclose(steps[:, 0], direct(model, x)[:, 0])
    # the second step reads the window shifted by one, the first prediction appended
    with torch.no_grad():
        first = model(x)
        second = model(torch.cat([x[1:], first.T[..., None]]))[:, 0]
    expected = first[:, 0] + second if differenced else second
    assert torch.allclose(steps[:, 1], expected)


def test_windows_and_targets_line_up():
    values = np.arange(20.0)
    z = series.standardise(values, 12)
    x = forecasting.windows(z, np.array([5, 9]), 4)
    assert x.shape == (4, 2, 1)
    assert np.allclose(x[:, 1, 0].numpy() * z.std + z.mean, [6, 7, 8, 9])
    y = forecasting.target_matrix(z, np.array([5, 9]), 2).numpy()
    assert np.allclose(y * z.std + z.mean, [[6, 7], [10, 11]])


def test_training_origins_keep_targets_in_their_part():
    spots = series.load("co2")
    for kind in forecasting.KINDS:
        reach = 1 if kind == "onestep" else spots.horizon
        train, validation = forecasting.split_origins(spots, kind)
        assert train[0] - spots.window + 1 >= 1  # no placeholder u[0] of a differenced series
        assert train[-1] + reach == spots.train_end - 1
        assert validation[0] + 1 == spots.train_end and validation[-1] + reach == spots.val_end - 1


def test_a_forecasting_run_is_deterministic():
    spec = {"series": "sunspots", "model": "direct", "seed": 4, "epochs": 5}
    first, second = forecasting.train(spec), forecasting.train(spec)
    assert first["forecast"] == second["forecast"] and first["losses"] == second["losses"]
    assert len(first["forecast"]) == len(forecast_baselines.test_origins(series.load("sunspots")))


# --- anomaly scores and how they are judged ------------------------------------------------------


def test_rolling_zscore_matches_pandas_and_never_looks_ahead():
    x = np.random.default_rng(1).normal(size=300).cumsum()
    z = anomaly.rolling_zscore(x, 20)
    s = pd.Series(x)
    past = s.shift(1).rolling(20)
    expected = (s - past.mean()) / past.std(ddof=0)
    assert np.allclose(z[20:], expected[20:], rtol=1e-9) and np.isnan(z[:20]).all()
    changed = x.copy()
    changed[150:] = np.random.default_rng(5).normal(1e6, 1.0, 150)  # another future from t = 150
    assert np.array_equal(anomaly.rolling_zscore(changed, 20)[:150], z[:150], equal_nan=True)


def test_dominant_period_of_a_sine():
    t = np.arange(1000)
    assert anomaly.dominant_period(np.sin(2 * np.pi * t / 50) + 0.01 * np.cos(t)) == 50


def test_average_precision_equals_scikit_learns():
    """A crafted case with ties across labels, and a random one."""
    score = np.array([0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.2, 0.1, 0.1, 0.05])
    labels = np.array([1, 0, 1, 0, 1, 0, 0, 1, 0, 0])
    assert anomaly.average_precision(score, labels) == pytest.approx(
        average_precision_score(labels, score), rel=1e-12
    )
    # by hand: thresholds 0.9 (P 1, R 1/4), 0.8 (P 2/3, R 2/4), 0.7 (P 3/6, R 3/4), …, 0.1 (P 4/9)
    assert anomaly.average_precision(score, labels) == pytest.approx(
        (1 + 2 / 3 + 3 / 6 + 4 / 9) / 4
    )
    rng = np.random.default_rng(2)
    score, labels = rng.random(500).round(2), rng.random(500) < 0.1
    assert anomaly.average_precision(score, labels) == pytest.approx(
        average_precision_score(labels, score), rel=1e-12
    )
    curve = anomaly.precision_recall(score, labels)
    precision, recall, _ = precision_recall_curve(labels, score)
    assert np.allclose(curve["precision"][::-1], precision[:-1])
    assert np.allclose(curve["recall"][::-1], recall[:-1])


@pytest.mark.parametrize(
    ("where", "tolerance", "hit"),
    [(4187, 100, True), (4087, 100, True), (4086, 100, False), (4298, 100, True),
     (4299, 100, False), (4175, 0, True), (4174, 0, False), (4210, 0, True), (4211, 0, False)],
)  # fmt: skip
def test_ucr_convention(where, tolerance, hit):
    """Region [4187, 4199), 12 points: widened by 100 either side, or (tolerance 0) by its own
    length, 12."""
    score = np.zeros(7501)
    score[where] = 1.0
    assert anomaly.ucr_hit(score, 4187, 4199, tolerance)["hit"] is hit


def test_two_mean_split_and_cusum_by_hand():
    x = np.array([5.0, 6, 5, 6, 1, 2, 1])
    assert anomaly.two_mean_split(x) == 4
    alarm = anomaly.cusum_alarm(np.array([0.0, -1.0, -2.0, -3.0]), k=0.5, h=4.0)
    assert alarm["lower"] == [0.0, 0.5, 2.0, 4.5] and alarm["alarm"] == 3
    assert anomaly.cusum_alarm(np.zeros(5))["alarm"] is None


def test_the_nile_splits_where_the_literature_puts_its_change():
    """Least squares puts the break after 1898: the first segment's last year is the 28th, as
    strucchange's ``breakpoints(Nile ~ 1)`` reports and Cobb (1978) discusses."""
    data = series.nile()
    split = anomaly.two_mean_split(data.values)
    assert split == 28 and data.years[split - 1] == 1898
