"""HAR against independent references: plain loops, statsmodels, simulation with known parameters."""

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from _frames import make_frame

from volbook.errors import DataError, ParameterError
from volbook.features import har_feature_names, har_features
from volbook.history import History
from volbook.models import HAR
from volbook.timing import forward_sum
from volbook.walkforward import walk_forward

LAGS = (1, 5, 22)


@pytest.fixture(scope="module")
def frame():
    return make_frame(700, 5)


def loop_design(series, lags, rows):
    """Regressors by a plain loop: [1, mean of the last L values of each series ending at s].

    ``lags`` is one tuple for every series, or a list with one tuple per series."""
    per = lags if isinstance(lags, list) else [lags] * len(series)
    return np.array([[1.0] + [np.mean(x[s - lag + 1 : s + 1]) for x, ls in zip(series, per) for lag in ls]
                     for s in rows])


def loop_target(x, s, h):
    return sum(x[s + j] for j in range(1, h + 1))


def test_har_features_equal_a_plain_loop():
    x = np.random.default_rng(0).lognormal(size=40)
    got = har_features(x, (1, 5, 22))
    for t in range(40):
        for k, lag in enumerate((1, 5, 22)):
            if t < lag - 1:
                assert np.isnan(got[t, k])
            else:
                assert got[t, k] == pytest.approx(np.mean(x[t - lag + 1 : t + 1]), rel=1e-14)
    assert har_feature_names("rv", (1, 5)) == ["rv_1", "rv_5"]
    with pytest.raises(ParameterError, match="increasing positive"):
        har_features(x, (5, 1))


@pytest.mark.parametrize(
    ("kw", "proxy", "h"),
    [
        ({}, "ret2", 1),
        ({"proxy": "rv"}, "rv", 1),
        ({"proxy": "rv", "exog": ("vix",)}, "rv", 1),
        ({"proxy": "rv", "exog": {"vix": (1, 5), "ret": (1, 30)}, "direct": True}, "rv", 3),
        ({"proxy": "rv", "log": True}, "rv", 1),
        ({"proxy": "rv", "direct": True}, "rv", 5),
        ({"proxy": "rv", "direct": True, "log": True, "lags": (1, 5, 10)}, "rv", 10),
    ],
)
def test_coefficients_and_hc3_errors_equal_statsmodels_on_the_same_rows(frame, kw, proxy, h):
    model = HAR(**kw)
    lags = model.lags
    train = frame.head(500)
    x = train["ret"].to_numpy() ** 2 if proxy == "ret2" else train[proxy].to_numpy()
    z = np.log(x) if model.log else x
    series = [z] + [train[e].to_numpy() for e in model.exog]
    depth = max(max(lags), *(max(ls) for ls in model.exog.values())) if model.exog else max(lags)
    rows = range(depth - 1, 500 - h)  # complete regressors, target s+1..s+h inside the window
    y = np.array([loop_target(x, s, h) for s in rows])
    design = loop_design(series, [lags, *model.exog.values()], rows)
    ref = sm.OLS(np.log(y) if model.log else y, design).fit(cov_type="HC3")
    fitted = model.fit(train)
    fitted.forecast([h])  # a direct HAR estimates a horizon when it is first asked for
    prefix = f"h{h}." if model.direct else ""
    got = np.array([fitted.params[prefix + c] for c in model.columns])
    se = np.array([fitted.params[prefix + "se_" + c] for c in model.columns])
    np.testing.assert_allclose(got, ref.params, rtol=1e-9)
    np.testing.assert_allclose(se, ref.bse, rtol=1e-9)
    assert fitted.params[prefix + "nobs"] == len(rows)
    assert fitted.params[prefix + "sigma2"] == pytest.approx(ref.scale, rel=1e-9)
    assert "HC3" in str(fitted.summary(h))


def slow_iterated(model, fitted, z, horizon):
    """The h-step sum by a plain loop: extend the series with each forecast, recompute the means."""
    p = fitted.params
    zs = list(z)
    steps = []
    for _ in range(horizon):
        m = p["const"] + sum(p[c] * np.mean(zs[-lag:]) for c, lag in zip(model.columns[1:], model.lags))
        steps.append(m)
        zs.append(m)
    return steps


def test_iterated_forecast_equals_a_plain_loop(frame):
    model = HAR("rv")
    rv = frame["rv"].to_numpy()
    fitted = model.fit(frame.head(400))
    got = fitted.forecast([1, 5, 22], frame.slice(400, 30))
    for j in (0, 7, 30):
        steps = slow_iterated(model, fitted, rv[: 400 + j], 22)
        np.testing.assert_allclose(got[j], [sum(steps[:1]), sum(steps[:5]), sum(steps[:22])], rtol=1e-12)


def test_direct_forecast_is_the_fitted_value_at_the_origin(frame):
    fitted = HAR("rv", direct=True).fit(frame.head(400))
    got = fitted.forecast([10], frame.slice(400, 5))
    rv = frame["rv"].to_numpy()
    p = fitted.params
    for j in range(6):
        z = loop_design([rv], LAGS, [399 + j])[0]
        want = p["h10.const"] + sum(p[f"h10.rv_{lag}"] * z[k + 1] for k, lag in enumerate(LAGS))
        assert got[j, 0] == pytest.approx(want, rel=1e-12)


