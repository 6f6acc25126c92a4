"""The study's flawed conventions are reproduced exactly, and they do look ahead."""

import numpy as np
import pytest

from volbook.replication import (
    averaged_vol_forecast,
    backward_target,
    rolling_including_scored,
    score_like_the_study,
)

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
