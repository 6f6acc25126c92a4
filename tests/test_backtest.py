import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from volbook import backtest
from volbook.backtest import buy_and_hold, performance, performance_table, run_backtest, vol_target_weights
from volbook.errors import DataError, ParameterError


def _frame(ret, sigma) -> pl.DataFrame:
    n = len(ret)
    dates = pl.date_range(dt.date(2021, 1, 1), dt.date(2021, 1, 1) + dt.timedelta(days=n - 1), eager=True)
    return pl.DataFrame({"date": dates, "ret": ret, "sigma": sigma}, schema_overrides={"ret": pl.Float64})


def _random_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sigma = 0.2 * np.exp(0.4 * rng.standard_normal(n))
    return _frame(sigma / np.sqrt(252) * rng.standard_normal(n), sigma)


def test_hand_computed_five_days():
    # origins 0..5; weights from sigma: 0.15/0.1=1.5, 1.0, 0.5, 3.0 -> 2.0 (cap), 0.75, (last unused)
    frame = _frame([None, 0.01, -0.02, 0.03, 0.0, 0.01], [0.10, 0.15, 0.30, 0.05, 0.20, 0.20])
    out = run_backtest(frame, target_vol=0.15, w_min=0.0, w_max=2.0, cost_bps=10.0, name="vt")
    w = [1.5, 1.0, 0.5, 2.0, 0.75]
    turnover = [1.5, 0.5, 0.5, 1.5, 1.25]  # first from cash
    gross = [1.5 * (math.exp(0.01) - 1), 1.0 * (math.exp(-0.02) - 1), 0.5 * (math.exp(0.03) - 1), 0.0,
             0.75 * (math.exp(0.01) - 1)]
    cost = [0.0015, 0.0005, 0.0005, 0.0015, 0.00125]
    net = [g - c for g, c in zip(gross, cost)]
    equity = [1 + net[0]]
    for x in net[1:]:
        equity.append(equity[-1] * (1 + x))
    assert out.columns == ["date", "strategy", "weight", "turnover", "gross", "cost", "net", "equity"]
    assert out["date"].to_list() == frame["date"][1:].to_list()
    assert out["strategy"].unique().to_list() == ["vt"]
    np.testing.assert_allclose(out["weight"], w, rtol=1e-15)
    np.testing.assert_allclose(out["turnover"], turnover, rtol=1e-15)
    np.testing.assert_allclose(out["gross"], gross, rtol=1e-12)
    np.testing.assert_allclose(out["cost"], cost, rtol=1e-12)
    np.testing.assert_allclose(out["net"], net, rtol=1e-12)
    np.testing.assert_allclose(out["equity"], equity, rtol=1e-12)


def test_the_lag_is_exactly_one_day():
    frame = _random_frame(60, 1)
    base = run_backtest(frame, cost_bps=5)
    t = 30  # origin index; its weight earns the return of row t+1 (output row t)
    bumped = run_backtest(frame.with_columns(sigma=pl.when(pl.int_range(60) == t).then(0.01).otherwise("sigma")),
                          cost_bps=5)
    assert bumped[:t].equals(base[:t])  # days up to t untouched
    assert bumped["weight"][t] != base["weight"][t]  # the return of day t+1 is the first to change
    assert bumped["net"][t] != base["net"][t]
    assert bumped["weight"][t + 1 :].equals(base["weight"][t + 1 :])

    # changing the return of day t+1 changes no weight, only that day's return onward
    moved = run_backtest(frame.with_columns(ret=pl.when(pl.int_range(60) == t + 1).then(0.2).otherwise("ret")),
                         cost_bps=5)
    assert moved["weight"].equals(base["weight"])
    assert moved[:t].equals(base[:t]) and moved["net"][t] != base["net"][t]


def test_weights_respect_bounds_and_formula():
    sigma = np.random.default_rng(2).uniform(0.01, 2.0, 500)
    w = vol_target_weights(sigma, target_vol=0.12, w_min=0.25, w_max=1.5)
    assert w.min() >= 0.25 and w.max() <= 1.5 and w.min() == 0.25 and w.max() == 1.5
    inside = (0.12 / sigma > 0.25) & (0.12 / sigma < 1.5)
    np.testing.assert_allclose(w[inside], 0.12 / sigma[inside], rtol=1e-15)
    np.testing.assert_array_equal(vol_target_weights(pl.Series(sigma)), vol_target_weights(sigma))


def test_zero_cost_equals_gross_and_costs_reduce_equity():
    frame = _random_frame(300, 3)
    free = run_backtest(frame, cost_bps=0.0)
    assert free["net"].equals(free["gross"]) and free["cost"].sum() == 0.0
    costly = run_backtest(frame, cost_bps=20.0)
    assert costly["gross"].equals(free["gross"])
    np.testing.assert_allclose(costly["cost"], 20e-4 * free["turnover"], rtol=1e-15)
    assert costly["equity"][-1] < free["equity"][-1]


