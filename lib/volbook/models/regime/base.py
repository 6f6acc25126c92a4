"""What the regime forecasters share: the HAR design, per-regime direct regressions, the blend.

Every regime forecaster (:mod:`volbook.models.regime.forecasters`) reads a per-day realized
variance ``rv`` and forecasts the engine's target ``sum(rv[t+1 .. t+h])`` (daily variance units),
directly for each horizon h. On the model's scale ``g`` (:mod:`volbook.models.regime.scales`):

* regressors at row s: ``x_s = (1, g_s, mean(g_{s-4..s}), mean(g_{s-21..s}))``, the HAR averages
  of ``g(rv)`` ending at s (known at the close of s; rows before the 22nd of the window have none);
* response of row s for horizon h: ``g(sum(rv[s+1 .. s+h]) / h)``, from
  ``History.training_rows(h, "rv")`` only, so a training row's target never ends after the origin;
* regime weights ``W[s, k]`` of the training rows, the probability that row s's target window
  begins in regime k (each method defines them: the Markov models' filtered probabilities of
  day s+1 given rows up to s, cluster labels, mixture responsibilities -- all computed from the
  training window, which ends at the origin);
* per regime and horizon one weighted least-squares regression (ridge optional) of the response on
  ``x_s`` with weights ``W[:, k]`` (a regime whose weights sum to fewer than ``min_regime_rows``
  rows gets the pooled regression instead);
* at an origin t the forecast is ``h * sum_k w_k(t) * mean_k(x_t)``, the regime weights ``w_k(t)``
  being the method's probability of regime k for day t+1 given the rows up to t, and
  ``mean_k`` the back-transformed per-day mean, floored at the smallest training ``rv``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np

from volbook.errors import DataError, ParameterError
from volbook.features import har_features
from volbook.history import History
from volbook.models.base import Fitted, Forecaster, check_horizons, check_history
from volbook.models.regime.scales import Scale, check_scale, from_scale, to_scale
from volbook.models.regime.switching import fit_wls

__all__ = ["LOOKBACK", "RegimeFitted", "RegimeForecaster", "har_design", "regime_features"]

#: Rows of history a HAR design row needs (the monthly average spans 22 days).
LOOKBACK = 22


def har_design(g: np.ndarray) -> np.ndarray:
    """(n, 4) HAR design on a transformed series: intercept, daily, weekly, monthly averages."""
    return np.column_stack([np.ones(g.size), har_features(g)])


def regime_features(rv: np.ndarray, ret: np.ndarray | None) -> np.ndarray:
    """Features known at the close of each row for the regime classifiers.

    HAR averages (1, 5, 22 days) of ``log rv`` and, when returns are given, of the daily return
    (the last return, the mean return of the week and of the month: the leverage effect and
    recent drawdowns).
    """
    parts = [har_features(np.log(rv))]
    if ret is not None:
        parts.append(har_features(ret))
    return np.column_stack(parts)


class RegimeFitted(Fitted):
    """A regime forecaster fitted at origin t0 (see the module docstring).

    Subclasses give the regime weights at each origin (:meth:`regime_weights`); this class does
    the per-regime, per-horizon regressions (lazily, once per horizon) and the blend.
    """

    def __init__(self, spec: RegimeForecaster, history: History, W: np.ndarray) -> None:
        self.spec = spec
        self.inputs = spec.inputs
        self.history = history
        self.rv = history["rv"]
        self.g = to_scale(self.rv, spec.scale)
        self.X = har_design(self.g)
        self.W = W  # (rows 21 .. t0 - 1, K)
        self.floor = float(self.rv[self.rv > 0].min())
        self.tail = {c: history[c][-LOOKBACK:] for c in spec.inputs}
        self._coefs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.params = {}

    @property
    def n_regimes(self) -> int:
        return int(self.W.shape[1])

    def coefficients(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-regime coefficients (K, 4) and residual variances (K,) of the horizon-h regression."""
        if h not in self._coefs:
            rows, total = self.history.training_rows(h, "rv")
            keep = rows >= LOOKBACK - 1
            rows, y = rows[keep], to_scale(total[keep] / h, self.spec.scale)
            X, W = self.X[rows], self.W[rows - (LOOKBACK - 1)]
            pooled = fit_wls(X, y, np.ones(y.size), self.spec.ridge)
            fits = [fit_wls(X, y, W[:, k], self.spec.ridge) if W[:, k].sum() >= self.spec.min_regime_rows else pooled
                    for k in range(self.n_regimes)]
            self._coefs[h] = (np.array([f[0] for f in fits]), np.array([f[1] for f in fits]))
        return self._coefs[h]

    def extend(self, new: History) -> dict[str, np.ndarray]:
        """The last LOOKBACK training rows followed by ``new``, per input column."""
        return {c: np.concatenate([self.tail[c], new[c]]) for c in self.inputs}

    @abstractmethod
    def regime_weights(self, new: History) -> np.ndarray:
        """(len(new) + 1, K): row j = probability of each regime for day t0+j+1 given rows up to t0+j."""

    def forecast(self, horizons: Sequence[int], new: History | None = None) -> np.ndarray:
        hs = check_horizons(horizons)
        rows = check_history(new if new is not None else History({c: np.empty(0) for c in self.inputs}),
                             self.inputs, name=f"{self.spec.name} new rows", targets=False)
        series = self.extend(rows)
        g = to_scale(series["rv"], self.spec.scale)
        Xo = har_design(g)[LOOKBACK - 1 :]
        w = self.regime_weights(rows)
        out = np.empty((len(rows) + 1, hs.size))
        for i, h in enumerate(hs):
            beta, s2 = self.coefficients(int(h))
            means = np.maximum(from_scale(Xo @ beta.T, s2, self.spec.scale), self.floor)
            out[:, i] = h * (w * means).sum(axis=1)
        return out

    def one_step(self, new: History) -> np.ndarray:
        return self.forecast([1], new)[:, 0]

    def states(self, new: History) -> dict[str, np.ndarray]:
        """``regime_k``: the weight of regime k in the forecast at each origin (its probability for
        the next day given rows up to the origin); 0 for regimes this fit does not have (a
        clustering that found fewer than ``n_regimes``)."""
        w = self.regime_weights(new)
        return {f"regime_{k}": w[:, k] if k < w.shape[1] else np.zeros(w.shape[0])
                for k in range(self.spec.n_regimes)}

    def describe(self, k_max: int) -> dict[str, float]:
        """One-day coefficients and residual standard deviations per regime, NaN-padded to k_max."""
        beta, s2 = self.coefficients(1)
        out: dict[str, float] = {"n_regimes": float(self.n_regimes)}
        for k in range(k_max):
            have = k < self.n_regimes
            for j, name in enumerate(("const", "daily", "weekly", "monthly")):
                out[f"{name}_{k}"] = float(beta[k, j]) if have else np.nan
            out[f"sigma_{k}"] = float(np.sqrt(s2[k])) if have else np.nan
        return out


