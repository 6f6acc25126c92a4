"""ES and STES against independent references: plain loops, finite differences, scipy's lfilter,
volbook's EWMA, and data simulated from a known STES process."""

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from _gate_history import history, sp500_returns
from volbook.errors import DataError, ParameterError
from volbook.features import gate_features
from volbook.models.ewma import ewma_filter
from volbook.models.gate import SCORE_RTOL, GateScaler, choose_best, time_series_folds
from volbook.models.recursion import stes_adjoint, stes_filter, stes_jacobian
from volbook.models.stes import ES, STES, es_forecasts, fit_es_alpha, fit_stes_beta, select_l2
from volbook.walkforward import walk_forward


@pytest.fixture(scope="module")
def returns():
    return sp500_returns()[:2001]


def random_design(n, k, seed):
    rng = np.random.default_rng(seed)
    r = rng.standard_t(5, n)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, k))])
    return r**2, X, rng.normal(0, 0.5, k + 1)


def test_filter_is_the_plain_loop_and_the_ewma():
    p, X, beta = random_design(300, 2, 0)
    alpha = expit(X @ beta)
    np.testing.assert_array_equal(stes_filter(p, alpha, 0.7), stes_filter.py_func(p, alpha, 0.7))
    np.testing.assert_allclose(stes_filter(p, np.full(300, 0.06), 0.7)[1:], ewma_filter(np.sqrt(p), 0.94, 0.7), rtol=1e-12)
    np.testing.assert_allclose(stes_filter(p, np.full(300, 0.2), 0.7)[1:], es_forecasts(p, 0.2, 0.7), rtol=1e-12)