def test_buy_and_hold_is_the_asset():
    frame = _random_frame(100, 4)
    bh = buy_and_hold(frame.drop("sigma"))
    assert (bh["weight"] == 1.0).all() and bh["cost"].sum() == 0.0
    assert bh["turnover"].to_list() == [1.0] + [0.0] * 98
    # equity is the price relative: exp(sum of log returns)
    np.testing.assert_allclose(bh["equity"], np.exp(np.cumsum(frame["ret"][1:].to_numpy())), rtol=1e-12)
    assert bh["date"].equals(run_backtest(frame)["date"])


def test_performance_on_a_constructed_path():
    # equity 1 -> 1.1 -> 0.88 -> 0.968 -> 1.21: max drawdown from 1.1 to 0.88 = -20%
    net = [0.10, -0.20, 0.10, 0.25]
    equity = np.cumprod(1 + np.array(net))
    daily = pl.DataFrame({"date": [1, 2, 3, 4], "weight": [1.0, 1.0, 0.5, 0.5], "turnover": [1.0, 0.0, 0.5, 0.0],
                          "gross": net, "cost": [0.001, 0.0, 0.0005, 0.0], "net": net, "equity": equity})
    got = performance(daily, periods_per_year=4)  # four days = one year
    assert got["cagr"] == pytest.approx(1.21 - 1, rel=1e-12)
    assert got["max_drawdown"] == pytest.approx(0.88 / 1.1 - 1, rel=1e-12)
    assert got["vol"] == pytest.approx(np.std(net, ddof=1) * 2, rel=1e-12)
    assert got["sharpe"] == pytest.approx(np.mean(net) * 4 / (np.std(net, ddof=1) * 2), rel=1e-12)
    assert got["avg_turnover"] == pytest.approx(0.375) and got["annual_turnover"] == pytest.approx(1.5)
    assert got["total_cost"] == pytest.approx(0.0015) and got["avg_weight"] == pytest.approx(0.75)
    assert got["n_days"] == 4
    # the starting equity of 1 is a peak: a first-day loss is a drawdown
    first_loss = daily.with_columns(equity=pl.Series(np.cumprod(1 + np.array([-0.1, 0.05, 0.05, 0.0]))))
    assert performance(first_loss)["max_drawdown"] == pytest.approx(-0.1, rel=1e-12)
    # two years at 21% growth in total: CAGR = 1.21 ** 0.5 - 1 = 10%
    assert performance(daily, periods_per_year=2)["cagr"] == pytest.approx(0.1, rel=1e-12)


def test_sharpe_and_vol_against_numpy_and_table_matches():
    frame = _random_frame(750, 5)
    vt = run_backtest(frame, cost_bps=2, name="vol_target")
    bh = buy_and_hold(frame)
    net = vt["net"].to_numpy()
    got = performance(vt)
    assert got["vol"] == pytest.approx(np.std(net, ddof=1) * np.sqrt(252), rel=1e-12)
    assert got["sharpe"] == pytest.approx(np.mean(net) / np.std(net, ddof=1) * np.sqrt(252), rel=1e-12)
    assert got["cagr"] == pytest.approx(np.prod(1 + net) ** (252 / net.size) - 1, rel=1e-12)
    drawdown = np.cumprod(1 + net) / np.maximum.accumulate(np.r_[1.0, np.cumprod(1 + net)])[1:] - 1
    assert got["max_drawdown"] == pytest.approx(drawdown.min(), rel=1e-12)
    table = performance_table(pl.concat([vt, bh]))
    assert table["strategy"].to_list() == ["vol_target", "buy_and_hold"]
    assert table.row(0, named=True) == {"strategy": "vol_target", **got}
    assert table.row(1, named=True) == {"strategy": "buy_and_hold", **performance(bh)}
    with pytest.raises(DataError, match="several strategies"):
        performance(pl.concat([vt, bh]))


def test_vol_targeting_stabilizes_volatility():
    """Returns with known, varying sigma: the targeted strategy's vol is close to the target."""
    rng = np.random.default_rng(6)
    sigma = np.repeat(rng.uniform(0.08, 0.6, 40), 50)
    ret = np.r_[0.0, sigma[:-1] / np.sqrt(252) * rng.standard_normal(sigma.size - 1)]  # r_{t+1} ~ sigma_t
    frame = _frame(ret, sigma)
    vt = performance(run_backtest(frame, target_vol=0.15, w_max=10.0))
    assert vt["vol"] == pytest.approx(0.15, rel=0.05)
    assert performance(buy_and_hold(frame))["vol"] > 0.25


