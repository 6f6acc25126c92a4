"""Panel forecasters of h-day forward volatility: the study's baselines, ridge regressions
pooled in several ways, and a gradient-boosted tree model.

Each is a small frozen specification; :func:`volbook.panel.walkforward.walk_forward_panel`
fits and applies them all under one :class:`~volbook.panel.schedule.RefitSchedule`.

Ridge (:class:`PanelRidge`), as the book fits it
    ``min_b sum (y - b_0 - x'b)^2 + alpha * |b|^2`` on the rows of the training window.

    * **Features are not standardized**: coefficients are in the units of the features
      (annualized volatility, or its log), as in the study's coefficient heatmap.
    * **The intercept is not penalized** (as in scikit-learn's ``Ridge``); polars-ols' ridge
      penalizes it, and ``penalize_intercept=True`` reproduces polars-ols (tested). With
      alpha = 1, a pooled window of ~500 days x many assets has X'X diagonal entries in the
      thousands and the penalty is negligible; a per-asset window (~480 rows, X'X diagonal of
      order 10-50) is visibly shrunk.
    * ``pooling``: ``"global"`` one regression over all assets; ``"sector"`` one per sector;
      ``"asset"`` one per asset (the study's per-asset regression). ``dummies=True`` adds one
      indicator per sector (all of them: with the intercept unpenalized and the dummies
      penalized the fit is unique, and each dummy reads as the sector's level relative to the
      intercept).
    * ``space="log"``: log features and log target; the forecast is ``exp`` of the fitted
      value (a median-type forecast, as in the study: no bias correction).
    * Forecasts are clipped to [2.5%, 200%], the range of the training target.
    * A window with fewer than ``min_rows`` rows (a sector or asset too new) gives no
      coefficients and a null forecast.

Baselines (:class:`Baseline`) are fixed linear combinations of raw (unclipped) features.
:class:`PanelXGB` fits XGBoost on the same features, windows and refit dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from volbook.errors import ParameterError
from volbook.panel.features import CLIP, VOL_FEATURES, PanelFeatures, Space, design_exprs, target_expr

__all__ = [
    "PUBLISHED",
    "Baseline",
    "PanelModel",
    "PanelRidge",
    "PanelXGB",
    "Pooling",
    "check_models",
    "solve_ridge",
    "study_models",
]

Pooling = Literal["global", "sector", "asset"]

#: The study's published scores (correlation, RMSE of annualized vol), by the names of
#: :func:`study_models` (Russell 1000, 1995-2024, ~7 million rows).
PUBLISHED: dict[str, tuple[float, float]] = {
    "vol_5": (0.591, 0.235),
    "vol_21": (0.672, 0.199),
    "vol_63": (0.689, 0.190),
    "composite": (0.697, 0.189),
    "blend": (0.676, 0.184),
    "per_asset": (0.661, 0.191),
    "per_sector": (0.715, 0.178),
    "global": (0.715, 0.178),
    "global_dummies": (0.714, 0.178),
    "global_log_dummies": (0.720, 0.178),
    "market_vol_factor": (0.716, 0.179),
    "group_risk_factor": (0.722, 0.178),
}


@dataclass(frozen=True)
class Baseline:
    """A fixed forecast: ``sum_f weights[f] * feature_f`` (raw annualized vols), no fitting.

    Examples: ``Baseline("vol_21", {"vol_21": 1.0})``; the study's blend
    ``Baseline("blend", {"vol_21": 0.7, "vol_252": 0.3})``.
    """

    name: str
    weights: dict[str, float]

    def forecast_expr(self) -> pl.Expr:
        """The forecast as an expression over the feature frame."""
        return pl.sum_horizontal([w * pl.col(f) for f, w in self.weights.items()]).alias(self.name)


@dataclass(frozen=True)
class _OnFeatures:
    """What the fitted models share: a name and the regressors they read."""

    name: str
    features: tuple[str, ...] | None = None
    extra: tuple[str, ...] = ()

    def regressors(self, data: PanelFeatures) -> tuple[str, ...]:
        """The regressor names this model uses on ``data`` (without intercept and dummies)."""
        return (*(data.stock_features if self.features is None else self.features), *self.extra)


@dataclass(frozen=True)
class PanelRidge(_OnFeatures):
    """Ridge regression of the (clipped) forward vol on panel features; see the module docstring.

    Parameters
    ----------
    name
        Column name of its forecasts.
    features
        Regressors; None means the data's stock features (:data:`VOL_FEATURES`, plus
        ``log_mcap`` when the panel has market caps).
    extra
        Further regressors appended: ``"market_vol"``, ``"group_risk"``.
    pooling, dummies, space, alpha, penalize_intercept, min_rows
        See the module docstring.
    """

    pooling: Pooling = "global"
    dummies: bool = False
    space: Space = "level"
    alpha: float = 1.0
    penalize_intercept: bool = False
    min_rows: int = 100

    def __post_init__(self) -> None:
        if self.pooling not in ("global", "sector", "asset"):
            raise ParameterError(f"{self.name}: pooling must be 'global', 'sector' or 'asset', got {self.pooling!r}")
        if self.space not in ("level", "log"):
            raise ParameterError(f"{self.name}: space must be 'level' or 'log', got {self.space!r}")
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ParameterError(f"{self.name}: ridge alpha must be >= 0, got {self.alpha}")
        if self.dummies and self.pooling != "global":
            raise ParameterError(f"{self.name}: sector dummies only make sense with pooling='global'")


@dataclass(frozen=True)
class PanelXGB(_OnFeatures):
    """Gradient-boosted trees (XGBoost) on the ridge models' features, same windows and refits.

    Parameters
    ----------
    name
        Column name of its forecasts.
    features
        Regressors (None: the data's stock features), plus ``extra``.
    extra
        Further regressors (``"market_vol"``, ``"group_risk"``).
    dummies
        Add one indicator per sector.
    space
        ``"log"`` fits the log of the clipped target and forecasts ``exp`` of the prediction;
        ``"level"`` fits the clipped target. (Trees do not care whether the features are logged.)
    params
        Passed to ``xgboost.XGBRegressor``, after ``n_jobs=1, random_state=0`` (the same
        trees on every run) unless it sets them.
    """

    dummies: bool = True
    space: Space = "log"
    params: dict[str, Any] = field(default_factory=lambda: {
        "n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "tree_method": "hist",
    })

    def __post_init__(self) -> None:
        if self.space not in ("level", "log"):
            raise ParameterError(f"{self.name}: space must be 'level' or 'log', got {self.space!r}")

    def design(self, data: PanelFeatures) -> list[pl.Expr]:
        """Its input columns as expressions (clipped features, then sector indicators)."""
        x = design_exprs(self.regressors(data), "level")
        if self.dummies:
            x += [(pl.col("sector") == s).cast(pl.Float64).alias(f"sector={s}") for s in data.sectors]
        return x

    def fit_predict(self, train: pl.DataFrame, apply: pl.DataFrame, data: PanelFeatures) -> np.ndarray:
        """Fit on the ``train`` rows and forecast the ``apply`` rows (annualized vol)."""
        from xgboost import XGBRegressor

        x = self.design(data)
        model = XGBRegressor(**{"n_jobs": 1, "random_state": 0, **self.params})
        model.fit(train.select(x).to_numpy(), train.select(target_expr(self.space)).to_series().to_numpy())
        pred = model.predict(apply.select(x).to_numpy()).astype(float)
        return np.clip(np.exp(pred) if self.space == "log" else pred, *CLIP)


PanelModel = Baseline | PanelRidge | PanelXGB


def solve_ridge(
    zz: np.ndarray,
    zy: np.ndarray,
    alpha: float,
    *,
    penalize_intercept: bool = False,
    min_rows: int = 1,
) -> np.ndarray:
    """Ridge coefficients from stacked normal equations; the intercept is coefficient 0.

    Solves ``(Z'Z + alpha * P) b = Z'y`` for every leading index, with ``P`` the identity
    (its (0, 0) entry zero unless ``penalize_intercept``). ``Z'Z[..., 0, 0]`` is the number of
    rows; systems with fewer than ``min_rows`` rows give NaN coefficients. A singular system
    (alpha = 0 with collinear regressors) gets the minimum-norm least-squares solution.

    Parameters
    ----------
    zz
        Shape (..., p, p).
    zy
        Shape (..., p).

    Returns
    -------
    numpy.ndarray
        Shape (..., p).
    """
    p = zz.shape[-1]
    penalty = np.full(p, float(alpha))
    if not penalize_intercept:
        penalty[0] = 0.0
    a = zz + np.diag(penalty)
    ok = zz[..., 0, 0] >= max(int(min_rows), 1)
    out = np.full(zy.shape, np.nan)
    if not ok.any():
        return out
    try:
        out[ok] = np.linalg.solve(a[ok], zy[ok][..., None])[..., 0]
    except np.linalg.LinAlgError:
        out[ok] = np.stack([np.linalg.lstsq(m, v, rcond=None)[0] for m, v in zip(a[ok], zy[ok])])
    return out


def study_models(
    names: Sequence[str] | None = None, *, alpha: float = 1.0, xgboost: bool = False
) -> list[PanelModel]:
    """The study's progression (names of :data:`PUBLISHED`), optionally with the tree model.

    ``names`` keeps only those models, in the order given (``"xgboost"`` is one of them).

    Baselines: ``vol_5``, ``vol_21``, ``vol_63``, ``composite`` (mean of the three),
    ``blend`` (0.7 x 21-day + 0.3 x 252-day). Ridge: ``per_asset`` (volatility features only:
    an asset's own size and sector are constant across its window and would only duplicate
    its intercept), ``per_sector``, ``global``, ``global_dummies``, ``global_log_dummies``,
    and the latter plus ``market_vol`` (``market_vol_factor``) or plus ``group_risk``
    (``group_risk_factor``). ``xgboost=True`` appends :class:`PanelXGB` (``xgboost``).
    """
    third = 1.0 / 3.0
    models: list[PanelModel] = [
        Baseline("vol_5", {"vol_5": 1.0}),
        Baseline("vol_21", {"vol_21": 1.0}),
        Baseline("vol_63", {"vol_63": 1.0}),
        Baseline("composite", {"vol_5": third, "vol_21": third, "vol_63": third}),
        Baseline("blend", {"vol_21": 0.7, "vol_252": 0.3}),
        PanelRidge("per_asset", features=VOL_FEATURES, pooling="asset", alpha=alpha),
        PanelRidge("per_sector", pooling="sector", alpha=alpha),
        PanelRidge("global", alpha=alpha),
        PanelRidge("global_dummies", dummies=True, alpha=alpha),
        PanelRidge("global_log_dummies", dummies=True, space="log", alpha=alpha),
        PanelRidge("market_vol_factor", extra=("market_vol",), dummies=True, space="log", alpha=alpha),
        PanelRidge("group_risk_factor", extra=("group_risk",), dummies=True, space="log", alpha=alpha),
    ]
    if xgboost or (names is not None and "xgboost" in names):
        models.append(PanelXGB("xgboost"))
    if names is None:
        return models
    by_name = {m.name: m for m in models}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ParameterError(f"unknown panel model '{unknown[0]}' (valid: {', '.join(by_name)})")
    return [by_name[n] for n in names]


def check_models(models: Sequence[PanelModel]) -> None:
    """Refuse an empty list, duplicate names, or something that is not a panel model."""
    if not models:
        raise ParameterError("no panel models given")
    names = [getattr(m, "name", None) for m in models]
    for m in models:
        if not isinstance(m, (Baseline, PanelRidge, PanelXGB)):
            raise ParameterError(f"not a panel model: {m!r} (use Baseline, PanelRidge or PanelXGB)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ParameterError(f"panel model names must be unique; repeated: {', '.join(dup)}")
