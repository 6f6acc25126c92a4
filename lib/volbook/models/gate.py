"""What STES and XGBSTES share: gate inputs, standardization, folds, and the fitted filter.

Both models forecast with the smooth-transition recursion of :mod:`volbook.models.recursion`,
``v_{s+1} = alpha_s p_s + (1 - alpha_s) v_s`` with ``alpha_s = logistic(z_s)``; they differ
only in how the gate logit ``z_s`` is made from the standardized gate features of row s
(a linear index for STES, an XGBoost margin for XGBSTES). This module holds the rest:

* :class:`GateSpec`: which gate features (:mod:`volbook.features`) and which per-day variance
  proxy ``p`` (``"ret2"`` = r^2, or a realized-measure column such as ``"rv"``) a model uses.
* :class:`GateScaler`: feature means and standard deviations from the **training rows only**
  (rows whose target is known at the origin); the constant is never scaled. A column that is
  constant on the training rows carries no information there: it is set to 0 and gets no
  coefficient.
* :func:`initial_variance`: ``v_0`` = mean proxy over the first ``init_obs`` rows of the
  training window, so in-sample forecasts start at the **first** training row (the study
  started its in-sample recursion from the variance at the end of training).
* :func:`time_series_folds`: expanding folds for cross-validation (scikit-learn's
  ``TimeSeriesSplit``), each validated on the block that follows its training rows, the
  recursion running on from the first row with the fold's parameters.
* :func:`choose_best`: the one rule for every discrete choice by score (penalty, grid
  candidate, number of boosting rounds, best of several starts): scores within
  :data:`SCORE_RTOL` of the lowest count as tied, and a stated preference breaks the tie, so a
  choice does not hang on the last bits of a float (another machine's BLAS or SIMD moves
  these scores by about 1e-9 to 1e-7 relative).
* :class:`GatedFit`: a fitted model at its origin t: it carries the filter forward through
  new rows with fixed parameters (``one_step``) and reports the gate path (``path``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import expit
from sklearn.model_selection import TimeSeriesSplit

from volbook.errors import DataError, ParameterError
from volbook.features import EAESE, GateFamily, check_families, feature_lookback, gate_features
from volbook.history import History
from volbook.models.base import Fitted, check_history
from volbook.models.recursion import stes_filter

__all__ = [
    "GateSpec",
    "GateScaler",
    "GatedFit",
    "initial_variance",
    "time_series_folds",
    "choose_best",
    "SCORE_RTOL",
]

#: Relative tolerance within which two scores (losses, objectives) count as tied. Perturbing
#: chapter 2's returns by 1e-13 relative moves its scores and forecasts by 1e-9 to 1e-7
#: relative; 1e-6 is ten times that.
SCORE_RTOL = 1e-6


@dataclass(frozen=True)
class GateSpec:
    """Gate feature families and the variance proxy the recursion smooths.

    ``proxy="ret2"`` smooths squared returns and forecasts next-day r^2; any other value
    names a column of the data frame (a realized measure, e.g. ``"rv"``) that the recursion
    smooths and forecasts instead. Return features always come from ``ret``.
    """

    families: tuple[GateFamily, ...]
    proxy: str = "ret2"

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", check_families(self.families))
        if not self.proxy or self.proxy == "ret":
            raise ParameterError(f"the variance proxy must be 'ret2' or a realized-measure column, got {self.proxy!r}")

    @property
    def inputs(self) -> tuple[str, ...]:
        """Data columns the model reads."""
        return ("ret",) if self.proxy == "ret2" else ("ret", self.proxy)

    def model_name(self, stem: str) -> str:
        """A default model name: ``stem``, the families unless EAESE, the proxy unless r^2."""
        families = "" if self.families in ((), EAESE) else "_" + "_".join(self.families)
        return f"{stem}{families}" + ("" if self.proxy == "ret2" else f"_{self.proxy}")

    @property
    def lookback(self) -> int:
        """Rows before t that the features of row t read."""
        return feature_lookback(self.families)

    def columns(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns, variance proxy and row labels of a history."""
        proxy = np.asarray(history[self.proxy], dtype=float)
        if (proxy < 0).any():
            raise DataError(f"the variance proxy {self.proxy!r} has negative values at position {int(np.argmax(proxy < 0))}")
        return np.asarray(history["ret"], dtype=float), proxy, history.dates

    def features(self, ret: np.ndarray, proxy: np.ndarray, dates) -> tuple[np.ndarray, tuple[str, ...]]:
        """Raw (unstandardized) gate features of every row."""
        return gate_features(self.families, ret=ret, proxy=proxy, dates=dates)


