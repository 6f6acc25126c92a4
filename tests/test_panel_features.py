"""Panel features and targets (volbook.panel.features) against slow per-asset numpy versions."""

import numpy as np
import polars as pl
import pytest

from volbook.data import simulate_panel
from volbook.errors import DataError, ParameterError
from volbook.panel.features import (
    CLIP,
    IMPUTE_VALUE,
    VOL_FEATURES,
    _forward_fill_within_asset,
    build_features,
    design_exprs,
    target_expr,
)
from volbook.timing import forward_sum

H = 10


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(n_assets=6, n_days=420, seed=11).panel


@pytest.fixture(scope="module")
def data(panel):
    return build_features(panel, horizon=H)


def _returns(panel, asset):
    close = panel.filter(pl.col("asset") == asset)["close"].to_numpy()
    return np.concatenate([[np.nan], np.diff(np.log(close))])  # row p holds r_p; row 0 has none


def test_rolling_features_and_target_match_the_study_formulas(panel, data):
    for asset in ["S001", "S004"]:
        r = _returns(panel, asset)
        rows = data.frame.filter(pl.col("asset") == asset)
        pos = rows["t"].to_numpy()  # the synthetic calendar is the asset's own: t = row position
        for w in (5, 21, 63, 126, 252):
            ok = pos >= w
            expected = np.array([np.sqrt(252 / w * np.sum(r[p - w + 1 : p + 1] ** 2)) for p in pos[ok]])
            np.testing.assert_allclose(rows[f"vol_{w}"].to_numpy()[ok], expected, rtol=1e-10)
        ok = pos >= 21
        for name, side in (("vol_down_21", r < 0), ("vol_up_21", r >= 0)):
            x = np.where(side, r**2, 0.0)
            expected = np.array([np.sqrt(252 / 21 * np.sum(x[p - 20 : p + 1])) for p in pos[ok]])
            np.testing.assert_allclose(rows[name].to_numpy()[ok], expected, rtol=1e-10)
        fwd = np.sqrt(252 / H * forward_sum(np.nan_to_num(r) ** 2, H))
        np.testing.assert_allclose(rows["target"].to_numpy(), fwd[pos], rtol=1e-10)  # NaN = null
        assert rows["target"].null_count() == H


def test_log_market_cap_and_market_vol(panel, data):
    f = data.frame
    cap = panel.filter(pl.col("asset") == "S002")["market_cap"].to_numpy()
    np.testing.assert_allclose(f.filter(pl.col("asset") == "S002")["log_mcap"].to_numpy(), np.log(cap[5:]))
    wide = np.column_stack([_returns(panel, a) for a in data.assets])  # every asset trades every day here
    m = np.full(wide.shape[0], np.nan)
    m[5:] = wide[5:].mean(axis=1)  # over the rows kept by the missing-feature filter (see below)
    t = 300
    expected = np.sqrt(252 / 21 * np.sum(m[t - 20 : t + 1] ** 2))
    assert f.filter(pl.col("t") == t)["market_vol"].unique().to_list() == [pytest.approx(expected, rel=1e-12)]


def test_group_risk_is_sector_vol_over_its_trailing_average(data):
    f = data.frame
    sector = f["sector"][0]
    mean21 = f.filter(pl.col("sector") == sector).group_by("t").agg(pl.col("vol_21").mean()).sort("t")
    t = 400
    g = mean21["vol_21"].to_numpy()
    ts = mean21["t"].to_numpy()
    window = g[(ts > t - 252) & (ts <= t)]
    expected = g[ts == t][0] / window.mean()
    got = f.filter(pl.col("sector") == sector, pl.col("t") == t)["group_risk"].unique()
    assert got.to_list() == [pytest.approx(expected, rel=1e-10)]


def test_missing_feature_filter_drops_rows_more_than_75_percent_empty(panel):
    with_cap = build_features(panel, horizon=H)
    assert with_cap.stock_features == (*VOL_FEATURES, "log_mcap")
    # 7 stock features: rows 0-4 of each asset miss 6 or 7 (> 75%); from row 5 on only 5 (71%)
    assert with_cap.dropped_rows == 6 * 5
    no_cap = build_features(panel.drop("market_cap"), horizon=H)
    assert no_cap.stock_features == VOL_FEATURES and "log_mcap" not in no_cap.frame.columns
    # 6 stock features: rows 5-20 still miss 5 of 6 (83%); row 21 misses vol_63 and vol_126 only
    assert no_cap.dropped_rows == 6 * 21
    assert no_cap.frame.group_by("asset").agg(pl.col("t").min())["t"].to_list() == [21] * 6
    assert build_features(panel, horizon=H, use_market_cap=False).stock_features == VOL_FEATURES


