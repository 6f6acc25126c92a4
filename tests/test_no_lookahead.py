"""The perturbation test, written once and applied to every registered forecaster.

At origin t a forecast may use the rows of the daily frame up to t only: change every value
of every column after t, recompute, and every forecast at origins <= t must be identical
(and every per-origin state a model reports, such as a gate alpha_t or a regime probability).

There are no blind spots to hide in: the test runs at three origins t, each a different
place in the engine's schedule (a refit origin inside a chunk, an origin between two refits,
the last origin of a chunk of refits), for three seeds, each with its own kind of
perturbation (signs flipped and sizes enlarged, signs flipped and sizes shrunk, fresh draws);
the frame holds every column a registered model may read (``tests/_frames.py``). The
volatility-targeting backtest gets the same test, and each leak the studies and an attack on
the foundation produced is injected on its own to show that the test catches it.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from _frames import DERIVED, make_frame, perturb_after

import volbook.walkforward as wf_module
from volbook import backtest
from volbook.models import EWMA
from volbook.models.base import Fitted, Forecaster, check_history, registered_forecasters
from volbook.models.ewma import ewma_filter
from volbook.timing import annualized_vol, forward_sum
from volbook.walkforward import walk_forward

HORIZONS = [1, 5, 10]
REFIT, CHUNK = 20, 2  # a refit every 20 origins, two refits per chunk
SEEDS = (0, 1, 2)  # seed s also picks perturbation kind s (see _frames.perturb_after)
WINDOW = 250


def schedule(model: Forecaster) -> tuple[int, int, dict[str, int]]:
    """Training window, frame length, and the origins t to perturb after, by their place."""
    window = max(model.min_obs, WINDOW)
    first = window - 1  # refits at first + k * REFIT; chunk c holds refits 2c and 2c + 1
    origins = {
        "a refit origin": first + REFIT,
        "an origin between refits": first + 2 * REFIT + REFIT // 2,
        "the last origin of a chunk": first + 2 * CHUNK * REFIT - 1,
    }
    return window, first + 5 * REFIT + 1, origins


def forecasts(model: Forecaster, frame: pl.DataFrame, window: int) -> np.ndarray:
    """Forecasts by origin (rows, from the first origin on): horizons, then the model's states."""
    wf = walk_forward(model, frame, horizons=HORIZONS, window=window, refit_every=REFIT, chunk_size=CHUNK,
                      n_jobs=1, states=True)
    values = wf.forecasts.sort("date", "horizon")["forecast"].to_numpy().reshape(-1, len(HORIZONS))
    if wf.states.height:
        states = wf.states.pivot(on="name", index="date", values="value").sort("date").drop("date")
        values = np.column_stack([values, states.to_numpy()])
    return values


def assert_no_lookahead(model: Forecaster, seeds=SEEDS) -> None:
    """Fail if any forecast at an origin <= t moves when the rows after t change."""
    window, n, origins = schedule(model)
    first = window - 1
    for seed in seeds:
        frame = make_frame(n, seed)
        missing = [c for c in model.inputs if c not in frame.columns]
        assert not missing, f"{model.name} reads {missing}: add a generator for it to tests/_frames.py"
        base = forecasts(model, frame, window)
        for place, t in origins.items():
            moved = forecasts(model, perturb_after(frame, t, seed, kind=seed), window)
            upto = t - first + 1
            changed = np.flatnonzero((moved[:upto] != base[:upto]).any(axis=1))
            assert changed.size == 0, (
                f"{model.name}: the forecast at origin {first + changed[0]} moved when the rows after "
                f"t = {t} ({place}) changed (seed {seed})"
            )
            assert (moved[upto:] != base[upto:]).any(), f"{model.name}: no forecast after t = {t} moved"


@pytest.mark.parametrize("name", sorted(registered_forecasters()))
def test_forecast_at_t_ignores_everything_after_t(name):
    assert_no_lookahead(registered_forecasters()[name])


# -- The volatility-targeting backtest --------------------------------------------------------


