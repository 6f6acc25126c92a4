"""Panel features and targets over (date, asset): the study's feature set, leak-free.

Every column of row (t, asset) uses prices up to the close of t only, except ``target``,
which is the forward quantity being forecast. Per-asset columns are polars expressions over
the (asset, date)-sorted frame, cross-sectional means are ``np.bincount`` sums in row order (the
same bits on every run); nothing loops over assets.

Per asset (``r`` = daily log return, ``w`` = window in trading days):

==================  ===========================================================================
column              definition
==================  ===========================================================================
``vol_w``           ``sqrt(252 * mean(r^2 over the last w returns))`` for w in 5, 21, 63, 126, 252
                    (the study's ``sqrt(252/w * sum r^2)``; ``vol_252`` feeds the blend baseline)
``vol_down_21``     ``sqrt(252/21 * sum over the last 21 returns of r^2 * 1[r < 0])``
``vol_up_21``       the same with ``1[r >= 0]``
``log_mcap``        ``ln(market_cap)``, when the panel has a ``market_cap`` column
``market_vol``      21-day volatility of the equal-weighted market return (mean of ``r`` over
                    the rows kept that day, see below), annualized; the same for every asset
``group_risk``      the sector's mean ``vol_21`` that day over its own trailing 252-day average
                    (>= 63 days): > 1 when the sector is more volatile than usual
``target``          ``sqrt(252/h * sum_{j=1..h} r_{t+j}^2)``, the h-day forward realized
                    volatility, annualized; null unless the asset trades on each of the h
                    following dates of the panel's calendar
==================  ===========================================================================

A rolling feature needs at least 3/4 of its window (a whole window on a complete panel, as in
the study; the fraction only matters around missing returns). ``t`` numbers the panel's
calendar (every date any asset trades, 0, 1, 2, ...): "h days" always means h positions of
this calendar, never calendar days.

The study's clean-up, in its order: rows whose *stock* features (:data:`VOL_FEATURES` and
``log_mcap``) are more than 75% missing are dropped (an asset's first 21 rows; its first 5
when ``log_mcap`` counts among them); then each
missing value is filled with the mean of its sector that day, then forward-filled within the
asset, then set to 0.20. ``market_vol`` and ``group_risk`` only miss in the panel's first weeks;
they get 0.20 and 1.0 (vol at 20%, sector at its usual level). ``n_imputed`` counts the filled
stock features of a row.

Model inputs (:func:`design_exprs`): volatility features are clipped to [2.5%, 200%] (the
study's clip, applied at fit and at forecast time alike, since it is part of what the feature
is); the *target* is clipped for fitting only; scores use the raw ``target``. Log versions are
the logs of the clipped values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from volbook.errors import DataError, ParameterError
from volbook.timing import TRADING_DAYS

__all__ = [
    "CLIP",
    "IMPUTE_VALUE",
    "MAX_MISSING",
    "VOL_FEATURES",
    "PanelFeatures",
    "Space",
    "asset_code",
    "build_features",
    "design_exprs",
    "sector_code",
    "target_expr",
]

#: The stock-level volatility features of the study, in its order.
VOL_FEATURES: tuple[str, ...] = ("vol_5", "vol_21", "vol_63", "vol_126", "vol_down_21", "vol_up_21")
#: Bounds of volatility features and of the training target (annualized).
CLIP: tuple[float, float] = (0.025, 2.0)
#: Rows with a larger fraction of missing stock features are dropped.
MAX_MISSING = 0.75
#: Last-resort value of a missing volatility feature (annualized vol).
IMPUTE_VALUE = 0.20

Space = Literal["level", "log"]

_WINDOWS = (5, 21, 63, 126, 252)
_ASYM = 21
_GROUP_LOOKBACK, _GROUP_MIN = 252, 63
_FACTOR_FILL = {"market_vol": IMPUTE_VALUE, "group_risk": 1.0}


@dataclass(frozen=True)
class PanelFeatures:
    """Output of :func:`build_features`: the feature frame and what it holds.

    Attributes
    ----------
    frame
        One row per kept (date, asset): ``date``, ``t`` (calendar position), ``asset`` and
        ``sector`` (``pl.Enum`` of ``assets`` and ``sectors``: compare them with strings as
        usual, cast to ``pl.String`` before joining with string columns), ``ret``, the
        feature columns, ``n_imputed`` and ``target`` (raw; null where the h following days
        are not all traded). Sorted by (asset, date).
    horizon
        h of ``target``.
    stock_features
        Stock features present: :data:`VOL_FEATURES`, plus ``log_mcap`` with market caps.
    assets
        Asset labels, in the panel's (sorted) order: ``assets[i]`` has code i
        (:func:`asset_code`).
    sectors
        Sector labels, sorted (``["all"]`` when the panel has no ``sector`` column):
        ``sectors[i]`` has code i (:func:`sector_code`).
    dates
        The panel's calendar: ``dates[t]`` is the date at position ``t``.
    dropped_rows
        Rows removed by the 75%-missing filter.
    """

    frame: pl.DataFrame
    horizon: int
    stock_features: tuple[str, ...]
    assets: tuple[str, ...]
    sectors: tuple[str, ...]
    dates: pl.Series
    dropped_rows: int

    @property
    def n_dates(self) -> int:
        """Length of the calendar."""
        return self.dates.len()

    @property
    def has_market_cap(self) -> bool:
        """Whether ``log_mcap`` is among the features."""
        return "log_mcap" in self.stock_features


def asset_code() -> pl.Expr:
    """The integer code of ``asset`` (its index in :attr:`PanelFeatures.assets`)."""
    return pl.col("asset").to_physical()


def sector_code() -> pl.Expr:
    """The integer code of ``sector`` (its index in :attr:`PanelFeatures.sectors`)."""
    return pl.col("sector").to_physical()


def _asset_start() -> pl.Expr:
    """Row index of the first row of the row's asset (the frame is sorted by asset, date)."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    new = pl.col("asset") != pl.col("asset").shift(1)
    return pl.when(new.fill_null(True)).then(idx).forward_fill()


