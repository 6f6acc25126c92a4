import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from _frames import make_frame

from volbook.errors import DataError, ParameterError
from volbook.models import EWMA, GARCH, RollingWindow
from volbook.models.base import Fitted, Forecaster, check_history
from volbook.walkforward import walk_forward

HORIZONS = [1, 5]


@pytest.fixture(scope="module")
def returns():
    rng = np.random.default_rng(4)
    vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, 700)) / 5)
    return vol * rng.standard_normal(700)


def slow_walk_forward(model, r, horizons, first, window, refit_every):
    """Obviously correct: at each origin, refit if scheduled, else feed the returns since."""
    rows = []
    last_refit, fitted = None, None
    for t in range(first, r.size):
        if last_refit is None or (refit_every is not None and (t - first) % refit_every == 0):
            lo = 0 if window is None else max(0, t - window + 1)
            fitted, last_refit = model.fit(r[lo : t + 1], start=fitted), t
        rows.append(fitted.forecast(horizons, r[last_refit + 1 : t + 1])[-1])
    return np.array(rows)


@pytest.mark.parametrize(
    ("model", "window", "refit_every"),
    [(EWMA(), None, None), (RollingWindow(20), None, None), (GARCH(min_obs=200), 300, 40)],
)
def test_engine_equals_the_slow_loop(returns, model, window, refit_every):
    first = 299
    # one chunk: every fit warm-starts from the previous one, exactly as in the slow loop
    wf = walk_forward(model, returns, horizons=HORIZONS, first_origin=first, window=window,
                      refit_every=refit_every, n_jobs=1, chunk_size=10_000)
    got = wf.forecasts.sort("date", "horizon")["forecast"].to_numpy().reshape(-1, len(HORIZONS))
    want = slow_walk_forward(model, returns, HORIZONS, first, window, refit_every)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_results_do_not_depend_on_the_number_of_processes(returns):
    kw = dict(horizons=HORIZONS, window=300, refit_every=25, chunk_size=4)
    one = walk_forward(GARCH(min_obs=200), returns, n_jobs=1, **kw)
    two = walk_forward(GARCH(min_obs=200), returns, n_jobs=2, **kw)
    assert one.forecasts.equals(two.forecasts)
    assert one.params.equals(two.params)


def test_layout_dates_and_refit_schedule(returns):
    dates = pl.date_range(pl.date(2000, 1, 3), pl.date(2010, 1, 1), "1d", eager=True)[: returns.size]
    wf = walk_forward(GARCH(min_obs=200), returns, horizons=[1, 5, 10], window=300, refit_every=100,
                      dates=dates, n_jobs=1)
    assert wf.forecasts.columns == ["date", "model", "horizon", "forecast"]
    assert wf.forecasts["date"].min() == dates[299]  # first origin: first full window
    assert wf.forecasts.height == (returns.size - 299) * 3
    assert wf.params["date"].to_list() == [dates[i] for i in range(299, returns.size, 100)]
    assert set(wf.params.columns) == {"date", "model", "omega", "alpha", "beta"}
    assert (wf.forecasts["forecast"] > 0).all()


def test_engine_refuses_bad_settings(returns):
    with pytest.raises(ParameterError, match="training window 10 is shorter"):
        walk_forward(RollingWindow(20), returns, window=10)
    with pytest.raises(ParameterError, match="first origin 5"):
        walk_forward(RollingWindow(20), returns, first_origin=5)
    with pytest.raises(DataError, match="too few"):
        walk_forward(RollingWindow(20), returns[:30], first_origin=40)
    bad = returns.copy()
    bad[100] = np.inf
    with pytest.raises(DataError, match="position 100"):
        walk_forward(EWMA(), bad)


class _Columns(Forecaster):
    """Records the columns and rows of each window it is fitted on; forecasts a constant."""

    min_obs, name = 10, "columns"

    def __init__(self, inputs):
        self.inputs, self.seen = tuple(inputs), []

    def fit(self, history, *, start=None):
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        self.seen.append((hist.columns, hist.dates[[0, -1]], hist[self.inputs[-1]][-1]))
        return _Constant()


class _Constant(Fitted):
    params = {}

    def one_step(self, new):
        return np.ones(len(new) + 1)


def test_a_frame_reaches_a_model_as_its_declared_columns_only():
    frame = make_frame(120, 2)
    model = _Columns(["rv"])
    wf = walk_forward(model, frame, horizons=[1, 5], window=50, refit_every=30, n_jobs=1)
    assert wf.forecasts["date"].min() == frame["date"][49]  # labels from the frame's date column
    assert [cols for cols, _, _ in model.seen] == [("rv",)] * 3
    assert [(first, last) for _, (first, last), _ in model.seen] == [
        (np.datetime64(frame["date"][t - 49]), np.datetime64(frame["date"][t])) for t in (49, 79, 109)
    ]
    assert [value for _, _, value in model.seen] == [frame["rv"][t] for t in (49, 79, 109)]


