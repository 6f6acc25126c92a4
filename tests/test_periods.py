"""Evaluation periods: definition, labels, summaries, and scores/tests per period against the
plain computations of volbook.evaluate on each period's rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from volbook.errors import DataError, ParameterError
from volbook.evaluate import diebold_mariano, loss_expr, model_confidence_set, mse, qlike, vol_metrics
from volbook.periods import (
    define_periods,
    dm_by_period,
    label_periods,
    mcs_by_period,
    score_by_period,
    summarize_periods,
)


@pytest.fixture
def periods() -> pl.DataFrame:
    return define_periods(["calm", "crisis", "after"], ["2020-01-01", "2020-03-01", "2020-05-01"], last="2020-06-30")


def test_periods_run_to_the_day_before_the_next_start(periods):
    assert periods.rows() == [
        ("calm", dt.date(2020, 1, 1), dt.date(2020, 2, 29)),
        ("crisis", dt.date(2020, 3, 1), dt.date(2020, 4, 30)),
        ("after", dt.date(2020, 5, 1), dt.date(2020, 6, 30)),
    ]


@pytest.mark.parametrize(
    ("names", "starts", "last", "message"),
    [
        (["a", "b"], ["2020-01-01"], "2020-12-31", r"period_names \(2\) and period_starts \(1\)"),
        ([], [], "2020-12-31", "at least one"),
        (["a", "a"], ["2020-01-01", "2020-02-01"], "2020-12-31", "distinct"),
        (["a", " "], ["2020-01-01", "2020-02-01"], "2020-12-31", "non-empty"),
        (["a", "b"], ["2020-02-01", "2020-01-01"], "2020-12-31", "must increase: 2020-01-01 follows 2020-02-01"),
        (["a", "b"], ["2020-01-01", "2020-13-01"], "2020-12-31", "'2020-13-01' is not a date"),
        (["a"], ["2021-01-01"], "2020-12-31", r"starts on 2021-01-01, after the sample ends \(2020-12-31\)"),
    ],
)
def test_bad_periods_are_refused_in_one_line(names, starts, last, message):
    with pytest.raises(ParameterError, match=message):
        define_periods(names, starts, last=last)


def test_dates_are_labelled_with_their_period_and_none_outside(periods):
    frame = pl.DataFrame({"date": [dt.date(2019, 12, 31), dt.date(2020, 2, 29), dt.date(2020, 3, 1), dt.date(2020, 6, 30)]})
    assert label_periods(frame, periods)["period"].to_list() == [None, "calm", "crisis", "after"]
    with pytest.raises(DataError, match="no column 'day'"):
        label_periods(frame, periods, on="day")


def _daily(seed: int = 0) -> pl.DataFrame:
    dates = pl.date_range(dt.date(2019, 12, 1), dt.date(2020, 6, 30), "1d", eager=True)
    rng = np.random.default_rng(seed)
    scale = np.where((dates >= dt.date(2020, 3, 1)) & (dates < dt.date(2020, 5, 1)), 9.0, 1.0)
    return pl.DataFrame({"date": dates, "rv": 1e-4 * scale * rng.chisquare(3, dates.len()) / 3})


def test_period_summary_matches_numpy(periods):
    frame = _daily()
    summary = summarize_periods(frame, periods)
    for row in summary.iter_rows(named=True):
        part = frame.filter(pl.col("date").is_between(*periods.filter(pl.col("period") == row["period"]).row(0)[1:]))
        rv = part["rv"].to_numpy()
        assert row["days"] == rv.size and row["first"] == part["date"].min() and row["last"] == part["date"].max()
        assert row["mean_vol"] == pytest.approx(np.sqrt(252 * rv.mean()))
        assert row["median_vol"] == pytest.approx(np.median(np.sqrt(252 * rv)))
        assert row["p95_vol"] == pytest.approx(np.quantile(np.sqrt(252 * rv), 0.95))
        assert row["max_vol"] == pytest.approx(np.sqrt(252 * rv.max()))
    assert summary["stressed"].to_list() == [False, True, False]
    late = define_periods(["a", "b"], ["2020-01-01", "2020-09-01"], last="2020-12-31")
    with pytest.raises(DataError, match=r"period\(s\) \['b'\] have no days in the data"):
        summarize_periods(frame, late)


def _evaluation(seed: int = 1) -> pl.DataFrame:
    """Three models, two horizons, forecasts at every day of the fixture periods."""
    frame = _daily(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for model, noise in (("base", 0.5), ("good", 0.2), ("bad", 0.9)):
        for h in (1, 5):
            target = frame["rv"].to_numpy() * h
            rows.append(pl.DataFrame({"date": frame["date"], "model": model, "horizon": h, "target": target,
                                      "forecast": target * np.exp(noise * rng.standard_normal(target.size))}))
    return pl.concat(rows)


def test_scores_per_period_equal_the_plain_losses_of_each_period(periods):
    evaluation = label_periods(_evaluation(), periods).drop_nulls("period")
    scores = score_by_period(evaluation)
    assert scores.select("period").unique(maintain_order=True)["period"].to_list() == ["calm", "crisis", "after"]
    for row in scores.iter_rows(named=True):
        g = evaluation.filter((pl.col("period") == row["period"]) & (pl.col("horizon") == row["horizon"])
                              & (pl.col("model") == row["model"]))
        y, f = g["target"].to_numpy(), g["forecast"].to_numpy()
        assert row["n"] == y.size
        assert row["mape"] == pytest.approx(vol_metrics(np.sqrt(y), np.sqrt(f))["mape"], rel=1e-12)
        assert row["mse"] == pytest.approx(mse(y, f), rel=1e-12)
        assert row["qlike"] == pytest.approx(qlike(y, f), rel=1e-12)
    assert (scores.filter(pl.col("model") == "good")["rank"] == 1).all()
    shuffled = evaluation.sample(fraction=1.0, shuffle=True, seed=3)
    first_seen = shuffled["model"].unique(maintain_order=True).to_list()
    again = score_by_period(shuffled)
    assert again.select("period").unique(maintain_order=True)["period"].to_list() == ["calm", "crisis", "after"]
    assert again.filter((pl.col("period") == "calm") & (pl.col("horizon") == 1))["model"].to_list() == first_seen
    assert again.sort("period", "horizon", "model").equals(scores.sort("period", "horizon", "model"))  # to the last bit
    with pytest.raises(DataError, match="must be positive"):
        score_by_period(evaluation.with_columns(pl.col("forecast") * 0))


def test_diebold_mariano_per_period_is_the_pairwise_test(periods):
    evaluation = label_periods(_evaluation(), periods).drop_nulls("period").with_columns(loss_expr("qlike"))
    dm = dm_by_period(evaluation, "base")
    assert dm.height == 3 * 2 * 2 and set(dm["model"]) == {"good", "bad"}
    for row in dm.iter_rows(named=True):
        pick = (pl.col("period") == row["period"]) & (pl.col("horizon") == row["horizon"])
        a = evaluation.filter(pick & (pl.col("model") == row["model"])).sort("date")["qlike"]
        b = evaluation.filter(pick & (pl.col("model") == "base")).sort("date")["qlike"]
        res = diebold_mariano(a, b, h=row["horizon"])
        assert (row["stat"], row["pvalue"], row["mean_diff"]) == pytest.approx((res.stat, res.pvalue, res.mean_diff))
        assert row["rel_diff"] == pytest.approx(res.mean_diff / b.mean())
    assert (dm.filter(pl.col("model") == "good")["stat"] < 0).all()
    with pytest.raises(DataError, match="baseline 'nope'"):
        dm_by_period(evaluation, "nope")
    with pytest.raises(DataError, match="no period has 'base' and another model"):
        dm_by_period(evaluation.filter(pl.col("model") == "base"), "base")


def test_model_confidence_set_per_period_leaves_out_partial_models(periods):
    evaluation = label_periods(_evaluation(), periods).drop_nulls("period").with_columns(loss_expr("qlike"))
    late = evaluation.filter((pl.col("model") == "bad") & (pl.col("date") < dt.date(2020, 4, 1)))
    partial = pl.concat([evaluation.filter(pl.col("model") != "bad"), late])
    mcs = mcs_by_period(partial, reps=200, seed=7)
    crisis = mcs.filter((pl.col("period") == "crisis") & (pl.col("horizon") == 1))
    assert crisis["model"].to_list() == ["base", "good"]  # "bad" covers only part of the crisis
    calm = mcs.filter((pl.col("period") == "calm") & (pl.col("horizon") == 1))
    assert calm["model"].to_list() == ["base", "good", "bad"]
    wide = (evaluation.filter((pl.col("period") == "calm") & (pl.col("horizon") == 1))
            .pivot(on="model", index="date", values="qlike").sort("date").select("base", "good", "bad"))
    direct = model_confidence_set(wide, reps=200, seed=7)
    assert calm["pvalue"].to_list() == direct["pvalue"].to_list()
    assert calm["included"].to_list() == direct["included"].to_list()
