"""The numeric cores of the regime models, against independent references and a known truth.

References: statsmodels' MarkovRegression (same likelihood, another optimizer and filter),
hmmlearn's forward lattice, scipy's Mood test, scikit-learn's Ridge, plain least squares, and
data simulated from a two-regime log-HAR whose coefficients are known.
"""

import numpy as np
import pytest
import scipy.stats as st

from volbook.errors import DataError, ParameterError
from volbook.features import har_features
from volbook.models.regime.classifier import fit_regime_classifier
from volbook.models.regime.coefficients import coefficient_regime_weights, rolling_coefficients
from volbook.models.regime.scales import from_scale, to_scale
from volbook.models.regime.segmentation import cluster_segments, mood_split_statistics, segment_by_scale
from volbook.models.regime.simulate import DEFAULT_REGIME_HAR, simulate_regime_har
from volbook.models.regime.switching import (
    _markov_regression_class,
    _to_statsmodels,
    filter_probabilities,
    fit_markov_regression,
    fit_soft_em,
    fit_wls,
    log_densities,
)


def _switching_data(n, seed):
    """Day d's log rv, the HAR regressors at d-1 (intercept first), a smoothed signal, true regimes."""
    df = simulate_regime_har(n, seed=seed)
    L = np.log(df["rv"].to_numpy())
    d = np.arange(22, L.size)
    X = np.column_stack([np.ones(d.size), har_features(L)[d - 1]])
    z = np.convolve(0.5 * L, np.ones(5) / 5)[: L.size][d]
    return L[d], X, z, df["regime"].to_numpy()[d]


# ---------------------------------------------------------------- simulator


def test_simulator_is_seeded_and_visits_regimes_at_the_stationary_frequency():
    a, b = simulate_regime_har(40_000, seed=3), simulate_regime_har(40_000, seed=3)
    assert a.equals(b)
    assert not a.equals(simulate_regime_har(40_000, seed=4))
    P = DEFAULT_REGIME_HAR["transmat"]
    stationary = P[0, 1] / (P[0, 1] + P[1, 0])  # = 1/3
    assert abs(a["regime"].mean() - stationary) < 0.1
    assert (a["rv"] > 0).all() and a["date"].is_sorted()
    with pytest.raises(ParameterError, match="row-stochastic"):
        simulate_regime_har(10, transmat=np.array([[0.5, 0.6], [0.1, 0.9]]))


# ---------------------------------------------------------------- least squares


def test_fit_wls_is_weighted_least_squares_and_its_ridge_is_sklearns_on_standardised_columns():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(300), rng.normal(size=(300, 3)) * [1.0, 5.0, 0.2]])
    y = X @ [0.5, 1.0, -0.3, 2.0] + rng.normal(size=300)
    w = rng.uniform(0.1, 1.0, 300)
    b, s2 = fit_wls(X, y, w)
    ref = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    np.testing.assert_allclose(b, ref, rtol=1e-10)
    assert s2 == pytest.approx(w @ (y - X @ ref) ** 2 / w.sum())
    # ridge: penalty ridge * sum(w) * sum_j var_j b_j^2 == sklearn Ridge on X_j / sd_j, alpha = ridge * sum(w)
    b_r, _ = fit_wls(X, y, w, ridge=0.3)
    mean = w @ X / w.sum()
    sd = np.sqrt(w @ (X - mean) ** 2 / w.sum())[1:]
    sk = Ridge(alpha=0.3 * w.sum()).fit(X[:, 1:] / sd, y, sample_weight=w)
    np.testing.assert_allclose(b_r[1:], sk.coef_ / sd, rtol=1e-8)
    assert b_r[0] == pytest.approx(sk.intercept_, rel=1e-8)


def test_scales_round_trip():
    v = np.array([1e-5, 1e-4, 4e-4])
    for scale in ("variance", "volatility", "log"):
        np.testing.assert_allclose(from_scale(to_scale(v, scale), 0.0, scale), v)
    # log-normal mean: E exp(N(m, s2)) = exp(m + s2/2)
    draws = np.exp(np.random.default_rng(1).normal(-9.0, 0.5, 400_000))
    assert from_scale(-9.0, 0.25, "log") == pytest.approx(draws.mean(), rel=0.01)