def backtest_ledger(frame: pl.DataFrame) -> pl.DataFrame:
    """The chapter's pipeline: EWMA forecasts at each origin -> weight -> daily ledger."""
    wf = walk_forward(EWMA(), frame, horizons=[1], window=WINDOW, refit_every=REFIT, chunk_size=CHUNK, n_jobs=1)
    sigma = wf.forecasts.select("date", sigma=pl.col("forecast").map_batches(lambda f: annualized_vol(f.to_numpy(), 1)))
    return backtest.run_backtest(frame.select("date", "ret").join(sigma, on="date"), cost_bps=5.0)


def assert_backtest_no_lookahead(seeds=SEEDS) -> None:
    """The weight held over day t+1 is decided at t: returns after t must not move it."""
    _, n, origins = schedule(EWMA())
    for seed in seeds:
        frame = make_frame(n, seed)
        base = backtest_ledger(frame)
        for place, t in origins.items():
            moved = backtest_ledger(perturb_after(frame, t, seed, kind=seed))
            held_after_t = base["date"] <= frame["date"][t + 1]  # ledger row of day d: weight decided before d
            assert moved.filter(held_after_t)["weight"].equals(base.filter(held_after_t)["weight"]), (
                f"a weight decided at or before t = {t} ({place}, seed {seed}) moved when returns after t changed"
            )
            known = base["date"] <= frame["date"][t]
            assert moved.filter(known).equals(base.filter(known))
            assert not moved.filter(~held_after_t)["weight"].equals(base.filter(~held_after_t)["weight"])


def test_backtest_weights_ignore_returns_after_t():
    assert_backtest_no_lookahead()


# -- Each injected leak is caught on its own ---------------------------------------------------


class _Filter(Forecaster):
    """A cheap test model: a recursive filter with fixed parameters, clean or with one leak."""

    min_obs = 30

    def __init__(self, fitted_class, column="ret", leak=False):
        self.fitted_class, self.inputs, self.leak = fitted_class, (column,), leak
        self.name = f"{fitted_class.__name__.strip('_').lower()}{'_leaky' if leak else ''}"

    def fit(self, history, *, start=None):
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        return self.fitted_class(hist, self.inputs, self.leak)


class _GJRSign(Fitted):
    """GJR-GARCH filter with fixed parameters; the leak takes the sign from r_{t+1}, not r_t."""

    w, a, g, b = 1e-6, 0.02, 0.15, 0.9

    def __init__(self, hist, inputs, leak):
        self.params, self.leak = {}, leak
        r = hist["ret"]
        self.s2 = self._run(r, np.mean(r**2))[-1]

    def _run(self, r, s2):
        sign_day = np.append(r[1:], 0.0) if self.leak else r
        shock = self.w + (self.a + self.g * (sign_day < 0)) * r**2
        out = [s2]
        for x in shock:
            out.append(x + self.b * out[-1])
        return np.array(out)

    def one_step(self, new):
        return self._run(new["ret"], self.s2)


class _NextRow(Fitted):
    """EWMA; the leak returns, at origin t0 + j, the filter after new[:j+1] instead of new[:j]."""

    def __init__(self, hist, inputs, leak):
        self.params, self.leak = {}, leak
        r = hist["ret"]
        self.s2 = ewma_filter(r, 0.94, np.mean(r[:30] ** 2))[-1]

    def one_step(self, new):
        out = np.concatenate([[self.s2], ewma_filter(new["ret"], 0.94, self.s2)])
        return np.append(out[1:], out[-1]) if self.leak else out


class _BlockStandardised(Fitted):
    """EWMA of standardised returns; the leak standardises the rows fed after the fit with
    their own mean and scale (statistics of the whole block, later rows included) instead of
    the training window's."""

    def __init__(self, hist, inputs, leak):
        self.params, self.leak = {}, leak
        r = hist["ret"]
        self.mean, self.sd = r.mean(), r.std()
        self.s2 = ewma_filter((r - self.mean) / self.sd, 0.94, 1.0)[-1]

    def one_step(self, new):
        r = new["ret"]
        mean, sd = (r.mean(), r.std()) if self.leak and r.size > 1 else (self.mean, self.sd)
        return np.concatenate([[self.s2], ewma_filter((r - mean) / sd, 0.94, self.s2)])