def test_imputation_sector_mean_then_forward_fill_then_020():
    sim = simulate_panel(n_assets=11, n_days=300, seed=3).panel
    # S001 and S006 share a sector; S006 enters 100 days late. S011 is alone in a new sector.
    late = sim["date"].unique().sort()[100]
    panel = sim.filter(
        (pl.col("asset") != "S006") | (pl.col("date") >= late),
    ).with_columns(
        sector=pl.when(pl.col("asset") == "S011").then(pl.lit("Alone")).otherwise(pl.col("sector"))
    )
    data = build_features(panel, horizon=H)
    f = data.frame
    same = f.filter(pl.col("sector") == f.filter(pl.col("asset") == "S006")["sector"][0], pl.col("t") == 150)
    # S006 has 50 returns on t = 150: its vol_63 is missing and filled with its sector's mean that day
    others = same.filter(pl.col("asset") != "S006")
    row = same.filter(pl.col("asset") == "S006")
    assert row["n_imputed"].item() == 2  # vol_63 and vol_126
    assert row["vol_63"].item() == pytest.approx(others["vol_63"].mean(), rel=1e-12)
    # alone in its sector and new: nothing to average or carry forward, so 0.20
    alone = f.filter(pl.col("asset") == "S011", pl.col("t") == 30)
    assert alone["vol_63"].item() == IMPUTE_VALUE and alone["vol_126"].item() == IMPUTE_VALUE
    assert f.select(pl.exclude("target").null_count()).sum_horizontal().item() == 0


def test_forward_fill_never_crosses_assets():
    frame = pl.DataFrame({
        "asset": ["a", "a", "a", "b", "b", "b", "c"],
        "x": [1.0, None, 3.0, None, None, 6.0, None],
    }).with_columns(_start=pl.Series([0, 0, 0, 3, 3, 3, 6]))
    got = frame.select(_forward_fill_within_asset(pl.col("x")))["x"].to_list()
    assert got == frame.select(pl.col("x").forward_fill().over("asset"))["x"].to_list()
    assert got == [1.0, 1.0, 3.0, None, None, 6.0, None]


def test_target_needs_every_following_day_traded(panel):
    gap = panel["date"].unique().sort()[200]
    data = build_features(panel.filter((pl.col("asset") != "S003") | (pl.col("date") != gap)), horizon=H)
    rows = data.frame.filter(pl.col("asset") == "S003")
    t_gap = 200
    missing = rows.filter(pl.col("target").is_null())["t"].to_list()
    # origins whose window t+1..t+h contains the missing day, and the last h origins
    assert missing == [t for t in range(t_gap - H, t_gap)] + list(range(420 - H, 420))


def test_design_clips_features_and_target():
    frame = pl.DataFrame({"vol_5": [0.001, 0.5, 9.0], "group_risk": [0.5, 1.0, 2.0],
                          "log_mcap": [20.0, 21.0, 22.0], "target": [0.0001, 0.3, 5.0]})
    level = frame.select(design_exprs(["vol_5", "group_risk", "log_mcap"], "level"))
    assert level["vol_5"].to_list() == [CLIP[0], 0.5, CLIP[1]]
    assert level["group_risk"].to_list() == [0.5, 1.0, 2.0]
    log = frame.select(design_exprs(["vol_5", "group_risk", "log_mcap"], "log"))
    np.testing.assert_allclose(log["vol_5"], np.log([CLIP[0], 0.5, CLIP[1]]))
    np.testing.assert_allclose(log["group_risk"], np.log([0.5, 1.0, 2.0]))
    assert log["log_mcap"].to_list() == [20.0, 21.0, 22.0]
    assert frame.select(target_expr("level"))["y"].to_list() == [CLIP[0], 0.3, CLIP[1]]
    with pytest.raises(ParameterError, match="unknown panel feature 'close'"):
        design_exprs(["close"], "level")
    with pytest.raises(ParameterError, match="space must be 'level' or 'log'"):
        design_exprs(["vol_5"], "sqrt")


def test_bad_input_is_refused(panel):
    with pytest.raises(ParameterError, match="horizon must be a positive integer"):
        build_features(panel, horizon=0)
    with pytest.raises(DataError, match="panel lacks column 'close'"):
        build_features(panel.drop("close"))
    with pytest.raises(DataError, match="every row misses more than 75% of its features"):
        build_features(panel.filter(pl.col("date") <= panel["date"].unique().sort()[4]))


def test_unsorted_panel_gives_the_same_features(panel, data):
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=1)
    again = build_features(shuffled, horizon=H)
    assert again.frame.equals(data.frame)