# ---------------------------------------------------------------- filter


def test_forward_filter_equals_statsmodels_filtered_probabilities():
    """Our Hamilton filter, run at statsmodels' parameters, reproduces its filtered probabilities."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    y, X, _, _ = _switching_data(1200, seed=5)
    params, _ = fit_soft_em(y, X, None, emission="regression")
    model = MarkovRegression(y, k_regimes=2, exog=X[:, 1:], switching_variance=True)
    sm = model.filter(_to_statsmodels(params))
    assert sm.llf == pytest.approx(params.loglik, rel=1e-3)
    prior = np.asarray(model.initial_probabilities(_to_statsmodels(params)))
    ours = filter_probabilities(log_densities(params, y, X, None, "regression"), params.transmat, prior)
    np.testing.assert_allclose(ours, sm.filtered_marginal_probabilities, atol=1e-10)


def test_forward_filter_equals_hmmlearns_forward_pass_and_differs_from_its_predict_proba():
    """hmmlearn's ``predict_proba`` is the SMOOTHED posterior; the filter is its forward pass only."""
    from hmmlearn import _hmmc
    from hmmlearn.hmm import GaussianHMM

    _, _, z, _ = _switching_data(1500, seed=6)
    hmm = GaussianHMM(n_components=2, covariance_type="diag", n_iter=50, random_state=0).fit(z[:, None])
    logd = st.norm.logpdf(z[:, None], hmm.means_[:, 0], np.sqrt(hmm.covars_[:, 0, 0]))
    ours = filter_probabilities(logd, hmm.transmat_, hmm.startprob_)
    _, fwd = _hmmc.forward_log(hmm.startprob_, hmm.transmat_, logd)
    ref = np.exp(fwd - np.logaddexp.reduce(fwd, axis=1, keepdims=True))
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    smoothed = hmm.predict_proba(z[:, None])
    assert np.abs(smoothed - ours).max() > 0.1  # the smoothed ones use later days ...
    np.testing.assert_allclose(smoothed[-1], ours[-1], atol=1e-8)  # ... except on the last day
    # and the filter at d does not move when later days change
    later = logd.copy()
    later[1000:] = later[1000:, ::-1]
    np.testing.assert_array_equal(filter_probabilities(later, hmm.transmat_, hmm.startprob_)[:1000], ours[:1000])


# ---------------------------------------------------------------- soft EM vs the truth and vs statsmodels

#: Stated tolerance: every coefficient within 4 standard errors of the truth, the standard errors
#: being those of an oracle regression that knows the regimes (the best any estimator can do).
COEF_SE = 4.0


def test_soft_em_recovers_the_simulated_coefficients_and_regimes():
    y, X, z, regime = _switching_data(8000, seed=11)
    params, smoothed = fit_soft_em(y, X, z, emission="regression", tol=1e-6)
    truth = DEFAULT_REGIME_HAR
    for k in range(2):
        Xk, yk = X[regime == k], y[regime == k]
        _, s2 = fit_wls(Xk, yk, np.ones(yk.size))
        se = np.sqrt(np.diag(s2 * np.linalg.inv(Xk.T @ Xk)))
        assert (np.abs(params.beta[k] - truth["beta"][k]) < COEF_SE * se).all(), (k, params.beta[k], se)
        assert np.sqrt(params.sigma2[k]) == pytest.approx(truth["sigma"][k], rel=0.05)
    np.testing.assert_allclose(params.transmat, truth["transmat"], atol=0.01)
    filtered = filter_probabilities(log_densities(params, y, X, z, "regression"), params.transmat, params.startprob)
    accuracy = (filtered.argmax(axis=1) == regime).mean()
    assert accuracy > 0.85, accuracy
    assert (smoothed.argmax(axis=1) == regime).mean() > accuracy  # hindsight is better, and unusable


