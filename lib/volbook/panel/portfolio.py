"""Does a better volatility forecast give a better portfolio? Books sized by each model's forecast.

Position sizing of the study (its "Application context")::

    w_i = alpha_i * min(sigma_target / sigma_hat_i, max_leverage)

then each ``|w_i|`` is capped at ``max_weight`` (5%) and, if the book's gross exposure
``sum |w_i|`` exceeds ``max_gross`` (100%), every weight is scaled down to meet it (the cap
first, then the gross limit, so both hold). ``sigma_hat_i`` is a model's forecast made at the
origin (annualized vol); ``sigma_target`` is 20% by default.

Books (``alpha_i``), all on the assets that have every compared forecast on that date:

``"long"``
    Equal weights ``1 / N_t`` on all of them: the position sizing alone.
``"low_vol_long"`` / ``"low_vol_short"``
    The two legs of a long-short low-volatility book (a public, reproducible signal, standing
    in for the study's unpublished ML scores): each date, the ``fraction`` of assets with the
    lowest trailing 252-day volatility (``vol_252``, known at the close) form the long leg and
    the same fraction with the highest form the short leg, equal weights ``1 / N_leg`` within
    a leg. Each leg is sized and capped on its own (gross <= ``max_gross`` per leg) and its
    return is that of the positions held (positive weights); the long-short return is
    ``long - short``, as in the study. :func:`backtest_books` reports both legs and the
    combination ``"low_vol_long_short"``.

Timing as in :mod:`volbook.timing` (Backtests): weights decided at the close of t from the
forecasts made at origin t earn the simple returns ``exp(r_{t+1}) - 1`` of the next date;
an asset without a return on the next date earns 0 there. Rebalanced every day: turnover on
day t+1 is ``sum_i |w_{i,t} - w_{i,t-1}|`` over the assets held on either day (entries and
exits count; the drift of weights within a day is ignored), costs ``cost_bps / 1e4`` per unit
of turnover. Ledgers use the layout of :mod:`volbook.backtest` (``weight`` = gross exposure),
so :func:`volbook.backtest.performance_table` scores them and
:func:`volbook.backtest.sharpe_difference` tests two books' ``net`` returns.

The perfect-foresight book of the study is the forecast column ``target`` (the realized
forward vol): it uses the future on purpose, as an upper bound. Its rows exist only where the
target does, so a comparison that includes it drops, for every book, the rows whose target is
missing (the last h dates, and an asset's last h days before it stops trading).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from volbook.backtest import performance_table
from volbook.errors import DataError, ParameterError
from volbook.panel.features import PanelFeatures
from volbook.panel.walkforward import PanelWalkForward

__all__ = ["Book", "backtest_books", "binding_limits", "book_frame", "book_ledger", "book_weights"]

Book = Literal["long", "low_vol_long", "low_vol_short"]
_BOOKS: tuple[str, ...] = ("long", "low_vol_long", "low_vol_short")


def book_frame(
    data: PanelFeatures, wf: PanelWalkForward, sigmas: Sequence[str], *, signal: str = "vol_252"
) -> pl.DataFrame:
    """The rows a book may hold: ``t``, ``date``, ``asset``, the forecasts, ``next_date``,
    ``signal`` and ``next_ret``.

    ``next_ret`` is the simple return of the asset on ``next_date``, the next date of the
    calendar (0 if it does not trade then). Rows are those where every column of ``sigmas``
    has a value.
    """
    missing = [s for s in sigmas if s not in wf.forecasts.columns]
    if missing:
        raise DataError(f"no forecast column '{missing[0]}' (models: {', '.join(wf.models)}; or 'target')")
    if signal not in data.frame.columns:
        raise DataError(f"no signal column '{signal}' in the features")
    nxt = data.frame.lazy().select(
        (pl.col("t") - 1).alias("t"), "asset", pl.col("ret").exp().sub(1.0).alias("next_ret")
    )
    return (
        wf.forecasts.lazy()
        .filter(*[pl.col(s).is_not_null() for s in sigmas], pl.col("t") < data.n_dates - 1)
        .select("t", "date", "asset", *sigmas)
        .with_columns(next_date=pl.lit(data.dates).gather(pl.col("t") + 1))
        .join(data.frame.lazy().select("t", "asset", pl.col(signal).alias("signal")), on=["t", "asset"], how="left")
        .join(nxt, on=["t", "asset"], how="left")
        .with_columns(pl.col("next_ret").fill_null(0.0))
        .sort("t", "asset")
        .collect()
    )


def _alpha(book: Book, fraction: float) -> tuple[pl.Expr, pl.Expr]:
    """(membership, alpha) of each row on its date."""
    n = pl.len().over("t")
    if book == "long":
        return pl.lit(True), 1.0 / n
    k = (pl.lit(fraction) * n).ceil().clip(lower_bound=1)
    rank = pl.col("signal").rank("ordinal", descending=book == "low_vol_short").over("t")
    member = rank <= k
    return member, 1.0 / k


def book_weights(
    frame: pl.DataFrame,
    sigma: str,
    *,
    book: Book = "long",
    target_vol: float = 0.20,
    max_leverage: float = 3.0,
    max_weight: float = 0.05,
    max_gross: float = 1.0,
    fraction: float = 0.3,
    flags: bool = False,
) -> pl.DataFrame:
    """Weights ``t, date, asset, weight`` of one book sized by the forecast column ``sigma``.

    See the module docstring. Weights are positive for both legs of the low-volatility book
    (the short leg's positions are reported as held amounts; the combination subtracts them).
    ``flags=True`` adds which limit bound each position: ``at_leverage`` (``target_vol /
    sigma > max_leverage``), ``at_cap`` (the scaled weight exceeded ``max_weight``) and
    ``gross_limited`` (the book's gross exposure was scaled down to ``max_gross`` that day).
    """
    if book not in _BOOKS:
        raise ParameterError(f"book must be one of {', '.join(_BOOKS)}, got {book!r}")
    for name, value in (("target_vol", target_vol), ("max_leverage", max_leverage),
                        ("max_weight", max_weight), ("max_gross", max_gross)):
        if not (np.isfinite(value) and value > 0):
            raise ParameterError(f"{name} must be positive, got {value}")
    if not 0 < fraction <= 0.5:
        raise ParameterError(f"fraction must be in (0, 0.5], got {fraction}")
    if frame.filter(pl.col(sigma) < 0).height:  # a zero (a stale price) gets the leverage cap
        raise DataError(f"forecast column '{sigma}' has negative values")
    member, alpha = _alpha(book, fraction)
    leverage = pl.lit(target_vol) / pl.col(sigma)
    scaled = pl.col("_alpha") * leverage.clip(upper_bound=max_leverage)
    scale = (pl.lit(max_gross) / pl.col("weight").sum().over("t")).clip(upper_bound=1.0)
    return (
        frame.lazy()
        .with_columns(_member=member, _alpha=alpha)
        .filter("_member")
        .with_columns(weight=scaled.clip(upper_bound=max_weight), at_leverage=leverage > max_leverage,
                      at_cap=scaled > max_weight)
        # a book exactly at the limit (20 weights of 5%) sums to 1 + 2e-16: that is not a scaling
        .with_columns(gross_limited=scale < 1.0 - 1e-12, weight=pl.col("weight") * scale)
        .select("t", "date", "asset", "weight", *(["at_leverage", "at_cap", "gross_limited"] if flags else []))
        .collect()
    )


def binding_limits(
    frame: pl.DataFrame,
    sigmas: Sequence[str],
    *,
    books: Sequence[str] = ("long",),
    **sizing: float,
) -> pl.DataFrame:
    """How often each limit binds, per book and forecast: what actually sizes the positions.

    Parameters
    ----------
    frame
        :func:`book_frame` output.
    sigmas
        Forecast columns.
    books
        Books of :func:`book_weights` (``"long"``, ``"low_vol_long"``, ``"low_vol_short"``).
    **sizing
        ``target_vol``, ``max_leverage``, ``max_weight``, ``max_gross``, ``fraction``.

    Returns
    -------
    polars.DataFrame
        ``book``, ``sigma``, ``at_leverage`` and ``at_cap`` (shares of the positions held),
        ``gross_limited`` (share of the days), ``gross`` (mean gross exposure after the limits).
    """
    rows = []
    for book in books:
        for sigma in sigmas:
            w = book_weights(frame, sigma, book=book, flags=True, **sizing)  # type: ignore[arg-type]
            days = w.group_by("t").agg(pl.col("gross_limited").first(), pl.col("weight").sum())
            rows.append({
                "book": book, "sigma": sigma,
                "at_leverage": w["at_leverage"].mean(), "at_cap": w["at_cap"].mean(),
                "gross_limited": days["gross_limited"].mean(), "gross": days["weight"].mean(),
            })
    return pl.DataFrame(rows)


def book_ledger(weights: pl.DataFrame, frame: pl.DataFrame, *, cost_bps: float = 0.0, name: str) -> pl.DataFrame:
    """Daily ledger of a book in :mod:`volbook.backtest`'s layout, one row per next date.

    ``date`` is the date t+1 the return is earned; ``weight`` the gross exposure decided at t;
    ``turnover`` ``sum_i |w_it - w_i,t-1|`` (held at t or t-1); ``gross``, ``cost``, ``net``
    (simple returns) and ``equity`` (growth of 1).
    """
    if not cost_bps >= 0:
        raise ParameterError(f"cost_bps must be >= 0, got {cost_bps}")
    days = frame.group_by("t").agg(pl.col("next_date").first())
    held = weights.join(frame.select("t", "asset", "next_ret"), on=["t", "asset"], how="left")
    daily = held.group_by("t").agg(
        weight=pl.col("weight").abs().sum(),
        gross=(pl.col("weight") * pl.col("next_ret")).sum(),
    )
    prev = weights.select((pl.col("t") + 1).alias("t"), "asset", pl.col("weight").alias("w_prev"))
    change = (
        weights.select("t", "asset", "weight")
        .join(prev, on=["t", "asset"], how="full", coalesce=True)
        .group_by("t")
        .agg(turnover=(pl.col("weight").fill_null(0.0) - pl.col("w_prev").fill_null(0.0)).abs().sum())
    )
    out = (
        days.join(daily, on="t", how="left")
        .join(change, on="t", how="left")
        .with_columns(pl.col("weight", "gross", "turnover").fill_null(0.0))
        .sort("t")
    )
    cost = out["turnover"] * cost_bps / 1e4
    net = out["gross"] - cost
    return pl.DataFrame({
        "date": out["next_date"],
        "strategy": name,
        "weight": out["weight"],
        "turnover": out["turnover"],
        "gross": out["gross"],
        "cost": cost,
        "net": net,
        "equity": (1.0 + net).cum_prod(),
    })


def backtest_books(
    data: PanelFeatures,
    wf: PanelWalkForward,
    sigmas: Sequence[str],
    *,
    books: Sequence[str] = ("long", "low_vol_long_short"),
    target_vol: float = 0.20,
    max_leverage: float = 3.0,
    max_weight: float = 0.05,
    max_gross: float = 1.0,
    fraction: float = 0.3,
    cost_bps: float = 0.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every book sized by every forecast in ``sigmas``, on the same rows; ledgers and scores.

    Parameters
    ----------
    data, wf
        Features (returns, the ``vol_252`` signal) and the walk-forward's forecasts.
    sigmas
        Forecast columns of ``wf.forecasts`` (model names, or ``"target"`` for perfect foresight).
    books
        ``"long"``, ``"low_vol_long"``, ``"low_vol_short"``, ``"low_vol_long_short"`` (the
        legs and their difference).
    target_vol, max_leverage, max_weight, max_gross, fraction, cost_bps
        See :func:`book_weights` and :func:`book_ledger`.

    Returns
    -------
    (ledgers, table)
        Daily ledgers stacked (``strategy`` = ``"<book>:<sigma>"``), and their performance
        (:func:`volbook.backtest.performance_table`) with ``book`` and ``sigma`` columns.
    """
    known = (*_BOOKS, "low_vol_long_short")
    for b in books:
        if b not in known:
            raise ParameterError(f"book must be one of {', '.join(known)}, got {b!r}")
    frame = book_frame(data, wf, sigmas)
    if frame.height == 0:
        raise DataError("no date has every forecast in " + ", ".join(sigmas))
    sizing = dict(target_vol=target_vol, max_leverage=max_leverage, max_weight=max_weight,
                  max_gross=max_gross, fraction=fraction)
    legs_of = {b: (["low_vol_long", "low_vol_short"] if b == "low_vol_long_short" else [b]) for b in books}
    needed = sorted({leg for legs in legs_of.values() for leg in legs})
    ledgers = []
    for sigma in sigmas:
        legs = {
            leg: book_ledger(book_weights(frame, sigma, book=leg, **sizing), frame,  # type: ignore[arg-type]
                             cost_bps=cost_bps, name=f"{leg}:{sigma}")
            for leg in needed
        }
        for b in books:
            ledgers.append(_long_short(legs["low_vol_long"], legs["low_vol_short"], f"{b}:{sigma}")
                           if b == "low_vol_long_short" else legs[b])
    stacked = pl.concat(ledgers)
    table = performance_table(stacked).with_columns(
        book=pl.col("strategy").str.split(":").list.first(),
        sigma=pl.col("strategy").str.split(":").list.last(),
    )
    return stacked, table.select("book", "sigma", pl.exclude("book", "sigma"))


def _long_short(long: pl.DataFrame, short: pl.DataFrame, name: str) -> pl.DataFrame:
    """The long leg minus the short leg: returns subtract, exposures and turnover and costs add."""
    both = long.join(short, on="date", suffix="_s")
    gross = both["gross"] - both["gross_s"]
    cost = both["cost"] + both["cost_s"]
    net = gross - cost
    return pl.DataFrame({
        "date": both["date"],
        "strategy": name,
        "weight": both["weight"] + both["weight_s"],
        "turnover": both["turnover"] + both["turnover_s"],
        "gross": gross,
        "cost": cost,
        "net": net,
        "equity": (1.0 + net).cum_prod(),
    })
