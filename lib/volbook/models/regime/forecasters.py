"""The regime-switching HAR forecasters of chapter 3, each with the common forecaster API.

All read ``rv`` (a per-day realized variance, daily units) and forecast ``sum(rv[t+1 .. t+h])``
by per-regime direct HAR regressions blended with regime weights for day t+1 known at t
(:mod:`volbook.models.regime.base`). They differ in how regimes are defined on the training
window and how their weights at a new origin are found:

============================  ===========================================  ==========================================
forecaster                    regimes of the training rows                 weights at origin t
============================  ===========================================  ==========================================
:class:`SoftMarkovHAR`        smoothed probabilities of a Markov-switching  forward filter at t, one step through the
                              HAR fitted by EM (hmmlearn), started from a   transition matrix
                              Gaussian HMM on smoothed log volatility
:class:`MarkovSwitchingHAR`   the same model fitted by statsmodels'         the same filter (checked against
                              ``MarkovRegression`` (the reference)          statsmodels' filtered probabilities)
:class:`DistributionalHAR`    clusters of Mood-test segments of returns     XGBoost's probabilities of the next day's
                              by Wasserstein distance (spectral)           cluster from features at t
:class:`CoefficientHAR`       Bayesian-mixture weights of rolling HAR       XGBoost's predicted weights from features
                              coefficients (after PCA)                      at t
============================  ===========================================  ==========================================

Smoothed probabilities use later days, the target days of each training row included. They
are never used for forecasting, nor to weight the horizon-h regressions (those use the
predicted probabilities of day s+1 given rows up to s, the kind of weight an origin has);
:meth:`SwitchingFitted.smoothed_probabilities_hindsight` exposes them for explanatory figures
only. The clustering methods' labels are hindsight too (a row's label depends on the days after
it): ``train_weights="labels"`` (the poster's method) weights each cluster's regressions by
them, so each is fitted on rows selected partly by their own targets while an origin has only
the classifier's probabilities; ``train_weights="predicted"`` weights them by the classifier's
(in-sample) probabilities of the training rows instead.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from volbook.errors import ParameterError
from volbook.features import har_features
from volbook.history import History
from volbook.models.base import register
from volbook.models.regime.base import LOOKBACK, RegimeFitted, RegimeForecaster, har_design, regime_features
from volbook.models.regime.classifier import RegimeClassifier, fit_regime_classifier
from volbook.models.regime.coefficients import coefficient_regime_weights, rolling_coefficients
from volbook.models.regime.scales import Scale, to_scale
from volbook.models.regime.segmentation import cluster_segments, segment_by_scale
from volbook.models.regime.switching import (
    Emission,
    SwitchingParams,
    filter_probabilities,
    fit_markov_regression,
    fit_soft_em,
    log_densities,
)

__all__ = ["CoefficientHAR", "DistributionalHAR", "MarkovSwitchingHAR", "SoftMarkovHAR"]

# hmmlearn logs a warning whenever a (ridge or variance-floored) M-step lowers the likelihood
logging.getLogger("hmmlearn").setLevel(logging.ERROR)


def _signal(log_rv: np.ndarray, window: int) -> np.ndarray:
    """Smoothed log volatility: the mean of 0.5 * log rv over the last ``window`` days (NaN before)."""
    return har_features(0.5 * log_rv, (window,))[:, 0]


# ---------------------------------------------------------------- Markov switching


class SwitchingFitted(RegimeFitted):
    """A Markov-switching HAR fitted at t0: regression parameters, filter state, smoothed weights."""

    def __init__(self, spec: _SwitchingHAR, history: History, params: SwitchingParams, smoothed: np.ndarray) -> None:
        super().__init__(spec, history, smoothed)
        self.switching, self.smoothed = params, smoothed
        days = np.arange(LOOKBACK, len(history))
        self.filtered = filter_probabilities(self._log_dens(self.g, self.X, self._z(self.rv), days),
                                             params.transmat, params.startprob)
        # Rows' weights for the h > 1 regressions: Pr(regime of day s+1 | rows up to s), what the
        # forecast's weights are at an origin. The smoothed probabilities would select each row by
        # its own target (they use days s+1 .. s+h), and the regressions would then promise more
        # than the filter can deliver (on the S&P 500, 22-day QLIKE 0.31 instead of 0.24).
        self.W = np.vstack([params.startprob, self.filtered[:-1] @ params.transmat])
        self.params = {**self.describe(params.n_regimes),
                       **{f"p_{k}{k}": float(params.transmat[k, k]) for k in range(params.n_regimes)},
                       "loglik": params.loglik, "n_iter": float(params.n_iter), "converged": float(params.converged),
                       "filtered_1": float(self.filtered[-1, -1])}

    def _z(self, rv: np.ndarray) -> np.ndarray | None:
        return _signal(np.log(rv), self.spec.signal_window) if self.spec.emission != "regression" else None

    def _log_dens(self, g: np.ndarray, X: np.ndarray, z: np.ndarray | None, days: np.ndarray) -> np.ndarray:
        return log_densities(self.switching, g[days], X[days - 1], None if z is None else z[days], self.spec.emission)

    def coefficients(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        if h == 1:  # the fitted model itself (the EM / likelihood fixed point)
            return self.switching.beta, self.switching.sigma2
        return super().coefficients(h)

    def filtered_probabilities(self, new: History) -> np.ndarray:
        """(len(new) + 1, K): Pr(regime of day t0+j | rows up to t0+j), by the forward filter."""
        if len(new) == 0:
            return self.filtered[-1:].copy()
        series = self.extend(new)
        g = to_scale(series["rv"], self.spec.scale)
        days = np.arange(LOOKBACK, g.size)
        P = self.switching.transmat
        later = filter_probabilities(self._log_dens(g, har_design(g), self._z(series["rv"]), days), P,
                                     self.filtered[-1] @ P)
        return np.vstack([self.filtered[-1:], later])

    def regime_weights(self, new: History) -> np.ndarray:
        return self.filtered_probabilities(new) @ self.switching.transmat

    def states(self, new: History) -> dict[str, np.ndarray]:
        """``regime_k`` (weights of the forecast, see the base class) and ``filtered_k``:
        Pr(regime of the origin day = k | rows up to the origin), the forward filter."""
        filtered = self.filtered_probabilities(new)
        w = filtered @ self.switching.transmat
        out = {f"regime_{k}": w[:, k] for k in range(w.shape[1])}
        return out | {f"filtered_{k}": filtered[:, k] for k in range(w.shape[1])}

    def smoothed_probabilities_hindsight(self) -> np.ndarray:
        """Smoothed Pr(regime of day d | every training day), d = 22nd row .. t0.

        USES LATER DAYS: for explanatory figures only (showing why they cannot forecast); never
        used by :meth:`forecast`.
        """
        return self.smoothed.copy()


class _SwitchingHAR(RegimeForecaster):
    emission: Emission = "regression"
    signal_window: int = 5

    def _design(self, hist: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Day d's response g(rv_d), the regressors at d-1, and the regime signal at d (d = 22nd row .. t)."""
        rv = hist["rv"]
        g = to_scale(rv, self.scale)
        X = har_design(g)
        days = np.arange(LOOKBACK, rv.size)
        return g[days], X[days - 1], _signal(np.log(rv), self.signal_window)[days]