def test_jacobian_matches_finite_differences():
    p, X, beta = random_design(400, 3, 1)

    def forecasts(b):
        return stes_filter(p, expit(X @ b), 0.9)

    v = forecasts(beta)
    D = stes_jacobian(p, X, expit(X @ beta), v)
    h = 1e-6
    for j in range(beta.size):
        e = np.zeros(beta.size)
        e[j] = h
        fd = (forecasts(beta + e) - forecasts(beta - e))[1:] / (2 * h)
        np.testing.assert_allclose(D[:, j], fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", ["mse", "qlike"])
def test_adjoint_gradient_matches_finite_differences_and_hessian_is_gauss_newton(loss):
    rng = np.random.default_rng(2)
    n = 60
    p = rng.standard_t(5, n) ** 2
    y = np.append(p[1:], 1.0)
    z = rng.normal(-1.5, 0.7, n)

    def total(zz):
        f = stes_filter(p, expit(zz), 1.0)[1:]
        return np.sum(0.5 * (f - y) ** 2) if loss == "mse" else np.sum(y / f - np.log(y / f) - 1)

    alpha = expit(z)
    v = stes_filter(p, alpha, 1.0)
    f = v[1:]
    e, w = (f - y, np.ones(n)) if loss == "mse" else ((f - y) / f**2, 1 / f**2)
    grad, hess = stes_adjoint(p, alpha, v, e, w)
    h = 1e-6
    dv = np.empty((n, n))  # dv[s, t] = d f_s / d z_t
    fd = np.empty(n)
    for t in range(n):
        zp, zm = z.copy(), z.copy()
        zp[t] += h
        zm[t] -= h
        fd[t] = (total(zp) - total(zm)) / (2 * h)
        dv[:, t] = (stes_filter(p, expit(zp), 1.0)[1:] - stes_filter(p, expit(zm), 1.0)[1:]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hess, np.maximum((w[:, None] * dv**2).sum(axis=0), 1e-12), rtol=1e-5, atol=1e-10)


def test_stes_with_a_constant_only_gate_equals_es(returns):
    p = returns**2
    rows, y = np.arange(p.size - 1), p[1:]
    v0 = p[:20].mean()
    alpha = fit_es_alpha(p, rows, y, v0)
    beta, _, _ = fit_stes_beta(p, np.ones((p.size, 1)), rows, y, v0, l2=0.0, starts=[np.array([0.0])])
    # two optimizers of the same flat objective: the same minimum, alpha to optimizer precision
    sse = [np.sum((es_forecasts(p, a, v0)[rows] - y) ** 2) for a in (alpha, expit(beta[0]))]
    assert sse[1] == pytest.approx(sse[0], rel=1e-10)
    assert expit(beta[0]) == pytest.approx(alpha, rel=1e-5)
    es = ES().fit(history(returns))
    assert es.params["alpha"] == pytest.approx(alpha, rel=1e-12)
    np.testing.assert_allclose(es.path()["forecast"], es_forecasts(p, alpha, v0), rtol=1e-10)


def test_fit_recovers_the_gate_of_a_simulated_stes_process():
    """y_s has conditional mean v_{s+1}(beta) from the STES recursion on a GARCH proxy."""
    beta = np.array([-2.0, 0.8, -0.5])
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        n, r, s2 = 10_000, np.empty(10_000), 1.0
        z = rng.standard_normal(n)
        for t in range(n):
            r[t] = np.sqrt(s2) * z[t]
            s2 = 0.05 + 0.1 * r[t] ** 2 + 0.85 * s2
        scaler = GateScaler.fit(np.column_stack([r, np.abs(r)]), ("ret", "abs_ret"))
        D = np.column_stack([np.ones(n), scaler.transform(np.column_stack([r, np.abs(r)]))])
        v = stes_filter(r**2, expit(D @ beta), 1.0)
        y = v[1:] * rng.lognormal(-0.125, 0.5, n)
        est, _, _ = fit_stes_beta(r**2, D, np.arange(n), y, 1.0, l2=0.0, starts=[np.zeros(3), rng.normal(size=3)])
        np.testing.assert_allclose(est, beta, atol=0.25)


def test_in_sample_forecasts_start_at_the_first_training_row_and_run_on_into_the_test_rows(returns):
    model = STES(n_starts=2)
    fit = model.fit(history(returns[:1500]))
    b = np.array([fit.params[f"beta_{n}"] for n in ("const", "ret", "abs_ret", "ret2")])
    X = np.column_stack([returns, np.abs(returns), returns**2])
    Z = (X - X[:1499].mean(axis=0)) / X[:1499].std(axis=0)  # standardized on the training rows
    alpha = expit(b[0] + Z @ b[1:])
    v, slow = np.mean(returns[:20] ** 2), []
    for s in range(returns.size):  # one plain loop from the first training row through the test rows
        v = alpha[s] * returns[s] ** 2 + (1 - alpha[s]) * v
        slow.append(v)
    path = fit.path(history(returns[1500:]))
    assert path["sample"].to_list() == ["train"] * 1500 + ["test"] * (returns.size - 1500)
    np.testing.assert_allclose(path["forecast"], slow, rtol=1e-9)
    np.testing.assert_allclose(path["alpha"], alpha, rtol=1e-9)
    assert fit.v_next == pytest.approx(slow[1499], rel=1e-12)
    np.testing.assert_allclose(fit.one_step(history(returns[1500:])), slow[1499:], rtol=1e-9)
    np.testing.assert_allclose(path["logit"], path.select(path.columns[5:]).sum_horizontal(), rtol=1e-9)


def test_standardization_uses_the_training_rows_only(returns):
    r = returns[:800].copy()
    r[-1] = 0.5  # the origin's return has no target yet: it must not move the scaler
    fit = STES(n_starts=1).fit(history(r))
    X = np.column_stack([r, np.abs(r), r**2])[:-1]
    np.testing.assert_allclose(fit.scaler.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fit.scaler.scale, X.std(axis=0), rtol=1e-12)


def test_more_starts_never_do_worse_and_fits_are_deterministic(returns):
    h = history(returns[:1200])
    one, five = STES(n_starts=1).fit(h), STES(n_starts=5).fit(h)
    assert five.params["objective"] <= one.params["objective"] + 1e-12
    assert five.params["converged"] == 1.0
    assert STES(n_starts=5).fit(h).params == five.params
    warm = STES(n_starts=5).fit(history(returns[:1250]), start=five)
    cold = STES(n_starts=5).fit(history(returns[:1250]))
    assert warm.params["objective"] == pytest.approx(cold.params["objective"], rel=1e-6)


def test_l2_shrinks_the_gate_and_cv_picks_the_lowest_validation_mse(returns):
    h = history(returns[:1500])
    norms = [np.linalg.norm([STES(l2=l2, n_starts=2).fit(h).params[f"beta_{n}"] for n in ("ret", "abs_ret", "ret2")])
             for l2 in (0.0, 0.01, 1.0)]
    assert norms[0] > norms[1] > norms[2]
    p = returns[:1500] ** 2
    X = np.column_stack([returns[:1500], np.abs(returns[:1500]), p])
    best, scores = select_l2(p, X, ("ret", "abs_ret", "ret2"), np.arange(1499), p[1:], p[:20].mean(),
                             grid=(0.0, 0.1, 1.0), n_splits=3)
    assert scores.shape == (3, 3)
    assert best == (0.0, 0.1, 1.0)[int(np.argmin(scores.mean(axis=1)))]
    assert STES(l2="cv", l2_grid=(0.0, 0.1, 1.0), n_starts=2).fit(h).params["l2"] == best


def test_choose_best_breaks_near_ties_by_the_stated_preference():
    assert choose_best([3.0, 1.0, 1.0 + 0.5 * SCORE_RTOL, 2.0]) == 1  # tied: the earlier
    assert choose_best([3.0, 1.0, 1.0 + 0.5 * SCORE_RTOL, 2.0], preference=[3, 2, 1, 0]) == 2
    assert choose_best([1.0 + 2 * SCORE_RTOL, 1.0], preference=[0, 1]) == 1  # beyond the tolerance: the lowest
    assert choose_best([-5.0, -5.0 + 4e-6], preference=[1, 0]) == 1  # the tolerance is relative to |min|
    assert choose_best([0.0, 1e-300], preference=[1, 0]) == 0
    with pytest.raises(DataError, match="finite scores"):
        choose_best([1.0, np.nan])
    with pytest.raises(ParameterError, match="every one of the 3"):
        choose_best([1.0, 2.0, 3.0], preference=[0, 1])


def test_cv_penalties_that_tie_within_float_noise_choose_the_largest(returns):
    """Penalties of 1e-13 change nothing but the optimizer's last steps: their validation scores
    differ by about 1e-8 relative (what another machine's floats would do), so they are tied and
    the largest penalty wins, whatever the order of the noise."""
    r = returns[:1500]
    p = r**2
    X = np.column_stack([r, np.abs(r), p])
    grid = (0.0, 1e-13, 2e-13)
    best, scores = select_l2(p, X, ("ret", "abs_ret", "ret2"), np.arange(1499), p[1:], p[:20].mean(),
                             grid=grid, n_splits=3)
    means = scores.mean(axis=1)
    assert means.max() / means.min() - 1 < SCORE_RTOL
    assert best == 2e-13


def test_time_series_folds_expand():
    assert time_series_folds(100, 3) == [(25, 50), (50, 75), (75, 100)]
    assert time_series_folds(103, 3) == [(28, 53), (53, 78), (78, 103)]
    with pytest.raises(DataError, match="too few"):
        time_series_folds(5, 3)


def test_bad_settings_get_clear_errors(returns):
    with pytest.raises(ParameterError, match="l2 must be"):
        STES(l2=-1.0)
    with pytest.raises(ParameterError, match="at least one gate feature"):
        STES(())
    with pytest.raises(ParameterError, match="unknown gate feature family"):
        STES(("ret", "vix"))
    with pytest.raises(DataError, match="needs at least 250 rows"):
        STES().fit(history(returns[:100]))


def test_new_rows_read_the_training_tail_for_rolling_and_calendar_features(returns):
    """Fitted on rows < 1500, fed the rest: the same as one pass of the features over all rows."""
    dates = np.busday_offset("2001-01-01", np.arange(returns.size), roll="forward")
    gate = ("ret2", "har", "har_diff", "dow", "month", "fomc", "opex", "imm")
    fit = STES(gate, l2=0.01, n_starts=1).fit(history(returns[:1500], dates=dates[:1500]))
    X, names = gate_features(gate, ret=returns, dates=dates)
    Z = fit.scaler.transform(X)
    b = np.array([fit.params["beta_const"]] + [fit.params[f"beta_{n}"] for n in names])
    alpha = expit(b[0] + Z @ b[1:])
    v = stes_filter(returns**2, alpha, np.mean(returns[:20] ** 2))
    new = history(returns[1500:], dates=dates[1500:])
    np.testing.assert_allclose(fit.one_step(new), v[1500:], rtol=1e-9)
    np.testing.assert_allclose(fit.states(new)["alpha"], alpha[1499:], rtol=1e-9)
    with pytest.raises(ParameterError, match="need real dates"):
        STES(("ret", "dow")).fit(history(returns[:1500]))


def test_through_the_engine_with_a_frame_and_alpha_states(returns):
    dates = np.busday_offset("2001-01-01", np.arange(800), roll="forward")
    frame = pl.DataFrame({"date": dates, "ret": returns[:800]})
    model = STES(("ret", "fomc"), l2=0.01, n_starts=1)
    wf = walk_forward(model, frame, window=500, refit_every=100, states=True)
    assert wf.forecasts.height == 301 and wf.params.height == 4
    alpha = wf.states.filter(pl.col("name") == "alpha")["value"].to_numpy()
    assert alpha.size == 301 and ((alpha > 0) & (alpha < 1)).all()
    last = model.fit(frame.slice(300, 500))  # the last refit's window, as a frame, cold-started
    # the engine warm-starts each refit from the previous one: the same optimum to solver precision
    assert wf.forecasts["forecast"][-1] == pytest.approx(last.forecast([1])[0, 0], rel=1e-5)


def test_rows_without_dates_are_fine_unless_a_calendar_feature_needs_them(returns):
    dates = np.busday_offset("2001-01-01", np.arange(1500), roll="forward")
    plain = STES(n_starts=1).fit(history(returns[:1500], dates=dates))
    assert plain.forecast([1, 5], returns[1500:1510]).shape == (11, 2)
    seasonal = STES(("ret", "dow"), l2=0.01, n_starts=1).fit(history(returns[:1500], dates=dates))
    with pytest.raises(ParameterError, match="need the row dates"):
        seasonal.forecast([1], returns[1500:1510])
