"""Scheduled market events, known in advance: FOMC meetings, monthly options expiry, IMM dates.

Each event calendar is a sorted array of dates fixed long before the day itself, so features
built from it (is today an event day? how many business days to the next one?) use no data
after the day they describe: the Committee publishes its meeting schedule for a year in the
summer before, and expiries follow fixed rules.

FOMC
    :data:`FOMC_MEETINGS`: the last day of every **scheduled** meeting of the Federal Open
    Market Committee from 1999 to 2026, the day its statement is released. Compiled from the
    Federal Reserve's published calendars, https://www.federalreserve.gov/monetarypolicy/
    fomchistorical{YEAR}.htm (1999-2020) and .../fomccalendars.htm (2021-2026), and checked
    against them meeting by meeting. Left out: unscheduled meetings and conference calls
    (2001-01-03, 2001-04-18, 2001-09-17, 2008-01-22, 2008-10-08, 2020-03-03, 2020-03-15, ...),
    which nobody knew in advance. Kept: 2020-03-18, the scheduled meeting cancelled on
    2020-03-15 when the Committee acted early; until then it was on the published calendar, so
    it is what a forecaster knew. Eight meetings a year.
Options expiry ("opex")
    The third Friday of every month (monthly equity and index options). When that Friday is
    Good Friday, an exchange holiday, expiry moves to the Thursday before (in 2000, 2003,
    2008, 2014, 2019, 2022 and 2025). Other holidays are not modelled (Friday 19 June 2026,
    Juneteenth, is listed although that expiry is on the 18th).
IMM dates
    The third Wednesday of March, June, September and December (the International Monetary
    Market's quarterly settlement date for currency and rate futures; equity index futures
    expire on the third Friday of those months, which is an opex day).

Business days are Monday to Friday; exchange holidays are not removed, so "business days to
the next event" can count one or two holidays as business days.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from dateutil.easter import easter

from volbook.errors import DataError, ParameterError

__all__ = [
    "EVENTS",
    "FOMC_MEETINGS",
    "Event",
    "as_days",
    "event_dates",
    "event_features",
]

Event = Literal["fomc", "opex", "imm"]
#: The event calendars this module knows.
EVENTS: tuple[Event, ...] = ("fomc", "opex", "imm")

_FOMC_BY_YEAR = {
    1999: "02-03 03-30 05-18 06-30 08-24 10-05 11-16 12-21",
    2000: "02-02 03-21 05-16 06-28 08-22 10-03 11-15 12-19",
    2001: "01-31 03-20 05-15 06-27 08-21 10-02 11-06 12-11",
    2002: "01-30 03-19 05-07 06-26 08-13 09-24 11-06 12-10",
    2003: "01-29 03-18 05-06 06-25 08-12 09-16 10-28 12-09",
    2004: "01-28 03-16 05-04 06-30 08-10 09-21 11-10 12-14",
    2005: "02-02 03-22 05-03 06-30 08-09 09-20 11-01 12-13",
    2006: "01-31 03-28 05-10 06-29 08-08 09-20 10-25 12-12",
    2007: "01-31 03-21 05-09 06-28 08-07 09-18 10-31 12-11",
    2008: "01-30 03-18 04-30 06-25 08-05 09-16 10-29 12-16",
    2009: "01-28 03-18 04-29 06-24 08-12 09-23 11-04 12-16",
    2010: "01-27 03-16 04-28 06-23 08-10 09-21 11-03 12-14",
    2011: "01-26 03-15 04-27 06-22 08-09 09-21 11-02 12-13",
    2012: "01-25 03-13 04-25 06-20 08-01 09-13 10-24 12-12",
    2013: "01-30 03-20 05-01 06-19 07-31 09-18 10-30 12-18",
    2014: "01-29 03-19 04-30 06-18 07-30 09-17 10-29 12-17",
    2015: "01-28 03-18 04-29 06-17 07-29 09-17 10-28 12-16",
    2016: "01-27 03-16 04-27 06-15 07-27 09-21 11-02 12-14",
    2017: "02-01 03-15 05-03 06-14 07-26 09-20 11-01 12-13",
    2018: "01-31 03-21 05-02 06-13 08-01 09-26 11-08 12-19",
    2019: "01-30 03-20 05-01 06-19 07-31 09-18 10-30 12-11",
    2020: "01-29 03-18 04-29 06-10 07-29 09-16 11-05 12-16",
    2021: "01-27 03-17 04-28 06-16 07-28 09-22 11-03 12-15",
    2022: "01-26 03-16 05-04 06-15 07-27 09-21 11-02 12-14",
    2023: "02-01 03-22 05-03 06-14 07-26 09-20 11-01 12-13",
    2024: "01-31 03-20 05-01 06-12 07-31 09-18 11-07 12-18",
    2025: "01-29 03-19 05-07 06-18 07-30 09-17 10-29 12-10",
    2026: "01-28 03-18 04-29 06-17 07-29 09-16 10-28 12-09",
}

#: Statement days of the scheduled FOMC meetings, 1999-2026 (see the module docstring).
FOMC_MEETINGS: np.ndarray = np.array(
    [f"{year}-{md}" for year, days in _FOMC_BY_YEAR.items() for md in days.split()], dtype="datetime64[D]"
)
#: FOMC features are defined for dates from here to the last listed meeting.
_FOMC_COVERAGE = (np.datetime64("1999-01-01"), FOMC_MEETINGS[-1])


def as_days(dates: Sequence | np.ndarray) -> np.ndarray:
    """Dates (numpy, polars, pandas or ``datetime.date``) as a ``datetime64[D]`` array."""
    arr = np.asarray(dates)
    if arr.dtype.kind in "iuf":
        raise ParameterError(
            "calendar and event features need real dates, got integer positions: pass a frame with a date column"
        )
    if arr.dtype.kind == "O" and arr.size and hasattr(arr.flat[0], "to_datetime64"):
        arr = np.array([d.to_datetime64() for d in arr.flat])
    return arr.astype("datetime64[D]")


def _nth_weekday(years: np.ndarray, months: np.ndarray, weekday: int, nth: int) -> np.ndarray:
    """The ``nth`` (1-based) ``weekday`` (Monday = 0) of each (year, month)."""
    first = (years - 1970) * 12 + (months - 1)
    first = first.astype("datetime64[M]").astype("datetime64[D]")
    first_weekday = (first.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
    return first + ((weekday - first_weekday) % 7 + 7 * (nth - 1)).astype("timedelta64[D]")


def event_dates(event: Event, first_year: int, last_year: int) -> np.ndarray:
    """Sorted dates of ``event`` in the years ``first_year .. last_year`` (``datetime64[D]``)."""
    if event == "fomc":
        years = FOMC_MEETINGS.astype("datetime64[Y]").astype(int) + 1970
        return FOMC_MEETINGS[(years >= first_year) & (years <= last_year)]
    if event not in EVENTS:
        raise ParameterError(f"unknown event {event!r}; choose one of {', '.join(EVENTS)}")
    span = np.arange(first_year, last_year + 1)
    if event == "imm":
        years, months = np.repeat(span, 4), np.tile([3, 6, 9, 12], span.size)
        return _nth_weekday(years, months, weekday=2, nth=3)
    years, months = np.repeat(span, 12), np.tile(np.arange(1, 13), span.size)
    fridays = _nth_weekday(years, months, weekday=4, nth=3)
    good_fridays = np.array([np.datetime64(easter(int(y))) - 2 for y in span], dtype="datetime64[D]")
    return fridays - np.isin(fridays, good_fridays).astype("timedelta64[D]")


def event_features(dates: Sequence | np.ndarray, event: Event, *, cap: int = 30, near: int = 3) -> dict[str, np.ndarray]:
    """Event-day flag, business days to the next event and a nearness flag, for each date.

    Returns float arrays ``is_{event}`` (1 on an event day), ``days_to_{event}`` (business days
    from the date to the next event on or after it, 0 on the day, capped at ``cap``) and
    ``is_near_{event}`` (1 when ``days_to <= near``). Only the calendar is used.
    """
    days = as_days(dates)
    if days.size == 0:
        return {f"{k}_{event}": np.empty(0) for k in ("is", "days_to", "is_near")}
    lo, hi = days.min(), days.max()
    if event == "fomc" and (lo < _FOMC_COVERAGE[0] or hi > _FOMC_COVERAGE[1]):
        raise DataError(
            f"the FOMC calendar (volbook.events.FOMC_MEETINGS) covers {_FOMC_COVERAGE[0]} to {_FOMC_COVERAGE[1]}; "
            f"dates run from {lo} to {hi}: add the missing meetings or drop the fomc features"
        )
    years = days.astype("datetime64[Y]").astype(int) + 1970
    calendar = event_dates(event, int(years.min()), int(years.max()) + 1)
    following = calendar[np.searchsorted(calendar, days, side="left")]
    to_next = np.minimum(np.busday_count(days, following), cap).astype(float)
    return {
        f"is_{event}": (following == days).astype(float),
        f"days_to_{event}": to_next,
        f"is_near_{event}": (to_next <= near).astype(float),
    }
