"""HAR: the heterogeneous autoregression of a daily variance proxy (Corsi 2009), by OLS.

For a per-day proxy x_t (squared returns ``"ret2"`` or a realized-measure column such as
``"rv"``) and averaging windows L_1 < L_2 < ... (default 1, 5, 22 days), the regressors at
row s are the trailing means ``xbar^(L)_s = mean(x_{s-L+1} .. x_s)``
(:func:`volbook.features.har_features`), optionally followed by trailing means of exogenous
columns (``exog=("vix",)`` with the same windows, or ``exog={"vix": (1, 5, 22), "rk": (1,)}``
with windows per column). All of them use rows up to s only.

Estimation: ordinary least squares with a constant (statsmodels ``OLS``), on the training
rows that :meth:`History.training_rows <volbook.history.History.training_rows>` hands out
(s + h <= t at origin t) and whose regressors are complete (s >= L_max - 1). The coefficient
standard errors reported in ``params`` (``se_*``) and :meth:`summary` are White's HC3
heteroskedasticity-robust ones; the coefficients themselves are plain OLS. Level forecasts
are not constrained to be positive (a large negative coefficient can make one negative);
the log variant's are positive by construction.

Variants:

* **level, iterated** (default): y_s = x_{s+1}. The h-step forecast of the sum
  x_{t+1} + ... + x_{t+h} iterates the one-step equation, feeding each forecast back into
  the averages (the HAR is a restricted AR(L_max); its conditional mean iterates exactly).
  Exogenous regressors are held at their origin values over the horizon.
* **direct** (``direct=True``): one regression per horizon, y_s = x_{s+1} + ... + x_{s+h}
  (the forward h-sum), forecast = its fitted value at the origin. The regression of a
  horizon is estimated the first time that horizon is forecast (from the training window
  kept with the fit), and its coefficients then join ``params`` with the prefix ``h<h>.``.
* **log** (``log=True``): the regression is on z = log x (regressors are trailing means of
  log x, so the model is a linear AR in logs; x must be positive). Forecasts are brought back
  to the variance scale with the **lognormal bias correction**: if the log error is
  N(0, v), then E[x] = exp(E[log x] + v / 2), not exp(E[log x]) (which is the median and
  understates the mean by the factor exp(-v/2)). For the one-step and the direct forecasts,
  v is the regression's residual variance s^2 = SSR / (n - k); for the iterated k-step
  forecast, v_k = s^2 (psi_0^2 + ... + psi_{k-1}^2) with psi the moving-average weights of
  the AR in logs, and the h-step sum adds exp(m_k + v_k / 2) over k = 1..h. Parameter
  uncertainty is ignored. ``bias_correction=False`` gives the uncorrected exp(m_k).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import statsmodels.api as sm

from volbook.errors import DataError, ParameterError
from volbook.features import HAR_LAGS, check_lags, har_feature_names, har_features
from volbook.history import RET2, History
from volbook.models.base import Fitted, Forecaster, HistoryLike, check_history, check_horizons, register

__all__ = ["HAR", "fit_ols_hc3"]


def fit_ols_hc3(y: np.ndarray, X: np.ndarray):
    """statsmodels OLS of ``y`` on ``X`` (constant included by the caller) with HC3 errors."""
    return sm.OLS(np.asarray(y, dtype=float), np.asarray(X, dtype=float)).fit(cov_type="HC3")


class HAR(Forecaster):
    """HAR regression of a daily variance proxy; see the module docstring.

    Parameters
    ----------
    proxy
        ``"ret2"`` (squared returns, reads ``ret``) or the name of a realized-measure column.
    lags
        Averaging windows in days, increasing.
    log
        Regress log x on trailing means of log x, with the lognormal back-transform.
    direct
        One regression per horizon on the forward h-sum, instead of iterating the one-step one.
    exog
        Further columns entering with trailing means, in levels: names (windows ``lags``) or
        a mapping name -> windows.
    bias_correction
        Apply the lognormal correction to log forecasts (only with ``log=True``).
    min_obs
        Fewest training rows; default the longest window + 30.
    """

    def __init__(
        self,
        proxy: str = RET2,
        *,
        lags: Sequence[int] = HAR_LAGS,
        log: bool = False,
        direct: bool = False,
        exog: Sequence[str] | Mapping[str, Sequence[int]] = (),
        bias_correction: bool = True,
        min_obs: int | None = None,
        name: str | None = None,
    ) -> None:
        self.proxy, self.lags = str(proxy), check_lags(lags)
        self.log, self.direct, self.bias_correction = bool(log), bool(direct), bool(bias_correction)
        pairs = exog.items() if isinstance(exog, Mapping) else ((e, self.lags) for e in exog)
        self.exog = {str(e): check_lags(ls) for e, ls in pairs}
        if self.proxy in self.exog or len(self.exog) != len(exog):
            raise ParameterError(f"HAR exog columns must be distinct and differ from the proxy, got {list(exog)}")
        self.inputs = ("ret" if self.proxy == RET2 else self.proxy, *self.exog)
        parts = ["har", "log" * self.log, "direct" * self.direct, "" if self.proxy == RET2 else self.proxy, *self.exog]
        self.name = name or "_".join(p for p in parts if p)
        zname = f"log_{self.proxy}" if self.log else self.proxy
        self.columns = ["const", *har_feature_names(zname, self.lags)]
        for e, ls in self.exog.items():
            self.columns += har_feature_names(e, ls)
        self.depth = max([*self.lags, *(max(ls) for ls in self.exog.values())])
        self.min_obs = self.depth + 30 if min_obs is None else int(min_obs)
        if self.min_obs < self.depth + 5:
            raise ParameterError(f"HAR min_obs must be at least the longest window + 5 = {self.depth + 5}, got {min_obs}")

    def _series(self, hist: History) -> dict[str, np.ndarray]:
        """The regressors' source series: the (log) proxy first, then the exogenous columns."""
        x = hist[self.proxy]
        if self.log:
            bad = ~(x > 0)
            if bad.any():
                raise DataError(
                    f"{self.name}: the log-HAR needs a positive proxy, but {self.proxy} has {int(bad.sum())} "
                    f"values <= 0 (first at {hist.dates[int(np.argmax(bad))]}); use a realized measure"
                )
            x = np.log(x)
        return {self.proxy: x, **{e: hist[e] for e in self.exog}}

    def _design(self, series: dict[str, np.ndarray]) -> np.ndarray:
        n = series[self.proxy].size
        return np.column_stack(
            [np.ones(n), har_features(series[self.proxy], self.lags)]
            + [har_features(series[e], ls) for e, ls in self.exog.items()]
        )

    def _regression(self, hist: History, X: np.ndarray, horizon: int):
        rows, y = hist.training_rows(horizon, self.proxy)
        rows, y = rows[rows >= self.depth - 1], y[rows >= self.depth - 1]
        if rows.size < X.shape[1] + 2:
            raise DataError(f"{self.name}: {rows.size} complete training rows for horizon {horizon}; "
                            f"the window needs at least {X.shape[1] + 2 + self.depth - 1 + horizon} rows")
        return fit_ols_hc3(np.log(y) if self.log else y, X[rows])

    def fit(self, history: HistoryLike, *, start: Fitted | None = None) -> Fitted:
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        series = self._series(hist)
        X = self._design(series)
        tails = {k: v[-self.depth :].copy() for k, v in series.items()}
        if self.direct:
            return _DirectHARFit(self, hist, X, tails)
        return _IteratedHARFit(self, self._regression(hist, X, 1), tails)


