"""From intraday bars to one row of realized measures per trading day.

:func:`aggregate_bars` turns a frame of bars (``timestamp``, ``price``[, ``open``][,
``asset``]) into ``date``, [``asset``,] ``close``, ``rv``, ``bv``, ``jv``, ``rq``, ``rkurt``,
``overnight_ret``, ``open_to_close``, ``n_bars``. It copes with what real bar files look
like, or refuses with one line that says what is wrong and which parameter fixes it:

time zones
    Aware timestamps are converted to the exchange zone ``tz``; naive ones are read in
    ``timestamps_tz`` (default: the exchange zone). UTC times read as exchange times put the
    open hours late in the day: refused, suggesting ``timestamps_tz="UTC"``.
bar labels
    A bar's ``price`` is its last price, at the bar's end. Labels at the bar's ``"end"`` or
    ``"start"`` (``bar_label``), or at a fixed point inside it (``label_offset``: the label's
    distance after the labelled edge, e.g. ``"1min"`` for bars stamped a minute after their
    start, ``"-2s"`` for bars stamped 2 seconds before their end). Labels off the grid of bar
    ends are refused with the offset found and the parameters that fit it.
bar length
    ``full_day_bars`` = N, the returns in a full session (78 five-minute returns in
    09:30-16:00, 390 one-minute ones). Bars shorter than that are refused, naming the value
    that fits.
sessions, half days, missing bars, extended hours
    Observations outside the session (pre- and after-market) are dropped. A day with fewer
    returns (a half day with 42, missing bars) is scaled by N / n_t when
    ``scale_short_days``. A missing bar merges two intervals into one return. On a half day
    the after-hours bars of a file with extended hours fall inside the regular window: list
    such days in ``early_closes`` (their session ends at 13:00, or the time given); a file
    with after-hours bars whose days end early gets a warning naming them.
open price
    With an ``open`` column, the first bar's open gives the price at the session's start;
    without it, and without a bar ending at the open (start-labelled files never have one),
    a day has N - 1 returns and the overnight return runs to the first bar's end.

The overnight return (previous session's last price to this session's first) is kept apart
from ``rv``; ``open_to_close`` is the session's return, ``close`` its last price.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import polars as pl

from volbook.errors import DataError, DataWarning, ParameterError
from volbook.measures import (
    bipower_variation,
    jump_variation,
    realized_kurtosis,
    realized_quarticity,
    realized_variance,
)

__all__ = ["HALF_DAY_CLOSE", "REGULAR_SESSION", "aggregate_bars", "parse_duration", "parse_session"]

#: NYSE/Nasdaq regular trading hours, exchange time.
REGULAR_SESSION = (dt.time(9, 30), dt.time(16, 0))
#: Closing time of a US half day (day after Thanksgiving, Christmas Eve, July 3).
HALF_DAY_CLOSE = dt.time(13, 0)

_US = dt.timedelta(microseconds=1)
_TOKEN = r"(\d+(?:\.\d+)?)\s*(us|ms|sec|s|min|m|h)"
_DURATION = re.compile(rf"^([+-]?)((?:{_TOKEN}\s*)+)$")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(value: str | float | dt.timedelta, what: str = "label_offset") -> dt.timedelta:
    """A duration: a timedelta, seconds, or text such as ``"1min"``, ``"-2s"``, ``"4min58s"``
    or ``"0:01:00"``."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    text = str(value).strip().lower()
    match = _DURATION.match(text)
    if match:
        seconds = sum(float(x) * _UNITS[unit] for x, unit in re.findall(_TOKEN, match[2]))
        return dt.timedelta(seconds=-seconds if match[1] == "-" else seconds)
    clock = re.match(r"^([+-]?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$", text)
    if clock:
        sign = -1 if clock[1] == "-" else 1
        return sign * dt.timedelta(hours=int(clock[2]), minutes=int(clock[3]), seconds=float(clock[4]))
    raise ParameterError(f"{what}: {value!r} is not a duration (e.g. '1min', '-2s', '0:01:00')")