class _ColumnEWMA(Fitted):
    """EWMA of whatever column the model reads (a derived, standardised one below)."""

    def __init__(self, hist, inputs, leak):
        self.params, self.col = {}, inputs[0]
        x = hist[self.col]
        self.s2 = ewma_filter(x, 0.94, x[0] ** 2)[-1]

    def one_step(self, new):
        return np.concatenate([[self.s2], ewma_filter(new[self.col], 0.94, self.s2)])


class _OwnTarget(Forecaster):
    """OLS of next-day r^2 on today's r^2. Clean: targets from ``History.training_rows``.
    Leaky: targets from a frame column ``next_ret2`` (row s holds r_{s+1}^2, the study's
    layout) on every row of the window, so the row at the origin trains on r_{t+1}^2."""

    min_obs = 30

    def __init__(self, leak):
        self.leak = leak
        self.inputs = ("ret", "next_ret2") if leak else ("ret",)
        self.name = "own_target" + ("_leaky" if leak else "")

    def fit(self, history, *, start=None):
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        x = hist["ret2"]
        rows, y = (np.arange(len(hist)), hist["next_ret2"]) if self.leak else hist.training_rows(1, "ret2")
        beta = np.linalg.lstsq(np.column_stack([np.ones(rows.size), x[rows]]), y, rcond=None)[0]
        return _Linear(beta, x[-1])


class _Linear(Fitted):
    def __init__(self, beta, x_last):
        self.params, self.beta, self.x_last = {}, beta, x_last

    def one_step(self, new):
        return self.beta[0] + self.beta[1] * np.concatenate([[self.x_last], new["ret2"]])


def _whole_sample_z(frame):
    return (frame["rv"] - frame["rv"].mean()) / frame["rv"].std()


def _expanding_z(frame):
    rv = frame["rv"].to_numpy()
    n = np.arange(1, rv.size + 1)
    mean = np.cumsum(rv) / n
    sd = np.sqrt(np.maximum(np.cumsum(rv**2) / n - mean**2, 0.0)) + 1e-12
    return (rv - mean) / sd


def _next_ret2(frame):
    return (frame["ret"] ** 2).shift(-1).fill_null(0.0)


def _train_one_row_past_t(origin, window):
    return slice(0 if window is None else max(0, origin - window + 1), origin + 2)


def _shift_window_by_one(origin, window):
    return slice(0 if window is None else max(0, origin - window + 2), origin + 2)


# name -> (clean model, leaky model, patches applied to both, patches applied to the leaky run only)
LEAKS = {
    "engine trains on one row past t": (EWMA(), EWMA(), {}, {"training_window": _train_one_row_past_t}),
    "engine shifts the window by one": (EWMA(), EWMA(), {}, {"training_window": _shift_window_by_one}),
    "GJR sign taken from r_{t+1}": (_Filter(_GJRSign), _Filter(_GJRSign, leak=True), {}, {}),
    "model reads new[:j+1], not new[:j]": (_Filter(_NextRow), _Filter(_NextRow, leak=True), {}, {}),
    "standardised over the rows fed after the fit": (
        _Filter(_BlockStandardised), _Filter(_BlockStandardised, leak=True), {}, {}),
    "feature standardised on the whole sample": (
        _Filter(_ColumnEWMA, "rv_z"), _Filter(_ColumnEWMA, "rv_z"),
        {"DERIVED": {"rv_z": _expanding_z}}, {"DERIVED": {"rv_z": _whole_sample_z}}),
    "training target ends after t": (
        _OwnTarget(leak=False), _OwnTarget(leak=True), {"DERIVED": {"next_ret2": _next_ret2}}, {}),
}


def _apply(monkeypatch, patches):
    for what, value in patches.items():
        if what == "DERIVED":
            for name, build in value.items():
                monkeypatch.setitem(DERIVED, name, build)
        else:
            monkeypatch.setattr(wf_module, what, value)


