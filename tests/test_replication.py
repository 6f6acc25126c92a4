"""The study's flawed conventions are reproduced exactly, and they do look ahead."""

import numpy as np
import pytest

from volbook.evaluate import qlike
from volbook.models import EWMA, RollingWindow
from volbook.replication import (
    MISTAKE_STEPS,
    PUBLISHED_BACKTEST,
    PUBLISHED_LOSSES,
    averaged_vol_forecast,
    backward_target,
    rolling_including_scored,
    score_like_the_study,
    study_losses,
    undo_mistakes,
)
from volbook.timing import forward_variance
from volbook.walkforward import walk_forward

R = np.random.default_rng(3).standard_normal(40) * 0.01


def test_backward_target_sums_the_last_h_days():
    got = backward_target(R, 5)
    assert np.isnan(got[:4]).all()
    assert got[10] == pytest.approx(sum(R[k] ** 2 for k in range(6, 11)))


def test_averaged_forecast_is_h_times_squared_mean_vol():
    s2 = np.linspace(1e-4, 2e-4, 40)
    got = averaged_vol_forecast(s2, 3)
    assert got[7] == pytest.approx(3 * np.mean(np.sqrt(s2[5:8])) ** 2)


def test_the_studys_rolling_forecast_contains_the_scored_return():
    f = rolling_including_scored(R, 20)
    assert f[25] == pytest.approx(np.mean(R[7:27] ** 2))  # "forecast at t=25" uses r_26
    bumped = R.copy()
    bumped[26] *= 5
    assert rolling_including_scored(bumped, 20)[25] != f[25]  # fails the perturbation test


def test_score_like_the_study_aligns_rows():
    s2 = np.full(R.size, np.nan)
    s2[19:] = 1e-4  # a model that forecasts from origin 19 on
    y, f = score_like_the_study(R, s2, 2)
    # rows t with forecasts for days t-1 and t, i.e. origins t-2 and t-1 >= 19: t = 21..39
    assert y.size == f.size == 19
    np.testing.assert_allclose(f, 2e-4)
    np.testing.assert_allclose(y, backward_target(R, 2)[21:])


def test_study_losses_are_on_annualized_vol_and_rank_like_qlike_on_variance():
    rng = np.random.default_rng(4)
    y = rng.exponential(1e-4, 500) * 5
    f1, f2 = np.full(500, 5e-4), rng.uniform(2e-4, 8e-4, 500)
    got = study_losses(y, f1, 5)
    yv, fv = np.sqrt(252 * y / 5), np.sqrt(252 * f1 / 5)
    assert got["qlike"] == pytest.approx(np.mean(np.log(fv**2) + yv**2 / fv**2))
    assert got["mae"] == pytest.approx(np.mean(np.abs(yv - fv))) and got["rmse"] ** 2 == pytest.approx(got["mse"])
    # mistake 4 changes the level of QLIKE but neither the ranking nor the gaps
    gap_study = study_losses(y, f1, 5)["qlike"] - study_losses(y, f2, 5)["qlike"]
    assert gap_study == pytest.approx(qlike(y, f1) - qlike(y, f2), rel=1e-9)


def _one_and_h_step(model, returns, h, first):
    run = walk_forward(model, returns, horizons=sorted({1, h}), first_origin=first)
    out = {}
    for k in sorted({1, h}):
        x = np.full(returns.size, np.nan)
        part = run.forecasts.filter(run.forecasts["horizon"] == k)
        x[part["date"].to_numpy()] = part["forecast"].to_numpy()
        out[k] = x
    return out[1], out[h]


@pytest.mark.parametrize("h", [1, 5])
def test_undo_mistakes_ends_on_the_books_clock(h):
    r = np.random.default_rng(5).standard_t(5, 400) * 0.01
    first = 59
    for model, window in ((EWMA(0.94), None), (RollingWindow(20), 20)):
        one, h_step = _one_and_h_step(model, r, h, first)
        steps = undo_mistakes(r, one, h_step, h, rolling_window=window)
        assert tuple(steps) == MISTAKE_STEPS
        y, f = steps["correct"]
        target = forward_variance(r, h)
        keep = np.isfinite(h_step) & np.isfinite(target)
        np.testing.assert_array_equal(y, target[keep])
        np.testing.assert_array_equal(f, h_step[keep])
        assert steps["variance_losses"] is steps["study"]
        if window is None:  # mistake 3 concerns the rolling window only
            np.testing.assert_array_equal(steps["h_step_forecast"][1], f)
            if h == 1:  # at one day the average of one one-step forecast is the forecast
                np.testing.assert_allclose(steps["forward_target"][1], f, rtol=1e-12)
        else:  # the leaky window includes the first target day
            leaky = rolling_including_scored(r, 20)
            np.testing.assert_allclose(steps["h_step_forecast"][1], h * leaky[keep])
            assert qlike(*steps["h_step_forecast"]) < qlike(y, f)


def test_published_tables_are_the_studys():
    assert PUBLISHED_LOSSES.filter(PUBLISHED_LOSSES["horizon"] == 1)["model"].item() == "rolling_20"
    assert PUBLISHED_BACKTEST["n_obs"].to_list() == [4973, 3973, 3973]
