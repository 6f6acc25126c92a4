"""The study's published polars-ols code, made to run, its leaks kept: to measure them.

**Never forecast with these.** They exist so the panel chapter can score the study's own
pipeline next to the leak-free one (:func:`volbook.panel.walkforward.walk_forward_panel`) and
show what each mistake was worth. Both fail the panel perturbation test (``tests/``).

:func:`study_pooled_forecasts` (the study's "panel/global regression" snippet)
    ``group_by_dynamic(period="504i", every="25i")`` on a date index: polars' default windows
    are ``[k, k + 504)``, labelled by their *start* k, so the coefficients labelled k are fitted
    on the 504 days *after* k. They are joined at the rows dated k, forward-filled within each
    asset and shifted by 25 *rows* within the asset (``.shift(25)``; the published code shifts
    the whole column), then applied with ``least_squares.predict``. Fixes made only so that
    it runs: ``mode="coefficients"`` (the printed struct shows coefficients), a date index
    (the code's ``int_range(len).over("date")`` numbers the assets within a date), and
    ``predict(..., add_intercept=True)``.
:func:`study_per_asset_forecasts` (the study's per-asset snippet)
    ``rolling_ols(..., window_size=504, alpha=1.0, add_intercept=True).over("asset")`` in its
    default mode, ``"predictions"``: the value at row t is the *in-sample* fit of a regression
    on rows t-503 .. t, whose own target (and the h - 1 before it) ends after t.

Both use the study's features in level space (the stock features of the data), the target
clipped to [2.5%, 200%] for fitting, ridge alpha as given, and polars-ols' ridge (which
penalizes the intercept). Forecasts are clipped to the same range as the book's models unless
``clip=False``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import polars_ols  # noqa: F401  (registers the least_squares namespace)

from volbook.panel.features import CLIP, PanelFeatures, design_exprs, target_expr

__all__ = ["study_pooled_coefficients", "study_pooled_forecasts", "study_per_asset_forecasts"]


def _inputs(data: PanelFeatures, features: Sequence[str] | None) -> tuple[list[str], pl.LazyFrame]:
    names = list(data.stock_features if features is None else features)
    frame = data.frame.lazy().select("t", "date", "asset", *design_exprs(names, "level"), target_expr("level"))
    return names, frame


def study_pooled_coefficients(
    data: PanelFeatures,
    features: Sequence[str] | None = None,
    *,
    window: int = 504,
    every: int = 25,
    alpha: float = 1.0,
) -> pl.DataFrame:
    """The published ``group_by_dynamic`` step: ``t`` (window start k), ``first``, ``last``
    (dates of the window's rows, first and last position) and ``coef`` (a polars-ols struct)."""
    names, frame = _inputs(data, features)
    ridge = pl.col("y").least_squares.ridge(
        *names, alpha=alpha, add_intercept=True, mode="coefficients", null_policy="drop"
    )
    return (
        frame.sort("t")
        .group_by_dynamic(index_column="t", period=f"{window}i", every=f"{every}i")
        .agg(pl.col("t").min().alias("first"), pl.col("t").max().alias("last"), ridge.alias("coef"))
        .collect()
    )


def study_pooled_forecasts(
    data: PanelFeatures,
    features: Sequence[str] | None = None,
    *,
    window: int = 504,
    every: int = 25,
    alpha: float = 1.0,
    clip: bool = True,
) -> pl.DataFrame:
    """The published pooled pipeline (see the module docstring): ``t``, ``date``, ``asset``, ``forecast``."""
    names, frame = _inputs(data, features)
    coefs = study_pooled_coefficients(data, features, window=window, every=every, alpha=alpha).select("t", "coef")
    coef = pl.col("coef").forward_fill().over("asset", order_by="t").shift(every).over("asset", order_by="t")
    pred = coef.least_squares.predict(*names, add_intercept=True)
    out = (
        frame.join(coefs.lazy(), on="t", how="left")
        .sort("asset", "t")
        .select("t", "date", "asset", pred.alias("forecast"))
        .filter(pl.col("t") >= window - 1)
    )
    return _clipped(out, clip).collect()


def study_per_asset_forecasts(
    data: PanelFeatures,
    features: Sequence[str] | None = None,
    *,
    window: int = 504,
    alpha: float = 1.0,
    clip: bool = True,
) -> pl.DataFrame:
    """The published per-asset pipeline (in-sample rolling fits): ``t``, ``date``, ``asset``, ``forecast``."""
    names, frame = _inputs(data, features)
    fit = pl.col("y").least_squares.rolling_ols(*names, window_size=window, alpha=alpha, add_intercept=True)
    out = (
        frame.sort("asset", "t")
        .select("t", "date", "asset", fit.over("asset", order_by="t").alias("forecast"))
        .filter(pl.col("t") >= window - 1)
    )
    return _clipped(out, clip).collect()


def _clipped(frame: pl.LazyFrame, clip: bool) -> pl.LazyFrame:
    return frame.with_columns(pl.col("forecast").clip(*CLIP)) if clip else frame
