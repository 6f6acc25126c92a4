"""What a loaded panel holds that a run should know about: suspected splits, gaps, stale
prices, snapshot columns; and what to do about the splits.

Real daily panels often hold **unadjusted** closes. A k-for-1 split then shows as a one-day
log return near ``-ln k`` (-69% for 2-for-1, -110% for 3-for-1; a simple return of -50% or
-67%) that never reverts, and a reverse split as ``+ln k``. :func:`find_splits` flags such
days by asset and date; :func:`handle_splits` decides what happens to them:

``"keep"``
    Nothing changes. The split day's return stays in the data: one -69% day makes a 21-day
    volatility of about 240% (annualized) for a month, and dominates any squared-return loss.
``"adjust"``
    Prices before the flagged day are divided by the standard ratio k (multiplied for a
    reverse split), volumes multiplied by k: the split-day return becomes
    ``ln(k C_t / C_{t-1})``, the day's own move if it really was a k-for-1 split. Every date
    is kept. If the flagged move was a genuine crash, a real -50% day becomes about 0%.
``"drop"``
    The asset's row on the flagged day is removed and its earlier prices are multiplied by
    ``C_t / C_{t-1}`` (volumes divided), so no return spans the split and every other return
    is exactly as before; the asset has no observation that day (its true move that day is
    lost, not invented). A genuine crash day is dropped likewise.

A flag is a candidate, not a fact: without the vendor's split history a -50% day that stays
there is indistinguishable from a 2-for-1 split. :func:`quality_report` collects the flags
with the other findings for a chapter to show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from volbook.data.schema import SCHEMA
from volbook.errors import DataError, ParameterError

__all__ = ["SPLIT_HANDLING", "SPLIT_RATIOS", "QualityReport", "find_splits", "handle_splits", "quality_report"]

#: The ``how`` values of :func:`handle_splits` (and the ``splits`` option of ``load``).
SPLIT_HANDLING = ("keep", "adjust", "drop")
#: Split ratios k looked for by default: 2-, 3-, 4-, 5-, 8- and 10-for-1 (and the reverse
#: splits 1-for-k). 3-for-2 (-33%) and 5-for-4 (-20%) are left out: genuine moves of that size
#: match them too often (in ``sp500_stocks``, adjusted prices, 1.5 flags AMD's -32% on
#: 2002-10-03 and +52% on 2016-04-22); pass ``ratios=(1.5, *SPLIT_RATIOS)`` to look for them.
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 8.0, 10.0)

_PRICES = ("close", "open", "high", "low")


def find_splits(
    panel: pl.DataFrame,
    *,
    tolerance: float = 0.03,
    window: int = 5,
    ratios: Sequence[float] = SPLIT_RATIOS,
) -> pl.DataFrame:
    """Suspected unadjusted splits: one-day moves near a split ratio that do not revert.

    A day t of an asset is flagged when its log return ``r_t = ln(C_t / C_{t-1})`` is within
    ``tolerance`` of ``-ln k`` (a k-for-1 split) or ``+ln k`` (a 1-for-k reverse split) for
    some k in ``ratios``, each of the next ``window`` closes (those that exist) is closer, in
    logs, to ``C_t`` than to ``C_{t-1}`` (the move does not revert, as a bad print would), and
    each of the ``window`` closes before ``C_{t-1}`` is closer to it than to ``C_t`` (the move
    is not itself the reversal of a bad print).

    Parameters
    ----------
    panel
        A panel (``date``, ``asset``, ``close``), sorted by (asset, date).
    tolerance
        Largest distance, in log points, between ``|r_t|`` and ``ln k``: the split day's own
        market move. 0.03 catches splits on days that moved less than 3% and leaves a
        genuine -52% day (ratio 2.08) unflagged.
    window
        Days after t that must not revert (and before t - 1 that must not be at the new level).
    ratios
        The split ratios k (> 1).

    Returns
    -------
    polars.DataFrame
        ``asset``, ``date``, ``prev_close``, ``close``, ``ret`` (log), ``ratio`` (k),
        ``kind`` (``"split"`` or ``"reverse split"``), sorted by asset and date.
    """
    if not (tolerance > 0 and int(window) == window and window >= 1 and ratios and all(k > 1 for k in ratios)):
        raise ParameterError("find_splits: tolerance > 0, window a positive integer and ratios > 1 are needed")
    lp = pl.col("close").log()
    ret = (lp - lp.shift(1)).over("asset")
    # the next closes stay at the new level, the previous ones at the old level (so the day
    # that undoes a bad print is not taken for a split either)
    holds = [
        ((lp.shift(-j) - lp).abs() < (lp.shift(-j) - lp.shift(1)).abs()).over("asset").fill_null(True)
        for j in range(1, int(window) + 1)
    ] + [
        ((lp.shift(1 + j) - lp.shift(1)).abs() < (lp.shift(1 + j) - lp).abs()).over("asset").fill_null(True)
        for j in range(1, int(window) + 1)
    ]
    distance = {float(k): ((pl.col("ret").abs() - math.log(k)).abs()) for k in ratios}
    nearest = pl.min_horizontal(list(distance.values()))
    ratio = pl.coalesce([pl.when(d == nearest).then(pl.lit(k)) for k, d in distance.items()])
    return (
        panel.select(
            "asset", "date", pl.col("close").shift(1).over("asset").alias("prev_close"), "close",
            ret.alias("ret"), pl.all_horizontal(holds).alias("holds"),
        )
        .filter(pl.col("ret").is_not_null() & pl.col("holds") & (nearest <= tolerance))
        .select("asset", "date", "prev_close", "close", "ret", ratio.alias("ratio"),
                kind=pl.when(pl.col("ret") < 0).then(pl.lit("split")).otherwise(pl.lit("reverse split")))
        .sort("asset", "date")
    )


def handle_splits(panel: pl.DataFrame, how: str = "keep", *, splits: pl.DataFrame | None = None,
                  **find: object) -> pl.DataFrame:
    """Keep, adjust or drop the flagged split days of a panel (what each does: module doc).

    Parameters
    ----------
    panel
        A validated panel.
    how
        ``"keep"``, ``"adjust"`` or ``"drop"``.
    splits
        The flags (:func:`find_splits` output, possibly edited); None: found here with
        ``**find``.

    Returns
    -------
    polars.DataFrame
        The panel, prices (and volumes) before each flagged day rescaled, the flagged rows
        removed for ``"drop"``.
    """
    if how not in SPLIT_HANDLING:
        raise ParameterError(f"splits must be one of {', '.join(SPLIT_HANDLING)}, got {how!r}")
    if how == "keep":
        return panel
    if splits is None:
        splits = find_splits(panel, **find)  # type: ignore[arg-type]
    if splits.height == 0:
        return panel
    if how == "adjust":
        factor = pl.when(pl.col("ret") < 0).then(1.0 / pl.col("ratio")).otherwise(pl.col("ratio"))
    else:
        factor = pl.col("close") / pl.col("prev_close")
    marks = splits.select("asset", "date", factor.alias("f"))
    scaled = (
        panel.join(marks, on=["asset", "date"], how="left")
        .with_columns(pl.col("f").fill_null(1.0))
        # a row's prices are scaled by every factor on a later row of its asset
        .with_columns(scale=pl.col("f").reverse().cum_prod().reverse().shift(-1, fill_value=1.0).over("asset"))
    )
    prices = [c for c in _PRICES if c in panel.columns]
    out = scaled.with_columns(
        *(pl.col(c) * pl.col("scale") for c in prices),
        *([pl.col("volume") / pl.col("scale")] if "volume" in panel.columns else []),
    )
    if how == "drop":
        out = out.join(splits.select("asset", "date"), on=["asset", "date"], how="anti")
    return out.select(panel.columns)


@dataclass(frozen=True)
class QualityReport:
    """Findings about a panel, one frame each (empty when nothing was found).

    Attributes
    ----------
    splits
        :func:`find_splits`.
    gaps
        ``column``, ``asset``, ``missing`` (rows), ``first`` (date): nulls in optional
        columns (what ``load`` kept as null because the run does not use the column).
    stale
        ``asset``, ``first``, ``last``, ``days``: runs of at least ``stale_days`` closes
        unchanged (a halted or stale series: its returns are zero there).
    snapshots
        ``column``, ``assets``: optional numeric columns that hold one value per asset
        (a market cap snapshot: applied to every date, it looks ahead before its own date).
    """

    splits: pl.DataFrame
    gaps: pl.DataFrame
    stale: pl.DataFrame
    snapshots: pl.DataFrame

    def lines(self) -> list[str]:
        """One line per finding, for a log or a chapter's note."""
        out = [
            f"suspected {r['kind']} of {r['asset']} on {r['date']}: close {r['prev_close']:g} -> {r['close']:g} "
            f"(ratio {r['ratio']:g})"
            for r in self.splits.iter_rows(named=True)
        ]
        out += [f"column '{r['column']}' of {r['asset']} is missing on {r['missing']} rows from {r['first']}"
                for r in self.gaps.iter_rows(named=True)]
        out += [f"{r['asset']}: close unchanged for {r['days']} days, {r['first']} to {r['last']}"
                for r in self.stale.iter_rows(named=True)]
        out += [f"column '{r['column']}' is one value per asset (a snapshot) for {r['assets']} assets"
                for r in self.snapshots.iter_rows(named=True)]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines()) or "no findings"