def test_an_array_of_returns_is_the_frame_with_the_column_ret(returns):
    frame = pl.DataFrame({"date": np.arange(returns.size), "ret": returns, "rv": returns**2})
    a = walk_forward(EWMA(), returns, horizons=HORIZONS, refit_every=50, n_jobs=1).forecasts
    b = walk_forward(EWMA(), frame, horizons=HORIZONS, refit_every=50, n_jobs=1).forecasts
    assert a.equals(b)


def test_bad_frames_are_refused_in_one_line():
    frame = make_frame(80, 1)
    with pytest.raises(DataError, match=r"columns: reads the column\(s\) \['close'\], which the data lacks"):
        walk_forward(_Columns(["ret", "close"]), frame)
    with pytest.raises(DataError, match="pass a frame with them, not an array"):
        walk_forward(_Columns(["rv"]), frame["ret"].to_numpy())
    holed = frame.with_columns(rv=pl.when(pl.int_range(80) == 33).then(float("nan")).otherwise("rv"))
    with pytest.raises(DataError, match=r"column .rv. contains NaN or inf at position 33 \(2001-02-15\)"):
        walk_forward(_Columns(["rv"]), holed)
    walk_forward(_Columns(["ret"]), holed)  # a hole in a column the model does not read is no concern
    with pytest.raises(DataError, match="strictly increasing"):
        walk_forward(_Columns(["ret"]), frame.reverse())
    with pytest.raises(ParameterError, match="not as dates="):
        walk_forward(_Columns(["ret"]), frame, dates=frame["date"])
    with pytest.raises(ParameterError, match="n_jobs must be a positive integer"):
        walk_forward(_Columns(["ret"]), frame, n_jobs=0)


def test_the_default_starts_no_process_pool_so_a_script_needs_no_main_guard(tmp_path):
    """A plain script, no ``if __name__ == "__main__":``, with many chunks of refits."""
    script = tmp_path / "plain.py"
    script.write_text(
        "import numpy as np\n"
        "from volbook.models import RollingWindow\n"
        "from volbook.walkforward import walk_forward\n"
        "r = np.random.default_rng(0).standard_normal(300) * 0.01\n"
        "wf = walk_forward(RollingWindow(20), r, refit_every=1, chunk_size=10)\n"
        "print(wf.forecasts.height)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["281"]


class _WithStates(Fitted):
    params = {}

    def __init__(self, last):
        self.last = last

    def one_step(self, new):
        return np.ones(len(new) + 1)

    def states(self, new):
        return {"last_ret": np.concatenate([[self.last], new["ret"]]), "origin_count": np.arange(len(new) + 1.0)}


class _StateModel(Forecaster):
    name, min_obs = "stateful", 10

    def fit(self, history, *, start=None):
        return _WithStates(check_history(history, self.inputs, name=self.name)["ret"][-1])


def test_states_are_collected_by_origin(returns):
    wf = walk_forward(_StateModel(), returns[:100], first_origin=49, refit_every=20, chunk_size=2, states=True)
    assert wf.states.columns == ["date", "model", "name", "value"]
    last = wf.states.filter(pl.col("name") == "last_ret")
    np.testing.assert_array_equal(last["date"], np.arange(49, 100))
    np.testing.assert_array_equal(last["value"], returns[49:100])  # the state at t is r_t
    counts = wf.states.filter(pl.col("name") == "origin_count")["value"].to_numpy()
    np.testing.assert_array_equal(counts, np.arange(51) % 20)  # resets at each refit
    assert walk_forward(_StateModel(), returns[:100], first_origin=49).states.height == 0


def test_kept_fits_are_the_fits_that_made_the_forecasts(returns):
    kw = dict(horizons=HORIZONS, first_origin=299, window=300, refit_every=100, chunk_size=2)
    wf = walk_forward(GARCH(min_obs=200), returns, keep_fits=True, **kw)
    assert len(wf.fits) == wf.params.height == 5  # origins 299, 399, ..., 699
    origins = wf.params["date"].to_list()
    for i, (fitted, t0) in enumerate(zip(wf.fits, origins)):
        assert fitted.params == {k: wf.params[k][i] for k in fitted.params}
        t1 = origins[i + 1] - 1 if i + 1 < len(origins) else returns.size - 1
        block = wf.forecasts.filter(pl.col("date").is_between(t0, t1)).sort("date", "horizon")
        again = fitted.forecast(HORIZONS, returns[t0 + 1 : t1 + 1])
        np.testing.assert_array_equal(block["forecast"].to_numpy(), again.ravel())
    two = walk_forward(GARCH(min_obs=200), returns, keep_fits=True, n_jobs=2, **kw)
    assert [f.params for f in two.fits] == [f.params for f in wf.fits]
    assert walk_forward(GARCH(min_obs=200), returns, **kw).fits == ()