def _rolling_vol(x: pl.Expr, window: int) -> pl.Expr:
    """``sqrt(252 * mean of x over the asset's last `window` rows)``, null before ``window`` returns.

    Computed per asset (``over``): polars' rolling sums are updated incrementally, so over a
    whole column the value at one row would carry rounding residue from every row before it,
    other assets' later dates included, and the perturbation test (bit-identical forecasts)
    would rightly fail. Position 0 of an asset has no return, hence ``_pos >= window``.
    """
    mean = x.rolling_mean(window, min_samples=(3 * window + 3) // 4).over("asset")
    return pl.when(pl.col("_pos") >= window).then((TRADING_DAYS * mean.clip(lower_bound=0.0)).sqrt())


def _forward_fill_within_asset(x: pl.Expr) -> pl.Expr:
    """``x.forward_fill().over("asset")`` without the window: values never cross assets."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    last_seen = pl.when(x.is_not_null()).then(idx).forward_fill()
    return pl.when(last_seen >= pl.col("_start")).then(x.forward_fill())


def _check_sorted(panel: pl.DataFrame) -> pl.DataFrame:
    a, d = pl.col("asset"), pl.col("date")
    ok = ((a > a.shift(1)) | ((a == a.shift(1)) & (d > d.shift(1)))).fill_null(True).all()
    return panel if panel.select(ok).item() else panel.sort("asset", "date")


def build_features(
    panel: pl.DataFrame,
    *,
    horizon: int = 21,
    use_market_cap: bool = True,
) -> PanelFeatures:
    """Compute the study's panel features and the h-day forward volatility target.

    Parameters
    ----------
    panel
        A panel with ``date``, ``asset``, ``close`` and optionally ``market_cap`` and
        ``sector`` (see :func:`volbook.data.load`); one row per (asset, date).
    horizon
        h, the number of trading days of the forward target (21 in the study).
    use_market_cap
        Include ``log_mcap`` when the panel has ``market_cap`` (set False to leave it out).

    Returns
    -------
    PanelFeatures
        The feature frame (see the module docstring) and its description.

    Raises
    ------
    ParameterError
        If ``horizon`` is not a positive integer.
    DataError
        If a required column is missing, or no row survives the missing-feature filter.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ParameterError(f"horizon must be a positive integer (trading days), got {horizon!r}")
    missing = [c for c in ("date", "asset", "close") if c not in panel.columns]
    if missing:
        raise DataError(f"panel lacks column '{missing[0]}' (needs date, asset, close)")
    panel = _check_sorted(panel)
    with_cap = use_market_cap and "market_cap" in panel.columns
    stock = (*VOL_FEATURES, "log_mcap") if with_cap else VOL_FEATURES
    sectors = tuple(sorted(panel["sector"].unique())) if "sector" in panel.columns else ("all",)
    assets = tuple(panel["asset"].unique(maintain_order=True))
    dates = panel["date"].unique().sort()
    n_dates, h = dates.len(), horizon

    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    base = (
        panel.lazy()
        .join(pl.LazyFrame({"date": dates, "t": pl.int_range(n_dates, dtype=pl.Int32, eager=True)}),
              on="date", maintain_order="left")
        .with_columns(
            _start=_asset_start(),
            asset=pl.col("asset").cast(pl.Enum(assets)),
            sector=(pl.col("sector") if "sector" in panel.columns else pl.lit("all")).cast(pl.Enum(sectors)),
            _cap=pl.col("market_cap") if with_cap else pl.lit(None, dtype=pl.Float64),
        )
        .with_columns(_pos=idx - pl.col("_start"))
        .with_columns(ret=pl.when(pl.col("_pos") > 0).then((pl.col("close") / pl.col("close").shift(1)).log()))
    )
    r = pl.col("ret")
    r2 = r * r
    complete = (pl.col("t").shift(-h) == pl.col("t") + h) & (pl.col("_start").shift(-h) == pl.col("_start"))
    n_missing = pl.sum_horizontal([pl.col(c).is_null() for c in stock]).cast(pl.UInt8)
    feats = (
        base.select(
            "date", "t", "asset", "sector", "ret", "_start",
            *[_rolling_vol(r2, w).alias(f"vol_{w}") for w in _WINDOWS],
            _rolling_vol(pl.when(r < 0).then(r2).otherwise(0.0), _ASYM).alias("vol_down_21"),
            _rolling_vol(pl.when(r >= 0).then(r2).otherwise(0.0), _ASYM).alias("vol_up_21"),
            pl.col("_cap").log().alias("log_mcap"),
            pl.when(complete)
            .then((TRADING_DAYS * r2.rolling_mean(h, min_samples=h).over("asset").clip(lower_bound=0.0)).sqrt().shift(-h))
            .alias("target"),
        )
        .with_columns(n_imputed=n_missing, _cell=sector_code().cast(pl.Int64) * n_dates + pl.col("t"))
        .filter(pl.col("n_imputed") <= MAX_MISSING * len(stock))
        .with_columns(_start=_asset_start())  # row numbers changed
        .collect()
    )
    imputed = [*stock, "vol_252"]
    market = _group_means(feats, "t", ["ret"], n_dates).rename({"ret": "_m"}).select(_market_vol())
    cells = _group_means(feats, "_cell", imputed, len(sectors) * n_dates).with_columns(
        # each sector owns n_dates consecutive cells: the sector's mean vol_21 over its trailing average
        group_risk=pl.col("vol_21")
        / pl.col("vol_21").rolling_mean(_GROUP_LOOKBACK, min_samples=_GROUP_MIN).over(pl.int_range(pl.len()) // n_dates)
    )
    # eager, column by column: the frame is replaced in place, never copied whole
    cell = pl.col("_cell")
    for c in imputed:
        filled = pl.col(c).fill_null(pl.lit(cells[c]).gather(cell))
        feats = feats.with_columns(_forward_fill_within_asset(filled).fill_null(IMPUTE_VALUE).alias(c))
    feats = feats.with_columns(
        market_vol=pl.lit(market["market_vol"]).gather(pl.col("t")).fill_null(_FACTOR_FILL["market_vol"]),
        group_risk=pl.lit(cells["group_risk"]).gather(cell).fill_null(_FACTOR_FILL["group_risk"]),
    )
    out = feats[[  # indexing, unlike select(), does not copy the columns
        "date", "t", "asset", "sector", "ret",
        *VOL_FEATURES, "vol_252", *stock[len(VOL_FEATURES):], "market_vol", "group_risk",
        "n_imputed", "target",
    ]]
    del feats
    if out.height == 0:
        raise DataError("panel: every row misses more than 75% of its features (too few returns per asset)")
    return PanelFeatures(
        frame=out,
        horizon=h,
        stock_features=stock,
        assets=assets,
        sectors=sectors,
        dates=dates,
        dropped_rows=panel.height - out.height,
    )


def _group_means(frame: pl.DataFrame, key: str, columns: Sequence[str], size: int) -> pl.DataFrame:
    """Mean of each column's non-null values per integer ``key`` in 0..size-1 (null where none).

    ``np.bincount`` adds in row order, so the means are the same bits on every run (a parallel
    group-by's order of addition depends on thread timing) and nothing is copied but one column.
    """
    code = frame[key].to_numpy()
    out = {}
    for c in columns:
        x = frame[c]
        present = x.is_not_null().to_numpy()
        sums = np.bincount(code, weights=x.fill_null(0.0).to_numpy(), minlength=size)
        counts = np.bincount(code, weights=present, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[c] = np.where(counts > 0, sums / counts, np.nan)
    return pl.DataFrame(out).fill_nan(None)


def _market_vol() -> pl.Expr:
    m = pl.col("_m")
    return (TRADING_DAYS * (m * m).rolling_mean(_ASYM, min_samples=_ASYM)).sqrt().alias("market_vol")


def design_exprs(names: Sequence[str], space: Space) -> list[pl.Expr]:
    """Model inputs: each named feature as the regression sees it, in ``space``.

    Volatility features (``vol_*``, ``market_vol``) are clipped to :data:`CLIP`; in log space
    they are logged after clipping. ``log_mcap`` is used as is in both spaces (it is a log
    already); ``group_risk`` (a ratio) is logged in log space. Each expression keeps its name.
    """
    if space not in ("level", "log"):
        raise ParameterError(f"space must be 'level' or 'log', got {space!r}")
    out = []
    for name in names:
        x = pl.col(name)
        if name.startswith("vol_") or name == "market_vol":
            x = x.clip(*CLIP)
            x = x.log() if space == "log" else x
        elif name == "group_risk" and space == "log":
            x = x.log()
        elif name not in ("log_mcap", "group_risk"):
            raise ParameterError(f"unknown panel feature {name!r}")
        out.append(x.alias(name))
    return out


def target_expr(space: Space) -> pl.Expr:
    """The training target: ``target`` clipped to :data:`CLIP` (its log in log space)."""
    y = pl.col("target").clip(*CLIP)
    return (y.log() if space == "log" else y).alias("y")