def quality_report(panel: pl.DataFrame, *, stale_days: int = 10, **find: object) -> QualityReport:
    """Suspected splits, gaps in optional columns, stale closes and snapshot columns.

    Parameters
    ----------
    panel
        A validated panel, as loaded (before :func:`handle_splits`).
    stale_days
        Shortest run of unchanged closes reported.
    **find
        Options of :func:`find_splits`.
    """
    if "asset" not in panel.columns or "close" not in panel.columns:
        raise DataError("quality_report needs a panel with 'asset' and 'close'")
    optional = [c for c in panel.columns if c in SCHEMA and not SCHEMA[c].required]
    gaps = pl.concat(
        [
            panel.filter(pl.col(c).is_null())
            .group_by("asset")
            .agg(pl.len().cast(pl.Int64).alias("missing"), pl.col("date").min().alias("first"))
            .select(pl.lit(c).alias("column"), "asset", "missing", "first")
            for c in optional
        ]
        or [pl.DataFrame(schema={"column": pl.String, "asset": pl.String, "missing": pl.Int64, "first": pl.Date})]
    ).sort("column", "asset")
    changed = (pl.col("close") != pl.col("close").shift(1)).over("asset").fill_null(True)
    stale = (
        panel.with_columns(run=changed.cast(pl.Int64).cum_sum().over("asset"))
        .group_by("asset", "run")
        .agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"), pl.len().alias("days"))
        .filter(pl.col("days") >= stale_days)
        .select("asset", "first", "last", pl.col("days").cast(pl.Int64))
        .sort("asset", "first")
    )
    numeric = [c for c in optional if SCHEMA[c].check not in ("label",) and c not in ("rv", "bv", "jv", "rq",
                                                                                     "rkurt", "n_bars")]
    rows = []
    for c in numeric:
        per_asset = panel.group_by("asset").agg(pl.col(c).n_unique().alias("k"), pl.len().alias("n"))
        constant = per_asset.filter((pl.col("k") == 1) & (pl.col("n") > 1)).height
        if constant and constant == per_asset.filter(pl.col("n") > 1).height:
            rows.append({"column": c, "assets": constant})
    snapshots = pl.DataFrame(rows, schema={"column": pl.String, "assets": pl.Int64})
    return QualityReport(splits=find_splits(panel, **find), gaps=gaps, stale=stale, snapshots=snapshots)  # type: ignore[arg-type]
