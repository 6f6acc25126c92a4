"""Every data source of the book behind one function, :func:`load`.

============== ==========================================================================
source         what
============== ==========================================================================
sp500          S&P 500 index close, 1990-01-02 .. 2022-12-28 (skfolio)
sp500_ohlc     S&P 500 index open, high, low, close, volume, 1999-01-04 .. 2018-12-31 (arch)
vix            VIX index level, 2014-01-03 .. 2019-01-03 (arch); with ``path``, the user's
               Cboe VIX file (:mod:`volbook.data.cboe`)
sp500_stocks   20 large US stocks with GICS sectors, 1990-01-02 .. 2022-12-28 (skfolio)
synthetic      seeded GJR-GARCH panel with sectors and sizes (:mod:`volbook.data.synthetic`)
file           the user's daily price file, CSV or parquet (:mod:`volbook.data.files`)
intraday       the user's intraday bar file, as daily realized measures
               (:mod:`volbook.data.intraday`)
oxford_man     the user's realized-measure file in the Oxford-Man layout
               (:mod:`volbook.data.oxford_man`)
yfinance       a download from Yahoo Finance (optional extra, needs the network)
============== ==========================================================================

Every source returns the same long panel (:data:`SCHEMA`, checked by
:func:`validate_panel`); ``intraday`` and ``oxford_man`` add realized columns (``rv``,
``bv``, ...). The catalogue ``data/README.md`` documents each source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import polars as pl

from volbook.data.cboe import read_vix_file
from volbook.data.files import read_panel_file, select_assets
from volbook.data.intraday import read_bar_file
from volbook.data.oxford_man import read_oxford_man_file
from volbook.data.packaged import load_sp500, load_sp500_ohlc, load_sp500_stocks, load_vix
from volbook.data.quality import SPLIT_HANDLING, QualityReport, find_splits, handle_splits, quality_report
from volbook.data.schema import SCHEMA, ColumnSpec, require_rows, validate_panel
from volbook.data.synthetic import simulate_panel
from volbook.data.tables import within_dates
from volbook.data.yfinance import download_yfinance
from volbook.errors import DataError, ParameterError

__all__ = [
    "SCHEMA",
    "SOURCES",
    "ColumnSpec",
    "QualityReport",
    "Source",
    "find_splits",
    "handle_splits",
    "load",
    "load_asset",
    "quality_report",
    "require_rows",
    "source_options",
    "validate_panel",
]

Source = Literal[
    "sp500", "sp500_ohlc", "vix", "sp500_stocks", "synthetic", "file", "intraday", "oxford_man", "yfinance"
]
#: The names :func:`load` accepts.
SOURCES: tuple[str, ...] = get_args(Source)

_PACKAGED: dict[str, Callable[[], pl.DataFrame]] = {
    "sp500": load_sp500,
    "sp500_ohlc": load_sp500_ohlc,
    "vix": load_vix,
    "sp500_stocks": load_sp500_stocks,
}
_OPTIONS: dict[str, tuple[str, ...]] = {
    "synthetic": ("n_assets", "n_days", "seed", "first_date", "correlation"),
    "file": ("date_format", "layout", "decimal", "sectors"),
    "intraday": ("tz", "timestamps_tz", "session", "bar_label", "label_offset", "full_day_bars",
                 "scale_short_days", "early_closes", "timestamp_format", "decimal"),
    "oxford_man": ("measure", "decimal"),
    "vix": ("date_format",),
}
_FILE_READERS: dict[str, Callable[..., pl.DataFrame]] = {
    "file": read_panel_file,
    "intraday": read_bar_file,
    "oxford_man": read_oxford_man_file,
}


def source_options(source: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``source`` (see :func:`load`) found in ``values``, None values left out.

    A chapter that offers a source's options as parameters of the same names (``bar_label``,
    ``timestamps_tz``, ... for ``intraday``) passes them with
    ``load(source, ..., **source_options(source, parameters))``; the runner does the same
    when it checks a chapter's data before the kernel starts.
    """
    return {k: values[k] for k in _OPTIONS.get(source, ()) if values.get(k) is not None}


