"""The perturbation test, written once and applied to every registered forecaster.

At origin t the forecast may use returns up to t only: replace every return after t with
different values, recompute, and every forecast at origins <= t must be identical.
"""

import numpy as np
import pytest

from volbook.models.base import Fitted, Forecaster, registered_forecasters
from volbook.walkforward import walk_forward

HORIZONS = [1, 5, 10]
N, T = 640, 450


def forecasts_through_engine(model, r):
    window = max(model.min_obs, 300)
    wf = walk_forward(model, r, horizons=HORIZONS, window=window, refit_every=37, n_jobs=1, chunk_size=3)
    return wf.forecasts.sort("date", "horizon")


def assert_no_lookahead(model, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.standard_t(5, N) * 0.01
    perturbed = r.copy()
    perturbed[T + 1 :] = rng.standard_t(5, N - T - 1) * 0.03
    a = forecasts_through_engine(model, r)
    b = forecasts_through_engine(model, perturbed)
    upto = a["date"] <= T
    np.testing.assert_array_equal(a.filter(upto)["forecast"].to_numpy(), b.filter(upto)["forecast"].to_numpy())
    # and the perturbation is real: later forecasts do change
    assert not np.array_equal(a.filter(~upto)["forecast"].to_numpy(), b.filter(~upto)["forecast"].to_numpy())
    # the bare API agrees: a fit on data up to t, then fed nothing more
    direct = model.fit(perturbed[T - 299 : T + 1]).forecast(HORIZONS)
    assert direct.shape == (1, len(HORIZONS))


@pytest.mark.parametrize("name", sorted(registered_forecasters()))
def test_forecast_at_t_ignores_everything_after_t(name):
    assert_no_lookahead(registered_forecasters()[name])


class _PeekingFit(Fitted):
    """The published study's bug in miniature: the 'forecast' at t includes r_{t+1}."""

    params: dict = {}

    def __init__(self, tail):
        self.tail = tail

    def one_step(self, new_returns):
        x = np.concatenate([self.tail, new_returns, [0.0]])
        return x[1:] ** 2 + x[:-1] ** 2


class _PeekingModel(Forecaster):
    name, min_obs = "peeking", 2

    def fit(self, returns, *, start=None):
        return _PeekingFit(returns[-1:])


def test_the_perturbation_test_catches_a_leak():
    """A model that reads one day ahead (through the engine's new returns) must fail."""
    with pytest.raises(AssertionError):
        assert_no_lookahead(_PeekingModel())
