"""Gate features against pandas, and the rule that row t reads rows up to t only."""

import numpy as np
import pandas as pd
import polars as pl
import pytest

from volbook.errors import DataError, ParameterError
from volbook.features import (
    EAESE,
    FAMILIES,
    SEASONAL,
    family_of,
    feature_lookback,
    gate_feature_frame,
    gate_features,
    rolling_mean,
)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2001-01-02", periods=300).to_numpy().astype("datetime64[D]")
    ret = rng.standard_t(4, dates.size) * 0.01
    rv = ret**2 * rng.lognormal(0, 0.3, dates.size)
    return ret, rv, dates


def test_rolling_mean_matches_pandas_with_partial_first_windows():
    x = np.random.default_rng(0).exponential(size=50)
    for w in (1, 5, 20, 60):
        np.testing.assert_allclose(rolling_mean(x, w), pd.Series(x).rolling(w, min_periods=1).mean(), rtol=1e-12)


def test_each_family_against_pandas(sample):
    ret, rv, dates = sample
    X, names = gate_features(FAMILIES, ret=ret, proxy=rv, dates=dates)
    frame = pd.DataFrame(X, columns=names)
    idx = pd.DatetimeIndex(dates)
    np.testing.assert_array_equal(frame[["ret", "abs_ret", "ret2"]], np.column_stack([ret, np.abs(ret), ret**2]))
    rv5, rv20 = (pd.Series(rv).rolling(w, min_periods=1).mean() for w in (5, 20))
    np.testing.assert_allclose(frame["rv5"], rv5, rtol=1e-12)
    np.testing.assert_allclose(frame["har_diff"], rv5 - rv20, rtol=1e-9, atol=1e-18)
    np.testing.assert_array_equal(frame[[f"dow_{d}" for d in range(1, 5)]], pd.get_dummies(idx.day_of_week).iloc[:, 1:])
    np.testing.assert_array_equal(frame["month"], idx.month)
    assert {"is_fomc", "days_to_opex", "is_near_imm"} <= set(names)
    assert [family_of(n) for n in names][:8] == ["ret", "abs_ret", "ret2", "har", "har", "har_diff", "dow", "dow"]


def test_row_t_reads_rows_up_to_t_only(sample):
    ret, rv, dates = sample
    X, _ = gate_features(FAMILIES, ret=ret, proxy=rv, dates=dates)
    rng = np.random.default_rng(1)
    for t in (0, 7, 19, 150):
        r2, rv2 = ret.copy(), rv.copy()
        r2[t + 1 :] = -10 * rng.standard_normal(ret.size - t - 1)
        rv2[t + 1 :] = rng.exponential(size=ret.size - t - 1)
        Y, _ = gate_features(FAMILIES, ret=r2, proxy=rv2, dates=dates)
        np.testing.assert_array_equal(X[: t + 1], Y[: t + 1])


def test_a_row_does_not_depend_on_where_the_sample_starts(sample):
    ret, rv, dates = sample
    X, _ = gate_features(("har", "har_diff"), ret=ret, proxy=rv)
    lag = feature_lookback(("har",))
    Y, _ = gate_features(("har", "har_diff"), ret=ret[100:], proxy=rv[100:])
    np.testing.assert_array_equal(X[100 + lag :], Y[lag:])


def test_frame_helper_and_proxy_default(sample):
    ret, rv, dates = sample
    frame = pl.DataFrame({"date": dates, "ret": ret, "rv": rv})
    out = gate_feature_frame(frame, EAESE + ("har",), proxy="rv")
    assert out.columns == ["date", "ret", "abs_ret", "ret2", "rv5", "rv20"]
    np.testing.assert_allclose(out["rv5"], pd.Series(rv).rolling(5, min_periods=1).mean())
    squared = gate_feature_frame(frame, ("har",))
    np.testing.assert_allclose(squared["rv20"], pd.Series(ret**2).rolling(20, min_periods=1).mean())


def test_bad_requests_get_clear_errors(sample):
    ret, rv, dates = sample
    with pytest.raises(ParameterError, match="unknown gate feature family 'vix'"):
        gate_features(("ret", "vix"), ret=ret)
    with pytest.raises(ParameterError, match="listed twice"):
        gate_features(("ret", "ret"), ret=ret)
    with pytest.raises(ParameterError, match="need the row dates"):
        gate_features(SEASONAL, ret=ret)
    with pytest.raises(DataError, match="weekend"):
        gate_features(("dow",), ret=ret[:3], dates=np.array(["2020-01-03", "2020-01-04", "2020-01-06"], dtype="datetime64[D]"))
    with pytest.raises(DataError, match="no 'rv' column"):
        gate_feature_frame(pl.DataFrame({"date": dates, "ret": ret}), ("har",), proxy="rv")
