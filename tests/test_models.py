"""Each forecaster against an independent reference: pandas, arch, closed forms, known parameters."""

import numpy as np
import pandas as pd
import pytest
from arch import arch_model

from volbook.errors import DataError, ParameterError
from volbook.models import EWMA, GARCH, RollingWindow

HORIZONS = [1, 5, 10]


def simulate_garch(n, omega=0.02, alpha=0.08, gamma=0.0, beta=0.9, seed=0, dist="normal", nu=8.0):
    """Percent returns from a GJR-GARCH(1,1) with known parameters (a plain loop)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n) if dist == "normal" else rng.standard_t(nu, n) / np.sqrt(nu / (nu - 2))
    s2 = omega / (1 - alpha - gamma / 2 - beta)
    r = np.empty(n)
    for t in range(n):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0)) * r[t] ** 2 + beta * s2
    return r


@pytest.fixture(scope="module")
def returns():
    return simulate_garch(3000, seed=11) / 100


def test_rolling_matches_pandas(returns):
    fc = RollingWindow(20).fit(returns[:500]).forecast(HORIZONS, returns[500:800])
    ref = pd.Series(returns**2).rolling(20).mean().to_numpy()[499:800]
    np.testing.assert_allclose(fc[:, 0], ref, rtol=1e-10)
    np.testing.assert_allclose(fc[:, 2], 10 * ref, rtol=1e-10)
    demeaned = RollingWindow(60, demean=True).fit(returns[:500]).forecast([1], returns[500:800])
    ref = pd.Series(returns).rolling(60).var(ddof=0).to_numpy()[499:800]
    np.testing.assert_allclose(demeaned[:, 0], ref, rtol=1e-8)


def test_ewma_matches_pandas_ewm(returns):
    model = EWMA(0.94, init_obs=30)
    fc = model.fit(returns[:400]).forecast(HORIZONS, returns[400:900])
    s2_0 = np.mean(returns[:30] ** 2)
    # pandas: y_i = lam y_{i-1} + (1 - lam) x_i with y_0 = x_0 = s2_0, so y_{i+1} = s2_{i+1}
    x = np.concatenate([[s2_0], returns**2])
    y = pd.Series(x).ewm(alpha=1 - 0.94, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(fc[:, 0], y[400:901], rtol=1e-10)
    np.testing.assert_allclose(fc[:, 1], 5 * y[400:901], rtol=1e-10)


@pytest.mark.parametrize(
    ("spec", "kw"),
    [("garch", {}), ("gjr_garch", {"o": 1}), ("t_garch", {"dist": "t"})],
)
def test_garch_forecasts_match_arch(spec, kw):
    r = simulate_garch(2500, alpha=0.03 if spec == "gjr_garch" else 0.08, gamma=0.08 if spec == "gjr_garch" else 0.0, seed=3, dist="t" if spec == "t_garch" else "normal")
    train, later = r[:2000], r[2000:2040]
    fitted = GARCH(**kw).fit(train / 100)
    ours = fitted.forecast(HORIZONS, later / 100) * 1e4
    # arch: the same parameters fixed on the full series, forecasts from each origin 1999..2039
    am = arch_model(r, mean="Zero", vol="GARCH", p=1, o=kw.get("o", 0), q=1, dist=kw.get("dist", "normal"), rescale=False)
    fixed = am.fix(np.array(list(fitted.params.values())))
    var = fixed.forecast(horizon=10, start=1999, reindex=False).variance.to_numpy()[:41]
    for j, h in enumerate(HORIZONS):
        np.testing.assert_allclose(ours[:, j], var[:, :h].sum(axis=1), rtol=1e-8)


def test_garch_multi_step_closed_form():
    fitted = GARCH().fit(simulate_garch(1500, seed=5) / 100)
    p = fitted.params
    persistence = p["alpha"] + p["beta"]
    sbar = p["omega"] / (1 - persistence) / 1e4
    s2n = fitted.forecast([1])[0, 0]
    for h in (1, 5, 22):
        want = sum(sbar + persistence ** (k - 1) * (s2n - sbar) for k in range(1, h + 1))
        assert fitted.forecast([h])[0, 0] == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize(
    ("kw", "truth"),
    [
        ({}, {"omega": 0.02, "alpha": 0.08, "beta": 0.9}),
        ({"o": 1}, {"omega": 0.02, "alpha": 0.03, "gamma": 0.1, "beta": 0.9}),
        ({"dist": "t"}, {"omega": 0.02, "alpha": 0.08, "beta": 0.9, "nu": 6.0}),
    ],
)
def test_garch_recovers_known_parameters(kw, truth):
    sim = {k: v for k, v in truth.items() if k != "nu"}
    r = simulate_garch(20000, seed=7, dist=kw.get("dist", "normal"), nu=truth.get("nu", 8.0), **sim)
    params = GARCH(**kw).fit(r / 100).params
    for k, v in truth.items():
        tol = 1.5 if k == "nu" else (0.01 if k == "omega" else 0.03)
        assert params[k] == pytest.approx(v, abs=tol), k


def test_warm_start_reaches_the_same_optimum():
    r = simulate_garch(1300, seed=9) / 100
    model = GARCH()
    cold = model.fit(r[1:1001])
    warm = model.fit(r[1:1001], start=model.fit(r[:1000]))
    for k in cold.params:
        assert warm.params[k] == pytest.approx(cold.params[k], rel=1e-3, abs=1e-5)
    assert warm.forecast([10])[0, 0] == pytest.approx(cold.forecast([10])[0, 0], rel=1e-4)


def test_bad_inputs_are_refused():
    with pytest.raises(ParameterError, match="lambda"):
        EWMA(1.2)
    with pytest.raises(ParameterError, match="rolling window"):
        RollingWindow(1)
    with pytest.raises(ParameterError, match="dist"):
        GARCH(dist="skewt")
    with pytest.raises(DataError, match="at least 20 rows"):
        RollingWindow(20).fit(np.ones(5))
    with pytest.raises(DataError, match="NaN or inf"):
        EWMA().fit(np.array([0.01] * 40 + [np.nan]))
    with pytest.raises(ParameterError, match="horizons"):
        EWMA().fit(np.full(40, 0.01)).forecast([0])


def test_a_warm_start_on_the_boundary_gets_a_cold_second_opinion():
    """Real data where the likelihood has two maxima: alpha = 0 and alpha > 0.

    On the S&P 500 window ending 2006-07-18 the best GARCH fit has alpha = 0; one day later the
    interior maximum is higher, but a fit started from yesterday's boundary solution stays on
    the boundary. The model must not keep the worse one.
    """
    from arch.data import sp500

    r = np.diff(np.log(sp500.load()["Adj Close"].to_numpy()))
    t = 999 + 896  # origin 2006-07-19 of the 1000-day walk-forward
    yesterday = GARCH().fit(r[t - 1000 : t])
    assert yesterday.params["alpha"] < 1e-4
    today = GARCH().fit(r[t - 999 : t + 1], start=yesterday)
    model = arch_model(100 * r[t - 999 : t + 1], mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
    cold = model.fit(disp="off", tol=1e-8)
    stuck = model.fit(starting_values=np.array(list(yesterday.params.values())) + [0, 1e-6, -1e-6],
                      disp="off", tol=1e-8)
    assert stuck.loglikelihood < cold.loglikelihood - 0.01  # the trap is real
    ll_today = model.fix(np.array(list(today.params.values()))).loglikelihood
    assert ll_today == pytest.approx(cold.loglikelihood, abs=1e-6)
    assert today.params["alpha"] == pytest.approx(cold.params["alpha[1]"], rel=1e-3)
