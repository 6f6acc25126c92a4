"""Reading regime forecasters after a walk-forward: per-regime coefficients, how often each
regime leads, and what smoothed (hindsight) probabilities would have done to the scores.

* :func:`regime_coefficients` -- the one-day HAR coefficients of each regime (and of a
  one-regime HAR for comparison), summarized over the refits of a walk-forward;
* :func:`regime_shares` -- per model and period, the mean forecast weight of the most stressed
  regime and the share of origins where it exceeds one half;
* :func:`compare_with_poster` -- the poster's MAPE table beside the chapter's, each method as
  the change of MAPE against HAR in its own periods;
* :func:`hindsight_comparison` -- for a Markov-switching fit, the smoothed probabilities of its
  training days (which use later days) beside the filtered ones (which do not), and in-sample
  one-day forecasts blended with either: the gap between the two scores is what a study gains
  by letting smoothed probabilities into its forecasts.

Regimes are numbered from the calmest (0) to the most stressed (K - 1) at every refit, so a
regime's coefficients can be compared across refits (:mod:`volbook.models.regime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from volbook.errors import DataError
from volbook.evaluate import loss_expr
from volbook.models.regime.base import LOOKBACK
from volbook.models.regime.forecasters import SwitchingFitted
from volbook.models.regime.scales import from_scale
from volbook.periods import label_periods, vol_ape_expr

__all__ = [
    "COEFFICIENTS",
    "POSTER_MAPE",
    "Hindsight",
    "compare_with_poster",
    "hindsight_comparison",
    "regime_coefficients",
    "regime_shares",
]

#: The per-regime regressors of the one-day HAR, in the order of the regime forecasters' params.
COEFFICIENTS = ("const", "daily", "weekly", "monthly")
#: The same regressors in the parameters of a one-regime log-HAR (``HAR("rv", log=True, direct=True)``).
_HAR_LOG_NAMES = {"const": "h1.const", "daily": "h1.log_rv_1", "weekly": "h1.log_rv_5", "monthly": "h1.log_rv_22"}


def _regimes_of(params: pl.DataFrame) -> int:
    """Regimes a model's params have values for (``const_0`` .. ``const_{K-1}`` not all null)."""
    return max((int(c.rsplit("_", 1)[1]) + 1 for c in params.columns
                if c.startswith("const_") and params[c].fill_nan(None).null_count() < params.height), default=0)


def regime_coefficients(params: pl.DataFrame, *, har: str | None = None) -> pl.DataFrame:
    """Median one-day coefficients of each regime over the refits of each model.

    Parameters
    ----------
    params
        Walk-forward params (one row per refit and model) of regime forecasters, with
        ``const_k``, ``daily_k``, ``weekly_k``, ``monthly_k``, ``sigma_k`` (and ``p_kk`` for the
        Markov models); may also hold a one-regime log-HAR's rows (``h1.const``, ...).
    har
        The name of that one-regime log-HAR in ``params``, shown as regime 0 of 1 (None: none).

    Returns
    -------
    polars.DataFrame
        ``model``, ``regime``, ``n_regimes`` (regimes the model allows), ``refits`` (refits
        in which the regime exists), ``const``, ``daily``, ``weekly``, ``monthly``,
        ``persistence`` (daily + weekly + monthly), ``sigma`` (residual standard deviation on
        the log scale), ``duration`` (expected stay in days, ``1 / (1 - p_kk)``, Markov models
        only): medians over the refits in which the regime exists.
    """
    rows = []
    for model in params["model"].unique(maintain_order=True):
        part = params.filter(pl.col("model") == model)
        if model == har:
            if "h1.sigma2" not in part.columns or part["h1.sigma2"].null_count() == part.height:
                raise DataError(f"regime_coefficients: {har!r} has no one-day log-HAR parameters (h1.const, ...)")
            cols = {k: pl.col(v) for k, v in _HAR_LOG_NAMES.items()} | {"sigma": pl.col("h1.sigma2").sqrt()}
            blocks = [(0, 1, part.select(**cols))]
        else:
            k_max = _regimes_of(part)
            blocks = []
            for k in range(k_max):
                cols = {c: pl.col(f"{c}_{k}") for c in (*COEFFICIENTS, "sigma")}
                if f"p_{k}{k}" in part.columns:
                    cols["duration"] = 1.0 / (1.0 - pl.col(f"p_{k}{k}"))
                blocks.append((k, k_max, part.select(**cols).fill_nan(None).drop_nulls(list(COEFFICIENTS))))
        for k, k_max, values in blocks:
            if values.height == 0:
                continue
            med = values.with_columns(persistence=pl.col("daily") + pl.col("weekly") + pl.col("monthly")).median()
            rows.append({"model": model, "regime": k, "n_regimes": k_max, "refits": values.height,
                         **med.row(0, named=True)})
    if not rows:
        raise DataError("regime_coefficients: params hold no per-regime coefficients (const_0, ...)")
    out = pl.DataFrame(rows, infer_schema_length=None)
    if "duration" not in out.columns:
        out = out.with_columns(duration=pl.lit(None, dtype=pl.Float64))
    return out.select("model", "regime", "n_regimes", "refits", *COEFFICIENTS, "persistence", "sigma", "duration")


