"""The study's published panel code (volbook.panel.replication): it computes what its text does
not say, and it leaks."""

import numpy as np
import polars as pl
import pytest

from _panels import perturb
from volbook.data import simulate_panel
from volbook.panel import build_features, design_exprs
from volbook.panel.features import target_expr
from volbook.panel.replication import study_per_asset_forecasts, study_pooled_coefficients, study_pooled_forecasts

H, W, K = 10, 120, 20


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(n_assets=6, n_days=400, seed=9).panel


@pytest.fixture(scope="module")
def data(panel):
    return build_features(panel, horizon=H)


def _penalized_ridge(x, y, alpha):
    """polars-ols' ridge: the intercept is penalized too."""
    z = np.column_stack([x, np.ones(len(y))])
    return np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ y), z


def test_pooled_windows_start_at_their_label_and_look_forward(data):
    coefs = study_pooled_coefficients(data, window=W, every=K, alpha=1.0)
    row = coefs.filter(pl.col("t") == 100).row(0, named=True)
    assert row["first"] == 100 and row["last"] == 100 + W - 1  # the window labelled k is [k, k + W)
    rows = data.frame.filter(pl.col("t").is_between(100, 100 + W - 1), pl.col("target").is_not_null())
    x = rows.select(design_exprs(data.stock_features, "level")).to_numpy()
    beta, _ = _penalized_ridge(x, rows.select(target_expr("level")).to_series().to_numpy(), 1.0)
    got = row["coef"]
    np.testing.assert_allclose([got[n] for n in data.stock_features] + [got["const"]], beta, rtol=1e-6)


def test_per_asset_values_are_in_sample_fits(data):
    out = study_per_asset_forecasts(data, window=W, alpha=1.0, clip=False)
    rows = data.frame.filter(pl.col("asset") == "S002").sort("t")
    i = 250  # the row of t = i + 5 (rows 0-4 were dropped by the missing-feature filter)
    window = rows.slice(i - W + 1, W)
    x = window.select(design_exprs(data.stock_features, "level")).to_numpy()
    beta, z = _penalized_ridge(x, window.select(target_expr("level")).to_series().to_numpy(), 1.0)
    t = rows["t"][i]
    got = out.filter(pl.col("asset") == "S002", pl.col("t") == t)["forecast"].item()
    assert got == pytest.approx(z[-1] @ beta, rel=1e-6)  # the fitted value of row t itself


@pytest.mark.parametrize("pipeline", [study_pooled_forecasts, study_per_asset_forecasts])
def test_the_published_pipelines_fail_the_perturbation_test(panel, data, pipeline):
    t = 300
    moved = build_features(perturb(panel, data.dates[t], seed=1), horizon=H)
    kwargs = {"window": W, "every": K} if pipeline is study_pooled_forecasts else {"window": W}
    a = pipeline(data, **kwargs).filter(pl.col("t") <= t)
    b = pipeline(moved, **kwargs).filter(pl.col("t") <= t)
    assert a.select("t", "asset").equals(b.select("t", "asset"))
    changed = a.filter((a["forecast"] - b["forecast"]).abs() > 1e-9)
    assert changed.height > 0  # forecasts made at origins <= t moved with data after t
    if pipeline is study_per_asset_forecasts:  # exactly the origins whose own target ends after t
        assert changed["t"].unique().sort().to_list() == list(range(t - H + 1, t + 1))
