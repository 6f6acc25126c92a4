"""Exponential smoothing (ES) and smooth-transition exponential smoothing (STES, Taylor 2004).

Both forecast next-day variance with the recursion of :mod:`volbook.models.recursion`::

    v_{s+1} = alpha_s p_s + (1 - alpha_s) v_s

where ``p_s`` is the day-s variance proxy (r_s^2 by default, or a realized measure) and
``v_{s+1}``, made at the close of s, forecasts ``y_s = p_{s+1}``. ES has one constant
``alpha``; STES lets it move with transition variables,
``alpha_s = logistic(beta_0 + x_s' beta)``, ``x_s`` the gate features of row s
(:mod:`volbook.features`, Taylor's default ``EAESE`` = r_s, abs(r_s), r_s^2) standardized
on the training rows (:class:`~volbook.models.gate.GateScaler`).

Estimation, at origin t, on the training rows s whose target ``p_{s+1}`` is known (s < t):

* the recursion starts at the **first** row of the training window from ``v_0`` = the mean
  proxy of its first ``init_obs`` rows, and runs through every row to the origin;
* ES: ``alpha`` minimizes the sum of squared errors (a grid over logit(alpha), then Brent's
  bounded search; the recursion is ``scipy.signal.lfilter``);
* STES: nonlinear least squares (``scipy.optimize.least_squares``, Levenberg-Marquardt as in
  MINPACK) with the analytic Jacobian of the recursion (:func:`~volbook.models.recursion.stes_jacobian`),
  minimizing::

      1/2 * [ sum_s (v_{s+1} - y_s)^2 / sum_s y_s^2  +  l2 * sum_{j >= 1} beta_j^2 ]

  The squared errors are divided by the sum of squared targets, so the penalty ``l2`` (on the
  gate coefficients, never the constant) means the same in any units; this is the published
  scaling, and its grid :data:`STES_L2_GRID`. ``l2="cv"`` picks it by expanding-window
  time-series cross-validation (:func:`~volbook.models.gate.time_series_folds`): each fold is
  standardized and fitted on its own training rows, then scored by the MSE of its validation
  block with the recursion running on from the first row; the smallest mean MSE wins, and
  penalties whose mean MSE lies within :data:`~volbook.models.gate.SCORE_RTOL` (1e-6,
  relative) of the smallest count as tied: the largest of them, the simplest gate, wins
  (:func:`~volbook.models.gate.choose_best`). Within a fold the penalties are fitted from the largest down, each
  from the ES start and the previous penalty's solution;
* several starts, keeping the lowest objective (objectives within 1e-6 relative of the
  lowest count as tied: the earliest start wins): the constant at the ES estimate with the
  other coefficients 0, then ``n_starts - 1`` draws of N(0, 1) coefficients from
  ``numpy.random.default_rng(seed)``. A warm start (the previous fit of the same model) is
  tried first and replaces the random draws. Each search stops after
  :data:`MAX_EVALUATIONS` evaluations; ``params["converged"]`` is 1 when the best search met
  the tolerances (1e-12) before that.

Without a penalty, the coefficient of a rarely firing dummy (``is_fomc``) can run off towards
plus or minus infinity along a flat direction of the objective: the gate then shuts (alpha -> 0)
or opens fully on those days. The forecasts stay well defined, the coefficients are not
interpretable; for gates with event dummies use ``l2 > 0`` or ``"cv"``, as the study did.

After the fit the parameters stay fixed and the recursion carries on through new rows
(:meth:`~volbook.models.gate.GatedFit.one_step`). The h-day forecast is ``h * v_{t+1}``
(the recursion has no mean reversion).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.optimize import least_squares, minimize_scalar
from scipy.signal import lfilter
from scipy.special import expit, logit

from volbook.errors import ParameterError
from volbook.features import EAESE, FAMILIES, GateFamily
from volbook.models.base import Fitted, Forecaster, check_history, register
from volbook.models.gate import GatedFit, GateScaler, GateSpec, choose_best, initial_variance, time_series_folds
from volbook.models.recursion import stes_filter, stes_jacobian

__all__ = [
    "ES",
    "STES",
    "MAX_EVALUATIONS",
    "STES_L2_GRID",
    "LinearGateFit",
    "es_forecasts",
    "fit_es_alpha",
    "fit_stes_beta",
    "gate_design",
    "select_l2",
]

#: The published grid of L2 penalties for STES cross-validation.
STES_L2_GRID: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1, 1.0)
_TOL = 1e-12
#: Most evaluations of one least-squares search.
MAX_EVALUATIONS = 200


def es_forecasts(proxy: np.ndarray, alpha: float, v0: float) -> np.ndarray:
    """ES forecasts ``v_1 .. v_n`` (``v_{s+1}`` made at row s) by ``scipy.signal.lfilter``."""
    out, _ = lfilter([alpha], [1.0, alpha - 1.0], proxy, zi=[(1.0 - alpha) * v0])
    return out


def fit_es_alpha(proxy: np.ndarray, rows: np.ndarray, y: np.ndarray, v0: float) -> float:
    """The constant ``alpha`` minimizing the squared errors of ES forecasts at ``rows``."""
    p = proxy[: rows.max() + 1]

    def sse(a: float) -> float:
        return float(np.sum((es_forecasts(p, a, v0)[rows] - y) ** 2))

    grid = expit(np.linspace(-7.0, 5.0, 49))
    i = int(np.argmin([sse(a) for a in grid]))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(sse, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return float(res.x)


class _Problem:
    """Residuals and Jacobian of the STES least-squares objective, sharing one filter pass."""

    def __init__(self, proxy: np.ndarray, D: np.ndarray, rows: np.ndarray, y: np.ndarray, v0: float, l2: float):
        n = int(rows.max()) + 1
        self.p, self.D, self.rows, self.y, self.v0 = proxy[:n], np.ascontiguousarray(D[:n]), rows, y, v0
        self.norm = float(np.sqrt(np.sum(y**2)))
        self.sl2 = float(np.sqrt(l2))
        self._beta: np.ndarray | None = None

    def _state(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._beta is None or not np.array_equal(beta, self._beta):
            alpha = expit(self.D @ beta)
            self._beta, self._alpha, self._v = beta.copy(), alpha, stes_filter(self.p, alpha, self.v0)
        return self._alpha, self._v

    def residuals(self, beta: np.ndarray) -> np.ndarray:
        _, v = self._state(beta)
        res = (v[self.rows + 1] - self.y) / self.norm
        return np.concatenate([res, self.sl2 * beta[1:]]) if self.sl2 > 0 else res

    def jacobian(self, beta: np.ndarray) -> np.ndarray:
        alpha, v = self._state(beta)
        J = stes_jacobian(self.p, self.D, alpha, v)[self.rows] / self.norm
        if self.sl2 > 0:
            J = np.vstack([J, self.sl2 * np.eye(beta.size)[1:]])
        return J


def fit_stes_beta(
    proxy: np.ndarray,
    D: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray,
    v0: float,
    *,
    l2: float,
    starts: Sequence[np.ndarray],
) -> tuple[np.ndarray, float, bool]:
    """Least-squares gate coefficients from each start; the best ``(beta, objective, converged)``.

    ``D`` is the gate design ``[1, standardized features]`` for every row, ``rows`` the
    training rows (forecast ``v_{s+1}`` scored against ``y_s``); ``objective`` is the bracket
    of the module docstring. The lowest objective wins; objectives within
    :data:`~volbook.models.gate.SCORE_RTOL` of it count as tied and the earliest start among
    them wins. Each search stops after :data:`MAX_EVALUATIONS` evaluations; ``converged``
    says whether the chosen one met the tolerances before that.
    """
    problem = _Problem(proxy, D, rows, y, v0, l2)
    found = []
    for x0 in starts:
        res = least_squares(problem.residuals, np.asarray(x0, dtype=float), jac=problem.jacobian,
                            method="lm", ftol=_TOL, xtol=_TOL, gtol=_TOL, max_nfev=MAX_EVALUATIONS)
        found.append((res.x, 2.0 * float(res.cost), bool(res.status > 0)))
    return found[choose_best([f[1] for f in found])]


def _starts(alpha_es: float, k: int, n_starts: int, seed: int, warm: np.ndarray | None) -> list[np.ndarray]:
    es = np.zeros(k + 1)
    es[0] = logit(alpha_es)
    if warm is not None:
        return [warm, es]
    rng = np.random.default_rng(seed)
    return [es] + [rng.normal(0.0, 1.0, k + 1) for _ in range(n_starts - 1)]


def gate_design(scaler: GateScaler, X: np.ndarray) -> np.ndarray:
    """``[1, standardized features]`` for every row, without columns constant on the training rows."""
    return np.column_stack([np.ones(X.shape[0]), scaler.transform(X)[:, scaler.active]])


def select_l2(
    proxy: np.ndarray,
    X: np.ndarray,
    names: Sequence[str],
    rows: np.ndarray,
    y: np.ndarray,
    v0: float,
    *,
    grid: Sequence[float],
    n_splits: int,
) -> tuple[float, np.ndarray]:
    """The L2 penalty with the smallest mean validation MSE over expanding folds, and all scores.

    Penalties whose mean MSE is within :data:`~volbook.models.gate.SCORE_RTOL` of the
    smallest count as tied; the largest of them wins. In each fold the penalties are fitted from the largest down, each from the ES start and
    from the previous penalty's solution (a continuation path, cheaper than random starts).
    """
    scores = np.zeros((len(grid), n_splits))
    for f, (train_end, valid_end) in enumerate(time_series_folds(rows.size, n_splits)):
        tr, va = rows[:train_end], rows[train_end:valid_end]
        D = gate_design(GateScaler.fit(X[tr], names), X)
        n = int(va.max()) + 1
        es_start = _starts(fit_es_alpha(proxy, tr, y[:train_end], v0), D.shape[1] - 1, 1, 0, None)
        previous: list[np.ndarray] = []
        for g in np.argsort(grid, kind="stable")[::-1]:
            beta, _, _ = fit_stes_beta(proxy, D, tr, y[:train_end], v0, l2=grid[g], starts=es_start + previous)
            previous = [beta]
            v = stes_filter(proxy[:n], expit(D[:n] @ beta), v0)
            scores[g, f] = np.mean((v[va + 1] - y[train_end:valid_end]) ** 2)
    largest_first = np.argsort(grid, kind="stable")[::-1]
    return float(grid[choose_best(scores.mean(axis=1), largest_first)]), scores


class LinearGateFit(GatedFit):
    """A fitted ES / STES: gate logit ``beta_0 + z_s' beta`` on standardized features ``z_s``."""

    def __init__(self, spec: GateSpec, scaler: GateScaler, beta: np.ndarray, v0: float, ret, proxy, dates,
                 extra: dict[str, float]) -> None:
        self.beta = np.asarray(beta, dtype=float)  # constant first, then one per feature (0 if inactive)
        params = {"beta_const": float(self.beta[0])}
        params.update({f"beta_{n}": float(b) for n, b in zip(scaler.names, self.beta[1:])})
        super().__init__(spec, scaler, v0, ret, proxy, dates, params | extra)

    def logits(self, Z: np.ndarray) -> np.ndarray:
        return self.beta[0] + Z @ self.beta[1:]

    def contributions(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([Z * self.beta[1:], np.full(Z.shape[0], self.beta[0])])


def _training_sample(model: Forecaster, spec: GateSpec, history):
    """Returns, proxy, dates, training rows (positions) and targets of a checked history."""
    hist = check_history(history, model.inputs, name=model.name, min_obs=model.min_obs)
    ret, proxy, dates = spec.columns(hist)
    rows, y = hist.training_rows(1, spec.proxy)
    return ret, proxy, dates, np.asarray(rows, dtype=int), np.asarray(y, dtype=float)


class ES(Forecaster):
    """Exponential smoothing of a variance proxy with one estimated ``alpha`` (see module docstring).

    Parameters
    ----------
    proxy
        ``"ret2"`` (squared returns) or a realized-measure column to smooth and forecast.
    init_obs
        Rows averaged for the starting variance ``v_0``.
    min_obs
        Fewest rows of history ``fit`` accepts.
    """

    def __init__(self, *, proxy: str = "ret2", init_obs: int = 20, min_obs: int = 100, name: str | None = None):
        self.spec = GateSpec((), proxy)
        self.inputs = self.spec.inputs
        self.init_obs, self.min_obs = int(init_obs), int(min_obs)
        self.name = name or self.spec.model_name("es")

    def fit(self, history, *, start: Fitted | None = None) -> LinearGateFit:
        ret, proxy, dates, rows, y = _training_sample(self, self.spec, history)
        v0 = initial_variance(proxy, self.init_obs)
        alpha = fit_es_alpha(proxy, rows, y, v0)
        scaler = GateScaler.fit(np.empty((rows.size, 0)), ())
        return LinearGateFit(self.spec, scaler, np.array([logit(alpha)]), v0, ret, proxy, dates, {"alpha": alpha})


class STES(Forecaster):
    """Smooth-transition exponential smoothing (Taylor 2004), fitted by nonlinear least squares.

    Parameters
    ----------
    gate
        Gate feature families (:mod:`volbook.features`); Taylor's ``EAESE`` by default.
    proxy
        ``"ret2"`` (squared returns) or a realized-measure column to smooth and forecast.
    l2
        L2 penalty on the gate coefficients (not the constant), or ``"cv"`` to choose it from
        ``l2_grid`` by ``cv_folds``-fold expanding time-series cross-validation.
    n_starts
        Starting points of the least-squares search (the ES start and ``n_starts - 1`` random).
    seed
        Seed of the random starts.
    init_obs
        Rows averaged for the starting variance ``v_0``.
    min_obs
        Fewest rows of history ``fit`` accepts.
    """

    def __init__(
        self,
        gate: Sequence[GateFamily] = EAESE,
        *,
        proxy: str = "ret2",
        l2: float | Literal["cv"] = 0.0,
        l2_grid: Sequence[float] = STES_L2_GRID,
        cv_folds: int = 3,
        n_starts: int = 5,
        seed: int = 0,
        init_obs: int = 20,
        min_obs: int = 250,
        name: str | None = None,
    ) -> None:
        self.spec = GateSpec(tuple(gate), proxy)
        if not self.spec.families:
            raise ParameterError("STES needs at least one gate feature family; ES is STES without any")
        if l2 != "cv" and not (isinstance(l2, (int, float)) and l2 >= 0):
            raise ParameterError(f"l2 must be a non-negative number or 'cv', got {l2!r}")
        if l2 == "cv" and (not l2_grid or min(l2_grid) < 0):
            raise ParameterError(f"l2_grid must be non-empty and non-negative, got {list(l2_grid)}")
        if int(n_starts) < 1:
            raise ParameterError(f"n_starts must be at least 1, got {n_starts}")
        self.inputs = self.spec.inputs
        self.l2, self.l2_grid, self.cv_folds = l2, tuple(float(g) for g in l2_grid), int(cv_folds)
        self.n_starts, self.seed, self.init_obs, self.min_obs = int(n_starts), int(seed), int(init_obs), int(min_obs)
        self.name = name or self.spec.model_name("stes")

    def fit(self, history, *, start: Fitted | None = None) -> LinearGateFit:
        ret, proxy, dates, rows, y = _training_sample(self, self.spec, history)
        v0 = initial_variance(proxy, self.init_obs)
        X, names = self.spec.features(ret, proxy, dates)
        l2 = self.l2
        if l2 == "cv":
            l2, _ = select_l2(proxy, X, names, rows, y, v0, grid=self.l2_grid, n_splits=self.cv_folds)
        scaler = GateScaler.fit(X[rows], names)
        D = gate_design(scaler, X)
        warm = None
        if isinstance(start, LinearGateFit) and start.scaler.names == names:
            warm = start.beta[np.concatenate([[True], scaler.active])]
        alpha_es = fit_es_alpha(proxy, rows, y, v0)
        beta_active, objective, converged = fit_stes_beta(
            proxy, D, rows, y, v0, l2=float(l2), starts=_starts(alpha_es, D.shape[1] - 1, self.n_starts, self.seed, warm)
        )
        beta = np.zeros(len(names) + 1)
        beta[np.concatenate([[True], scaler.active])] = beta_active
        extra = {"l2": float(l2), "objective": objective, "converged": float(converged)}
        return LinearGateFit(self.spec, scaler, beta, v0, ret, proxy, dates, extra)


register("es")(lambda: ES())
register("stes")(lambda: STES(n_starts=2))
register("stes_all_features_rv")(lambda: STES(FAMILIES, proxy="rv", l2=0.01, n_starts=1))