def regime_shares(states: pl.DataFrame, params: pl.DataFrame, periods: pl.DataFrame, *,
                  threshold: float = 0.5) -> pl.DataFrame:
    """How much weight the most stressed regime gets, per model and period.

    Parameters
    ----------
    states
        ``WalkForward.states`` of regime forecasters: ``date``, ``model``, ``name``
        (``regime_0`` ... ``regime_{K-1}``, the forecast weights), ``value``; other names are
        ignored.
    params
        Their ``WalkForward.params`` (``date`` of each refit, ``model``, ``n_regimes``): the
        regimes the fit in force at an origin found (a clustering may find fewer than it may use).
    periods
        From :func:`volbook.periods.define_periods`.
    threshold
        The weight above which an origin counts as "in the stressed regime".

    Returns
    -------
    polars.DataFrame
        ``model``, ``period``, ``origins``, ``mean_weight`` (mean weight of the most stressed
        regime, regime K - 1 of the fit in force; 0 where that fit found one regime only),
        ``share_above`` (share of origins where it exceeds ``threshold``); models and periods
        in their order.
    """
    weights = states.filter(pl.col("name").str.starts_with("regime_")).with_columns(
        pl.col("name").str.strip_prefix("regime_").cast(pl.Int64).alias("k")
    )
    if weights.height == 0:
        raise DataError("regime_shares: states hold no regime weights (regime_0, ...)")
    fits = params.select("date", "model", pl.col("n_regimes").cast(pl.Int64)).sort("date")
    top = weights.sort("date").join_asof(fits, on="date", by="model", strategy="backward", check_sortedness=False)
    stressed = (
        top.filter(pl.col("k") == pl.col("n_regimes") - 1)
        .with_columns(pl.when(pl.col("n_regimes") > 1).then(pl.col("value")).otherwise(0.0).alias("value"))
    )
    labelled = label_periods(stressed, periods).drop_nulls("period")
    out = labelled.group_by("model", "period").agg(
        origins=pl.len().cast(pl.Int64),
        mean_weight=pl.col("value").mean(),
        share_above=(pl.col("value") > threshold).mean(),
    )
    order = {p: i for i, p in enumerate(periods["period"])}
    models = {m: i for i, m in enumerate(states["model"].unique(maintain_order=True))}
    return (
        out.with_columns(pl.col("model").replace_strict(models).alias("_m"), pl.col("period").replace_strict(order).alias("_p"))
        .sort("_m", "_p")
        .drop("_m", "_p")
    )


@dataclass(frozen=True)
class Hindsight:
    """Result of :func:`hindsight_comparison`.

    Attributes
    ----------
    probabilities
        ``date`` (day d), ``smoothed`` (Pr(most stressed regime at d | every day of the fit):
        uses days after d), ``filtered`` (Pr(... | days up to d)), ``predicted`` (the weight
        a forecast made at d - 1 gives it: the filtered probability of d - 1 pushed one step
        through the transition matrix), ``rv``.
    scores
        ``weights`` (``"smoothed"``, ``"predicted"``), ``n``, ``qlike``, ``mse``, ``mape`` of
        the in-sample one-day forecasts of ``rv`` blended with those weights.
    """

    probabilities: pl.DataFrame
    scores: pl.DataFrame