def _params(model: HAR, res, prefix: str = "") -> dict[str, float]:
    out = {f"{prefix}{c}": float(b) for c, b in zip(model.columns, res.params)}
    out |= {f"{prefix}se_{c}": float(s) for c, s in zip(model.columns, res.bse)}
    out |= {f"{prefix}sigma2": float(res.scale), f"{prefix}r2": float(res.rsquared), f"{prefix}nobs": float(res.nobs)}
    return out


class _HARFit(Fitted):
    """What both variants share: the regressors at each origin from the kept tails."""

    def __init__(self, model: HAR, tails: dict[str, np.ndarray]) -> None:
        self.model, self.tails = model, tails

    def _origin_series(self, new: History) -> dict[str, np.ndarray]:
        """The regressors' source series over the last L_max rows to t0, then the new rows."""
        later = self.model._series(new) if len(new) else {k: np.empty(0) for k in self.tails}
        return {k: np.concatenate([tail, later[k]]) for k, tail in self.tails.items()}

    def _origin_design(self, new: History) -> np.ndarray:
        """Regressors at origins t0, t0+1, ..., t0+len(new)."""
        return self.model._design(self._origin_series(new))[self.model.depth - 1 :]

    def _back(self, m: np.ndarray, v: np.ndarray | float) -> np.ndarray:
        if not self.model.log:
            return m
        return np.exp(m + 0.5 * v) if self.model.bias_correction else np.exp(m)

    def one_step(self, new: History) -> np.ndarray:
        return self.forecast([1], new)[:, 0]