class RegimeForecaster(Forecaster):
    """Settings shared by the regime forecasters; subclasses implement :meth:`fit`.

    Parameters
    ----------
    n_regimes
        K, the number of regimes (at least ``least``).
    scale
        Scale of the regressions (:mod:`~volbook.models.regime.scales`).
    ridge
        Ridge penalty of the per-regime regressions (0: weighted least squares).
    seed
        Seed of every random step (HMM start, clustering, XGBoost).
    min_regime_rows
        A regime whose weights sum to fewer rows gets the pooled regression.
    min_obs
        Fewest training rows.
    name
        Identifier in result tables; ``default_name`` when None.
    """

    inputs: tuple[str, ...] = ("rv",)
    default_name: str

    def __init__(
        self,
        n_regimes: int,
        *,
        scale: Scale,
        ridge: float,
        seed: int,
        min_regime_rows: int,
        min_obs: int,
        name: str | None,
        least: int = 2,
    ) -> None:
        if int(n_regimes) < least:
            raise ParameterError(f"n_regimes must be at least {least}, got {n_regimes}")
        self.n_regimes, self.scale, self.ridge, self.seed = int(n_regimes), check_scale(scale), float(ridge), int(seed)
        self.min_regime_rows, self.min_obs = int(min_regime_rows), int(min_obs)
        self.name = name or self.default_name

    def _check(self, history, min_rows: int) -> History:
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        if (hist["rv"] <= 0).any():
            raise DataError(f"{self.name}: rv must be positive (row {int(np.argmax(hist['rv'] <= 0))} is not)")
        if len(hist) < min_rows:
            raise DataError(f"{self.name}: needs at least {min_rows} rows to fit, got {len(hist)}")
        return hist