@dataclass(frozen=True)
class GateScaler:
    """Standardization of gate features with statistics from the training rows."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    active: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, names: Sequence[str]) -> GateScaler:
        """Means and standard deviations (ddof = 0) of the rows of ``X`` (the training rows)."""
        X = np.asarray(X, dtype=float)
        if X.shape[0] < 2:
            raise DataError("standardizing gate features needs at least 2 training rows")
        mean = X.mean(axis=0)
        sd = X.std(axis=0)
        active = np.ptp(X, axis=0) > 0
        return cls(tuple(names), mean, np.where(active, sd, 1.0), active)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardized features; columns constant on the training rows are 0."""
        return np.where(self.active, (np.asarray(X, dtype=float) - self.mean) / self.scale, 0.0)


def initial_variance(proxy: np.ndarray, init_obs: int) -> float:
    """``v_0``: the mean proxy over the first ``init_obs`` rows (all at or before the origin)."""
    v0 = float(np.mean(proxy[: max(1, int(init_obs))]))
    if not v0 > 0:
        raise DataError(f"the variance proxy is zero on the first {init_obs} rows: the recursion cannot start")
    return v0


def time_series_folds(n_rows: int, n_splits: int) -> list[tuple[int, int]]:
    """Expanding folds over rows 0 .. n_rows-1 as ``(train_end, valid_end)`` pairs.

    Fold i trains on rows ``[0, train_end)`` and is validated on ``[train_end, valid_end)``;
    the same splits as scikit-learn's ``TimeSeriesSplit(n_splits)``.
    """
    if n_rows < 2 * (n_splits + 1):
        raise DataError(f"{n_rows} training rows are too few for {n_splits}-fold time-series cross-validation")
    return [(int(tr[-1]) + 1, int(va[-1]) + 1) for tr, va in TimeSeriesSplit(n_splits).split(np.empty(n_rows))]


def choose_best(scores: Sequence[float] | np.ndarray, preference: Sequence[int] | None = None,
                rtol: float = SCORE_RTOL) -> int:
    """The index of the preferred candidate among those whose score is within ``rtol`` of the best.

    Parameters
    ----------
    scores
        One score per candidate, lower is better (finite; may be negative).
    preference
        Candidate indices from most to least preferred (the simpler first: more penalty,
        fewer rounds, the earlier start); by default 0, 1, 2, ...
    rtol
        Scores ``<= min + rtol * |min|`` count as tied with the lowest.
    """
    s = np.asarray(scores, dtype=float).ravel()
    if s.size == 0 or not np.isfinite(s).all():
        raise DataError(f"choosing by score needs finite scores, got {s}")
    order = np.arange(s.size) if preference is None else np.asarray(preference, dtype=int)
    if sorted(order.tolist()) != list(range(s.size)):
        raise ParameterError(f"preference must order every one of the {s.size} candidates, got {list(order)}")
    best = s.min()
    tied = s <= best + float(rtol) * abs(best)
    return int(order[tied[order]][0])