def _format_duration(d: dt.timedelta) -> str:
    """``"1min"``, ``"-2s"``, ``"4min58s"``: readable, and read back by :func:`parse_duration`."""
    us = round(d / _US)
    sign, us = ("-" if us < 0 else ""), abs(us)
    minutes, rest = divmod(us, 60_000_000)
    text = f"{minutes}min" if minutes else ""
    if rest or not text:
        text += f"{rest // 1_000_000}s" if rest % 1_000_000 == 0 else f"{rest / 1e6:g}s"
    return sign + text


def parse_session(session: object) -> tuple[dt.time, dt.time]:
    """``"regular"`` or an (open, close) pair of times or ``"HH:MM"`` strings."""
    if session == "regular":
        return REGULAR_SESSION
    try:
        opening, closing = (t if isinstance(t, dt.time) else dt.time.fromisoformat(str(t)) for t in session)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        opening = closing = None
    if opening is None or closing is None or not opening < closing:
        raise ParameterError(f"session must be 'regular' or an (open, close) pair of times, got {session!r}")
    return opening, closing


def _early_closes(value: object, opening: dt.time) -> pl.DataFrame:
    """``date``, ``early`` (its closing time): the sessions that end early."""
    pairs = value.items() if isinstance(value, Mapping) else ((d, HALF_DAY_CLOSE) for d in value)  # type: ignore[union-attr]
    rows = []
    for day, close in pairs:
        try:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
            close = close if isinstance(close, dt.time) else dt.time.fromisoformat(str(close))
        except ValueError:
            raise ParameterError(f"early_closes: {day!r} -> {close!r} is not a date and a time") from None
        if not close > opening:
            raise ParameterError(f"early_closes: {day} closes at {close}, not after the open {opening}")
        rows.append((day, close))
    return pl.DataFrame(rows, schema={"date": pl.Date, "early": pl.Time}, orient="row")


def _offset_hint(e_us: float, bar_us: float) -> str:
    """The parameters that read labels sitting ``e_us`` after a bar boundary (two equivalent
    spellings: after the bar's start, before its end)."""
    after, before = _format_duration(e_us * _US), _format_duration((e_us - bar_us) * _US)
    return f"bar_label='start', label_offset='{after}' (the same as bar_label='end', label_offset='{before}')"


