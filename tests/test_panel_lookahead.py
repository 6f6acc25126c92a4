"""The perturbation test over the panel, for every panel model.

Every row dated after t, for all assets, is changed: returns flip sign and change size (the
closes are rebuilt from them), market caps move. Features, targets and every model's forecasts
at origins <= t must be bit-identical; later forecasts must change (the perturbation is real).
"""

import polars as pl
import pytest

import volbook.panel.walkforward as panel_wf
from _panels import perturb
from volbook.data import simulate_panel
from volbook.panel import PanelRidge, PanelXGB, RefitSchedule, build_features, study_models, walk_forward_panel

H, W, K = 10, 200, 23
FIRST = W - 1


def _models():
    xgb = PanelXGB("xgboost", params={"n_estimators": 15, "max_depth": 2, "n_jobs": 1, "random_state": 0})
    extra = [
        PanelRidge("per_asset_log", pooling="asset", space="log"),
        PanelRidge("per_sector_market", pooling="sector", extra=("market_vol", "group_risk")),
        PanelRidge("global_penalized", penalize_intercept=True, alpha=10.0),
    ]
    return [*study_models(), *extra, xgb]


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(n_assets=9, n_days=380, seed=7).panel


def forecasts(panel, models):
    data = build_features(panel, horizon=H)
    return data, walk_forward_panel(data, models, window=W, refit_every=K)


def assert_no_lookahead(panel, models, t, seed=0):
    dates = panel["date"].unique().sort()
    base_data, base = forecasts(panel, models)
    moved = perturb(panel, dates[t], seed)
    # the perturbation keeps the past: closes up to t are the same numbers
    assert moved.filter(pl.col("date") <= dates[t]).equals(panel.filter(pl.col("date") <= dates[t]))
    new_data, new = forecasts(moved, models)
    past = pl.col("t") <= t
    feats = [c for c in base_data.frame.columns if c != "target"]
    assert new_data.frame.filter(past).select(feats).equals(base_data.frame.filter(past).select(feats))
    a, b = base.forecasts.filter(past), new.forecasts.filter(past)
    for name in base.models:
        assert a[name].equals(b[name]), f"{name}: a forecast at an origin <= t changed"
    later_a, later_b = base.forecasts.filter(~past), new.forecasts.filter(~past)
    for name in base.models:
        assert not later_a[name].equals(later_b[name]), f"{name}: the perturbation changed nothing"


@pytest.mark.parametrize("t", [FIRST + 2 * K, FIRST + 3 * K - 1, FIRST + 4 * K + 11])
def test_panel_forecasts_at_t_ignore_every_row_after_t(panel, t):
    assert_no_lookahead(panel, _models(), t, seed=t)


def test_the_panel_perturbation_test_catches_a_leak(panel, monkeypatch):
    """Windows that keep rows whose targets end after the refit date (the study's per-asset
    rolling_ols) must fail the test."""
    real = RefitSchedule.build

    def leaky(n_dates, *, horizon, **kw):
        return real(n_dates, horizon=1, **kw)  # training rows s <= k - 1, targets end at s + 10

    monkeypatch.setattr(panel_wf.RefitSchedule, "build", leaky)
    with pytest.raises(AssertionError, match="a forecast at an origin <= t changed"):
        assert_no_lookahead(panel, [PanelRidge("global")], FIRST + 2 * K + 5)