def _to_date(value: str | dt.date | None, what: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ParameterError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from exc


def load(
    source: Source,
    *,
    path: str | Path | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    assets: Sequence[str] | None = None,
    columns: Collection[str] = ("close",),
    splits: str = "keep",
    **options: Any,
) -> pl.DataFrame:
    """Load a data source as a panel (date, asset, close, ...; see :data:`SCHEMA`).

    Only what the run uses is validated: the assets asked for, the dates from ``start`` to
    ``end``, and the ``columns`` the run needs; a gap in another optional column is kept as
    null and reported by a :class:`~volbook.errors.DataWarning`.

    Parameters
    ----------
    source
        One of :data:`SOURCES`.
    path
        The file: required for ``file``, ``intraday`` and ``oxford_man``; for ``vix`` it
        reads the user's Cboe file instead of arch's series; the other sources take none.
    start, end
        Keep dates from ``start`` to ``end``, both inclusive (``YYYY-MM-DD`` or a date).
    assets
        Keep these assets (all when None). For ``yfinance``, the tickers to download.
    columns
        The panel columns the run needs besides ``date``, ``asset`` and ``close``, e.g.
        ``("open", "high", "low")`` for a range-based variance: each must be present and
        valid on every selected row.
    splits
        What to do with suspected unadjusted splits (:func:`volbook.data.quality.find_splits`):
        ``"keep"`` (default), ``"adjust"`` or ``"drop"``; what each does:
        :mod:`volbook.data.quality`. See them with :func:`quality_report` on the panel
        loaded with ``"keep"``.
    **options
        ``synthetic``: ``n_assets`` (20), ``n_days`` (2520), ``seed`` (0), ``first_date``
        ("2000-01-03"), ``correlation`` (0.3), see :func:`volbook.data.synthetic.simulate_panel`
        (``start``/``end`` filter the simulated dates as for any source).
        ``file``: ``date_format``, ``layout`` ("auto", "long", "wide"), ``decimal``,
        ``sectors`` (a sector file), see :func:`volbook.data.files.read_panel_file`.
        ``intraday``: ``tz``, ``timestamps_tz``, ``session``, ``bar_label``,
        ``label_offset``, ``full_day_bars``, ``scale_short_days``, ``early_closes`` (see
        :func:`volbook.bars.aggregate_bars`), ``timestamp_format``, ``decimal``.
        ``oxford_man``: ``measure`` (the column that becomes ``rv``, default ``"rv5"``),
        ``decimal``. ``vix`` with ``path``: ``date_format``. The other sources take none.

    Returns
    -------
    polars.DataFrame
        A validated panel sorted by (asset, date).

    Raises
    ------
    ParameterError
        Unknown source or option, ``path`` missing or misplaced, a bad ``start``/``end``.
    DataError
        Malformed data, an unknown asset, or no rows between ``start`` and ``end``.
    """
    if source not in SOURCES:
        raise ParameterError(f"unknown data source {source!r} (valid: {', '.join(SOURCES)})")
    allowed = _OPTIONS.get(source, ())
    for key in options:
        if key not in allowed:
            valid = f"valid: {', '.join(allowed)}" if allowed else "it takes none"
            raise ParameterError(f"source '{source}': unknown option '{key}' ({valid})")
    if path is None and source in _FILE_READERS:
        raise ParameterError(f"source '{source}' needs path=")
    if path is not None and source not in (*_FILE_READERS, "vix"):
        raise ParameterError(f"path= is only for sources {', '.join(_FILE_READERS)} and vix, not '{source}'")
    if source == "vix" and path is None and options:
        raise ParameterError("source 'vix': date_format is only for a file (path=)")
    if isinstance(columns, str):
        raise ParameterError(f"columns must be a list of column names, got the string {columns!r}")
    first, last = _to_date(start, "start"), _to_date(end, "end")
    if first is not None and last is not None and first > last:
        raise ParameterError(f"start {first} is after end {last}")

    if splits not in SPLIT_HANDLING:
        raise ParameterError(f"splits must be one of {', '.join(SPLIT_HANDLING)}, got {splits!r}")
    if source in _FILE_READERS:
        panel = _FILE_READERS[source](path, assets=assets, start=first, end=last, columns=columns, **options)
    elif source == "vix" and path is not None:
        select_assets(["VIX"], assets, str(path))
        panel = read_vix_file(path, start=first, end=last, columns=columns, **options)
    else:
        panel = _load_packaged(source, options, assets, first, last, columns)
    return handle_splits(panel, splits)


def _load_packaged(source: str, options: dict[str, Any], assets: Sequence[str] | None,
                   first: dt.date | None, last: dt.date | None, columns: Collection[str]) -> pl.DataFrame:
    """A source that is not a file, selected (assets, dates) and validated for the run."""
    if source in _PACKAGED:
        panel = _PACKAGED[source]()
    elif source == "synthetic":
        panel = simulate_panel(**options).panel
    else:
        panel = download_yfinance(list(assets or []), first, last)
    select_assets(panel["asset"].unique().to_list(), assets, source)
    if assets is not None:
        panel = panel.filter(pl.col("asset").is_in(list(assets)))
    panel = within_dates(panel, "date", first, last, source)
    return validate_panel(panel, name=source, columns=columns)


def load_asset(
    source: Source,
    *,
    asset: str | None = None,
    path: str | Path | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    columns: Collection[str] = ("close",),
    min_rows: int = 0,
    why: str = "the run's windows",
    **options: Any,
) -> pl.DataFrame:
    """One asset of a source, checked for a run: what a single-asset chapter loads.

    The runner calls it with a chapter's data parameters before the kernel starts, so a bad
    data request fails in a second with one line, not after minutes of work.

    Parameters
    ----------
    source, path, start, end, columns, **options
        As for :func:`load`.
    asset
        The asset to keep; None when the source holds a single asset.
    min_rows
        Rows the run needs (:func:`require_rows`); 0 for no check.
    why
        What needs them, quoted in the message, e.g. ``"garch_window + max(horizons)"``.

    Returns
    -------
    polars.DataFrame
        The asset's validated panel rows from ``start`` to ``end``.

    Raises
    ------
    ParameterError
        As for :func:`load`.
    DataError
        As for :func:`load`; also a source with several assets and no ``asset``, and fewer
        than ``min_rows`` rows.
    """
    if asset is not None and not isinstance(asset, str):
        raise ParameterError(f"asset must be one name, got {asset!r}")
    panel = load(source, path=path, start=start, end=end, assets=None if asset is None else [asset],
                 columns=columns, **options)
    name = str(path) if path is not None else source
    names = panel["asset"].unique().sort()
    if names.len() > 1:
        listed = ", ".join(names.head(5)) + (", ..." if names.len() > 5 else "")
        raise DataError(f"{name}: has {names.len()} assets ({listed}); choose one with asset=")
    if min_rows:
        require_rows(panel, min_rows, why=why, name=name)
    return panel