def simulate_log_har(n, beta=(-1.2, 0.35, 0.3, 0.2), sd=0.6, seed=0):
    """log x_{t+1} = b0 + b_d log x_t + b_w mean_5 log x + b_m mean_22 log x + N(0, sd^2)."""
    rng = np.random.default_rng(seed)
    z = np.full(n, beta[0] / (1 - sum(beta[1:])))
    for t in range(21, n - 1):
        z[t + 1] = beta[0] + beta[1] * z[t] + beta[2] * z[t - 4 : t + 1].mean() + beta[3] * z[t - 21 : t + 1].mean()
        z[t + 1] += sd * rng.standard_normal()
    return np.exp(z[500:])


def test_log_har_recovers_known_parameters_and_its_back_transform_is_unbiased():
    x = simulate_log_har(40_500)
    fitted = HAR("rv", log=True).fit(History({"rv": x[:20_000]}))
    p = fitted.params
    for c, v in zip(HAR("rv", log=True).columns, (-1.2, 0.35, 0.3, 0.2)):
        assert abs(p[c] - v) < 4 * p[f"se_{c}"], c
    assert p["sigma2"] == pytest.approx(0.36, rel=0.03)
    # out of sample: with the correction the forecast is the mean of x; without, the median
    later = History({"rv": x[20_000:-1]})
    corrected = fitted.forecast([1], later)[:-1, 0]
    naive = HAR("rv", log=True, bias_correction=False).fit(History({"rv": x[:20_000]})).forecast([1], later)[:-1, 0]
    y = x[20_001:]
    assert np.mean(y) / np.mean(corrected) == pytest.approx(1.0, abs=0.03)
    assert np.mean(y) / np.mean(naive) == pytest.approx(np.exp(0.18), abs=0.04)  # biased by exp(s^2 / 2)
    np.testing.assert_allclose(corrected, naive * np.exp(p["sigma2"] / 2), rtol=1e-12)


def test_log_har_multi_step_equals_a_monte_carlo_of_its_own_model():
    x = simulate_log_har(3_500, seed=1)
    model = HAR("rv", log=True)
    fitted = model.fit(History({"rv": x}))
    got = fitted.forecast([1, 3, 10])[0]
    p = fitted.params
    rng = np.random.default_rng(2)
    paths = np.tile(np.log(x[-22:]), (100_000, 1))
    sums = np.zeros(paths.shape[0])
    want = []
    for step in range(1, 11):
        m = p["const"] + sum(p[c] * paths[:, -lag:].mean(axis=1) for c, lag in zip(model.columns[1:], model.lags))
        nxt = m + np.sqrt(p["sigma2"]) * rng.standard_normal(paths.shape[0])
        sums += np.exp(nxt)
        paths = np.column_stack([paths[:, 1:], nxt])
        if step in (1, 3, 10):
            want.append(sums.mean())
    np.testing.assert_allclose(got, want, rtol=0.01)


def test_training_rows_in_the_walk_forward_respect_s_plus_h_le_t(frame):
    """At each refit origin t the direct 5-day regression uses rows lo+21 .. t-5, no later."""
    model = HAR("rv", direct=True)
    wf = walk_forward(model, frame, horizons=[5], window=300, refit_every=100, n_jobs=1)
    rv = frame["rv"].to_numpy()
    for i, t in enumerate(range(299, 700, 100)):
        rows = range(t - 299 + 21, t - 5 + 1)
        y = forward_sum(rv, 5)[list(rows)]
        ref = sm.OLS(y, loop_design([rv], LAGS, rows)).fit()
        got = wf.params.row(i, named=True)
        assert got["date"] == frame["date"][t]
        assert got["h5.nobs"] == len(rows)
        np.testing.assert_allclose([got[f"h5.{c}"] for c in model.columns], ref.params, rtol=1e-9)


def test_bad_settings_and_data_are_refused(frame):
    with pytest.raises(ParameterError, match="exog"):
        HAR("rv", exog=("rv",))
    with pytest.raises(ParameterError, match="min_obs"):
        HAR(min_obs=10)
    zeros = frame.with_columns(ret=pl.when(pl.int_range(700) == 50).then(0.0).otherwise("ret"))
    with pytest.raises(DataError, match=r"positive proxy, but ret2 has 1 values <= 0 \(first at 2001-03-12\)"):
        HAR(log=True).fit(zeros)
    with pytest.raises(DataError, match="reads the column 'rv'"):
        HAR("rv").fit(frame["ret"].to_numpy())
    with pytest.raises(DataError, match="1 complete training rows for horizon 30"):
        HAR("rv", direct=True).fit(frame.head(52)).forecast([30])
    assert HAR("rv", log=True, direct=True, exog=("vix",)).name == "har_log_direct_rv_vix"


def test_iterated_forecast_holds_exogenous_terms_at_their_origin_values(frame):
    model = HAR("rv", exog={"vix": (1, 30)})
    fitted = model.fit(frame.head(400))
    got = fitted.forecast([1, 4], frame.slice(400, 10))
    rv, vix = frame["rv"].to_numpy(), frame["vix"].to_numpy()
    p = fitted.params
    for j in (0, 10):
        t = 399 + j
        fixed = p["vix_1"] * vix[t] + p["vix_30"] * vix[t - 29 : t + 1].mean()
        zs, steps = list(rv[: t + 1]), []
        for _ in range(4):
            steps.append(p["const"] + fixed + sum(p[f"rv_{lag}"] * np.mean(zs[-lag:]) for lag in LAGS))
            zs.append(steps[-1])
        np.testing.assert_allclose(got[j], [steps[0], sum(steps)], rtol=1e-12)
