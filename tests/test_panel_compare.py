"""Tests of panel forecast differences over dates (volbook.panel.compare)."""

import numpy as np
import polars as pl
import pytest

from volbook.errors import DataError, ParameterError
from volbook.evaluate import diebold_mariano
from volbook.panel import score_forecasts
from volbook.panel.compare import compare_models


def _panel(n_dates=600, n_assets=15, seed=0):
    """A target with persistent level per date and three forecasts of known quality."""
    rng = np.random.default_rng(seed)
    level = np.exp(np.cumsum(rng.normal(0, 0.05, n_dates)) * 0.3) * 0.2
    y = level[:, None] * np.exp(rng.normal(0, 0.3, (n_dates, n_assets)))
    good = y * np.exp(rng.normal(0, 0.2, y.shape))
    bad = y * np.exp(rng.normal(0, 0.6, y.shape))
    twin = y * np.exp(rng.normal(0, 0.2, y.shape))
    dates = pl.date_range(pl.date(2000, 1, 1), pl.date(2000, 1, 1) + pl.duration(days=n_dates - 1), eager=True)
    return pl.DataFrame({
        "date": np.repeat(dates.to_numpy(), n_assets), "asset": np.tile(np.arange(n_assets), n_dates),
        "target": y.ravel(), "good": good.ravel(), "bad": bad.ravel(), "twin": twin.ravel(),
    })


@pytest.fixture(scope="module")
def frame():
    f = _panel()
    # a few missing forecasts: every model is scored on the common rows
    return f.with_columns(pl.when(pl.int_range(pl.len()) % 97 == 0).then(None).otherwise(pl.col("bad")).alias("bad"))


def test_differences_are_the_pooled_scores_and_dm_on_daily_losses(frame):
    out = compare_models(frame, [("good", "bad"), ("twin", "good")], horizon=5, reps=200)
    scores = {r["model"]: r for r in score_forecasts(frame, ["good", "bad", "twin"]).iter_rows(named=True)}
    row = out.row(0, named=True)
    assert row["corr_diff"] == pytest.approx(scores["good"]["corr"] - scores["bad"]["corr"], rel=1e-9)
    assert row["rmse_diff"] == pytest.approx(scores["good"]["rmse"] - scores["bad"]["rmse"], rel=1e-9)
    # DM on each date's mean squared error over the rows where every compared model has a forecast
    d = (frame.drop_nulls().group_by("date")
         .agg(*[((pl.col(m) - pl.col("target")) ** 2).mean().alias(m) for m in ("good", "bad")]).sort("date"))
    dm = diebold_mariano(d["good"], d["bad"], h=5)
    assert row["dm_stat"] == pytest.approx(dm.stat, rel=1e-9) and row["dm_pvalue"] == pytest.approx(dm.pvalue, rel=1e-9)
    assert row["dates"] == d.height


def test_a_real_gap_is_significant(frame):
    real = compare_models(frame, [("good", "bad")], horizon=5, reps=300).row(0, named=True)
    assert real["corr_diff"] > 0 and real["corr_pvalue"] < 0.01 and real["rmse_pvalue"] < 0.01
    assert real["dm_stat"] < 0 and real["dm_pvalue"] < 0.01


def test_size_under_the_null():
    """Two forecasts of equal quality: each p-value falls below 10% about 10% of the time
    (measured: 8%, 13% and 12% for correlation, RMSE and DM over 60 seeds)."""
    pvalues = np.array([
        compare_models(_panel(n_dates=300, n_assets=8, seed=s), [("twin", "good")], horizon=3, reps=200)
        .select("corr_pvalue", "rmse_pvalue", "dm_pvalue").row(0)
        for s in range(40)
    ])
    rejected = (pvalues < 0.10).mean(axis=0)
    assert np.all(rejected <= 0.25) and np.all(rejected > 0.0)


def test_same_seed_same_p_values(frame):
    a = compare_models(frame, [("good", "bad")], horizon=5, reps=100, seed=1)
    assert a.equals(compare_models(frame, [("good", "bad")], horizon=5, reps=100, seed=1))


def test_bad_requests_are_refused(frame):
    with pytest.raises(ParameterError, match="no pairs"):
        compare_models(frame, [], horizon=5)
    with pytest.raises(DataError, match="no column 'nope'"):
        compare_models(frame, [("good", "nope")], horizon=5)
    with pytest.raises(ParameterError, match="block_size"):
        compare_models(frame, [("good", "bad")], horizon=5, block_size=0)
    with pytest.raises(DataError, match="no row has a target"):
        compare_models(frame, [("good", "bad")], horizon=5, min_target=100.0)


def test_rows_with_a_zero_target_are_left_out_as_in_the_scores(frame):
    zeros = frame.with_columns(pl.when(pl.int_range(pl.len()) % 50 == 0).then(0.0).otherwise(pl.col("target")).alias("target"))
    row = compare_models(zeros, [("good", "twin")], horizon=5, reps=50).row(0, named=True)
    scores = {r["model"]: r for r in score_forecasts(zeros, ["good", "twin"]).iter_rows(named=True)}
    assert row["corr_diff"] == pytest.approx(scores["good"]["corr"] - scores["twin"]["corr"], rel=1e-9)
