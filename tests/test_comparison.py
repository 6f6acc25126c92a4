"""The fixed split of chapter 2 (volbook.comparison): one fit then filtering, in-sample
forecasts against independent computations, tuning frozen exactly, processes not mattering."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from tests._frames import make_frame
from volbook.comparison import (
    fit_split,
    fit_splits,
    freeze_tuning,
    gate_path,
    in_sample_forecasts,
    in_sample_from_end,
    proxy_values,
    walk_forward_models,
)
from volbook.errors import DataError, ParameterError
from volbook.features import EAESE, SEASONAL
from volbook.models import ES, HAR, STES, XGBSTES
from volbook.walkforward import walk_forward

N, T0 = 700, 500


@pytest.fixture(scope="module")
def frame():
    return make_frame(N, seed=7).select("date", "ret", "rv")


def _models(proxy="ret2"):
    return [
        HAR(proxy, name="har"),
        ES(proxy=proxy, name="es"),
        STES(EAESE, proxy=proxy, n_starts=2, seed=1, name="stes"),
        XGBSTES(EAESE + ("dow",), proxy=proxy, rounds=15, seed=1, name="xgbstes"),
    ]


@pytest.mark.parametrize("proxy", ["ret2", "rv"])
def test_one_fit_on_the_training_rows_then_filtering_on(frame, proxy):
    """The slow way: fit on rows 0 .. T0 by hand, then forecast at each later origin t from the
    rows T0 + 1 .. t only; the split (which goes through the engine) must give the same."""
    for model in _models(proxy):
        split = fit_split(model, frame, T0, proxy=proxy)
        fitted = model.fit(frame.head(T0 + 1))
        assert split.fitted.params == fitted.params
        test = split.forecasts.filter(pl.col("sample") == "test")
        assert test["date"].to_list() == frame["date"][T0:].to_list()
        np.testing.assert_array_equal(test["forecast"].to_numpy(), fitted.forecast([1], frame.slice(T0 + 1))[:, 0])
        for t in (T0, T0 + 1, T0 + 57, N - 1):  # (HAR's matrix product may differ in the last bit)
            want = fitted.forecast([1], frame.slice(T0 + 1, t - T0))[-1, 0]
            np.testing.assert_allclose(test["forecast"][t - T0], want, rtol=1e-15, atol=0)


def test_rows_samples_and_targets(frame):
    split = fit_split(ES(name="es"), frame, T0)
    out = split.forecasts
    assert out.height == N
    assert out["sample"].to_list() == ["train"] * T0 + ["test"] * (N - T0)
    p = frame["ret"].to_numpy() ** 2
    np.testing.assert_array_equal(out["target"].to_numpy()[:-1], p[1:])
    assert out["target"][-1] is None
    rv = fit_split(ES(proxy="rv", name="es"), frame, T0, proxy="rv").forecasts
    np.testing.assert_array_equal(rv["target"].to_numpy()[:-1], frame["rv"].to_numpy()[1:])


def test_har_in_sample_forecasts_are_ols_fitted_values_built_by_hand(frame):
    split = fit_split(HAR(name="har"), frame, T0)
    p = frame["ret"].to_numpy() ** 2
    rows = np.arange(21, T0)  # regressors complete from row 21; targets up to row T0
    X = np.column_stack([np.ones(rows.size)] + [[p[s - L + 1 : s + 1].mean() for s in rows] for L in (1, 5, 22)])
    fitted = sm.OLS(p[rows + 1], X).fit().fittedvalues
    ins = split.forecasts.filter(pl.col("sample") == "train")
    assert ins.height == rows.size and ins["date"][0] == frame["date"][21]
    np.testing.assert_allclose(ins["forecast"].to_numpy(), fitted, rtol=1e-10, atol=0)


def test_es_in_sample_forecasts_and_the_studys_start_follow_a_plain_loop(frame):
    split = fit_split(ES(name="es", init_obs=20), frame, T0)
    alpha = split.fitted.params["alpha"]
    p = frame["ret"].to_numpy() ** 2

    def loop(v):
        out = []
        for s in range(T0):
            v = alpha * p[s] + (1 - alpha) * v
            out.append(v)
        return np.array(out)

    np.testing.assert_allclose(in_sample_forecasts(split.fitted, T0), loop(p[:20].mean()), rtol=1e-12)
    np.testing.assert_allclose(in_sample_from_end(split.fitted, p[:T0]), loop(split.fitted.v_next), rtol=1e-12)
    # the study's start differs only at the beginning: the recursion forgets it
    diff = np.abs(in_sample_from_end(split.fitted, p[:T0]) / in_sample_forecasts(split.fitted, T0) - 1)
    assert diff[0] > 1e-6 and diff[-1] < 1e-12


def test_gate_path_labels_rows_by_origin(frame):
    model = STES(EAESE + SEASONAL, l2=0.1, n_starts=1, name="stes")
    split = fit_split(model, frame, T0)
    path = gate_path(split, frame, T0)
    assert path.height == N and path["date"].to_list() == frame["date"].to_list()
    assert path["sample"].to_list() == ["train"] * T0 + ["test"] * (N - T0)
    forecasts = split.forecasts["forecast"].to_numpy()
    np.testing.assert_allclose(path["forecast"].to_numpy(), forecasts, rtol=1e-12)
    with pytest.raises(ParameterError, match="no gate path"):
        gate_path(fit_split(HAR(name="har"), frame, T0), frame, T0)


def test_freeze_tuning_refits_exactly_the_cross_validated_choice(frame):
    train = frame.head(T0 + 1)
    stes = STES(EAESE + ("har_diff",), l2="cv", l2_grid=(0.0, 0.1, 1.0), n_starts=2, seed=3, name="stes")
    fitted = stes.fit(train)
    frozen = freeze_tuning(stes, fitted.params)
    assert frozen.l2 == fitted.params["l2"] and stes.l2 == "cv" and frozen.name == stes.name
    assert frozen.fit(train).params == fitted.params

    grid = [{"learning_rate": 0.05, "reg_lambda": 1.0}, {"learning_rate": 0.1, "reg_lambda": 5.0}]
    xgb = XGBSTES(EAESE, cv=True, grid=grid, rounds=10, seed=3, name="xgbstes")
    fitted = xgb.fit(train)
    frozen = freeze_tuning(xgb, fitted.params)
    assert not frozen.cv and xgb.cv
    assert {k: frozen.xgb_params[k] for k in ("learning_rate", "reg_lambda")} in grid
    assert frozen.fit(train).params == fitted.params
    assert freeze_tuning(ES(name="es"), {}).name == "es"


def test_processes_do_not_change_results(frame):
    models = _models()[:3]
    one = fit_splits(models, frame, T0, n_jobs=1)
    two = fit_splits(models, frame, T0, n_jobs=2)
    for name in one:
        assert one[name].forecasts.equals(two[name].forecasts)
    runs = walk_forward_models(models, frame, first_origin=T0, window=300, refit_every=50, n_jobs=2)
    for m in models:
        alone = walk_forward(m, frame, first_origin=T0, window=300, refit_every=50)
        assert runs[m.name].forecasts.equals(alone.forecasts)
        assert runs[m.name].params.equals(alone.params)


def test_bad_requests_are_refused_in_one_line(frame):
    with pytest.raises(ParameterError, match="train_size must leave"):
        fit_split(ES(), frame, N - 1)
    with pytest.raises(DataError, match="reads the column"):
        fit_split(HAR("vix2"), frame, T0)
    with pytest.raises(ParameterError, match="distinct"):
        fit_splits([ES(name="a"), ES(name="a")], frame, T0)
    with pytest.raises(DataError, match="variance proxy"):
        proxy_values(frame, "vix2")
