import numpy as np
import polars as pl
import pytest

from volbook.errors import DataError, ParameterError
from volbook.models import EWMA, GARCH, RollingWindow
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