def test_soft_em_and_statsmodels_markov_regression_find_the_same_fit():
    """Stated sense of agreement. Both maximise the Markov-switching likelihood, with different
    optimizers (EM vs BFGS), starts, and first-day probabilities (the soft EM estimates them,
    statsmodels uses the chain's steady state). Evaluated by statsmodels' own likelihood, the
    soft EM's parameters are within 0.1 of statsmodels' maximum; the fitted conditional means
    agree within 0.01 (log variance) on every day; the filtered regimes agree on 99.5% of days."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    y, X, z, _ = _switching_data(2500, seed=1)
    em, _ = fit_soft_em(y, X, z, emission="regression", tol=1e-7)
    sm, _ = fit_markov_regression(y, X)
    model = MarkovRegression(y, k_regimes=2, exog=X[:, 1:], switching_variance=True)
    assert model.loglike(_to_statsmodels(sm)) == pytest.approx(sm.loglik, abs=1e-8)
    assert 0 <= sm.loglik - model.loglike(_to_statsmodels(em)) < 0.1
    assert np.abs(X @ em.beta.T - X @ sm.beta.T).max() < 0.01
    f_em = filter_probabilities(log_densities(em, y, X, None, "regression"), em.transmat, em.startprob)
    f_sm = filter_probabilities(log_densities(sm, y, X, None, "regression"), sm.transmat, sm.startprob)
    assert (f_em.argmax(axis=1) == f_sm.argmax(axis=1)).mean() > 0.995


def test_analytic_score_equals_statsmodels_complex_step_score_and_the_fit_is_unchanged():
    """The reference's cheaper score is statsmodels' own to rounding, on both parameter scales,
    so its BFGS ends where statsmodels' plain fit ends."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    y, X, _, _ = _switching_data(800, seed=8)
    fast, fast_smoothed = fit_markov_regression(y, X)
    plain, plain_smoothed = fit_markov_regression(y, X, plain=True)
    assert fast.loglik == pytest.approx(plain.loglik, abs=1e-6)
    np.testing.assert_allclose(fast.beta, plain.beta, atol=1e-5)
    np.testing.assert_allclose(fast_smoothed, plain_smoothed, atol=1e-5)
    ours = _markov_regression_class()(y, k_regimes=2, exog=X[:, 1:], switching_variance=True)
    ref = MarkovRegression(y, k_regimes=2, exog=X[:, 1:], switching_variance=True)
    rng = np.random.default_rng(0)
    for transformed in (True, False):
        p = _to_statsmodels(fast)
        p = (p if transformed else ours.untransform_params(p)) + rng.normal(0, 0.02, p.size)
        np.testing.assert_allclose(ours.score(p, transformed), ref.score(p, transformed), rtol=1e-8, atol=1e-8)


def test_soft_em_warm_start_converges_to_the_cold_fit_in_fewer_iterations():
    y, X, z, _ = _switching_data(2000, seed=2)
    cold, _ = fit_soft_em(y[:-20], X[:-20], z[:-20], emission="regression")
    again, _ = fit_soft_em(y, X, z, emission="regression")
    warm, _ = fit_soft_em(y, X, z, emission="regression", start=cold)
    assert warm.n_iter < again.n_iter
    assert warm.loglik == pytest.approx(again.loglik, abs=1.0)
    np.testing.assert_allclose(warm.transmat, again.transmat, atol=0.01)


def test_soft_em_refuses_bad_settings():
    y, X, z, _ = _switching_data(300, seed=0)
    with pytest.raises(ParameterError, match="emission"):
        fit_soft_em(y, X, z, emission="smoothed")
    with pytest.raises(DataError, match="too few"):
        fit_soft_em(y[:50], X[:50], z[:50])
    with pytest.raises(ParameterError, match="needs the regime signal"):
        fit_soft_em(y, X, None, emission="joint")


# ---------------------------------------------------------------- distributional regimes