def hindsight_comparison(fitted: SwitchingFitted) -> Hindsight:
    """Smoothed against filtered regime probabilities of one Markov-switching fit, and what each
    does to one-day forecasts of its own training days.

    The per-regime one-day means of day d come from the fitted coefficients and the HAR
    regressors of day d - 1 (both forecasts use the same fit: only the weights differ). The
    *predicted* weights are what the forecaster uses (``filtered_{d-1} @ P``); the *smoothed*
    ones know whether day d and the days after it turned out calm or stressed, so their score is
    out of reach of any forecaster. Days d = 23 .. t0 of the window (the first 22 days feed the
    HAR regressors and the first filtered value).
    """
    if not isinstance(fitted, SwitchingFitted):
        raise DataError(f"hindsight_comparison needs a Markov-switching fit, got {type(fitted).__name__}")
    smoothed = fitted.smoothed_probabilities_hindsight()
    filtered = fitted.filtered
    P = fitted.switching.transmat
    predicted = filtered[:-1] @ P  # row i: weight for day LOOKBACK + 1 + i
    days = np.arange(LOOKBACK + 1, len(fitted.history))
    beta, s2 = fitted.coefficients(1)
    means = np.maximum(from_scale(fitted.X[days - 1] @ beta.T, s2, fitted.spec.scale), fitted.floor)
    top = beta.shape[0] - 1
    forecasts = {"smoothed": (smoothed[1:] * means).sum(axis=1), "predicted": (predicted * means).sum(axis=1)}
    dates = np.asarray(fitted.history.dates)
    probabilities = pl.DataFrame({
        "date": dates[days], "smoothed": smoothed[1:, top], "filtered": filtered[1:, top],
        "predicted": predicted[:, top], "rv": fitted.rv[days],
    })
    frame = pl.DataFrame({"target": fitted.rv[days]})
    scores = pl.concat([
        frame.with_columns(pl.Series("forecast", f), weights=pl.lit(name)).with_columns(
            loss_expr("qlike"), loss_expr("squared"), vol_ape_expr())
        .group_by("weights").agg(n=pl.len().cast(pl.Int64), qlike=pl.col("qlike").mean(),
                                 mse=pl.col("squared").mean(), mape=pl.col("vol_ape").mean())
        for name, f in forecasts.items()
    ])
    return Hindsight(probabilities=probabilities, scores=scores)


#: The poster's MAPE (%) of one-day realized volatility forecasts per period, from its results
#: table as distilled in the book's reference notes (its README disagrees with some of these
#: numbers: indicative only). Keys are the chapter's model names: its "Markov" model is the soft
#: Markov switching HAR. ``stressed`` marks the COVID period.
POSTER_MAPE = pl.DataFrame({
    "period": ["pre-COVID (2014-06 to 2020-01)", "COVID (2020-01 to 2020-09)", "post-COVID (2020-09 to 2025-04)"],
    "stressed": [False, True, False],
    "har": [27.09, 30.13, 23.31],
    "soft_markov_har": [24.33, 31.93, 22.45],
    "distributional_har": [27.36, 27.27, 24.95],
    "coefficient_har": [24.26, 38.63, 22.58],
})


def compare_with_poster(scores: pl.DataFrame, summary: pl.DataFrame, *, horizon: int = 1,
                        names: Mapping[str, str] | None = None) -> pl.DataFrame:
    """The poster's table and the chapter's side by side: HAR's MAPE and each method's change.

    Parameters
    ----------
    scores
        :func:`volbook.periods.score_by_period` (``mape`` as a fraction).
    summary
        :func:`volbook.periods.summarize_periods` (its ``stressed`` flags).
    horizon
        The horizon of the chapter's scores (the poster forecast one day ahead).
    names
        The chapter's model name for each poster column (``har``, ``soft_markov_har``,
        ``distributional_har``, ``coefficient_har``); by default the same names, except
        ``har`` -> ``har_log``.

    Returns
    -------
    polars.DataFrame
        ``source`` (``"poster"`` or ``"this chapter"``), ``period``, ``stressed``, ``har``
        (HAR's MAPE, a fraction) and, per poster method, its MAPE relative to HAR's minus 1.
    """
    names = dict({"har": "har_log"} | {m: m for m in POSTER_MAPE.columns[3:]}, **(names or {}))
    methods = list(POSTER_MAPE.columns[3:])
    poster = POSTER_MAPE.select(
        pl.lit("poster").alias("source"), "period", "stressed", (pl.col("har") / 100).alias("har"),
        *[(pl.col(m) / pl.col("har") - 1).alias(m) for m in methods],
    )
    ours = (
        scores.filter(pl.col("horizon") == horizon)
        .pivot(on="model", index="period", values="mape")
        .join(summary.select("period", "stressed"), on="period", how="left", maintain_order="left")
    )
    missing = [n for n in names.values() if n not in ours.columns]
    if missing:
        raise DataError(f"compare_with_poster: scores lack the models {missing}")
    base = names["har"]
    ours = ours.select(
        pl.lit("this chapter").alias("source"), "period", "stressed", pl.col(base).alias("har"),
        *[(pl.col(names[m]) / pl.col(base) - 1).alias(m) for m in methods],
    )
    return pl.concat([poster, ours])