class _IteratedHARFit(_HARFit):
    def __init__(self, model: HAR, res, tails: dict[str, np.ndarray]) -> None:
        super().__init__(model, tails)
        self.res = res
        self.params = _params(model, res)

    def summary(self, horizon: int = 1):
        """statsmodels summary of the one-step regression (HC3 standard errors)."""
        return self.res.summary(xname=self.model.columns)

    def ar_weights(self) -> np.ndarray:
        """The proxy's HAR coefficients as AR weights on x_t, x_{t-1}, ..., x_{t-L_max+1}."""
        beta = self.res.params[1 : 1 + len(self.model.lags)]
        a = np.zeros(max(self.model.lags))
        for b, lag in zip(beta, self.model.lags):
            a[:lag] += b / lag
        return a

    def forecast(self, horizons: Sequence[int], new: HistoryLike | None = None) -> np.ndarray:
        hs = check_horizons(horizons)
        rows = check_history(new, None, name="new rows", targets=False)
        X = self._origin_design(rows)
        k = len(self.model.lags)
        b = self.res.params
        fixed = b[0] + X[:, 1 + k :] @ b[1 + k :]  # constant and exogenous terms, held over the horizon
        z = self._origin_series(rows)[self.model.proxy][self.model.depth - max(self.model.lags) :]
        window = np.lib.stride_tricks.sliding_window_view(z, max(self.model.lags))
        a = self.ar_weights()
        window = window[:, ::-1].copy()  # newest first: column j holds z_{t-j}
        steps = np.empty((window.shape[0], int(hs.max())))
        for step in range(steps.shape[1]):
            m = fixed + window @ a
            steps[:, step] = m
            window = np.column_stack([m, window[:, :-1]])
        if self.model.log:
            psi = np.ones(steps.shape[1])
            for i in range(1, psi.size):
                psi[i] = sum(a[j - 1] * psi[i - j] for j in range(1, min(i, a.size) + 1))
            steps = self._back(steps, self.res.scale * np.cumsum(psi**2))
        return np.cumsum(steps, axis=1)[:, hs - 1]


class _DirectHARFit(_HARFit):
    def __init__(self, model: HAR, hist: History, X: np.ndarray, tails: dict[str, np.ndarray]) -> None:
        super().__init__(model, tails)
        self.hist, self.X = hist, X
        self.results: dict[int, object] = {}
        self.params: dict[str, float] = {}

    def _result(self, h: int):
        if h not in self.results:
            self.results[h] = self.model._regression(self.hist, self.X, h)
            self.params |= _params(self.model, self.results[h], prefix=f"h{h}.")
        return self.results[h]

    def summary(self, horizon: int = 1):
        """statsmodels summary of the horizon's regression (HC3 standard errors)."""
        return self._result(int(horizon)).summary(xname=self.model.columns)

    def forecast(self, horizons: Sequence[int], new: HistoryLike | None = None) -> np.ndarray:
        hs = check_horizons(horizons)
        X = self._origin_design(check_history(new, None, name="new rows", targets=False))
        out = np.empty((X.shape[0], hs.size))
        for j, h in enumerate(hs):
            res = self._result(int(h))
            out[:, j] = self._back(X @ res.params, res.scale)
        return out


register("har")(lambda: HAR())
register("har_rv")(lambda: HAR("rv"))
register("har_log_rv")(lambda: HAR("rv", log=True))
register("har_direct_rv")(lambda: HAR("rv", direct=True))
register("har_log_direct_rv")(lambda: HAR("rv", log=True, direct=True))
register("har_rv_vix")(lambda: HAR("rv", exog=("vix",)))