def _check_zone(obs: pl.DataFrame, keys: list[str], opening: dt.time, closing: dt.time, tz: str,
                naive: bool, name: str) -> None:
    """Refuse bars whose session hours start late on most days (times in another zone)."""
    first = obs.group_by([*keys, "date"]).agg(pl.col("t").min().dt.time().alias("first"))
    since = first.select(
        (pl.col("first").cast(pl.Int64) // 1000 - _micros(opening)).median()
    ).item()
    if since is not None and since >= 3_600 * 1e6:
        start = (dt.datetime.combine(dt.date.min, opening) + dt.timedelta(microseconds=since)).time()
        fix = ("pass timestamps_tz='UTC' (the zone the file's times are written in)" if naive
               else f"check tz='{tz}' (the exchange's zone) and session")
        raise DataError(
            f"{name}: on most days the first bar inside the session {opening:%H:%M}-{closing:%H:%M} "
            f"ends at {start:%H:%M} ({tz}), {dt.timedelta(microseconds=since)} after the open: the "
            f"timestamps are probably in another time zone; {fix}"
        )


def _micros(t: dt.time) -> int:
    return (dt.datetime.combine(dt.date.min, t) - dt.datetime.min) // _US


def _check_grid(obs: pl.DataFrame, keys: list[str], opening: dt.time, length: dt.timedelta, n: int,
                bar_label: str, label_offset: dt.timedelta, name: str) -> None:
    """Refuse bars that are shorter than N implies or whose labels are off the bar grid."""
    bar = length / n
    bar_us, length_us = bar / _US, length // _US
    since_open = pl.col("t").dt.time().cast(pl.Int64) // 1000 - _micros(opening)
    rem = obs.select(rem=since_open * n % length_us)["rem"]  # bar ends: multiples of length / n
    spacing = obs.select(
        pl.col("t").diff().over([*keys, "date"]).dt.total_microseconds().median()
    ).item()
    busy = obs.group_by([*keys, "date"]).len().filter(pl.col("len") - 1 > n)
    if spacing is not None and spacing < bar_us * 0.999 and (busy.height or (rem != 0).any()):
        k = length_us / spacing
        fits = f"full_day_bars={round(k)}" if abs(k - round(k)) < 1e-9 else "full_day_bars to the bars per session"
        raise DataError(
            f"{name}: bars come every {_format_duration(spacing * _US)} but full_day_bars={n} means "
            f"{_format_duration(bar)} bars in the session; set {fits}"
        )
    if busy.height:
        row = busy.sort([*keys, "date"]).row(0, named=True)
        where = f"asset '{row['asset']}' on " if keys else ""
        raise DataError(f"{name}: {where}{row['date']} has {row['len'] - 1} returns, more than "
                        f"full_day_bars={n}; set full_day_bars to the returns in a full session")
    off = rem != 0
    if not off.any():
        return
    shift = label_offset - (bar if bar_label == "start" else dt.timedelta(0))
    example = obs.filter(off)["t"][0] + shift  # as labelled in the file, in exchange time
    offsets = (rem.filter(off) / n).unique()
    if offsets.len() == 1 and off.all():
        label_off = (shift / _US + offsets[0]) % bar_us  # labels sit this long after a grid point
        raise DataError(
            f"{name}: every label sits {_format_duration(label_off * _US)} after a "
            f"{_format_duration(bar)} bar boundary from {opening:%H:%M} (e.g. {example:%Y-%m-%d %H:%M:%S}), "
            f"so the labels are neither bar starts nor bar ends; if they sit at a fixed point inside "
            f"each bar, pass {_offset_hint(label_off, bar_us)}"
        )
    raise DataError(
        f"{name}: bar ends fall off the {_format_duration(bar)} grid from {opening:%H:%M} at varying "
        f"points (e.g. {example:%Y-%m-%d %H:%M:%S}): these are not regular bars; resample the file to regular "
        f"{_format_duration(bar)} bars, or set full_day_bars if its bars have another length"
    )


def _warn_start_labels(obs: pl.DataFrame, keys: list[str], bar: dt.timedelta, closing: dt.time,
                       dropped_late: int, name: str) -> None:
    """Warn when no day reaches the session close but most stop one bar short of it."""
    last = obs.group_by([*keys, "date"]).agg(pl.col("t").max().dt.time().alias("last"))["last"]
    short = (dt.datetime.combine(dt.date.min, closing) - bar).time()
    if dropped_late == 0 and not (last == closing).any() and (last == short).mean() > 0.5:
        warnings.warn(DataWarning(
            f"{name}: no day has a bar ending at the session close {closing:%H:%M}, most end at "
            f"{short:%H:%M}: if the file labels bars at their start, pass bar_label='start'"
        ), stacklevel=3)


def _warn_short_days(obs: pl.DataFrame, keys: list[str], dropped_late: pl.DataFrame, name: str) -> None:
    """Warn about days that end early in a file with after-hours bars on other days: their
    after-hours bars were counted as session bars unless the day is in ``early_closes``."""
    if dropped_late.height == 0:
        return
    last = obs.group_by([*keys, "date"]).agg(pl.col("t").max(), pl.col("close_at").first())
    short = last.filter(
        (pl.col("t").dt.time() < pl.col("close_at")) & ~pl.col("date").is_in(dropped_late["date"].implode())
    ).sort("date")
    if short.height:
        row = short.row(0, named=True)
        warnings.warn(DataWarning(
            f"{name}: {short.height} day{'s end' if short.height > 1 else ' ends'} before the close although the file has "
            f"after-hours bars (first: {row['date']}, last bar at {row['t']:%H:%M}): if a half day, list it in "
            f"early_closes so its after-hours bars are not counted as session bars"
        ), stacklevel=3)


def aggregate_bars(
    bars: pl.DataFrame,
    *,
    session: Literal["regular"] | tuple[dt.time | str, dt.time | str] = "regular",
    tz: str = "America/New_York",
    timestamps_tz: str | None = None,
    bar_label: Literal["end", "start"] = "end",
    label_offset: str | float | dt.timedelta = 0,
    full_day_bars: int = 78,
    scale_short_days: bool = True,
    early_closes: Sequence[dt.date | str] | Mapping[dt.date | str, dt.time | str] = (),
    name: str = "bars",
) -> pl.DataFrame:
    """Daily realized measures from intraday bars (what is handled: module doc).

    Steps: (1) timestamps to exchange time ``tz``; (2) labels to bar ends
    (``bar_label``, ``label_offset``); (3) observations outside ``[open, close]`` of the
    session dropped, so a full day has N + 1 observations (09:30, 09:35, ..., 16:00) and N
    returns; with an ``open`` column the first bar's open is the observation at its start;
    (4) per day, returns ``r_{t,i}`` = differences of consecutive log prices, and
    ``rv`` (:func:`~volbook.measures.realized_variance`), ``bv``
    (:func:`~volbook.measures.bipower_variation`), ``rq``
    (:func:`~volbook.measures.realized_quarticity`), scaled by N / n_t on short days when
    ``scale_short_days``; ``rkurt`` (:func:`~volbook.measures.realized_kurtosis`);
    ``jv = max(rv - bv, 0)``; (5) ``overnight_ret`` = first log price of the day minus the
    last of the previous day (per asset; null on the first day), ``open_to_close`` = last
    minus first, ``close`` = the last price.

    Parameters
    ----------
    bars
        ``timestamp`` (Datetime, naive or aware), ``price`` (the bar's last price, > 0),
        optionally ``open`` (the bar's first price) and ``asset``.
    session
        ``"regular"`` (09:30-16:00, :data:`REGULAR_SESSION`) or (open, close) times.
    tz
        Exchange time zone: sessions and dates are in it.
    timestamps_tz
        Zone of naive timestamps (e.g. ``"UTC"``); default ``tz``.
    bar_label
        Whether a timestamp marks its bar's ``"end"`` or its ``"start"``.
    label_offset
        How far after that edge the label sits (``"1min"``, ``"-2s"``, seconds or a
        timedelta); 0 for labels exactly at the edge.
    full_day_bars
        N, the returns in a full session.
    scale_short_days
        Apply the N / n_t correction (else ``rv`` is the plain sum of squares).
    early_closes
        Days whose session closes early: dates (closing at 13:00, the US half days) or a
        mapping date -> closing time.
    name
        What the bars are (a file path), starting every message.

    Returns
    -------
    polars.DataFrame
        ``date``, (``asset``,) ``close``, ``rv``, ``bv``, ``jv``, ``rq``, ``rkurt``,
        ``overnight_ret``, ``open_to_close``, ``n_bars`` (returns observed, n_t); daily
        variance units, sorted by (asset,) date.

    Raises
    ------
    DataError
        Missing or mistyped columns, bad prices, duplicate timestamps, bars in another time
        zone, shorter than N implies, or labelled off the bar grid (each naming the fix).
    ParameterError
        A bad ``session``, ``bar_label``, ``label_offset``, ``full_day_bars`` or zone.
    """
    missing = [c for c in ("timestamp", "price") if c not in bars.columns]
    if missing:
        raise DataError(f"{name}: bars lack columns {missing} (has {bars.columns})")
    ts_type = bars.schema["timestamp"]
    if not isinstance(ts_type, pl.Datetime):
        raise DataError(f"{name}: bars column 'timestamp' must be Datetime, got {ts_type}")
    prices = [c for c in ("price", "open") if c in bars.columns]
    for col in prices:
        value = bars[col].cast(pl.Float64, strict=False)
        bad = int((~(value.is_finite() & (value > 0)).fill_null(False)).sum())
        if bad:
            raise DataError(f"{name}: bars column '{col}' has {bad} values that are missing, non-finite or <= 0")
    if bars["timestamp"].null_count():
        raise DataError(f"{name}: bars column 'timestamp' has {bars['timestamp'].null_count()} missing values")
    if bar_label not in ("end", "start"):
        raise ParameterError(f"bar_label must be 'end' or 'start', got {bar_label!r}")
    opening, closing = parse_session(session)
    if isinstance(full_day_bars, bool) or int(full_day_bars) != full_day_bars or full_day_bars < 1:
        raise ParameterError(f"full_day_bars must be a positive integer, got {full_day_bars!r}")
    n = int(full_day_bars)
    offset = parse_duration(label_offset)
    length = dt.datetime.combine(dt.date.min, closing) - dt.datetime.combine(dt.date.min, opening)
    bar = length / n
    if abs(offset) >= bar:
        raise ParameterError(f"label_offset must be shorter than a bar ({bar}), got {offset}")
    for zone in (tz, timestamps_tz):
        if zone is not None:
            try:
                pl.Series([dt.datetime(2020, 1, 1)]).dt.replace_time_zone(zone)
            except pl.exceptions.PolarsError:
                raise ParameterError(f"unknown time zone {zone!r} (e.g. 'America/New_York', 'UTC')") from None

    keys = ["asset"] if "asset" in bars.columns else []
    ts = pl.col("timestamp")
    naive = ts_type.time_zone is None
    if naive:
        ts = ts.dt.replace_time_zone(timestamps_tz or tz, ambiguous="null", non_existent="null")
    end = ts.dt.convert_time_zone(tz) - pl.lit(offset) + pl.lit(bar if bar_label == "start" else dt.timedelta(0))
    logs = [pl.col(c).cast(pl.Float64).log().alias("logp" if c == "price" else "logo") for c in prices]
    if isinstance(early_closes, (str, dt.date)):
        raise ParameterError(f"early_closes must be a list of dates, got {early_closes!r}")
    early = _early_closes(early_closes, opening)
    everything = (
        bars.select(*keys, end.alias("t"), *logs).drop_nulls("t")
        .with_columns(date=pl.col("t").dt.date())
        .join(early, on="date", how="left")
        .with_columns(close_at=pl.col("early").fill_null(closing))
    )
    late = pl.col("t").dt.time() > pl.col("close_at")
    in_session = pl.col("t").dt.time().is_between(pl.lit(opening), pl.col("close_at"), closed="both")
    dropped_late = everything.filter(late).select("date").unique()
    obs = everything.filter(in_session).sort([*keys, "t"]).drop("early")
    if obs.height == 0:
        raise DataError(f"{name}: no bar ends inside the session {opening:%H:%M}-{closing:%H:%M} ({tz})")
    if obs.select(pl.struct(*keys, "t").is_duplicated().any()).item():
        raise DataError(f"{name}: bars have duplicate timestamps" + (" within an asset" if keys else ""))
    _check_zone(obs, keys, opening, closing, tz, naive, name)
    _check_grid(obs, keys, opening, length, n, bar_label, offset, name)
    if "logo" in obs.columns:  # the first bar's open: the price at the session's start
        first = obs.group_by([*keys, "date"]).agg(pl.all().sort_by("t").first())
        start = first.with_columns(t=pl.col("t") - pl.lit(bar), logp=pl.col("logo")).filter(
            pl.col("t").dt.time() >= opening)
        obs = pl.concat([obs, start.select(obs.columns)]).unique([*keys, "t"], keep="first", maintain_order=True)
        obs = obs.sort([*keys, "t"])
    else:
        _warn_start_labels(obs, keys, bar, closing, dropped_late.height, name)
    _warn_short_days(obs, keys, dropped_late, name)

    scale = n if scale_short_days else None
    r = pl.col("logp").diff()
    daily = obs.group_by([*keys, "date"]).agg(
        rv=realized_variance(r, scale),
        bv=bipower_variation(r, scale),
        rq=realized_quarticity(r, scale),
        rkurt=realized_kurtosis(r),
        n_bars=(pl.len() - 1).cast(pl.Int64),
        first=pl.col("logp").first(),
        last=pl.col("logp").last(),
    ).sort([*keys, "date"])
    prev_last = pl.col("last").shift(1)
    return daily.select(
        "date",
        *keys,
        pl.col("last").exp().alias("close"),
        "rv",
        "bv",
        jump_variation(),
        "rq",
        "rkurt",
        overnight_ret=pl.col("first") - (prev_last.over(keys) if keys else prev_last),
        open_to_close=pl.col("last") - pl.col("first"),
        n_bars="n_bars",
    )