def test_backtest_input_errors():
    frame = _random_frame(10, 7)
    with pytest.raises(DataError, match=r"lacks columns \['sigma'\]"):
        run_backtest(frame.drop("sigma"))
    with pytest.raises(DataError, match="'date' must be strictly increasing"):
        run_backtest(frame.reverse())
    with pytest.raises(DataError, match="sigma has 1 values that are missing"):
        run_backtest(frame.with_columns(sigma=pl.when(pl.int_range(10) == 3).then(None).otherwise("sigma")))
    with pytest.raises(DataError, match="'ret' has missing"):
        run_backtest(frame.with_columns(ret=pl.when(pl.int_range(10) == 3).then(None).otherwise("ret")))
    with pytest.raises(ParameterError, match="need 0 <= w_min <= w_max"):
        run_backtest(frame, w_min=1.0, w_max=0.5)
    with pytest.raises(ParameterError, match="target_vol must be positive"):
        run_backtest(frame, target_vol=0.0)
    with pytest.raises(ParameterError, match="cost_bps must be >= 0"):
        run_backtest(frame, cost_bps=-1)
    with pytest.raises(DataError, match="at least 2 are needed"):
        run_backtest(frame[:1])


# ------------------------------------------------------------------ Sharpe ratio difference test


def _sharpe_diff_slow(a, b, lags):
    """Independent pieces: statsmodels' HAC covariance of the moment means, finite-difference gradient."""
    from statsmodels.stats.sandwich_covariance import S_hac_simple

    u = np.array([a.mean(), b.mean(), (a**2).mean(), (b**2).mean()])

    def f(v):
        return v[0] / np.sqrt(v[2] - v[0] ** 2) - v[1] / np.sqrt(v[3] - v[1] ** 2)

    grad = np.empty(4)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * abs(u[i])
        grad[i] = (f(u + step) - f(u - step)) / (2 * step[i])
    moments = np.column_stack([a, b, a**2, b**2])
    cov = S_hac_simple(moments - moments.mean(axis=0), nlags=lags) / a.size**2  # Newey-West: sum, not mean
    return f(u), np.sqrt(grad @ cov @ grad)


def test_sharpe_difference_matches_statsmodels_hac_and_finite_differences():
    rng = np.random.default_rng(11)
    n = 1500
    common = rng.standard_t(5, n) * 0.01
    a = 0.0004 + common + 0.004 * rng.standard_normal(n)
    b = 0.0002 + 0.8 * common + 0.006 * rng.standard_t(4, n)
    a[1:] += 0.2 * a[:-1]  # some autocorrelation
    diff, se = _sharpe_diff_slow(a, b, lags=6)
    got = backtest.sharpe_difference(a, b, periods_per_year=1, lags=6)
    assert got.diff == pytest.approx(diff, rel=1e-9)
    assert got.se == pytest.approx(se, rel=1e-6)
    assert got.stat == pytest.approx(diff / se, rel=1e-6) and got.lags == 6
    annual = backtest.sharpe_difference(a, b, lags=6)
    assert annual.diff == pytest.approx(np.sqrt(252) * diff) and annual.pvalue == pytest.approx(got.pvalue)


def test_sharpe_difference_agrees_with_jobson_korkie_memmel_for_iid_normal_returns():
    rng = np.random.default_rng(12)
    n, rho = 400_000, 0.6
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], n)
    a, b = 0.05 + z[:, 0], 0.02 + 1.5 * z[:, 1]
    got = backtest.sharpe_difference(a, b, periods_per_year=1, lags=0)
    sa, sb = a.mean() / a.std(), b.mean() / b.std()
    r = np.corrcoef(a, b)[0, 1]
    memmel = np.sqrt((2 - 2 * r + 0.5 * (sa**2 + sb**2 - 2 * sa * sb * r**2)) / n)  # Memmel (2003)
    assert got.se == pytest.approx(memmel, rel=0.02)


def test_sharpe_difference_has_its_size_under_the_null():
    rng = np.random.default_rng(13)
    rejections = 0
    for _ in range(400):
        a = 0.05 + rng.standard_t(6, 750)
        b = 0.05 + rng.standard_t(6, 750)  # equal Sharpe ratios
        rejections += backtest.sharpe_difference(a, b, periods_per_year=1).pvalue < 0.05
    assert 0.025 <= rejections / 400 <= 0.08


def test_sharpe_difference_rejects_bad_input():
    a = np.random.default_rng(14).normal(0.001, 0.01, 100)
    with pytest.raises(DataError, match="zero variance"):
        backtest.sharpe_difference(a, 2 * a)
    with pytest.raises(DataError, match="returns_a has 100 values but returns_b has 99"):
        backtest.sharpe_difference(a, a[1:])
    with pytest.raises(DataError, match="returns_b has 1 missing or non-finite"):
        backtest.sharpe_difference(a, np.where(np.arange(100) == 5, np.nan, a))
    with pytest.raises(ParameterError, match=r"lags must be in \[0, 99\]"):
        backtest.sharpe_difference(a, a[::-1], lags=100)
