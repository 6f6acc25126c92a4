"""Markov-switching HAR regressions: the soft EM (via ``hmmlearn``), statsmodels' reference fit,
and the forward filter that turns either into leak-free regime weights.

The model, for a day d with regime S_d in {0 .. K-1} following a Markov chain with row-stochastic
transition matrix ``P[i, j] = Pr(S_d = j | S_{d-1} = i)``::

    y_d | S_d = k, past  ~  N(x_{d-1}' beta_k, sigma2_k)          (regression emission)
    z_d | S_d = k        ~  N(mu_k, tau2_k)                        (signal emission, optional)

``y_d = g(rv_d)`` on the model's scale (see :mod:`volbook.models.regime.scales`), ``x_{d-1}`` the
HAR regressors known at the close of d-1 (an intercept first), ``z_d`` a regime signal known at d
(the smoothed log volatility). ``emission`` chooses which parts identify the regimes:

* ``"regression"`` -- Hamilton's Markov-switching regression, the model statsmodels'
  ``MarkovRegression`` fits (with ``switching_variance=True``);
* ``"joint"`` -- both densities, treated as independent given the regime (an approximation:
  ``z_d`` averages ``g(rv)`` over days that include d);
* ``"signal"`` -- the regimes are those of a Gaussian HMM on ``z`` alone; the regression is then
  fitted by weighted least squares with those regime probabilities and does not feed back.

Estimation (:func:`fit_soft_em`) is EM: the E-step is hmmlearn's forward-backward over the
training window (smoothed probabilities are legitimate *inside* the window: every day in it is
known at the origin); the M-step is one weighted least-squares (optionally ridge) regression per
regime with the smoothed probabilities as weights, the weighted residual variance, the signal's
weighted mean and variance, and the transition counts. A cold start runs EM from hmmlearn's
``GaussianHMM`` on ``z`` and from a variance split, keeping the better fit; a warm start starts
from the previous fit's parameters.

Forecasting never uses smoothed probabilities: :func:`filter_probabilities` runs the forward
(Hamilton) filter, whose value at d uses days up to d only, and the weight of regime k for day
t+1 is ``(filtered_t @ P)[k]``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from hmmlearn.base import BaseHMM
from hmmlearn.hmm import GaussianHMM
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from volbook.errors import DataError, ParameterError

__all__ = [
    "Emission",
    "SwitchingParams",
    "filter_probabilities",
    "fit_markov_regression",
    "fit_soft_em",
    "fit_wls",
    "log_densities",
]

Emission = Literal["regression", "joint", "signal"]
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class SwitchingParams:
    """Estimated Markov-switching regression; regimes ordered by mean of ``y`` (0 = calmest).

    Attributes
    ----------
    beta
        (K, p) regression coefficients per regime; column 0 is the intercept.
    sigma2
        (K,) residual variances.
    transmat
        (K, K) row-stochastic transition matrix, ``transmat[i, j] = Pr(S_d = j | S_{d-1} = i)``.
    startprob
        (K,) regime probabilities for the first day of the training window.
    signal_mean, signal_var
        (K,) Gaussian emission of the regime signal per regime (NaN when not used).
    loglik
        Log-likelihood of the training window at these parameters (of the emission used).
    n_iter
        EM iterations (soft EM); 0 for the statsmodels reference (not reported by it).
    converged
        EM stopped on its tolerance, not on ``max_iter``; statsmodels raised no
        ``ConvergenceWarning``.
    """

    beta: np.ndarray
    sigma2: np.ndarray
    transmat: np.ndarray
    startprob: np.ndarray
    signal_mean: np.ndarray
    signal_var: np.ndarray
    loglik: float
    n_iter: int
    converged: bool = True

    @property
    def n_regimes(self) -> int:
        return int(self.sigma2.size)

    def permuted(self, order: np.ndarray) -> SwitchingParams:
        """The same model with regimes relabelled so that new regime i is old regime ``order[i]``."""
        o = np.asarray(order)
        return replace(
            self,
            beta=self.beta[o],
            sigma2=self.sigma2[o],
            transmat=self.transmat[np.ix_(o, o)],
            startprob=self.startprob[o],
            signal_mean=self.signal_mean[o],
            signal_var=self.signal_var[o],
        )


def fit_wls(X: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 0.0) -> tuple[np.ndarray, float]:
    """Weighted least squares, optionally ridge, of ``y`` on ``X`` (column 0 the intercept).

    Minimises ``sum_i w_i (y_i - x_i' b)^2 + ridge * W * sum_j>0 (s_j b_j)^2`` where ``W = sum w``
    and ``s_j`` the weighted standard deviation of column j: the ridge penalty is on the slopes in
    standardised units, scaled with the total weight, and never on the intercept. Returns the
    coefficients and the weighted residual variance ``sum w e^2 / W``.
    """
    w = np.asarray(w, dtype=float)
    total = float(w.sum())
    if total <= 0:
        raise DataError("weighted least squares: all weights are zero")
    sw = np.sqrt(w)
    A = X * sw[:, None]
    G = A.T @ A
    if ridge > 0:
        mean = (w @ X) / total
        var = (w @ (X - mean) ** 2) / total
        pen = ridge * total * var
        pen[0] = 0.0
        G = G + np.diag(pen)
    b = np.linalg.lstsq(G, A.T @ (sw * y), rcond=None)[0]
    e = y - X @ b
    return b, float(w @ e**2 / total)


def log_densities(
    params: SwitchingParams, y: np.ndarray, X: np.ndarray, z: np.ndarray | None, emission: Emission
) -> np.ndarray:
    """(n, K) log densities of day d's observations under each regime (see the module docstring)."""
    out = np.zeros((y.size, params.n_regimes))
    if emission in ("regression", "joint"):
        e = y[:, None] - X @ params.beta.T
        out += -0.5 * (_LOG_2PI + np.log(params.sigma2) + e**2 / params.sigma2)
    if emission in ("joint", "signal"):
        if z is None:
            raise ParameterError(f"emission {emission!r} needs the regime signal z")
        d = z[:, None] - params.signal_mean
        out += -0.5 * (_LOG_2PI + np.log(params.signal_var) + d**2 / params.signal_var)
    return out


def filter_probabilities(log_dens: np.ndarray, transmat: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Forward (Hamilton) filter: row d is ``Pr(S_d = k | days up to d)``.

    ``prior`` is ``Pr(S_0 = k)`` before the first day's observation is seen (for a filter carried
    on from an earlier fit: the previous filtered row times ``transmat``). Row d depends on
    ``log_dens[: d + 1]`` only; this is the function every forecast's regime weights come from.
    """
    n, k = log_dens.shape
    out = np.empty((n, k))
    pred = np.asarray(prior, dtype=float)
    for d in range(n):
        a = pred * np.exp(log_dens[d] - log_dens[d].max())
        out[d] = a / a.sum()
        pred = out[d] @ transmat
    return out


class _SwitchingRegressionHMM(BaseHMM):
    """hmmlearn HMM whose emission is the (switching) regression and/or the Gaussian signal.

    Observations are the columns ``[y, x_0 .. x_{p-1}, z]`` of one day each; the E-step is
    hmmlearn's compiled forward-backward; :meth:`_do_mstep` is the per-regime WLS.
    """

    def __init__(self, n_components: int, n_x: int, emission: Emission, ridge: float, var_floor: tuple[float, float],
                 n_iter: int, tol: float) -> None:
        super().__init__(n_components=n_components, n_iter=n_iter, tol=tol, params="stvm", init_params="",
                         implementation="log")
        self.n_x, self.emission, self.ridge, self.var_floor = n_x, emission, ridge, var_floor

    def _split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return obs[:, 0], obs[:, 1 : 1 + self.n_x], obs[:, 1 + self.n_x] if obs.shape[1] > 1 + self.n_x else None

    def _get_n_fit_scalars_per_param(self) -> dict[str, int]:
        k = self.n_components
        return {"s": k - 1, "t": k * (k - 1), "v": k * (self.n_x + 1), "m": 2 * k}

    def _compute_log_likelihood(self, obs: np.ndarray) -> np.ndarray:
        y, X, z = self._split(obs)
        return log_densities(self.params_, y, X, z, self.emission)

    def _initialize_sufficient_statistics(self) -> dict:
        stats = super()._initialize_sufficient_statistics()
        stats["post"] = []
        return stats

    def _accumulate_sufficient_statistics(self, stats, X, lattice, posteriors, fwdlattice, bwdlattice) -> None:
        super()._accumulate_sufficient_statistics(stats, X, lattice, posteriors, fwdlattice, bwdlattice)
        stats["post"].append(posteriors)
        stats["obs"] = X

    def _do_mstep(self, stats: dict) -> None:
        super()._do_mstep(stats)
        self.params_ = m_step(self._split(stats["obs"]), np.concatenate(stats["post"]), self.params_,
                              ridge=self.ridge, var_floor=self.var_floor)
        self.params_ = replace(self.params_, transmat=self.transmat_.copy(), startprob=self.startprob_.copy())


def m_step(
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    post: np.ndarray,
    params: SwitchingParams | None,
    *,
    ridge: float,
    var_floor: tuple[float, float],
) -> SwitchingParams:
    """Per-regime WLS and signal moments given regime probabilities ``post`` (n, K).

    Transition matrix and start probabilities are carried over from ``params`` (hmmlearn's base
    M-step updates them), or set to a persistent default (0.95 on the diagonal) when ``params`` is
    None. The residual and signal variances are floored at ``var_floor`` (one floor each) so that
    a regime's likelihood cannot grow without bound by collapsing onto a few days.
    """
    y, X, z = data
    k = post.shape[1]
    beta = np.empty((k, X.shape[1]))
    sigma2 = np.empty(k)
    mu = np.full(k, np.nan)
    tau2 = np.full(k, np.nan)
    for j in range(k):
        w = post[:, j]
        beta[j], sigma2[j] = fit_wls(X, y, w, ridge)
        if z is not None:
            mu[j] = float(w @ z / w.sum())
            tau2[j] = float(w @ (z - mu[j]) ** 2 / w.sum())
    sigma2 = np.maximum(sigma2, var_floor[0])
    tau2 = np.where(np.isnan(tau2), np.nan, np.maximum(tau2, var_floor[1]))
    if params is None:
        transmat = np.full((k, k), 0.05 / max(k - 1, 1)) + np.eye(k) * (0.95 - 0.05 / max(k - 1, 1))
        startprob = post[0]
    else:
        transmat, startprob = params.transmat, params.startprob
    return SwitchingParams(beta, sigma2, transmat, startprob, mu, tau2, np.nan, 0)


def _order_by_level(params: SwitchingParams, post: np.ndarray, y: np.ndarray) -> tuple[SwitchingParams, np.ndarray]:
    """Relabel regimes by the probability-weighted mean of ``y`` (regime 0 = lowest volatility)."""
    level = (post * y[:, None]).sum(axis=0) / np.maximum(post.sum(axis=0), 1e-300)
    order = np.argsort(level, kind="stable")
    return params.permuted(order), post[:, order]


def fit_soft_em(
    y: np.ndarray,
    X: np.ndarray,
    z: np.ndarray | None,
    *,
    n_regimes: int = 2,
    emission: Emission = "regression",
    ridge: float = 0.0,
    start: SwitchingParams | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    seed: int = 0,
) -> tuple[SwitchingParams, np.ndarray]:
    """Fit the Markov-switching regression by EM; returns the parameters and the SMOOTHED
    probabilities of the training days (for estimation and explanatory figures only).

    Parameters
    ----------
    y, X, z
        Day d's response, the regressors known at d-1 (intercept column first), the signal at d.
    n_regimes
        K, the number of regimes.
    emission
        ``"regression"``, ``"joint"`` or ``"signal"`` (module docstring).
    ridge
        Ridge penalty of the per-regime regressions (:func:`fit_wls`); 0 is plain WLS.
    start
        A previous fit (warm start). EM runs from it (when given) and from two cold starts -- the
        smoothed probabilities of hmmlearn's ``GaussianHMM`` on ``z`` (seeded with ``seed``; on
        ``y`` when ``z`` is None), and the variance split of :func:`_variance_split_start` (not for
        ``emission="signal"``) -- and keeps the highest likelihood among the fits that are not
        degenerate (:func:`_degenerate`; all of them if every fit is). Markov-switching
        likelihoods have local maxima: the HMM start alone can end in a poor one on short
        windows, and a warm start carried from refit to refit can stay in a degenerate one
        (a regime of a few days with a tiny variance) for good.
    max_iter, tol
        EM stops after ``max_iter`` iterations or when the log-likelihood gains less than
        ``tol`` per day (hmmlearn's monitor is given ``tol * n``).
    """
    if emission not in ("regression", "joint", "signal"):
        raise ParameterError(f"emission must be 'regression', 'joint' or 'signal', got {emission!r}")
    if emission != "regression" and z is None:
        raise ParameterError(f"emission {emission!r} needs the regime signal z")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    n = y.size
    if n < 10 * n_regimes * X.shape[1]:
        raise DataError(f"Markov-switching fit: {n} days are too few for {n_regimes} regimes of {X.shape[1]} coefficients")
    zz = None if z is None else np.asarray(z, dtype=float)
    var_floor = (MIN_VAR_RATIO * fit_wls(X, y, np.ones(n))[1], MIN_VAR_RATIO * (float(np.var(zz)) if zz is not None else 1.0))
    signal = (y if zz is None else zz)[:, None]
    hmm = GaussianHMM(n_components=n_regimes, covariance_type="diag", n_iter=100, tol=1e-4 * n,
                      random_state=seed, implementation="log")
    hmm.fit(signal)
    post0 = hmm.predict_proba(signal)  # smoothed, over the training window only: estimation
    init = m_step((y, X, zz), post0, None, ridge=ridge, var_floor=var_floor)
    starts = [replace(init, transmat=hmm.transmat_.copy(), startprob=post0[0].copy())]
    if emission != "signal":
        starts.append(replace(_variance_split_start(y, X, n_regimes), signal_mean=init.signal_mean,
                              signal_var=init.signal_var))
    if start is not None:
        starts.insert(0, start)
    fits = [_run_em(y, X, zz, s0, emission, ridge, var_floor, max_iter, tol) for s0 in starts]
    proper = [f for f in fits if not _degenerate(f[0], f[1], var_floor, emission)] or fits
    params, post = max(proper, key=lambda f: f[0].loglik)
    return _order_by_level(params, post, y)


#: Variance floors, as a share of the pooled regression's residual variance (and of the signal's
#: variance): a regime's standard deviation cannot fall below 10% of the pooled one.
MIN_VAR_RATIO = 0.01
#: A fit in which a regime carries less than this share of the days is degenerate.
MIN_REGIME_SHARE = 0.02


def _degenerate(params: SwitchingParams, post: np.ndarray, var_floor: tuple[float, float], emission: Emission) -> bool:
    """A regime with under :data:`MIN_REGIME_SHARE` of the days, or a variance the emission uses at its floor."""
    small = (post.mean(axis=0) < MIN_REGIME_SHARE).any()
    resid = emission != "signal" and (params.sigma2 <= var_floor[0] * (1 + 1e-9)).any()
    signal = emission != "regression" and (params.signal_var <= var_floor[1] * (1 + 1e-9)).any()
    return bool(small or resid or signal)


def _run_em(y, X, z, init, emission, ridge, var_floor, max_iter, tol) -> tuple[SwitchingParams, np.ndarray]:
    """EM from ``init`` to convergence; the parameters (with log-likelihood) and smoothed probabilities."""
    n = y.size
    model = _SwitchingRegressionHMM(init.n_regimes, X.shape[1], emission, ridge, var_floor, max_iter, tol * n)
    model.params_ = init
    # hmmlearn never updates a probability that is exactly 0 (a "forbidden" transition): keep
    # every start and transition probability at least 1e-6
    model.startprob_ = _floored(init.startprob)
    model.transmat_ = _floored(init.transmat)
    obs = np.column_stack([y, X] if z is None else [y, X, z])
    model.n_features = obs.shape[1]
    model.fit(obs)
    loglik, post = model.score_samples(obs)
    history = model.monitor_.history
    converged = len(history) >= 2 and history[-1] - history[-2] < model.monitor_.tol
    return replace(model.params_, loglik=float(loglik), n_iter=int(model.monitor_.iter), converged=converged), post


def _variance_split_start(y: np.ndarray, X: np.ndarray, k: int) -> SwitchingParams:
    """A start that tells regimes apart by noise only: pooled OLS coefficients in every regime,
    residual variances 0.5 .. 1.5 times the OLS one, 0.95 on the transition matrix's diagonal."""
    b, s2 = fit_wls(X, y, np.ones(y.size))
    off = 0.05 / max(k - 1, 1)
    transmat = np.full((k, k), off) + np.eye(k) * (0.95 - off)
    nan = np.full(k, np.nan)
    return SwitchingParams(np.tile(b, (k, 1)), s2 * np.linspace(0.5, 1.5, k), transmat, np.full(k, 1.0 / k),
                           nan, nan.copy(), np.nan, 0)


def _floored(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Probabilities (rows) with every entry at least ``eps``, renormalised."""
    q = np.maximum(np.asarray(p, dtype=float), eps)
    return q / q.sum(axis=-1, keepdims=True)


def _markov_regression_class():
    """statsmodels' ``MarkovRegression`` with an exact, cheaper score (defined lazily: statsmodels
    is imported only when the reference is used)."""
    from statsmodels.tools.numdiff import approx_fprime_cs
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    class MarkovRegressionScore(MarkovRegression):
        """``MarkovRegression`` whose score (gradient of the log-likelihood) is analytic in the
        regression coefficients and variances, by Fisher's identity: with the smoothed regime
        probabilities gamma_dk at the parameters,
        ``dl/dbeta_k = sum_d gamma_dk x_d e_dk / sigma2_k`` and
        ``dl/dsigma2_k = sum_d gamma_dk (e_dk^2 - sigma2_k) / (2 sigma2_k^2)``. Only the
        transition probabilities keep statsmodels' complex-step derivative. Both are exact to
        rounding, so BFGS takes the same path to the same maximum; the gradient costs one
        smoothing pass and K(K-1) complex likelihoods instead of one complex likelihood per
        parameter (``tests/test_regime_cores.py`` checks it against statsmodels' own score).
        """

        def score(self, params, transformed=True):
            params = np.array(params, ndmin=1)
            if np.iscomplexobj(params):
                return super().score(params, transformed)
            P = self.parameters
            theta = params if transformed else self.transform_params(params)
            gamma = self.smooth(theta, transformed=True, return_raw=True).smoothed_marginal_probabilities
            y, X = np.asarray(self.endog, dtype=float), np.asarray(self.exog, dtype=float)
            grad = np.empty(theta.size)
            for k in range(self.k_regimes):
                s2 = float(theta[P[k, "variance"]][0])
                e = y - X @ theta[P[k, "exog"]]
                grad[P[k, "exog"]] = X.T @ (gamma[k] * e) / s2
                grad[P[k, "variance"]] = np.sum(gamma[k] * (e**2 - s2)) / (2 * s2**2)
            if not transformed:
                grad[P["variance"]] *= 2 * params[P["variance"]]
            t = P["regime_transition"]

            def loglike_transition(sub):
                full = params.astype(complex)
                full[t] = sub
                return self.loglike(full, transformed)

            grad[t] = approx_fprime_cs(params[t], loglike_transition)
            return grad

    return MarkovRegressionScore


def fit_markov_regression(
    y: np.ndarray,
    X: np.ndarray,
    *,
    n_regimes: int = 2,
    start: SwitchingParams | None = None,
    maxiter: int = 100,
    plain: bool = False,
) -> tuple[SwitchingParams, np.ndarray]:
    """The reference: statsmodels' ``MarkovRegression`` (switching coefficients and variance).

    statsmodels maximises the same likelihood as ``fit_soft_em(..., emission="regression")`` with
    BFGS (after 5 of its own EM steps on a cold start). statsmodels' default starting values
    (zero coefficients in one regime) fail on HAR data, so a cold start is the variance split of
    :func:`_variance_split_start` (one of the soft EM's cold starts). A warm start is ``start``.

    Two things make the fit cheaper without changing the maximum it finds: the score is
    analytic in the regression coefficients and variances (statsmodels' complex-step gradient
    is nine tenths of its fit; see ``MarkovRegressionScore`` in :func:`_markov_regression_class`),
    and statsmodels' results object (its covariance matrix by numerical differentiation, its
    smoothing) is skipped: the smoothed probabilities are computed once at the optimum. Both
    gradients are exact to rounding, so BFGS takes the same steps and ends at the same maximum
    as ``plain=True``, the straightforward call kept for the benchmark
    (``benchmarks/regime_walkforward.py``). (Centring the regressors would speed BFGS up further
    but changes its path, and on one S&P 500 window in five its maximum.)

    Returns the parameters (statsmodels' column-stochastic transition matrix transposed to our
    convention; the start probabilities are the chain's steady state, statsmodels' default) and
    the smoothed probabilities of the training days.
    """
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    k, p = n_regimes, X.shape[1]
    model = (MarkovRegression if plain else _markov_regression_class())(
        y, k_regimes=k, exog=X[:, 1:], trend="c", switching_variance=True)
    em_iter = 5 if start is None else 0
    start = _variance_split_start(y, X, k) if start is None else start
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = model.fit(start_params=_to_statsmodels(start), disp=False, maxiter=maxiter, em_iter=em_iter,
                        **({} if plain else {"cov_type": "none", "return_params": True}))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    sp = np.asarray(fit.params if plain else fit)
    smoothed = fit.smoothed_marginal_probabilities if plain else model.smooth(sp, return_raw=True).smoothed_marginal_probabilities.T
    ntrans = k * (k - 1)
    beta = sp[ntrans : ntrans + k * p].reshape(p, k).T
    sigma2 = sp[ntrans + k * p :]
    transmat = np.asarray(model.regime_transition_matrix(sp))[:, :, 0].T
    startprob = np.asarray(model.initial_probabilities(sp))
    nan = np.full(k, np.nan)
    params = SwitchingParams(beta, sigma2, transmat, startprob, nan, nan.copy(), float(model.loglike(sp)), 0, converged)
    return _order_by_level(params, np.asarray(smoothed), y)


def _to_statsmodels(params: SwitchingParams) -> np.ndarray:
    """Our parameters in statsmodels' layout: p[i->j] for j < K-1, then coefficients, then sigma2."""
    k = params.n_regimes
    trans = params.transmat[:, : k - 1].T.ravel()  # p[0->0], p[1->0], ... column by column
    return np.concatenate([trans, params.beta.T.ravel(), params.sigma2])