class GatedFit(Fitted):
    """A smooth-transition model fitted at origin t; subclasses define the gate logit.

    Attributes
    ----------
    params
        Estimated parameters (gate coefficients named ``beta_<feature>``, tuning choices).
    v_next
        The one-step forecast made at the origin, ``v_{t+1}``.
    scaler
        The training rows' feature means and standard deviations.

    :meth:`path` gives the in-sample gate and forecasts, from the first training row on.
    """

    def __init__(
        self,
        spec: GateSpec,
        scaler: GateScaler,
        v0: float,
        ret: np.ndarray,
        proxy: np.ndarray,
        dates,
        params: dict[str, float],
    ) -> None:
        self.spec = spec
        self.scaler = scaler
        self.params = params
        X, _ = spec.features(ret, proxy, dates)
        Z = scaler.transform(X)
        alpha = expit(self.logits(Z))
        v = stes_filter(proxy, alpha, v0)
        self.v_next = float(v[-1])
        self._z_train = Z
        self._alpha_train = alpha
        self._v_train = v[1:]
        self._dates_train = np.asarray(dates)
        keep = ret.size - min(spec.lookback, ret.size)
        self._tail = (ret[keep:], proxy[keep:], self._dates_train[keep:])

    @abstractmethod
    def logits(self, Z: np.ndarray) -> np.ndarray:
        """Gate logits ``z_s`` from standardized gate features (one row per day)."""

    @abstractmethod
    def contributions(self, Z: np.ndarray) -> np.ndarray:
        """Each feature's additive share of the logit, ``(n, k + 1)``, last column the constant."""

    def _new_rows(self, new: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Standardized features, proxy and dates of new rows (features read the fit's tail)."""
        ret, proxy, dates = self.spec.columns(new)
        if not ret.size:
            return np.empty((0, len(self.scaler.names))), proxy, dates
        t_ret, t_proxy, t_dates = self._tail
        # rows given as a bare array carry positions, not dates: fine unless a calendar feature needs them
        all_dates = np.concatenate([t_dates, dates]) if t_dates.dtype == dates.dtype else None
        X, _ = self.spec.features(np.concatenate([t_ret, ret]), np.concatenate([t_proxy, proxy]), all_dates)
        return self.scaler.transform(X[t_ret.size :]), proxy, dates

    def one_step(self, new: History) -> np.ndarray:
        """``v_{t+1}`` at the origin, then the forecast at each new row, parameters fixed."""
        Z, proxy, _ = self._new_rows(new)
        return stes_filter(proxy, expit(self.logits(Z)), self.v_next)

    def states(self, new: History) -> dict[str, np.ndarray]:
        """``alpha``: the gate behind each one-step forecast (at the origin, then each new row)."""
        Z, _, _ = self._new_rows(new)
        return {"alpha": np.concatenate([self._alpha_train[-1:], expit(self.logits(Z))])}

    def path(self, new: History | pl.DataFrame | None = None) -> pl.DataFrame:
        """The gate and forecast path over the training window and then the ``new`` rows.

        Columns: ``date``, ``sample`` (``"train"`` / ``"test"``), ``alpha``, ``logit``,
        ``forecast`` (``v_{s+1}``, the one-step forecast made at row s) and one column
        ``contrib_<feature>`` per gate feature plus ``contrib_const``: the additive pieces of
        the logit (for a linear gate, coefficient times standardized feature; for trees,
        XGBoost's exact per-feature contributions).
        """
        z_train = self.logits(self._z_train)
        parts = [(self._dates_train, "train", self._z_train, z_train, self._v_train)]
        new = None if new is None else check_history(new, self.spec.inputs, name="new rows", targets=False)
        if new is not None and len(new):
            Z, proxy, labels = self._new_rows(new)
            z = self.logits(Z)
            parts.append((labels, "test", Z, z, stes_filter(proxy, expit(z), self.v_next)[1:]))
        frames = []
        for labels, sample, Z, z, v in parts:
            c = self.contributions(Z)
            cols = {f"contrib_{n}": c[:, j] for j, n in enumerate(self.scaler.names)}
            frames.append(
                pl.DataFrame(
                    {"date": labels, "sample": sample, "alpha": expit(z), "logit": z, "forecast": v,
                     **cols, "contrib_const": c[:, -1]}
                )
            )
        return pl.concat(frames)