def test_mood_statistics_for_all_splits_equal_scipys_mood_test():
    x = np.random.default_rng(0).standard_t(5, 157)
    z = mood_split_statistics(x)
    for m in (3, 40, 78, 150):
        assert z[m - 1] == pytest.approx(st.mood(x[:m], x[m:]).statistic, rel=1e-12)


def test_segmentation_finds_scale_changes_and_no_change_in_iid_noise():
    rng = np.random.default_rng(4)
    scale = np.repeat([1.0, 2.5, 1.0, 3.0], [300, 200, 250, 250])
    bounds = segment_by_scale(rng.normal(size=scale.size) * scale, min_size=60)
    np.testing.assert_array_less(np.abs(bounds[1:-1] - [300, 500, 750]), 25)
    for seed in range(5):
        assert segment_by_scale(np.random.default_rng(seed).standard_t(6, 1000)).tolist() == [0, 1000]
    with pytest.raises(ParameterError, match="min_size"):
        segment_by_scale(scale, min_size=2)


def test_wasserstein_spectral_clustering_groups_segments_of_equal_scale_calm_first():
    rng = np.random.default_rng(7)
    scales = [2.0, 1.0, 2.1, 1.0, 0.95, 2.0]
    x = np.concatenate([rng.normal(size=150) * s for s in scales])
    bounds = np.arange(0, 901, 150)
    labels = cluster_segments(x, bounds, x**2, n_clusters=2, seed=0)
    assert labels.tolist() == [1, 0, 1, 0, 0, 1]
    assert cluster_segments(x, np.array([0, 900]), x**2).tolist() == [0]


# ---------------------------------------------------------------- coefficient regimes


def test_rolling_coefficients_equal_least_squares_per_window():
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(400), rng.normal(size=(400, 3))])
    y = X @ [1.0, 0.5, -0.2, 0.1] + rng.normal(size=400)
    ends, coefs = rolling_coefficients(X, y, length=100, step=30)
    assert ends[-1] == 399 and (np.diff(ends) == 30).all() and ends[0] - 99 >= 0
    for e, c in zip(ends, coefs):
        np.testing.assert_allclose(c, np.linalg.lstsq(X[e - 99 : e + 1], y[e - 99 : e + 1], rcond=None)[0], rtol=1e-8)


def test_coefficient_clustering_separates_two_coefficient_regimes():
    rng = np.random.default_rng(3)
    n = 2000
    regime = (np.arange(n) // 400) % 2  # blocks of 400 rows
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    beta = np.where(regime[:, None] == 0, [0.0, 1.0, 0.5], [1.0, -0.5, 0.5])
    y = (X * beta).sum(axis=1) + 0.5 * rng.normal(size=n)
    ends, coefs = rolling_coefficients(X, y, length=100, step=10)
    W, _ = coefficient_regime_weights(ends, coefs, n, 100, level=y, n_regimes=3, seed=0)
    # rows deep inside a block are given to one component per true regime, a different one for each
    # (windows straddling two blocks may form a third, in-between component)
    interior = np.abs((np.arange(n) % 400) - 200) < 150
    hard = W.argmax(axis=1)
    majority = [np.bincount(hard[interior & (regime == k)]).argmax() for k in (0, 1)]
    assert majority[0] != majority[1]
    for k in (0, 1):
        assert (hard[interior & (regime == k)] == majority[k]).mean() > 0.95
    np.testing.assert_allclose(W.sum(axis=1), 1.0)


def test_regime_classifier_learns_soft_labels():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(2000, 2))
    p1 = 1 / (1 + np.exp(-3 * F[:, 0]))
    W = np.column_stack([1 - p1, p1])
    clf = fit_regime_classifier(F, W, seed=0)
    pred = clf.predict(F)
    assert pred.shape == (2000, 2)
    assert np.abs(pred[:, 1] - p1).mean() < 0.08
    assert fit_regime_classifier(F, np.ones((2000, 1))).predict(F[:3]).tolist() == [[1.0]] * 3
