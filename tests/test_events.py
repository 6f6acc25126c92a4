"""Event calendars against pandas' week-of-month rules and a slow day-by-day count."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from volbook.errors import DataError, ParameterError
from volbook.events import FOMC_MEETINGS, as_days, event_dates, event_features


def test_fomc_list_has_eight_scheduled_meetings_a_year_on_weekdays():
    years = pd.DatetimeIndex(FOMC_MEETINGS).year
    assert set(years) == set(range(1999, 2027))
    assert (pd.Series(years).value_counts() == 8).all()
    assert np.is_busday(FOMC_MEETINGS).all()
    assert (np.diff(FOMC_MEETINGS).astype(int) > 0).all()
    # statement days known from the Fed's calendars, including ones off the usual Wednesday
    for day in ("2008-10-29", "2015-09-17", "2018-11-08", "2020-03-18", "2024-11-07"):
        assert np.datetime64(day) in FOMC_MEETINGS
    # unscheduled meetings were not known in advance and are left out
    for day in ("2001-01-03", "2001-09-17", "2008-01-22", "2008-10-08", "2020-03-03", "2020-03-15"):
        assert np.datetime64(day) not in FOMC_MEETINGS


def test_expiry_rules_match_pandas_week_of_month_offsets():
    opex = pd.date_range("2000-01-01", "2026-12-31", freq="WOM-3FRI").to_numpy().astype("datetime64[D]")
    ours = event_dates("opex", 2000, 2026)
    moved = ours != opex
    # only Good Friday expiries move, to the Thursday before
    assert [str(d) for d in opex[moved]] == ["2000-04-21", "2003-04-18", "2008-03-21", "2014-04-18", "2019-04-19", "2022-04-15", "2025-04-18"]
    np.testing.assert_array_equal(ours[moved], opex[moved] - 1)
    imm = pd.date_range("2000-01-01", "2026-12-31", freq="WOM-3WED")
    imm = imm[imm.month.isin([3, 6, 9, 12])].to_numpy().astype("datetime64[D]")
    np.testing.assert_array_equal(event_dates("imm", 2000, 2026), imm)


def slow_features(days, events, cap=30, near=3):
    """Day-by-day: walk forward to the next event counting Monday-Friday days."""
    out = []
    for d in days:
        d = d.astype(dt.date)
        count, cur = 0, d
        while cur not in events:
            if cur.weekday() < 5:
                count += 1
            cur += dt.timedelta(days=1)
        k = min(count, cap)
        out.append((float(cur == d), float(k), float(k <= near)))
    return np.array(out)


@pytest.mark.parametrize("event", ["fomc", "opex", "imm"])
def test_event_features_match_a_day_by_day_count(event):
    days = np.arange(np.datetime64("2007-11-01"), np.datetime64("2009-03-01"))
    days = days[np.is_busday(days)]
    feats = event_features(days, event)
    ours = np.column_stack([feats[f"is_{event}"], feats[f"days_to_{event}"], feats[f"is_near_{event}"]])
    np.testing.assert_array_equal(ours, slow_features(days, set(event_dates(event, 2007, 2010).tolist())))


def test_dates_are_accepted_in_every_common_form():
    ref = np.array(["2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    for form in (ref, pd.DatetimeIndex(ref), list(pd.DatetimeIndex(ref)), [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]):
        np.testing.assert_array_equal(as_days(form), ref)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(DataError, match="FOMC calendar .* covers"):
        event_features(np.array(["2027-01-04"], dtype="datetime64[D]"), "fomc")
    with pytest.raises(DataError, match="FOMC calendar .* covers"):
        event_features(np.array(["1998-06-01"], dtype="datetime64[D]"), "fomc")
    with pytest.raises(ParameterError, match="need real dates"):
        event_features(np.arange(5), "opex")
    with pytest.raises(ParameterError, match="unknown event"):
        event_dates("cpi", 2000, 2001)