class SoftMarkovHAR(_SwitchingHAR):
    """Soft Markov switching HAR: EM with per-regime weighted least squares (the poster's method 1).

    The regime signal is the smoothed log volatility ``z_d`` = mean of ``0.5 log rv`` over the last
    ``signal_window`` days. hmmlearn's ``GaussianHMM`` on ``z`` gives starting regime
    probabilities; EM then alternates hmmlearn's forward-backward (E) and one weighted (ridge)
    least-squares HAR per regime (M) until the log-likelihood gains less than ``tol`` per day.
    Each refit runs EM from three starts -- the previous refit (warm), the HMM on ``z``, and a
    variance split -- and keeps the highest likelihood among the fits without a degenerate regime
    (:func:`~volbook.models.regime.switching.fit_soft_em`). The forecast weights are the filtered
    probabilities at t pushed one step through the transition matrix.

    Parameters
    ----------
    n_regimes
        K.
    scale
        Scale of the regressions (:mod:`~volbook.models.regime.scales`); ``"log"`` by default,
        where the Gaussian emission fits realized variance best.
    emission
        What identifies the regimes: ``"regression"`` (the HAR's residuals, default),
        ``"joint"`` (and the signal), ``"signal"`` (the signal alone: the poster's literal
        two-step reading, regimes = levels of smoothed volatility).
    ridge
        Ridge penalty of the per-regime regressions (0: weighted least squares).
    max_iter, tol
        EM limits: EM stops when the log-likelihood gains less than ``tol`` per day. On the
        simulated truth 1e-6 recovers the regimes 2 points more often than 1e-4, at 1.7 times
        the cost.
    seed
        Seed of the HMM start.
    min_obs
        Fewest training rows.
    """

    default_name = "soft_markov_har"

    def __init__(
        self,
        n_regimes: int = 2,
        *,
        scale: Scale = "log",
        emission: Emission = "regression",
        ridge: float = 0.0,
        signal_window: int = 5,
        max_iter: int = 200,
        tol: float = 1e-6,
        seed: int = 0,
        min_regime_rows: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        if emission not in ("regression", "joint", "signal"):
            raise ParameterError(f"emission must be 'regression', 'joint' or 'signal', got {emission!r}")
        super().__init__(n_regimes, scale=scale, ridge=ridge, seed=seed, min_regime_rows=min_regime_rows,
                         min_obs=min_obs, name=name)
        self.emission, self.signal_window, self.max_iter, self.tol = emission, int(signal_window), int(max_iter), float(tol)

    def fit(self, history, *, start=None) -> SwitchingFitted:
        hist = self._check(history, LOOKBACK + 10 * self.n_regimes * 4)
        y, X, z = self._design(hist)
        warm = start.switching if isinstance(start, SwitchingFitted) and start.switching.n_regimes == self.n_regimes else None
        params, smoothed = fit_soft_em(y, X, z, n_regimes=self.n_regimes, emission=self.emission, ridge=self.ridge,
                                       start=warm, max_iter=self.max_iter, tol=self.tol, seed=self.seed)
        return SwitchingFitted(self, hist, params, smoothed)


class MarkovSwitchingHAR(_SwitchingHAR):
    """Markov-switching HAR fitted by statsmodels' ``MarkovRegression`` (the reference).

    Switching intercept, HAR coefficients and residual variance, K regimes, maximum likelihood
    (BFGS; :func:`~volbook.models.regime.switching.fit_markov_regression` states the start and
    what makes it cheaper). Every refit starts cold from the same deterministic start: in a trial
    on the S&P 500 (refits every 126 days, then with centred regressors) BFGS started from the
    previous refit stayed in worse local maxima, lower at 4 of 5 refits by up to 5.7
    log-likelihood points. Forecast weights: filtered probabilities at t pushed
    one step through the transition matrix, the filter run by :func:`filter_probabilities`
    (equal to statsmodels' ``filtered_marginal_probabilities``; ``tests/test_regime_cores.py``).
    """

    default_name = "ms_har"

    def __init__(
        self,
        n_regimes: int = 2,
        *,
        scale: Scale = "log",
        maxiter: int = 100,
        min_regime_rows: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        super().__init__(n_regimes, scale=scale, ridge=0.0, seed=0, min_regime_rows=min_regime_rows, min_obs=min_obs,
                         name=name)
        self.maxiter = int(maxiter)

    def fit(self, history, *, start=None, plain: bool = False) -> SwitchingFitted:
        """Fit on ``history`` (``start`` is ignored: cold starts, see the class docstring).

        ``plain=True`` calls statsmodels the straightforward way (for the benchmark only).
        """
        hist = self._check(history, LOOKBACK + 10 * self.n_regimes * 4)
        y, X, _ = self._design(hist)
        params, smoothed = fit_markov_regression(y, X, n_regimes=self.n_regimes, maxiter=self.maxiter, plain=plain)
        return SwitchingFitted(self, hist, params, smoothed)


# ---------------------------------------------------------------- clustering + XGBoost


class ClassifiedFitted(RegimeFitted):
    """Regimes of the training rows from a clustering; at new origins, a classifier's probabilities."""

    def __init__(self, spec: RegimeForecaster, history: History, W: np.ndarray, classifier: RegimeClassifier,
                 extra: dict[str, float]) -> None:
        super().__init__(spec, history, W)
        self.classifier = classifier
        self.params = {**self.describe(spec.n_regimes), **extra}

    def _features(self, series: dict[str, np.ndarray]) -> np.ndarray:
        return regime_features(series["rv"], series.get("ret"))

    def regime_weights(self, new: History) -> np.ndarray:
        return self.classifier.predict(self._features(self.extend(new))[LOOKBACK - 1 :])


def _classified_fit(spec, hist: History, W: np.ndarray, extra: dict[str, float]) -> ClassifiedFitted:
    """Train the classifier on rows 21 .. t0-1 (features at s, regime weights ``W`` of row s) and
    build the fit; with ``train_weights="predicted"`` the per-regime regressions are weighted by
    the classifier's probabilities of the training rows instead of ``W``."""
    F = regime_features(hist["rv"], hist["ret"] if "ret" in spec.inputs else None)[LOOKBACK - 1 : len(hist) - 1]
    clf = fit_regime_classifier(F, W, n_estimators=spec.n_estimators, seed=spec.seed)
    if getattr(spec, "blend", "soft") == "hard":
        clf = _Hardened(clf.model, clf.n_regimes)
    return ClassifiedFitted(spec, hist, clf.predict(F) if spec.train_weights == "predicted" else W, clf, extra)


def _check_train_weights(value: str) -> str:
    if value not in ("labels", "predicted"):
        raise ParameterError(f"train_weights must be 'labels' or 'predicted', got {value!r}")
    return value


class DistributionalHAR(RegimeForecaster):
    """Distributional clustering HAR (the poster's method 2).

    On the training window: the daily returns are cut into segments of constant scale (Mood-test
    binary segmentation, segments of at least ``min_segment`` days, Bonferroni level ``alpha``);
    the segments are clustered by the Wasserstein distance between their return distributions with
    spectral clustering into ``n_regimes`` clusters (numbered calm to stressed by mean rv;
    :mod:`~volbook.models.regime.segmentation`). Training row s belongs to the cluster of day s+1
    (where its target begins); one HAR per cluster and horizon. XGBoost learns the cluster of day
    s+1 from features at s (:func:`~volbook.models.regime.base.regime_features`); at origin t its
    class probabilities weight the per-cluster forecasts (``blend="soft"``) or pick the most
    likely cluster (``"hard"``). The segmentation is two-sided *within* the training window
    (known at t); the labels of the last days are therefore provisional, which is why a
    classifier, not the last label, gives the regime at t. ``train_weights``: see the module
    docstring.
    """

    inputs = ("rv", "ret")

    default_name = "distributional_har"

    def __init__(
        self,
        n_regimes: int = 2,
        *,
        scale: Scale = "log",
        min_segment: int = 60,
        alpha: float = 0.01,
        blend: Literal["soft", "hard"] = "soft",
        train_weights: Literal["labels", "predicted"] = "labels",
        n_estimators: int = 100,
        ridge: float = 0.0,
        seed: int = 0,
        min_regime_rows: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        if blend not in ("soft", "hard"):
            raise ParameterError(f"blend must be 'soft' or 'hard', got {blend!r}")
        super().__init__(n_regimes, scale=scale, ridge=ridge, seed=seed, min_regime_rows=min_regime_rows,
                         min_obs=min_obs, name=name)
        self.min_segment, self.alpha, self.blend, self.n_estimators = int(min_segment), float(alpha), blend, int(n_estimators)
        self.train_weights = _check_train_weights(train_weights)

    def fit(self, history, *, start=None) -> ClassifiedFitted:
        hist = self._check(history, LOOKBACK + 2 * self.min_segment)
        ret, rv = hist["ret"], hist["rv"]
        bounds = segment_by_scale(ret, min_size=self.min_segment, alpha=self.alpha)
        seg_label = cluster_segments(ret, bounds, rv, n_clusters=self.n_regimes, seed=self.seed)
        day_label = np.repeat(seg_label, np.diff(bounds))
        k = int(day_label.max()) + 1
        W = np.eye(k)[day_label[LOOKBACK:]]  # row s = 21 .. t0-1 gets the cluster of day s+1
        return _classified_fit(self, hist, W, {"n_segments": float(bounds.size - 1)})


class _Hardened(RegimeClassifier):
    def predict(self, features: np.ndarray) -> np.ndarray:
        p = super().predict(features)
        return np.eye(p.shape[1])[p.argmax(axis=1)]


class CoefficientHAR(RegimeForecaster):
    """Coefficient-clustering HAR (the poster's method 3).

    On the training rows: HAR coefficients by OLS on windows of ``coef_window`` rows every
    ``coef_step`` rows, standardised, projected on ``n_pca`` principal components and clustered
    by a Bayesian Gaussian mixture (at most ``n_regimes`` components, Dirichlet-process prior);
    each row's soft regime weights are the mean responsibilities of the windows containing it
    (:mod:`~volbook.models.regime.coefficients`). One weighted least-squares HAR per regime and
    horizon; XGBoost, trained on the soft weights, predicts the weights at origin t from
    features at t. ``train_weights``: see the module docstring.
    """

    inputs = ("rv", "ret")

    default_name = "coefficient_har"

    def __init__(
        self,
        n_regimes: int = 3,
        *,
        scale: Scale = "log",
        coef_window: int = 125,
        coef_step: int = 5,
        n_pca: int = 2,
        min_weight: float = 0.05,
        train_weights: Literal["labels", "predicted"] = "labels",
        n_estimators: int = 100,
        ridge: float = 0.0,
        seed: int = 0,
        min_regime_rows: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        super().__init__(n_regimes, scale=scale, ridge=ridge, seed=seed, min_regime_rows=min_regime_rows,
                         min_obs=min_obs, name=name, least=1)
        self.coef_window, self.coef_step, self.n_pca = int(coef_window), int(coef_step), int(n_pca)
        self.min_weight, self.n_estimators = float(min_weight), int(n_estimators)
        self.train_weights = _check_train_weights(train_weights)

    def fit(self, history, *, start=None) -> ClassifiedFitted:
        hist = self._check(history, LOOKBACK + 2 * self.coef_window)
        rows, total = hist.training_rows(1, "rv")
        rows, y = rows[LOOKBACK - 1 :], to_scale(total[LOOKBACK - 1 :], self.scale)
        X = har_design(to_scale(hist["rv"], self.scale))[rows]
        ends, coefs = rolling_coefficients(X, y, length=self.coef_window, step=self.coef_step)
        W, _ = coefficient_regime_weights(ends, coefs, rows.size, self.coef_window, level=y, n_regimes=self.n_regimes,
                                          n_pca=self.n_pca, min_weight=self.min_weight, seed=self.seed)
        return _classified_fit(self, hist, W, {"n_windows": float(ends.size)})


# Cheap settings for the perturbation test (which refits each of these 72 times); the classes'
# defaults are the chapter's.
register("soft_markov_har")(lambda: SoftMarkovHAR(tol=1e-3, max_iter=30))
register("soft_markov_har_signal")(lambda: SoftMarkovHAR(emission="signal", tol=1e-3, max_iter=30))
register("ms_har")(lambda: MarkovSwitchingHAR(maxiter=5))
register("distributional_har")(lambda: DistributionalHAR(min_segment=40, n_estimators=20))
register("coefficient_har")(lambda: CoefficientHAR(coef_window=60, coef_step=20, n_estimators=20))
register("distributional_har_predicted")(
    lambda: DistributionalHAR(min_segment=40, n_estimators=20, train_weights="predicted", name="distributional_har_predicted"))
register("coefficient_har_predicted")(
    lambda: CoefficientHAR(coef_window=60, coef_step=20, n_estimators=20, train_weights="predicted",
                           name="coefficient_har_predicted"))
