"""History: the read-only window a model sees, and the only source of its training targets."""

import pickle

import numpy as np
import polars as pl
import pytest
from _frames import make_frame

from volbook.errors import DataError, ParameterError
from volbook.history import History, as_history


@pytest.fixture(scope="module")
def frame():
    return make_frame(60, 1)


def test_training_rows_equal_a_plain_loop(frame):
    hist = History.from_frame(frame, ["ret", "rv"])
    ret, rv = frame["ret"].to_numpy(), frame["rv"].to_numpy()
    for h in (1, 5, 22):
        for proxy, x in (("ret2", ret**2), ("rv", rv)):
            rows, y = hist.training_rows(h, proxy)
            want = [(s, sum(x[s + j] for j in range(1, h + 1))) for s in range(60) if s + h <= 59]
            np.testing.assert_array_equal(rows, [s for s, _ in want])
            np.testing.assert_allclose(y, [v for _, v in want], rtol=1e-13)


def test_no_training_rows_without_a_complete_target():
    rows, y = History({"ret": np.ones(5)}).training_rows(5)
    assert rows.size == y.size == 0
    rows, y = History({"ret": np.ones(6)}).training_rows(5)
    np.testing.assert_array_equal(rows, [0])
    np.testing.assert_array_equal(y, [5.0])


def test_rows_after_the_origin_carry_no_targets():
    new = History({"ret": np.ones(10)}, targets=False)
    with pytest.raises(ParameterError, match="no training targets"):
        new.training_rows(1)


def test_columns_are_read_only(frame):
    source = frame["ret"].to_numpy().copy()
    hist = History({"ret": source})
    with pytest.raises(ValueError, match="read-only"):
        hist["ret"][0] = 1.0
    assert hist["ret2"][3] == source[3] ** 2


def test_dates_columns_and_pickling(frame):
    hist = History.from_frame(frame)
    assert hist.columns == tuple(c for c in frame.columns if c != "date")
    assert len(hist) == 60 and hist.dates.dtype == np.dtype("datetime64[D]")
    assert hist.dates[0] == np.datetime64(frame["date"][0])
    back = pickle.loads(pickle.dumps(hist))
    np.testing.assert_array_equal(back["rv"], hist["rv"])
    np.testing.assert_array_equal(back.dates, hist.dates)
    assert not back["rv"].flags.writeable
    assert "ret2" in hist and "vix" in hist and "close" not in hist


def test_as_history_wraps_returns_and_frames(frame):
    r = frame["ret"].to_numpy()
    np.testing.assert_array_equal(as_history(r)["ret"], r)
    np.testing.assert_array_equal(as_history(frame["ret"]).dates, np.arange(60))
    assert as_history(frame.select("date", "rv")).columns == ("rv",)
    assert len(as_history(None)) == 0 and as_history(None)["rv"].size == 0  # no rows: any column is empty


def test_bad_histories_are_refused(frame):
    with pytest.raises(DataError, match="history has no column 'rv'"):
        History({"ret": np.ones(3)})["rv"]
    with pytest.raises(DataError, match="differ in length"):
        History({"ret": np.ones(3), "rv": np.ones(4)})
    with pytest.raises(DataError, match="3 dates for 4 rows"):
        History({"ret": np.ones(4)}, dates=[1, 2, 3])
    with pytest.raises(DataError, match="lacks the column"):
        History.from_frame(frame, ["close"])
    with pytest.raises(DataError, match="one-dimensional"):
        as_history(np.ones((3, 2)))
    with pytest.raises(ParameterError, match="horizon"):
        History({"ret": np.ones(4)}).training_rows(0)
    assert isinstance(as_history(pl.Series([1.0, 2.0])), History)