@pytest.mark.parametrize("leak", list(LEAKS))
def test_each_injected_leak_is_caught_on_its_own(leak, monkeypatch):
    clean, leaky, both, only_leaky = LEAKS[leak]
    _apply(monkeypatch, both)
    assert_no_lookahead(clean)  # the same model without the leak passes ...
    _apply(monkeypatch, only_leaky)
    with pytest.raises(AssertionError, match="moved when the rows after"):
        assert_no_lookahead(leaky)  # ... and with it fails


def test_a_backtest_weight_using_the_same_days_return_is_caught(monkeypatch):
    """The weight held over day t+1 taken from the forecast made at t+1 (which saw r_{t+1})."""
    honest = backtest._daily
    monkeypatch.setattr(backtest, "_daily", lambda frame, w, cost, name: honest(frame, np.append(w[1:], w[-1]), cost, name))
    with pytest.raises(AssertionError, match="moved when returns after t changed"):
        assert_backtest_no_lookahead()


def test_one_origin_would_have_missed_them(monkeypatch):
    """Why several origins: each leak below shows at one place in the schedule only."""
    monkeypatch.setattr(wf_module, "training_window", _train_one_row_past_t)
    model = EWMA()
    window, n, origins = schedule(model)
    frame = make_frame(n, 0)
    base = forecasts(model, frame, window)
    caught = {}
    for place, t in origins.items():
        moved = forecasts(model, perturb_after(frame, t, 0, kind=0), window)
        caught[place] = bool((moved[: t - window + 2] != base[: t - window + 2]).any())
    assert caught == {"a refit origin": True, "an origin between refits": False, "the last origin of a chunk": False}


# -- The engine hands out only targets known at the origin --------------------------------------


class _Spy(Forecaster):
    """Records, at each fit, the window it was given and the training rows it can get."""

    inputs, min_obs, name = ("ret", "rv"), 30, "spy"

    def __init__(self):
        self.seen = []

    def fit(self, history, *, start=None):
        hist = check_history(history, self.inputs, name=self.name, min_obs=self.min_obs)
        targets = {(h, p): hist.training_rows(h, p) for h in (1, 5, 22) for p in ("ret2", "rv")}
        self.seen.append((hist.dates.copy(), targets))
        return _Linear(np.zeros(2), 0.0)


def spy_on_engine(window):
    frame = make_frame(200, 3).with_columns(pl.int_range(200).alias("date"))
    spy = _Spy()
    walk_forward(spy, frame, horizons=[1], window=window, first_origin=59, refit_every=13, chunk_size=2, n_jobs=1)
    return frame, spy.seen


def assert_targets_known_at_origin(frame, seen, window):
    full = {"ret2": frame["ret"].to_numpy() ** 2, "rv": frame["rv"].to_numpy()}
    assert [int(dates[-1]) for dates, _ in seen] == list(range(59, 200, 13)), "a fit's window does not end at its refit origin"
    for dates, targets in seen:
        origin = int(dates[-1])
        assert dates[0] == (0 if window is None else origin - window + 1)
        for (h, proxy), (rows, y) in targets.items():
            s = dates[rows]
            assert (s + h <= origin).all()
            np.testing.assert_array_equal(s, np.arange(dates[0], origin - h + 1))  # every usable row, no other
            np.testing.assert_allclose(y, forward_sum(full[proxy], h)[s], rtol=1e-13)


@pytest.mark.parametrize("window", [None, 40])
def test_no_model_gets_a_training_row_whose_target_ends_after_its_origin(window):
    assert_targets_known_at_origin(*spy_on_engine(window), window)


@pytest.mark.parametrize("leak", [_train_one_row_past_t, _shift_window_by_one])
def test_the_engine_check_catches_the_engine_leaks(leak, monkeypatch):
    monkeypatch.setattr(wf_module, "training_window", leak)
    with pytest.raises(AssertionError, match="does not end at its refit origin"):
        assert_targets_known_at_origin(*spy_on_engine(40), 40)
